// AVX2 dot products of the low-bit weight types with their quantized activations: MXFP4
// (against Q8_0), TQ2_0 and the grid i-quants IQ1_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S
// (against Q8_K). Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found
// them. NVFP4, TQ1_0 and IQ1_M run the portable kernels at every level.
//
// Each follows the integer and float operation order of ggml's x86 kernel of the type
// (ggml-cpu/arch/x86/quants.c): grid entries are gathered into 32 unsigned bytes, the signs
// are moved onto the activations (vpsignb), vpmaddubsw + vpmaddwd with the group scale give
// 8 int32 lanes, and each super-block adds d * lanes into 8 float lanes; so the results are
// the same bits as llama.cpp's on an AVX2 build.
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "quant/iq_grids.h"

#include <array>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using namespace quant;

using avx2::h2f;
using avx2::hsum;
using avx2::load32;

// For 8 sign bits, 8 bytes of 0xff (negate) or 0x01 (keep): the vpsignb operand.
constexpr std::array<uint64_t, 256> make_sign_bytes() {
    std::array<uint64_t, 256> table{};
    for (uint32_t s = 0; s < 256; ++s) {
        uint64_t bytes = 0;
        for (int j = 0; j < 8; ++j) {
            bytes |= static_cast<uint64_t>((s >> j) & 1 ? 0xff : 0x01) << (8 * j);
        }
        table[s] = bytes;
    }
    return table;
}
constexpr std::array<uint64_t, 256> kSignBytes = make_sign_bytes();

inline int64_t sign_bytes(uint8_t signs) {
    return static_cast<int64_t>(kSignBytes[signs]);
}

inline int64_t grid64(uint64_t entry) {
    return static_cast<int64_t>(entry);
}

// Two IQ3 grid entries (4 values each) as one 8-value lane.
inline int64_t grid_pair(uint32_t lo, uint32_t hi) {
    return static_cast<int64_t>(lo | static_cast<uint64_t>(hi) << 32);
}

float dot_mxfp4(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockMXFP4*>(vw);
    const auto* x = static_cast<const BlockQ8_0*>(vx);
    const int64_t nb = n / QK_MXFP4;
    const __m128i values = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_mxfp4));
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const auto unpack = [&](const BlockMXFP4& b) {
        const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
        return _mm256_set_m128i(
            _mm_shuffle_epi8(values, _mm_and_si128(_mm_srli_epi16(bits, 4), m4)),
            _mm_shuffle_epi8(values, _mm_and_si128(bits, m4)));
    };
    // ggml's mul_add_epi8: |w| times y with w's sign, then pairs to int32.
    const auto dot = [](__m256i q, const int8_t* y) {
        const __m256i p16 =
            _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(load32(y), q));
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
    };
    __m256 acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        const float d0 = h2f(x[b].d) * e8m0_to_fp32_half(w[b].e);
        const float d1 = h2f(x[b + 1].d) * e8m0_to_fp32_half(w[b + 1].e);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d0), dot(unpack(w[b]), x[b].qs), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(d1), dot(unpack(w[b + 1]), x[b + 1].qs), acc2);
    }
    float sum = hsum(_mm256_add_ps(acc1, acc2));
    for (; b < nb; ++b) {
        const float d = h2f(x[b].d) * e8m0_to_fp32_half(w[b].e);
        int lo = 0, hi = 0;
        for (int j = 0; j < 16; ++j) {
            lo += x[b].qs[j] * kvalues_mxfp4[w[b].qs[j] & 0x0f];
            hi += x[b].qs[j + 16] * kvalues_mxfp4[w[b].qs[j] >> 4];
        }
        sum += d * static_cast<float>(lo + hi);
    }
    return sum;
}

float dot_tq2_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockTQ2_0*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        // 16-bit sums of q * y (q = stored 0..2); the -1 offset is the activation sums.
        __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256();
        for (int j = 0; j < 64; j += 32) {
            const __m256i bits = load32(w[b].qs + j);
            __m256i p[4];
            for (int k = 0; k < 4; ++k) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                p[k] = _mm256_maddubs_epi16(q, load32(x[b].qs + 4 * j + 32 * k));
            }
            sum0 = _mm256_add_epi16(sum0, _mm256_add_epi16(p[0], p[1]));
            sum1 = _mm256_add_epi16(sum1, _mm256_add_epi16(p[2], p[3]));
        }
        __m256i sumi = _mm256_sub_epi16(_mm256_add_epi16(sum0, sum1), load32(x[b].bsums));
        sumi = _mm256_madd_epi16(sumi, _mm256_set1_epi16(1));
        const __m256 d = _mm256_set1_ps(x[b].d * h2f(w[b].d));
        acc = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sumi), d), acc);
    }
    return hsum(acc);
}

// One 32-value group of a grid i-quant super-block, decoded: 32 unsigned grid bytes, their
// signs as the vpsignb operand, and the group scale in each 16-bit lane.
struct GridGroup {
    __m256i grid;
    __m256i signs;
    __m256i scale;
};

inline __m256i scale_lanes(int ls) {
    return _mm256_set1_epi16(static_cast<int16_t>(ls));
}

