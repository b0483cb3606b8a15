// Portable C++ dot products of each weight type with its quantized activations: the path on
// CPUs without AVX2 (every non-x86 build), and the reference the SIMD kernels are tested against.
//
// Each gives the bits of the x86 kernel llama.cpp runs for its type, which Hearth's avx2 level
// gives too (tst_matmul_portable_order holds the two to it), so that a build without AVX2
// generates what llama.cpp does:
//   - Q4_0, Q4_K: llama.cpp's repacked 8x8 kernels, one fma per block of its whole integer sum;
//   - the other 32-value formats, the other K-quants and IQ4_XS: ggml's AVX2 vec_dot, the exact
//     integer products of a block summed in eight int32 lanes as vpmaddubsw/vpmaddwd group
//     them, acc[l] = fma(d, float(lane l), acc[l]) per block, then ggml's hsum_float_8;
//   - F32/F16: tinyBLAS's one 8-lane fma accumulator (n % 8 == 0) or ggml_vec_dot's four;
//     BF16: ggml_vec_dot_bf16's four accumulators of separate multiplies and adds.
// Integer sums are exact in any order; only which values share a lane, and the float operations,
// decide the bits. This file is compiled with -ffp-contract=off (HearthEngineSourceFlags.cmake)
// so that no compiler fuses a multiply and an add that ggml rounds apart. The low-bit types
// (MXFP4, TQ, grid i-quants) are in vec_dot_lowbit_portable.cpp.
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "quant/k4_scales.h"

#include <cmath>
#include <cstring>
#include <type_traits>

namespace hearth::cpu {
namespace {

using namespace quant;

template <class Block>
const Block* blocks(const void* p) {
    return static_cast<const Block*>(p);
}

inline float h2f(uint16_t h) {
    return fp16_to_fp32(h);
}

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// q[i] of the 32 nibbles of a Q4_0-style block: low nibbles are 0..15, high ones 16..31.
inline int nib(const uint8_t* qs, int i) {
    return i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4;
}

// ---- ggml's AVX2 lanes, in scalar code ----

constexpr int kLanes = 8;

// ggml's hsum_float_8: the high half added to the low, then lanes (0 + 2) + (1 + 3).
inline float hsum8(const float (&v)[kLanes]) {
    const float r0 = v[4] + v[0], r1 = v[5] + v[1], r2 = v[6] + v[2], r3 = v[7] + v[3];
    return (r0 + r2) + (r1 + r3);
}

// One 32-value chunk's products q[i] * y[i] into the eight int32 lanes as vpmaddubsw (pairs of
// neighbours) and vpmaddwd (pairs of those, times a 16-bit scale) leave them: lane l gets values
// 4l..4l+3, the first 16 values times sc0, the last 16 times sc1. Integer sums are exact, so
// only which values share a lane matters.
inline void add_chunk(const int (&q)[32], const int8_t* y, int sc0, int sc1, int (&lanes)[kLanes]) {
    for (int l = 0; l < kLanes; ++l) {
        int s = 0;
        for (int i = 4 * l; i < 4 * l + 4; ++i) {
            s += q[i] * y[i];
        }
        lanes[l] += (l < kLanes / 2 ? sc0 : sc1) * s;
    }
}

// One block's lanes into the float accumulators: acc[l] = fma(d, float(lane l), acc[l]).
inline void accumulate(float d, const int (&lanes)[kLanes], float (&acc)[kLanes]) {
    for (int l = 0; l < kLanes; ++l) {
        acc[l] = std::fma(d, static_cast<float>(lanes[l]), acc[l]);
    }
}

// ---- the 32-value formats ----

// Q4_0 in the float order of llama.cpp's repacked q4_0_8x8 kernels, which it runs for Q4_0
// matrices on x86 (and Hearth's avx2 level with them, repack_avx2.cpp): per block
// acc = fma(float(isum), d_w * d_x, acc). A plain multiply and add rounds twice and differs in
// the last bit; on the Q4_0 test model (tst_architectures) such bits flip F16 and Q8_0
// roundings downstream and move logits by 4% of their spread.
float dot_q4_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ4_0>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; ++b) {
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            sumi += (nib(w[b].qs, i) - 8) * x[b].qs[i];
        }
        sum = std::fma(static_cast<float>(sumi), h2f(w[b].d) * h2f(x[b].d), sum);
    }
    return sum;
}

// Each format's 32 values of a block, in element order.
void block_values(const BlockQ4_1& b, int (&q)[32]) {
    for (int i = 0; i < 32; ++i) {
        q[i] = nib(b.qs, i);
    }
}

