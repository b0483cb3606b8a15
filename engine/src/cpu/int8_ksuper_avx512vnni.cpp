// AVX512-VNNI kernel of the int8 path's super-block layout (int8_ksuper.h): 16 rows (two 8-row
// groups, the first in the low half of each register) × 8 tokens. Per quad (4 values) one
// 512-bit vpdpbusd adds 64 products into the sub-block's int32 sums; at the end of each
// sub-block (16 values; 32 for Q4_K/Q5_K, whose two 16-value halves share a scale) one vpmulld by
// the rows' integer scales and one vpaddd add it to the super-block's int32 sum; the mins are
// 8 vpdpwssd (negated 16-bit mins × the token's 16-bit sums per 16 values). Then, once per 256
// values, the portable kernel's two float steps. Integer sums are exact (int8_ksuper.h's bound),
// so the bits are the portable kernel's.
//
// Compiled with the AVX-512 kernels' flags (cmake/HearthEngineSourceFlags.cmake); called only
// where cpu_has_avx512_vnni() found them.
#include "cpu/int8_ksuper.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVX512F__) && defined(__AVX512VNNI__) &&    \
    defined(__AVX512VL__)

#include <algorithm>
#include <array>
#include <cstring>
#include <immintrin.h>
#include <utility>

namespace hearth::cpu {
namespace {

constexpr int kTileTokens = 8;

// 32 bytes of each group, the first group's in the low half.
inline __m512i join_si(const void* lo, const void* hi) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(lo))),
        _mm256_loadu_si256(static_cast<const __m256i*>(hi)), 1);
}

inline __m512 join_ps(const float* lo, const float* hi) {
    return _mm512_castsi512_ps(join_si(lo, hi));
}

inline __m512i broadcast4(const void* p) {
    int32_t v = 0;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// RN tokens from t0 against the rows of lo and hi (hi == lo where the call has ≤ 8 rows: the
// store keeps the first n_rows). kSubQuads: quads per integer scale (4, or 8 for Q4_K/Q5_K).
template <int RN, int kSubQuads>
void tile(int64_t n_super, const BlockKSuper8* lo, const BlockKSuper8* hi,
          const KSuperActivations& x, int64_t t0, float* y, int64_t y_stride, int n_rows) {
    const quant::BlockQ8_K* xt[RN];
    __m512 acc[RN];
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        xt[t] = x.x + (t0 + t) * x.stride;
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < n_super; ++b) {
        const BlockKSuper8& wl = lo[b];
        const BlockKSuper8& wh = hi[b];
        __m512i isum[RN];
        __m512i part[RN]; // a sub-block's sums, then the mins' sum
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            isum[t] = _mm512_setzero_si512();
        }
        for (int q0 = 0; q0 < kKSuper / 4; q0 += kSubQuads) {
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                part[t] = _mm512_setzero_si512();
            }
#pragma GCC unroll 8
            for (int q = q0; q < q0 + kSubQuads; ++q) {
                const __m512i w = join_si(wl.qs + 32 * q, wh.qs + 32 * q);
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    part[t] = _mm512_dpbusd_epi32(part[t], w, broadcast4(xt[t][b].qs + 4 * q));
                }
            }
            // The scale pairs {sc, sc} of every row lane, as int32 sc.
            const __m512i sc = _mm512_srai_epi32(join_si(wl.scale[q0 / 4], wh.scale[q0 / 4]), 16);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(part[t], sc));
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            part[t] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int p = 0; p < kKSubBlocks / 2; ++p) {
            const __m512i mn = join_si(wl.neg_min[p], wh.neg_min[p]);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                part[t] = _mm512_dpwssd_epi32(part[t], mn, broadcast4(xt[t][b].bsums + 2 * p));
            }
        }
        const __m512 d = join_ps(wl.d, wh.d);
        const __m512 dmin = join_ps(wl.dmin, wh.dmin);
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            const __m512 dx = _mm512_set1_ps(xt[t][b].d);
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(part[t]), acc[t]);
        }
    }
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        _mm512_mask_storeu_ps(y + (t0 + t) * y_stride, mask, acc[t]);
    }
}

using TileFn = void (*)(int64_t, const BlockKSuper8*, const BlockKSuper8*, const KSuperActivations&,
                        int64_t, float*, int64_t, int);

template <int kSubQuads, int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
    return {&tile<I + 1, kSubQuads>...};
}

template <int kSubQuads>
void run_tiles(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
               int64_t n_tok, float* y, int64_t y_stride, int n_rows) {
    // kTiles[tokens - 1].
    static constexpr auto kTiles =
        make_tiles<kSubQuads>(std::make_integer_sequence<int, kTileTokens>{});
    const BlockKSuper8* hi = n_rows > kInt8Rows ? group + n_super : group;
    for (int64_t t = 0; t < n_tok; t += kTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
        kTiles[static_cast<size_t>(rn - 1)](n_super, group, hi, x, t, y, y_stride, n_rows);
    }
}

} // namespace

void int8_ksuper_avx512vnni(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                            int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows) {
    if (max_q <= 31) {
        run_tiles<8>(n_super, group, x, n_tok, y, y_stride, n_rows);
    } else {
        run_tiles<4>(n_super, group, x, n_tok, y, y_stride, n_rows);
    }
}

} // namespace hearth::cpu

#else // not built for x86: never picked there

#include <cstdlib>

namespace hearth::cpu {

void int8_ksuper_avx512vnni(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t, int,
                            float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
