// Portable C++ dot products of each weight type with its quantized activations: the
// reference the SIMD kernels are tested against, and the path on CPUs without AVX2.
//
// Every kernel computes, per block b, the exact integer dot product of the quants, then
// accumulates it in float scaled by the two block scales, as ggml's kernels do:
//   sum_b (d_w[b] * d_x[b]) * sum_i q_w[i] * q_x[i]   (minus the min terms where present).
// F16/F32/BF16 rows accumulate in double, as ggml's scalar f16 dot product does. The low-bit
// types (MXFP4, TQ, grid i-quants) are in vec_dot_lowbit_portable.cpp.
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "quant/k4_scales.h"

#include <cmath>
#include <cstring>

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

float dot_q4_1(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ4_1>(vw);
    const auto* x = blocks<BlockQ8_1>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; ++b) {
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            sumi += nib(w[b].qs, i) * x[b].qs[i];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * h2f(x[b].d)) + h2f(w[b].m) * h2f(x[b].s);
    }
    return sum;
}

float dot_q5_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ5_0>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_0; ++b) {
        const uint32_t qh = load_u32(w[b].qh);
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            const int q = nib(w[b].qs, i) | static_cast<int>((qh >> i) & 1) << 4;
            sumi += (q - 16) * x[b].qs[i];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * h2f(x[b].d));
    }
    return sum;
}

float dot_q5_1(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ5_1>(vw);
    const auto* x = blocks<BlockQ8_1>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; ++b) {
        const uint32_t qh = load_u32(w[b].qh);
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            const int q = nib(w[b].qs, i) | static_cast<int>((qh >> i) & 1) << 4;
            sumi += q * x[b].qs[i];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * h2f(x[b].d)) + h2f(w[b].m) * h2f(x[b].s);
    }
    return sum;
}

float dot_q8_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ8_0>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; ++b) {
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            sumi += w[b].qs[i] * x[b].qs[i];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * h2f(x[b].d));
    }
    return sum;
}

float dot_iq4_nl(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ4_NL>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_NL; ++b) {
        int sumi = 0;
        for (int i = 0; i < 32; ++i) {
            sumi += kvalues_iq4nl[nib(w[b].qs, i)] * x[b].qs[i];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * h2f(x[b].d));
    }
    return sum;
}

// Sum of q8[0..16) for sub-block s of a Q8_K block (its bsums).
inline int bsum(const BlockQ8_K& x, int s) {
    return x.bsums[s];
}

float dot_q2_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ2_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0, summ = 0;
        for (int s = 0; s < 16; ++s) {
            summ += (w[b].scales[s] >> 4) * bsum(x[b], s);
        }
        for (int e0 = 0; e0 < QK_K; e0 += 16) {
            int sub = 0;
            for (int e = e0; e < e0 + 16; ++e) {
                const int h = e / 128, k = (e % 128) / 32, l = e % 32;
                sub += ((w[b].qs[32 * h + l] >> (2 * k)) & 3) * x[b].qs[e];
            }
            sumi += (w[b].scales[e0 / 16] & 0x0f) * sub;
        }
        const float d = x[b].d * h2f(w[b].d);
        const float dmin = x[b].d * h2f(w[b].dmin);
        sum += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
    }
    return sum;
}

inline int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

float dot_q3_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ3_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int e0 = 0; e0 < QK_K; e0 += 16) {
            int sub = 0;
            for (int e = e0; e < e0 + 16; ++e) {
                const int h = e / 128, k = (e % 128) / 32, l = e % 32;
                const int low = (w[b].qs[32 * h + l] >> (2 * k)) & 3;
                const int hbit = (w[b].hmask[l] >> (e / 32)) & 1;
                sub += (low - (hbit ? 0 : 4)) * x[b].qs[e];
            }
            sumi += q3_k_scale(w[b].scales, e0 / 16) * sub;
        }
        sum += (x[b].d * h2f(w[b].d)) * static_cast<float>(sumi);
    }
    return sum;
}

