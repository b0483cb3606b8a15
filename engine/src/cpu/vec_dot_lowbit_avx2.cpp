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

// 32 unsigned grid bytes times 32 signed activations with the signs applied, as 8 int32 lanes
// scaled by the group scale ls.
inline __m256i signed_group(__m256i grid, __m256i signs, const int8_t* q8, int ls) {
    const __m256i q8s = _mm256_sign_epi8(load32(q8), signs);
    const __m256i dot = _mm256_maddubs_epi16(grid, q8s);
    return _mm256_madd_epi16(dot, _mm256_set1_epi16(static_cast<int16_t>(ls)));
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

float dot_iq2_xxs(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ2_XXS*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32) {
            uint32_t aux[2];
            std::memcpy(aux, w[b].qs + 4 * g, sizeof(aux));
            const __m256i grid = _mm256_set_epi64x(
                grid64(iq2xxs_grid[aux[0] >> 24]), grid64(iq2xxs_grid[(aux[0] >> 16) & 0xff]),
                grid64(iq2xxs_grid[(aux[0] >> 8) & 0xff]), grid64(iq2xxs_grid[aux[0] & 0xff]));
            const __m256i signs = _mm256_set_epi64x(
                sign_bytes(expand_signs7(aux[1] >> 21)), sign_bytes(expand_signs7(aux[1] >> 14)),
                sign_bytes(expand_signs7(aux[1] >> 7)), sign_bytes(expand_signs7(aux[1])));
            const int ls = 2 * static_cast<int>(aux[1] >> 28) + 1;
            sumi = _mm256_add_epi32(sumi, signed_group(grid, signs, q8, ls));
        }
        const float d = h2f(w[b].d) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * hsum(acc);
}

float dot_iq2_xs(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ2_XS*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const uint16_t* q2 = w[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32, q2 += 4) {
            const __m256i grid =
                _mm256_set_epi64x(grid64(iq2xs_grid[q2[3] & 511]), grid64(iq2xs_grid[q2[2] & 511]),
                                  grid64(iq2xs_grid[q2[1] & 511]), grid64(iq2xs_grid[q2[0] & 511]));
            const __m256i signs = _mm256_set_epi64x(
                sign_bytes(expand_signs7(q2[3] >> 9)), sign_bytes(expand_signs7(q2[2] >> 9)),
                sign_bytes(expand_signs7(q2[1] >> 9)), sign_bytes(expand_signs7(q2[0] >> 9)));
            const __m256i q8s = _mm256_sign_epi8(load32(q8), signs);
            const __m256i dot = _mm256_maddubs_epi16(grid, q8s);
            // Scales per 16 values: the low lane takes the low nibble, the high lane the high.
            const uint8_t sc = w[b].scales[g];
            const __m256i ls =
                _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(2 * (sc >> 4) + 1)),
                                 _mm_set1_epi16(static_cast<int16_t>(2 * (sc & 0x0f) + 1)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(dot, ls));
        }
        const float d = h2f(w[b].d) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * hsum(acc);
}

float dot_iq2_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ2_S*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const uint8_t* qs = w[b].qs;
        const uint8_t* signs = w[b].qs + QK_K / 8;
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32, qs += 4, signs += 4) {
            const int qh = w[b].qh[g];
            const auto index = [&](int l) { return qs[l] | ((qh >> (2 * l)) & 3) << 8; };
            const __m256i grid =
                _mm256_set_epi64x(grid64(iq2s_grid[index(3)]), grid64(iq2s_grid[index(2)]),
                                  grid64(iq2s_grid[index(1)]), grid64(iq2s_grid[index(0)]));
            const __m256i sign = _mm256_set_epi64x(sign_bytes(signs[3]), sign_bytes(signs[2]),
                                                   sign_bytes(signs[1]), sign_bytes(signs[0]));
            const __m256i dot = _mm256_maddubs_epi16(grid, _mm256_sign_epi8(load32(q8), sign));
            const uint8_t sc = w[b].scales[g];
            const __m256i ls =
                _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(2 * (sc >> 4) + 1)),
                                 _mm_set1_epi16(static_cast<int16_t>(2 * (sc & 0x0f) + 1)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(dot, ls));
        }
        const float d = h2f(w[b].d) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.125f * hsum(acc);
}

float dot_iq3_xxs(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ3_XXS*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const uint8_t* q3 = w[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32, q3 += 8) {
            uint32_t aux = 0;
            std::memcpy(&aux, w[b].qs + QK_K / 4 + 4 * g, sizeof(aux));
            const __m256i grid =
                _mm256_set_epi64x(grid_pair(iq3xxs_grid[q3[6]], iq3xxs_grid[q3[7]]),
                                  grid_pair(iq3xxs_grid[q3[4]], iq3xxs_grid[q3[5]]),
                                  grid_pair(iq3xxs_grid[q3[2]], iq3xxs_grid[q3[3]]),
                                  grid_pair(iq3xxs_grid[q3[0]], iq3xxs_grid[q3[1]]));
            const __m256i signs = _mm256_set_epi64x(
                sign_bytes(expand_signs7(aux >> 21)), sign_bytes(expand_signs7(aux >> 14)),
                sign_bytes(expand_signs7(aux >> 7)), sign_bytes(expand_signs7(aux)));
            const int ls = 2 * static_cast<int>(aux >> 28) + 1;
            sumi = _mm256_add_epi32(sumi, signed_group(grid, signs, q8, ls));
        }
        const float d = h2f(w[b].d) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return 0.25f * hsum(acc);
}

float dot_iq3_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ3_S*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const uint8_t* qs = w[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int g = 0; g < QK_K / 32; ++g, q8 += 32, qs += 8) {
            const int qh = w[b].qh[g];
            const auto entry = [&](int i) { return iq3s_grid[qs[i] | ((qh >> i) & 1) << 8]; };
            const __m256i grid =
                _mm256_set_epi64x(grid_pair(entry(6), entry(7)), grid_pair(entry(4), entry(5)),
                                  grid_pair(entry(2), entry(3)), grid_pair(entry(0), entry(1)));
            const uint8_t* s = w[b].signs + 4 * g;
            const __m256i signs = _mm256_set_epi64x(sign_bytes(s[3]), sign_bytes(s[2]),
                                                    sign_bytes(s[1]), sign_bytes(s[0]));
            const int ls = 2 * ((w[b].scales[g / 2] >> (4 * (g % 2))) & 0x0f) + 1;
            sumi = _mm256_add_epi32(sumi, signed_group(grid, signs, q8, ls));
        }
        const float d = h2f(w[b].d) * x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum(acc);
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
        return per_token<dot_iq2_xxs>;
    case TensorType::IQ2_XS:
        return per_token<dot_iq2_xs>;
    case TensorType::IQ2_S:
        return per_token<dot_iq2_s>;
    case TensorType::IQ3_XXS:
        return per_token<dot_iq3_xxs>;
    case TensorType::IQ3_S:
        return per_token<dot_iq3_s>;
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