void block_values(const BlockQ5_0& b, int (&q)[32]) {
    const uint32_t qh = load_u32(b.qh);
    for (int i = 0; i < 32; ++i) {
        q[i] = (nib(b.qs, i) | static_cast<int>((qh >> i) & 1) << 4) - 16;
    }
}

void block_values(const BlockQ5_1& b, int (&q)[32]) {
    const uint32_t qh = load_u32(b.qh);
    for (int i = 0; i < 32; ++i) {
        q[i] = nib(b.qs, i) | static_cast<int>((qh >> i) & 1) << 4;
    }
}

void block_values(const BlockQ8_0& b, int (&q)[32]) {
    for (int i = 0; i < 32; ++i) {
        q[i] = b.qs[i];
    }
}

void block_values(const BlockIQ4_NL& b, int (&q)[32]) {
    for (int i = 0; i < 32; ++i) {
        q[i] = kvalues_iq4nl[nib(b.qs, i)];
    }
}

// Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL as ggml's AVX2 vec_dot (vec_dot_avx2.cpp's dot_32): per block
// the eight lanes, acc[l] = fma(d_w * d_x, lane l, acc[l]); the min term (Q4_1, Q5_1) in one
// float, mins = fma(m_w, s_x, mins); the result hsum(acc) + mins.
template <class Block, class Act>
float dot_block32(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<Block>(vw);
    const auto* x = blocks<Act>(vx);
    float acc[kLanes] = {};
    float mins = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b) {
        int q[32];
        block_values(w[b], q);
        int lanes[kLanes] = {};
        add_chunk(q, x[b].qs, 1, 1, lanes);
        accumulate(h2f(w[b].d) * h2f(x[b].d), lanes, acc);
        if constexpr (std::is_same_v<Act, BlockQ8_1>) {
            mins = std::fma(h2f(w[b].m), h2f(x[b].s), mins);
        }
    }
    return hsum8(acc) + mins;
}

// ---- the K-quants and IQ4_XS, against Q8_K: eight lanes per super-block ----

float dot_q2_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ2_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc[kLanes] = {};
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int summ = 0;
        for (int s = 0; s < 16; ++s) {
            summ += (w[b].scales[s] >> 4) * x[b].bsums[s];
        }
        int lanes[kLanes] = {};
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 4; ++k) {
                int q[32];
                for (int i = 0; i < 32; ++i) {
                    q[i] = (w[b].qs[32 * h + i] >> (2 * k)) & 3;
                }
                const int s = 8 * h + 2 * k;
                add_chunk(q, x[b].qs + 128 * h + 32 * k, w[b].scales[s] & 15,
                          w[b].scales[s + 1] & 15, lanes);
            }
        }
        accumulate(x[b].d * h2f(w[b].d), lanes, acc);
        acc_min = std::fma(x[b].d * h2f(w[b].dmin), static_cast<float>(summ), acc_min);
    }
    return hsum8(acc) - acc_min;
}

inline int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

float dot_q3_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ3_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc[kLanes] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int lanes[kLanes] = {};
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 4; ++k) {
                int q[32];
                for (int i = 0; i < 32; ++i) {
                    const int hbit = (w[b].hmask[i] >> (4 * h + k)) & 1;
                    q[i] = ((w[b].qs[32 * h + i] >> (2 * k)) & 3) - (hbit ? 0 : 4);
                }
                const int s = 8 * h + 2 * k;
                add_chunk(q, x[b].qs + 128 * h + 32 * k, q3_k_scale(w[b].scales, s),
                          q3_k_scale(w[b].scales, s + 1), lanes);
            }
        }
        accumulate(x[b].d * h2f(w[b].d), lanes, acc);
    }
    return hsum8(acc);
}

// Q4_K in the order of llama.cpp's repacked q4_K_8x8 kernels, which it runs for Q4_K matrices on
// x86 (as Q4_0's above): per super-block the whole integer sum and min sum, each accumulated by
// one fma, the min subtracted at the end.
float dot_q4_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ4_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int isum = 0, imin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int sc = 0, mn = 0;
            k4_scale_min(w[b].scales, j, sc, mn);
            int sub = 0;
            for (int l = 0; l < 32; ++l) {
                sub += ((w[b].qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f) * x[b].qs[32 * j + l];
            }
            isum += sc * sub;
            imin += mn * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        acc = std::fma(static_cast<float>(isum), h2f(w[b].d) * x[b].d, acc);
        acc_min = std::fma(static_cast<float>(imin), h2f(w[b].dmin) * x[b].d, acc_min);
    }
    return acc - acc_min;
}