// Scales per 16 values: the low lane takes the low nibble, the high lane the high one.
inline __m256i nibble_scale_lanes(uint8_t sc) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(2 * (sc >> 4) + 1)),
                            _mm_set1_epi16(static_cast<int16_t>(2 * (sc & 0x0f) + 1)));
}

// The grid i-quants' block decoders: `group(b, g)` decodes group g of super-block b, and
// kScale is the factor ggml applies to the finished sum.
struct Iq2xxs {
    using Block = BlockIQ2_XXS;
    static constexpr float kScale = 0.125f;
    static GridGroup group(const Block& b, int g) {
        uint32_t aux[2];
        std::memcpy(aux, b.qs + 4 * g, sizeof(aux));
        return {_mm256_set_epi64x(
                    grid64(iq2xxs_grid[aux[0] >> 24]), grid64(iq2xxs_grid[(aux[0] >> 16) & 0xff]),
                    grid64(iq2xxs_grid[(aux[0] >> 8) & 0xff]), grid64(iq2xxs_grid[aux[0] & 0xff])),
                _mm256_set_epi64x(sign_bytes(expand_signs7(aux[1] >> 21)),
                                  sign_bytes(expand_signs7(aux[1] >> 14)),
                                  sign_bytes(expand_signs7(aux[1] >> 7)),
                                  sign_bytes(expand_signs7(aux[1]))),
                scale_lanes(2 * static_cast<int>(aux[1] >> 28) + 1)};
    }
};

struct Iq2xs {
    using Block = BlockIQ2_XS;
    static constexpr float kScale = 0.125f;
    static GridGroup group(const Block& b, int g) {
        const uint16_t* q2 = b.qs + 4 * g;
        return {_mm256_set_epi64x(grid64(iq2xs_grid[q2[3] & 511]), grid64(iq2xs_grid[q2[2] & 511]),
                                  grid64(iq2xs_grid[q2[1] & 511]), grid64(iq2xs_grid[q2[0] & 511])),
                _mm256_set_epi64x(
                    sign_bytes(expand_signs7(q2[3] >> 9)), sign_bytes(expand_signs7(q2[2] >> 9)),
                    sign_bytes(expand_signs7(q2[1] >> 9)), sign_bytes(expand_signs7(q2[0] >> 9))),
                nibble_scale_lanes(b.scales[g])};
    }
};

struct Iq2s {
    using Block = BlockIQ2_S;
    static constexpr float kScale = 0.125f;
    static GridGroup group(const Block& b, int g) {
        const uint8_t* qs = b.qs + 4 * g;
        const uint8_t* signs = b.qs + QK_K / 8 + 4 * g;
        const int qh = b.qh[g];
        const auto index = [&](int l) { return qs[l] | ((qh >> (2 * l)) & 3) << 8; };
        return {_mm256_set_epi64x(grid64(iq2s_grid[index(3)]), grid64(iq2s_grid[index(2)]),
                                  grid64(iq2s_grid[index(1)]), grid64(iq2s_grid[index(0)])),
                _mm256_set_epi64x(sign_bytes(signs[3]), sign_bytes(signs[2]), sign_bytes(signs[1]),
                                  sign_bytes(signs[0])),
                nibble_scale_lanes(b.scales[g])};
    }
};

struct Iq3xxs {
    using Block = BlockIQ3_XXS;
    static constexpr float kScale = 0.25f;
    static GridGroup group(const Block& b, int g) {
        const uint8_t* q3 = b.qs + 8 * g;
        uint32_t aux = 0;
        std::memcpy(&aux, b.qs + QK_K / 4 + 4 * g, sizeof(aux));
        return {_mm256_set_epi64x(grid_pair(iq3xxs_grid[q3[6]], iq3xxs_grid[q3[7]]),
                                  grid_pair(iq3xxs_grid[q3[4]], iq3xxs_grid[q3[5]]),
                                  grid_pair(iq3xxs_grid[q3[2]], iq3xxs_grid[q3[3]]),
                                  grid_pair(iq3xxs_grid[q3[0]], iq3xxs_grid[q3[1]])),
                _mm256_set_epi64x(
                    sign_bytes(expand_signs7(aux >> 21)), sign_bytes(expand_signs7(aux >> 14)),
                    sign_bytes(expand_signs7(aux >> 7)), sign_bytes(expand_signs7(aux))),
                scale_lanes(2 * static_cast<int>(aux >> 28) + 1)};
    }
};

struct Iq3s {
    using Block = BlockIQ3_S;
    static constexpr float kScale = 1.0f;
    static GridGroup group(const Block& b, int g) {
        const uint8_t* qs = b.qs + 8 * g;
        const int qh = b.qh[g];
        const auto entry = [&](int i) { return iq3s_grid[qs[i] | ((qh >> i) & 1) << 8]; };
        const uint8_t* s = b.signs + 4 * g;
        return {_mm256_set_epi64x(grid_pair(entry(6), entry(7)), grid_pair(entry(4), entry(5)),
                                  grid_pair(entry(2), entry(3)), grid_pair(entry(0), entry(1))),
                _mm256_set_epi64x(sign_bytes(s[3]), sign_bytes(s[2]), sign_bytes(s[1]),
                                  sign_bytes(s[0])),
                scale_lanes(2 * ((b.scales[g / 2] >> (4 * (g % 2))) & 0x0f) + 1)};
    }
};

