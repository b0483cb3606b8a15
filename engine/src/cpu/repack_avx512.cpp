// AVX-512 (F/BW/VL + VNNI) single-token kernels over the 8-row packed Q4_0 and Q4_K layouts
// (repack_layout.h). Compiled with the AVX-512 flags and called only after cpu_features found
// them (avx512_kernels_enabled()).
//
// Bit-exact with repack_avx2.cpp's gemm_q4_0_x8 / gemm_q4_k_x8 for one token, so with
// llama.cpp's repacked kernels: the float part is theirs unchanged (one 8-lane FMA per block
// per group, a lane per row). The integer part reads two quads (64 bytes: quads j and j + 1,
// all 8 rows) per register and multiplies them by vpdpbusd against the activation quads that
// belong to them (vpermd puts quad j's 4 activations in the low 8 lanes, quad j + 1's in the
// high ones); the two halves are added at the end. Each int32 lane then holds the same exact
// sum as the AVX2 kernel's 16-bit partial sums widened by vpmaddwd (no 16-bit sum saturates
// there, see repack_avx2.cpp). Groups go two at a time to share the activation permutes.
#include "cpu/kernels.h"
#include "cpu/repack.h"
#include "cpu/repack_layout.h"
#include "quant/blocks.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_prefetch.h"

#include <immintrin.h>

namespace hearth::cpu {
namespace {

using quant::BlockQ8_0;

// vpermd indices: activation quads q and q + 1 (32-bit words of a 32-byte activation run) over
// the low and high 8 lanes.
inline __m512i quad_pair_index(int q) {
    return _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_set1_epi32(q)),
                              _mm256_set1_epi32(q + 1), 1);
}

// 64 bytes as two 32-byte loads: the packed quads are 16- or 32-byte aligned, not 64, and a
// 64-byte load across two cache lines costs two.
inline __m512i load_halves(const uint8_t* p) {
    return _mm512_inserti64x4(
        _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)), 1);
}

inline __m256i fold_halves(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

using avx2::load_f16x8;

// Sum over one Q4_0 block of each row: the 32 unsigned nibbles times the 32 activations.
// qx: the activation run with its quads indexed by vpermd; idx: the four quad-pair indices.
inline __m256i q4_0_block_sum(const BlockQ4_0x8& wb, __m512i qx, const __m512i (&idx)[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    // Quads 0..3 of the block: low nibbles against activation quads 0..3, high ones 4..7.
    const __m512i raw01 = load_halves(wb.qs);
    const __m512i raw23 = load_halves(wb.qs + 64);
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(raw01, m4),
                                    _mm512_permutexvar_epi32(idx[0], qx));
    s = _mm512_dpbusd_epi32(s, _mm512_and_si512(raw23, m4), _mm512_permutexvar_epi32(idx[1], qx));
    s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(raw01, 4), m4),
                            _mm512_permutexvar_epi32(idx[2], qx));
    s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(raw23, 4), m4),
                            _mm512_permutexvar_epi32(idx[3], qx));
    return fold_halves(s);
}

template <int NG>
void gemv_q4_0_groups(int64_t n_cols, const BlockQ4_0x8* const* groups, const BlockQ8_0* x,
                      const int32_t* sums, float* y) {
    const __m512i idx[4] = {quad_pair_index(0), quad_pair_index(2), quad_pair_index(4),
                            quad_pair_index(6)};
    __m256 acc[NG];
    for (int g = 0; g < NG; ++g) {
        acc[g] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_cols / quant::QK8_0; ++b) {
        const __m512i qx =
            _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs)));
        const __m256 dx = _mm256_set1_ps(_cvtsh_ss(x[b].d));
        const __m256i offset = _mm256_set1_epi32(sums[b]);
        for (int g = 0; g < NG; ++g) {
            const BlockQ4_0x8& wb = groups[g][b];
            const __m256i isum = _mm256_sub_epi32(q4_0_block_sum(wb, qx, idx), offset);
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(load_f16x8(wb.d), dx),
                                     acc[g]);
        }
    }
    for (int g = 0; g < NG; ++g) {
        _mm256_storeu_ps(y + kPackRows * g, acc[g]);
    }
}

// Sub-block pair c of a Q4_K super-block, 8 rows: sum_k sc[2c] (lo · x) + sc[2c+1] (hi · x).
inline __m256i q4_k_pair_sum(const BlockQ4_Kx8& wb, int c, __m512i x_lo, __m512i x_hi,
                             const __m512i (&idx)[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i s_lo = _mm512_setzero_si512();
    __m512i s_hi = _mm512_setzero_si512();
    for (int k = 0; k < 4; ++k) {
        const __m512i raw = load_halves(wb.qs + 256 * c + 64 * k);
        s_lo = _mm512_dpbusd_epi32(s_lo, _mm512_and_si512(raw, m4),
                                   _mm512_permutexvar_epi32(idx[k], x_lo));
        s_hi = _mm512_dpbusd_epi32(s_hi, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4),
                                   _mm512_permutexvar_epi32(idx[k], x_hi));
    }
    // The scales in both halves. Each lane of each half sums 16 products (at most
    // 16 × 15 × 128 in size), which fits 16 signed bits, and each scale's high 16 bits are 0, so
    // vpmaddwd gives sum × scale exactly, cheaper than vpmulld. The halves are added after
    // scaling: their sum (32 products) need not fit 16 bits.
    const __m512i sc_lo = _mm512_broadcast_i64x4(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb.sc[2 * c]))));
    const __m512i sc_hi = _mm512_broadcast_i64x4(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb.sc[2 * c + 1]))));
    return fold_halves(
        _mm512_add_epi32(_mm512_madd_epi16(s_lo, sc_lo), _mm512_madd_epi16(s_hi, sc_hi)));
}