// Q5_K as ggml_vec_dot_q5_K_q8_K on AVX2: sub-block 2c + h is chunk c's low (h = 0) or high
// nibbles with bit 2c + h of qh on top; the min term in one float, fma(dmin, summ, acc_min).
float dot_q5_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ5_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc[kLanes] = {};
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sc[8], mn[8], summ = 0;
        for (int j = 0; j < 8; ++j) {
            k4_scale_min(w[b].scales, j, sc[j], mn[j]);
            summ += mn[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        acc_min = std::fma(x[b].d * h2f(w[b].dmin), static_cast<float>(summ), acc_min);
        int lanes[kLanes] = {};
        for (int j = 0; j < 8; ++j) {
            const int c = j / 2, shift = 4 * (j % 2);
            int q[32];
            for (int i = 0; i < 32; ++i) {
                q[i] = ((w[b].qs[32 * c + i] >> shift) & 0x0f) | ((w[b].qh[i] >> j) & 1) << 4;
            }
            add_chunk(q, x[b].qs + 32 * j, sc[j], sc[j], lanes);
        }
        accumulate(x[b].d * h2f(w[b].d), lanes, acc);
    }
    return hsum8(acc) - acc_min;
}

// Q6_K as ggml_vec_dot_q6_K_q8_K on AVX2 (vec_dot_q6_k_avx2.cpp): the unsigned quants (0..63)
// into the lanes, then lane l less 32 * (bsums[2l] * sc[2l] + bsums[2l + 1] * sc[2l + 1]) for
// the -32 offset (a different grouping from the products', so it is kept per lane too).
float dot_q6_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ6_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc[kLanes] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int lanes[kLanes] = {};
        for (int c = 0; c < 8; ++c) {
            const int h = c / 4, k = c % 4;
            int q[32];
            for (int i = 0; i < 32; ++i) {
                const int low = (w[b].ql[64 * h + 32 * (k % 2) + i] >> (4 * (k / 2))) & 0x0f;
                q[i] = low | ((w[b].qh[32 * h + i] >> (2 * k)) & 3) << 4;
            }
            add_chunk(q, x[b].qs + 32 * c, w[b].scales[2 * c], w[b].scales[2 * c + 1], lanes);
        }
        for (int l = 0; l < kLanes; ++l) {
            lanes[l] -= 32 * (x[b].bsums[2 * l] * w[b].scales[2 * l] +
                              x[b].bsums[2 * l + 1] * w[b].scales[2 * l + 1]);
        }
        accumulate(x[b].d * h2f(w[b].d), lanes, acc);
    }
    return hsum8(acc);
}

float dot_iq4_xs(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ4_XS>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float acc[kLanes] = {};
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int lanes[kLanes] = {};
        for (int j = 0; j < QK_K / 32; ++j) {
            const int low = (w[b].scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
            const int high = (w[b].scales_h >> (2 * j)) & 3;
            const int ls = (low | high << 4) - 32;
            int q[32];
            for (int i = 0; i < 32; ++i) {
                q[i] = kvalues_iq4nl[nib(w[b].qs + 16 * j, i)];
            }
            add_chunk(q, x[b].qs + 32 * j, ls, ls, lanes);
        }
        accumulate(x[b].d * h2f(w[b].d), lanes, acc);
    }
    return hsum8(acc);
}

// ---- float formats ----

// GGML_F32x8_REDUCE of four 8-lane accumulators: (a0 + a2) + (a1 + a3) per lane, the low half
// plus the high one, then two horizontal adds: (t0 + t1) + (t2 + t3).
inline float reduce4x8(const float (&a)[4][kLanes]) {
    float s[kLanes];
    for (int l = 0; l < kLanes; ++l) {
        s[l] = (a[0][l] + a[2][l]) + (a[1][l] + a[3][l]);
    }
    float t[4];
    for (int l = 0; l < 4; ++l) {
        t[l] = s[l] + s[l + 4];
    }
    return (t[0] + t[1]) + (t[2] + t[3]);
}