// A grid i-quant weight row against NTok activation rows. Decoding a group (table gathers,
// sign expansion) costs more than its multiply, so prefill decodes each group once and
// multiplies it with every token's activations. Per token the operations and their order are
// those of ggml's one-token kernel: 32 signed bytes times the grid bytes (vpmaddubsw), pairs
// times the group scale (vpmaddwd), integer sums over the super-block, then
// acc += (d_w * d_x) * sum in float, and kScale times the horizontal sum at the end.
template <class Type, int NTok>
void grid_dot(int64_t n, const void* vw, const void* vx, size_t x_stride, float* y,
              int64_t y_stride) {
    const auto* w = static_cast<const typename Type::Block*>(vw);
    const auto* act = static_cast<const uint8_t*>(vx);
    const auto token = [&](int t, int64_t b) {
        return reinterpret_cast<const BlockQ8_K*>(act + t * x_stride) + b;
    };
    __m256 acc[NTok];
    for (int t = 0; t < NTok; ++t) {
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n / QK_K; ++b) {
        __m256i sumi[NTok];
        for (int t = 0; t < NTok; ++t) {
            sumi[t] = _mm256_setzero_si256();
        }
        for (int g = 0; g < QK_K / 32; ++g) {
            const GridGroup group = Type::group(w[b], g);
            for (int t = 0; t < NTok; ++t) {
                const __m256i q8s = _mm256_sign_epi8(load32(token(t, b)->qs + 32 * g), group.signs);
                const __m256i dot = _mm256_maddubs_epi16(group.grid, q8s);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(dot, group.scale));
            }
        }
        const float dw = h2f(w[b].d);
        for (int t = 0; t < NTok; ++t) {
            const float d = dw * token(t, b)->d;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    for (int t = 0; t < NTok; ++t) {
        y[t * y_stride] = Type::kScale * hsum(acc[t]);
    }
}

template <class Type>
void grid_kernel(int64_t n, const void* w, const void* x, size_t x_stride, float* y,
                 int64_t y_stride, int n_tok) {
    static_assert(kMaxTokens == 4);
    switch (n_tok) {
    case 1:
        return grid_dot<Type, 1>(n, w, x, x_stride, y, y_stride);
    case 2:
        return grid_dot<Type, 2>(n, w, x, x_stride, y, y_stride);
    case 3:
        return grid_dot<Type, 3>(n, w, x, x_stride, y, y_stride);
    default:
        return grid_dot<Type, 4>(n, w, x, x_stride, y, y_stride);
    }
}

float dot_iq1_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ1_S*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    float acc_delta = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const uint8_t* qs = w[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        int sumi_delta = 0;
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32, qs += 4) {
            const int qh = w[b].qh[g];
            const auto entry = [&](int l) {
                return grid64(iq1s_grid[qs[l] | ((qh >> (3 * l)) & 7) << 8]);
            };
            const __m256i grid = _mm256_set_epi64x(entry(3), entry(2), entry(1), entry(0));
            // Signed grid values: ggml's mul_add_epi8.
            const __m256i dot = _mm256_maddubs_epi16(_mm256_sign_epi8(grid, grid),
                                                     _mm256_sign_epi8(load32(q8), grid));
            const int ls = 2 * ((qh >> 12) & 7) + 1;
            sumi = _mm256_add_epi32(
                sumi, _mm256_madd_epi16(dot, _mm256_set1_epi16(static_cast<int16_t>(ls))));
            sumi_delta += (x[b].bsums[2 * g] + x[b].bsums[2 * g + 1]) * (qh & 0x8000 ? -1 : 1) * ls;
        }
        const float d = x[b].d * h2f(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        acc_delta += d * static_cast<float>(sumi_delta);
    }
    return hsum(acc) + kIq1Delta * acc_delta;
}

} // namespace

VecDotFn vec_dot_lowbit_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::MXFP4:
        return per_token<dot_mxfp4>;
    case TensorType::TQ2_0:
        return per_token<dot_tq2_0>;
    case TensorType::IQ2_XXS:
        return grid_kernel<Iq2xxs>;
    case TensorType::IQ2_XS:
        return grid_kernel<Iq2xs>;
    case TensorType::IQ2_S:
        return grid_kernel<Iq2s>;
    case TensorType::IQ3_XXS:
        return grid_kernel<Iq3xxs>;
    case TensorType::IQ3_S:
        return grid_kernel<Iq3s>;
    case TensorType::IQ1_S:
        return per_token<dot_iq1_s>;
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu

#else // not built for x86: cpu_features never lets matmul reach the avx2 level

namespace hearth::cpu {

VecDotFn vec_dot_lowbit_avx2(TensorType) {
    return nullptr;
}

} // namespace hearth::cpu

#endif
