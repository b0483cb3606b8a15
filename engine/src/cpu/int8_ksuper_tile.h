// The 256-bit register tile of the int8 path's super-block layout (int8_ksuper.h): 8 rows (a
// row per 32-bit lane) × 4 tokens, shared by the AVX2 and the AVX-VNNI builds. Each includes it
// with its own ISA flags and a Dot policy (how a chunk of quads' products, times the rows'
// integer sub-block scales, is added to the super-block's int32 sums), inside an anonymous
// namespace, so each TU has its own copy. Mins and the float steps per 256 values are the same
// for both, in the portable kernel's order.
#pragma once

#include "cpu/int8_gemm_tile.h"
#include "cpu/int8_ksuper.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <immintrin.h>
#include <utility>

namespace hearth::cpu {
namespace {

// 4 accumulators, 4 integer sums, a run's weights (≤ 4), the scale and two temporaries: the
// 16 registers of AVX2. broadcast4, keep_in_register and store_rows are int8_gemm_tile.h's.
constexpr int kKSuperTileTokens = 4;

inline __m256i load256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// A Dot policy has kChunkQuads(max_q) (quads per call of chunk) and
// chunk<RN, kMaxQ>(isum, blk, xt, b, q0): adds, for each of the RN tokens, the products of
// quads [q0, q0 + kChunkQuads) times their sub-blocks' integer scales to isum[t].

// RN tokens from t0 against the 8 rows of group, for a type of largest q kMaxQ.
template <typename Dot, int RN, int kMaxQ>
void ksuper_tile(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x, int64_t t0,
                 float* y, int64_t y_stride, int n_rows) {
    constexpr int kChunk = Dot::kChunkQuads(kMaxQ);
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
        for (int q0 = 0; q0 < kKSuper / 4; q0 += kChunk) {
            Dot::template chunk<RN, kMaxQ>(isum, blk, xt, b, q0);
        }
        const __m256 d = _mm256_loadu_ps(blk.d);
        const __m256 dmin = _mm256_loadu_ps(blk.dmin);
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            __m256i imin = _mm256_madd_epi16(load256(blk.neg_min[0]), broadcast4(xt[t][b].bsums));
#pragma GCC unroll 8
            for (int p = 1; p < kKSubBlocks / 2; ++p) {
                imin =
                    _mm256_add_epi32(imin, _mm256_madd_epi16(load256(blk.neg_min[p]),
                                                             broadcast4(xt[t][b].bsums + 2 * p)));
            }
            const __m256 dx = _mm256_broadcast_ss(&xt[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(imin), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        store_rows(y + (t0 + t) * y_stride, acc[t], n_rows);
    }
}

using KSuperTileFn = void (*)(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t,
                              float*, int64_t, int);

template <typename Dot, int kMaxQ, int... I>
constexpr std::array<KSuperTileFn, sizeof...(I)>
make_ksuper_tiles(std::integer_sequence<int, I...>) {
    return {&ksuper_tile<Dot, I + 1, kMaxQ>...};
}

// One group (n_rows ≤ 8), every token of the chunk.
template <typename Dot, int kMaxQ>
void run_ksuper_tiles(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                      int64_t n_tok, float* y, int64_t y_stride, int n_rows) {
    // kTiles[tokens - 1].
    static constexpr auto kTiles =
        make_ksuper_tiles<Dot, kMaxQ>(std::make_integer_sequence<int, kKSuperTileTokens>{});
    for (int64_t t = 0; t < n_tok; t += kKSuperTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(kKSuperTileTokens, n_tok - t));
        kTiles[static_cast<size_t>(rn - 1)](n_super, group, x, t, y, y_stride, n_rows);
    }
}

// The whole kernel (int8_ksuper.h's KSuperGemmFn): each of the call's groups on its own.
template <typename Dot>
void run_ksuper_groups(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                       int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows) {
    for (int r0 = 0; r0 < n_rows; r0 += static_cast<int>(kInt8Rows)) {
        const BlockKSuper8* g = group + r0 / kInt8Rows * n_super;
        const int rows = std::min(n_rows - r0, static_cast<int>(kInt8Rows));
        if (max_q <= 31) {
            run_ksuper_tiles<Dot, 31>(n_super, g, x, n_tok, y + r0, y_stride, rows);
        } else {
            run_ksuper_tiles<Dot, 63>(n_super, g, x, n_tok, y + r0, y_stride, rows);
        }
    }
}

} // namespace
} // namespace hearth::cpu