// sum_j mn_j * bsum_j of each row, bsum_j the activation sum of sub-block j (pair_sums[c]
// holds those of sub-blocks 2c and 2c + 1 as two int16).
inline __m256i q4_k_min_sum(const BlockQ4_Kx8& wb, const int32_t (&pair_sums)[4]) {
    __m256i imin = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
        const __m256i mins = _mm256_or_si256(
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb.mn[2 * c]))),
            _mm256_slli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                  reinterpret_cast<const __m128i*>(wb.mn[2 * c + 1]))),
                              16));
        imin = _mm256_add_epi32(imin, _mm256_madd_epi16(mins, _mm256_set1_epi32(pair_sums[c])));
    }
    return imin;
}

// How far ahead in each group gemv_q4_k_groups asks for weights (gemv_prefetch.h): two
// super-blocks. From memory (`hearth-kernel-bench --decode-memory`, GB/s per CPU second on a
// loaded 2-vCPU Xeon): none 8.4-9.5, half a super-block 10.4-11.0, one 10.6-11.3, two
// 10.9-11.8, three 11.3-11.6. Q4_0's packed kernel (one stream, at the roofline) takes none.
constexpr size_t kPrefetchAheadQ4K = 2 * sizeof(BlockQ4_Kx8);

template <int NG>
void gemv_q4_k_groups(int64_t n_cols, const BlockQ4_Kx8* const* groups, const BlockQ8_K* x,
                      float* y) {
    const __m512i idx[4] = {quad_pair_index(0), quad_pair_index(2), quad_pair_index(4),
                            quad_pair_index(6)};
    __m256 acc[NG], acc_min[NG];
    for (int g = 0; g < NG; ++g) {
        acc[g] = _mm256_setzero_ps();
        acc_min[g] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_cols / quant::QK_K; ++b) {
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].bsums));
        alignas(16) int32_t pair_sums[4];
        _mm_store_si128(
            reinterpret_cast<__m128i*>(pair_sums),
            _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        __m512i x_lo[4], x_hi[4];
        for (int c = 0; c < 4; ++c) {
            x_lo[c] = _mm512_zextsi256_si512(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 64 * c)));
            x_hi[c] = _mm512_zextsi256_si512(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 64 * c + 32)));
        }
        const __m256 dx = _mm256_set1_ps(x[b].d);
        for (int g = 0; g < NG; ++g) {
            prefetch_span_ahead(groups[g] + b, kPrefetchAheadQ4K, sizeof(BlockQ4_Kx8));
            const BlockQ4_Kx8& wb = groups[g][b];
            __m256i isum = _mm256_setzero_si256();
            for (int c = 0; c < 4; ++c) {
                isum = _mm256_add_epi32(isum, q4_k_pair_sum(wb, c, x_lo[c], x_hi[c], idx));
            }
            const __m256i imin = q4_k_min_sum(wb, pair_sums);
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(load_f16x8(wb.d), dx),
                                     acc[g]);
            acc_min[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin),
                                         _mm256_mul_ps(load_f16x8(wb.dmin), dx), acc_min[g]);
        }
    }
    for (int g = 0; g < NG; ++g) {
        _mm256_storeu_ps(y + kPackRows * g, _mm256_sub_ps(acc[g], acc_min[g]));
    }
}

} // namespace

void gemv_q4_0_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* vx,
                         const int32_t* sums, float* y) {
    const auto* x = static_cast<const BlockQ8_0*>(vx);
    const size_t group_bytes = repacked_bytes(TensorType::Q4_0, kPackRows, n_cols);
    const auto* base = static_cast<const uint8_t*>(groups);
    const auto group = [&](int64_t g) {
        return reinterpret_cast<const BlockQ4_0x8*>(base + static_cast<size_t>(g) * group_bytes);
    };
    int64_t g = 0;
    for (; g + 2 <= n_groups; g += 2) {
        const BlockQ4_0x8* pair[2] = {group(g), group(g + 1)};
        gemv_q4_0_groups<2>(n_cols, pair, x, sums, y + g * kPackRows);
    }
    if (g < n_groups) {
        const BlockQ4_0x8* one[1] = {group(g)};
        gemv_q4_0_groups<1>(n_cols, one, x, sums, y + g * kPackRows);
    }
}

void gemv_q4_k_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* vx,
                         float* y) {
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const size_t group_bytes = repacked_bytes(TensorType::Q4_K, kPackRows, n_cols);
    const auto* base = static_cast<const uint8_t*>(groups);
    const auto group = [&](int64_t g) {
        return reinterpret_cast<const BlockQ4_Kx8*>(base + static_cast<size_t>(g) * group_bytes);
    };
    int64_t g = 0;
    for (; g + 2 <= n_groups; g += 2) {
        const BlockQ4_Kx8* pair[2] = {group(g), group(g + 1)};
        gemv_q4_k_groups<2>(n_cols, pair, x, y + g * kPackRows);
    }
    if (g < n_groups) {
        const BlockQ4_Kx8* one[1] = {group(g)};
        gemv_q4_k_groups<1>(n_cols, one, x, y + g * kPackRows);
    }
}

} // namespace hearth::cpu

#else // not built with the AVX-512 flags: avx512_kernels_enabled() is false there

#include <cstdlib>

namespace hearth::cpu {

void gemv_q4_0_x8_avx512(int64_t, const void*, int64_t, const void*, const int32_t*, float*) {
    std::abort();
}

void gemv_q4_k_x8_avx512(int64_t, const void*, int64_t, const void*, float*) {
    std::abort();
}

} // namespace hearth::cpu

#endif
