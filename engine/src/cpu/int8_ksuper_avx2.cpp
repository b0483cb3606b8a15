// AVX2 kernel of the int8 path's super-block layout (int8_ksuper.h): 8 rows (a row per 32-bit
// lane) × 4 tokens. Per quad, vpmaddubsw multiplies the rows' unsigned q by the token's 4
// broadcast activations into 16-bit pairs; a run of quads is added in 16 bits (4 quads where
// q ≤ 31: 4 · 2 · 31 · 128 < 32768; 2 where q ≤ 63: 2 · 2 · 63 · 128 < 32768), and the vpmaddwd
// that widens it multiplies by the rows' integer sub-block scale (the layout's {sc, sc} pairs)
// instead of by ones: the integer scales cost nothing. Mins: 8 vpmaddwd of the negated 16-bit
// mins by the token's 16-bit sums. Then, per 256 values, the portable kernel's two float steps.
// Integer sums are exact (int8_ksuper.h's bound), so the bits are the portable kernel's.
//
// Compiled with -mavx2 -mfma -mf16c; called only at the avx2 level (also on AVX-VNNI CPUs).
#include "cpu/int8_ksuper.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <algorithm>
#include <array>
#include <cstring>
#include <immintrin.h>
#include <utility>

namespace hearth::cpu {
namespace {

// 4 accumulators, 4 integer sums, a run's weights (≤ 4), the scale and two temporaries: AVX2's
// 16 registers.
constexpr int kTileTokens = 4;

inline __m256i broadcast4(const void* p) {
    int32_t v = 0;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

inline __m256i load(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Pins a running sum to a register here (GCC would otherwise reassociate the chain into a tree
// that keeps every product live and spills; int8_gemm_tile.h's keep_in_register).
inline void keep_in_register(__m256i& v) {
    asm("" : "+x"(v));
}

// RN tokens from t0 against the 8 rows of group; kRun quads per 16-bit run.
template <int RN, int kRun>
void tile(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x, int64_t t0,
          float* y, int64_t y_stride, int n_rows) {
    const quant::BlockQ8_K* xt[RN];
    __m256 acc[RN];
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        xt[t] = x.x + (t0 + t) * x.stride;
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_super; ++b) {
        const BlockKSuper8& blk = group[b];
        __m256i isum[RN];
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            isum[t] = _mm256_setzero_si256();
        }
        for (int s = 0; s < kKSubBlocks; ++s) {
            const __m256i sc = load(blk.scale[s]);
#pragma GCC unroll 4
            for (int q0 = 4 * s; q0 < 4 * s + 4; q0 += kRun) {
                __m256i w[kRun];
#pragma GCC unroll 4
                for (int i = 0; i < kRun; ++i) {
                    w[i] = load(blk.qs + 32 * (q0 + i));
                }
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    const int8_t* xq = xt[t][b].qs + 4 * q0;
                    __m256i p = _mm256_maddubs_epi16(w[0], broadcast4(xq));
#pragma GCC unroll 4
                    for (int i = 1; i < kRun; ++i) {
                        p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[i], broadcast4(xq + 4 * i)));
                    }
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc));
                    keep_in_register(isum[t]);
                }
            }
        }
        const __m256 d = _mm256_loadu_ps(blk.d);
        const __m256 dmin = _mm256_loadu_ps(blk.dmin);
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            __m256i imin = _mm256_madd_epi16(load(blk.neg_min[0]), broadcast4(xt[t][b].bsums));
#pragma GCC unroll 8
            for (int p = 1; p < kKSubBlocks / 2; ++p) {
                imin =
                    _mm256_add_epi32(imin, _mm256_madd_epi16(load(blk.neg_min[p]),
                                                             broadcast4(xt[t][b].bsums + 2 * p)));
            }
            const __m256 dx = _mm256_broadcast_ss(&xt[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(imin), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        float* out = y + (t0 + t) * y_stride;
        if (n_rows == kInt8Rows) {
            _mm256_storeu_ps(out, acc[t]);
        } else {
            alignas(32) float lanes[kInt8Rows];
            _mm256_store_ps(lanes, acc[t]);
            std::memcpy(out, lanes, static_cast<size_t>(n_rows) * sizeof(float));
        }
    }
}

using TileFn = void (*)(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t, float*,
                        int64_t, int);

template <int kRun, int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
    return {&tile<I + 1, kRun>...};
}

// One group (n_rows ≤ 8), every token of the chunk.
template <int kRun>
void run_tiles(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
               int64_t n_tok, float* y, int64_t y_stride, int n_rows) {
    // kTiles[tokens - 1].
    static constexpr auto kTiles = make_tiles<kRun>(std::make_integer_sequence<int, kTileTokens>{});
    for (int64_t t = 0; t < n_tok; t += kTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
        kTiles[static_cast<size_t>(rn - 1)](n_super, group, x, t, y, y_stride, n_rows);
    }
}

} // namespace

void int8_ksuper_avx2(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                      int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows) {
    for (int r0 = 0; r0 < n_rows; r0 += static_cast<int>(kInt8Rows)) {
        const BlockKSuper8* g = group + r0 / kInt8Rows * n_super;
        const int rows = std::min(n_rows - r0, static_cast<int>(kInt8Rows));
        if (max_q <= 31) {
            run_tiles<4>(n_super, g, x, n_tok, y + r0, y_stride, rows);
        } else {
            run_tiles<2>(n_super, g, x, n_tok, y + r0, y_stride, rows);
        }
    }
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_ksuper_avx2(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t, int, float*,
                      int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
