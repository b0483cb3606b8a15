// AVX512-VNNI kernel of the int8 prefill path (int8_gemm.h). A call of 16 rows (two groups) runs
// the 512-bit tile below; a call of at most 8 rows (a matrix's last) the 256-bit one of
// int8_gemm_vnni.h. Compiled with the AVX-512 kernels' flags (cmake/HearthEngineSourceFlags.cmake);
// called only where cpu_has_avx512_vnni() found them.
//
// The 512-bit tile: one register holds a quad (4 values) of all 16 rows, the first group's 8
// rows in the low half and the second's in the high half (two 32-byte loads, joined once per
// quad and tile and used by every token of it); the token's 4 activation bytes are broadcast to
// all 16 lanes, so one vpdpbusd adds 64 products where the 256-bit tile adds 32, and the float
// work per block (or half) and token (a multiply, a conversion, two FMAs) serves 16 rows instead
// of 8. Per row it is the same operations in the same order as the portable kernel, so the bits
// are the same.
#include "cpu/int8_gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVX512F__) && defined(__AVX512VNNI__) &&    \
    defined(__AVX512VL__)

#include "cpu/int8_gemm_vnni.h"

namespace hearth::cpu {
namespace {

inline __m256i dpbusd_avx512(__m256i acc, __m256i w, __m256i x) {
    return _mm256_dpbusd_epi32(acc, w, x);
}

// Tokens per 512-bit tile: RN accumulators and RN integer sums of 32 registers.
constexpr int kWideTileTokens = 8;

// 8 floats (32 bytes) of each group, the first group's in the low half.
inline __m512 join_ps(const float* lo, const float* hi) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(lo))),
                           _mm256_castps_pd(_mm256_loadu_ps(hi)), 1));
}

inline __m512i join_si(const uint8_t* lo, const uint8_t* hi) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
}

// RN tokens from t0 against 16 rows (lo: the first group's blocks, hi: the second's), a format
// of kSegments scales per block. vpdpbusd's 32-bit sums cannot saturate for any q ≤ 255.
template <int RN, int kSegments>
void wide_tile(int64_t n_blocks, const BlockInt8x8* lo, const BlockInt8x8* hi,
               const Int8Activations& x, int64_t t0, float* y, int64_t y_stride, int n_rows) {
    constexpr int kQuads = 8 / kSegments;
    const TileTokens<RN, kSegments> tok(x, t0);
    __m512 acc[RN];
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
#pragma GCC unroll 2
        for (int h = 0; h < kSegments; ++h) {
            __m512i isum[RN];
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                isum[t] = _mm512_setzero_si512();
            }
#pragma GCC unroll 8
            for (int q = h * kQuads; q < (h + 1) * kQuads; ++q) {
                const __m512i w = join_si(lo[b].qs + 32 * q, hi[b].qs + 32 * q);
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    int32_t quad = 0;
                    std::memcpy(&quad, tok.xq[t] + 32 * b + 4 * q, 4);
                    isum[t] = _mm512_dpbusd_epi32(isum[t], w, _mm512_set1_epi32(quad));
                }
            }
            const __m512 scale = join_ps(lo[b].scale[h], hi[b].scale[h]);
            const __m512 min = join_ps(lo[b].min[h], hi[b].min[h]);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                const __m512 sd = _mm512_mul_ps(scale, _mm512_set1_ps(tok.xd[t][b]));
                acc[t] = _mm512_fmadd_ps(sd, _mm512_cvtepi32_ps(isum[t]), acc[t]);
                acc[t] = _mm512_fmadd_ps(min, _mm512_set1_ps(tok.xs[t][kSegments * b + h]), acc[t]);
            }
        }
    }
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, mask, acc[t]);
    }
}

using WideTileFn = void (*)(int64_t, const BlockInt8x8*, const BlockInt8x8*, const Int8Activations&,
                            int64_t, float*, int64_t, int);

template <int kSegments, int... I>
constexpr std::array<WideTileFn, sizeof...(I)> make_wide_tiles(std::integer_sequence<int, I...>) {
    return {&wide_tile<I + 1, kSegments>...};
}

template <int kSegments>
void run_wide_tiles(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                    int64_t n_tok, float* y, int64_t y_stride, int n_rows) {
    // kTiles[tokens - 1].
    static constexpr auto kTiles =
        make_wide_tiles<kSegments>(std::make_integer_sequence<int, kWideTileTokens>{});
    for (int64_t t = 0; t < n_tok; t += kWideTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(kWideTileTokens, n_tok - t));
        kTiles[static_cast<size_t>(rn - 1)](n_blocks, group, group + n_blocks, x, t, y, y_stride,
                                            n_rows);
    }
}

} // namespace

void int8_gemm_avx512vnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                          int64_t n_tok, Int8Format format, float* y, int64_t y_stride,
                          int n_rows) {
    if (n_rows <= kInt8Rows) {
        int8_gemm_vnni_group<dpbusd_avx512>(n_blocks, group, x, n_tok, format, y, y_stride, n_rows);
    } else if (int8_format_segments(format) == 2) {
        run_wide_tiles<2>(n_blocks, group, x, n_tok, y, y_stride, n_rows);
    } else {
        run_wide_tiles<1>(n_blocks, group, x, n_tok, y, y_stride, n_rows);
    }
}

} // namespace hearth::cpu

#else // not built for x86: never picked there

#include <cstdlib>

namespace hearth::cpu {

void int8_gemm_avx512vnni(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, Int8Format,
                          float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