// F32 and F16 rows. n % 8 == 0: llamafile's tinyBLAS order, which the avx2 level runs for
// mul_mat when the matrix's rows are a multiple of 4 (matmul.cpp's select_kernel): one 8-lane
// fma accumulator, hsum_float_8. Otherwise ggml_vec_dot's: four 8-lane fma accumulators over
// 32-value steps, GGML_F32x8_REDUCE, and the leftovers as ggml adds them (F16: in double; F32:
// products rounded and added in order, the last n % 4 by fma, as GCC compiles its loop).
template <class T, float (*At)(const T*, int64_t)>
float dot_float(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const T*>(vw);
    const auto* x = static_cast<const T*>(vx);
    if (n % kLanes == 0) {
        float acc[kLanes] = {};
        for (int64_t i = 0; i < n; i += kLanes) {
            for (int l = 0; l < kLanes; ++l) {
                acc[l] = std::fma(At(w, i + l), At(x, i + l), acc[l]);
            }
        }
        return hsum8(acc);
    }
    const int64_t np = n & ~int64_t{31};
    float acc[4][kLanes] = {};
    for (int64_t i = 0; i < np; i += 32) {
        for (int a = 0; a < 4; ++a) {
            for (int l = 0; l < kLanes; ++l) {
                const int64_t e = i + kLanes * a + l;
                acc[a][l] = std::fma(At(w, e), At(x, e), acc[a][l]);
            }
        }
    }
    if constexpr (std::is_same_v<T, uint16_t>) {
        double sum = reduce4x8(acc);
        for (int64_t i = np; i < n; ++i) {
            sum += static_cast<double>(At(w, i) * At(x, i));
        }
        return static_cast<float>(sum);
    } else {
        float sum = reduce4x8(acc);
        int64_t i = np;
        for (; i < n - (n - np) % 4; ++i) {
            sum += At(w, i) * At(x, i);
        }
        for (; i < n; ++i) {
            sum = std::fma(At(w, i), At(x, i), sum);
        }
        return sum;
    }
}

inline float f32_at(const float* p, int64_t i) {
    return p[i];
}

inline float f16_at(const uint16_t* p, int64_t i) {
    return h2f(p[i]);
}

// BF16 as ggml_vec_dot_bf16 on AVX2: four 8-lane accumulators of separate multiplies and adds
// over 32-value steps, combined as (c0 + c2) + (c1 + c3), hsum_float_8, the leftovers in double.
float dot_bf16(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* x = static_cast<const uint16_t*>(vx);
    float c[4][kLanes] = {};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int a = 0; a < 4; ++a) {
            for (int l = 0; l < kLanes; ++l) {
                const int64_t e = i + kLanes * a + l;
                c[a][l] = bf16_to_fp32(w[e]) * bf16_to_fp32(x[e]) + c[a][l];
            }
        }
    }
    float s[kLanes];
    for (int l = 0; l < kLanes; ++l) {
        s[l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
    }
    double sum = hsum8(s);
    for (; i < n; ++i) {
        sum += static_cast<double>(bf16_to_fp32(w[i]) * bf16_to_fp32(x[i]));
    }
    return static_cast<float>(sum);
}

} // namespace

VecDotFn vec_dot_portable(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::F32:
        return per_token<dot_float<float, f32_at>>;
    case TensorType::F16:
        return per_token<dot_float<uint16_t, f16_at>>;
    case TensorType::BF16:
        return per_token<dot_bf16>;
    case TensorType::Q4_0:
        return per_token<dot_q4_0>;
    case TensorType::Q4_1:
        return per_token<dot_block32<BlockQ4_1, BlockQ8_1>>;
    case TensorType::Q5_0:
        return per_token<dot_block32<BlockQ5_0, BlockQ8_0>>;
    case TensorType::Q5_1:
        return per_token<dot_block32<BlockQ5_1, BlockQ8_1>>;
    case TensorType::Q8_0:
        return per_token<dot_block32<BlockQ8_0, BlockQ8_0>>;
    case TensorType::Q2_K:
        return per_token<dot_q2_k>;
    case TensorType::Q3_K:
        return per_token<dot_q3_k>;
    case TensorType::Q4_K:
        return per_token<dot_q4_k>;
    case TensorType::Q5_K:
        return per_token<dot_q5_k>;
    case TensorType::Q6_K:
        return per_token<dot_q6_k>;
    case TensorType::IQ4_NL:
        return per_token<dot_block32<BlockIQ4_NL, BlockQ8_0>>;
    case TensorType::IQ4_XS:
        return per_token<dot_iq4_xs>;
    default:
        return vec_dot_lowbit_portable(weight_type);
    }
}

float dot_f16_f32_portable(const uint16_t* a, const float* b, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(h2f(a[i]) * b[i]);
    }
    return static_cast<float>(sum);
}

void axpy_f16_f32_portable(const uint16_t* a, float scale, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] += h2f(a[i]) * scale;
    }
}

void convert_f32_to_f16_portable(const float* x, uint16_t* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        out[i] = fp32_to_fp16(x[i]);
    }
}

} // namespace hearth::cpu