template <class Block, bool kFifthBit>
float dot_q4_5_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<Block>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int sc = 0, mn = 0;
            k4_scale_min(w[b].scales, j, sc, mn);
            summ += mn * (bsum(x[b], 2 * j) + bsum(x[b], 2 * j + 1));
            const uint8_t* qs = w[b].qs + 32 * (j / 2);
            int sub = 0;
            for (int l = 0; l < 32; ++l) {
                int q = (qs[l] >> (4 * (j % 2))) & 0x0f;
                if constexpr (kFifthBit) {
                    q |= ((w[b].qh[l] >> j) & 1) << 4;
                }
                sub += q * x[b].qs[32 * j + l];
            }
            sumi += sc * sub;
        }
        const float d = x[b].d * h2f(w[b].d);
        const float dmin = x[b].d * h2f(w[b].dmin);
        sum += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
    }
    return sum;
}

float dot_q6_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockQ6_K>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int e0 = 0; e0 < QK_K; e0 += 16) {
            int sub = 0;
            for (int e = e0; e < e0 + 16; ++e) {
                const int h = e / 128, k = (e % 128) / 32, l = e % 32;
                const int low = (w[b].ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0f;
                const int high = (w[b].qh[32 * h + l] >> (2 * k)) & 3;
                sub += ((low | high << 4) - 32) * x[b].qs[e];
            }
            sumi += w[b].scales[e0 / 16] * sub;
        }
        sum += (x[b].d * h2f(w[b].d)) * static_cast<float>(sumi);
    }
    return sum;
}

float dot_iq4_xs(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ4_XS>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            const int low = (w[b].scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
            const int high = (w[b].scales_h >> (2 * j)) & 3;
            int sub = 0;
            for (int i = 0; i < 32; ++i) {
                sub += kvalues_iq4nl[nib(w[b].qs + 16 * j, i)] * x[b].qs[32 * j + i];
            }
            sumi += ((low | high << 4) - 32) * sub;
        }
        sum += (x[b].d * h2f(w[b].d)) * static_cast<float>(sumi);
    }
    return sum;
}

float dot_f32(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const float*>(vw);
    const auto* x = static_cast<const float*>(vx);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(w[i] * x[i]);
    }
    return static_cast<float>(sum);
}

float dot_f16(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* x = static_cast<const uint16_t*>(vx);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(h2f(w[i]) * h2f(x[i]));
    }
    return static_cast<float>(sum);
}

float dot_bf16(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* x = static_cast<const uint16_t*>(vx);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(bf16_to_fp32(w[i]) * bf16_to_fp32(x[i]));
    }
    return static_cast<float>(sum);
}

} // namespace

VecDotFn vec_dot_portable(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::F32:
        return per_token<dot_f32>;
    case TensorType::F16:
        return per_token<dot_f16>;
    case TensorType::BF16:
        return per_token<dot_bf16>;
    case TensorType::Q4_0:
        return per_token<dot_q4_0>;
    case TensorType::Q4_1:
        return per_token<dot_q4_1>;
    case TensorType::Q5_0:
        return per_token<dot_q5_0>;
    case TensorType::Q5_1:
        return per_token<dot_q5_1>;
    case TensorType::Q8_0:
        return per_token<dot_q8_0>;
    case TensorType::Q2_K:
        return per_token<dot_q2_k>;
    case TensorType::Q3_K:
        return per_token<dot_q3_k>;
    case TensorType::Q4_K:
        return per_token<dot_q4_5_k<BlockQ4_K, false>>;
    case TensorType::Q5_K:
        return per_token<dot_q4_5_k<BlockQ5_K, true>>;
    case TensorType::Q6_K:
        return per_token<dot_q6_k>;
    case TensorType::IQ4_NL:
        return per_token<dot_iq4_nl>;
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
