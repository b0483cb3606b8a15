// The register tile of the int8 prefill kernels (int8_gemm.h), shared by the AVX2 and the VNNI
// builds: each includes it with its own ISA flags and a Dot policy (how two quads' byte
// products are added to a row's 32-bit sums), inside an anonymous namespace, so each TU has
// its own copy.
//
// Per quad of 4 values, one 32-byte load holds those values of all 8 rows (a row per 32-bit
// lane) and the token's 4 activation bytes are broadcast to every lane, so each row's partial
// sum stays in its own lane: no horizontal sums, and no per-type unpacking in the loop. Float
// work per block (or half) and token: one multiply, one conversion and two FMAs, in the order of
// the portable kernel, so every build gives the same bits.
#pragma once

#include "cpu/int8_gemm.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <immintrin.h>
#include <utility>

namespace hearth::cpu {
namespace {

constexpr int kTileTokens = 6;

inline __m256i broadcast4(const int8_t* p) {
    int32_t v = 0;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// kSegments = 1: one scale per 32 values (4 quad pairs); 2: one per 16 (2 pairs each).
template <typename Dot, int RN, int kSegments>
void tile(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t t0,
          float* y, int64_t y_stride, int n_rows) {
    constexpr int kPairs = 4 / kSegments;
    const int8_t* xq[RN];
    const float* xd[RN];
    const float* xs[RN];
    __m256 acc[RN];
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        xq[t] = x.qs + (t0 + t) * x.qs_stride;
        xd[t] = x.d + (t0 + t) * x.d_stride;
        xs[t] = kSegments == 1 ? x.dsum32 + (t0 + t) * x.d_stride
                               : x.dsum16 + (t0 + t) * 2 * x.d_stride;
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const BlockInt8x8& blk = group[b];
#pragma GCC unroll 2
        for (int h = 0; h < kSegments; ++h) {
            __m256i isum[RN];
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                isum[t] = _mm256_setzero_si256();
            }
#pragma GCC unroll 8
            for (int p = h * kPairs; p < (h + 1) * kPairs; ++p) {
                const __m256i w0 =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 64 * p));
                const __m256i w1 =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 64 * p + 32));
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    const int8_t* q = xq[t] + 32 * b + 8 * p;
                    isum[t] = Dot::pair(isum[t], w0, broadcast4(q), w1, broadcast4(q + 4));
                }
            }
            const __m256 scale = _mm256_loadu_ps(blk.scale[h]);
            const __m256 min = _mm256_loadu_ps(blk.min[h]);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                const __m256 sd = _mm256_mul_ps(scale, _mm256_broadcast_ss(xd[t] + b));
                acc[t] = _mm256_fmadd_ps(sd, _mm256_cvtepi32_ps(isum[t]), acc[t]);
                const float neg = -xs[t][kSegments * b + h];
                acc[t] = _mm256_fmadd_ps(min, _mm256_set1_ps(neg), acc[t]);
            }
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

using TileFn = void (*)(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, float*,
                        int64_t, int);

template <typename Dot, int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
    return {&tile<Dot, I % kTileTokens + 1, I / kTileTokens + 1>...};
}

// The whole kernel over a group (int8_gemm.h's Int8GemmFn) with Dot's integer products.
template <typename Dot>
void run_group(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t n_tok,
               bool half_scales, float* y, int64_t y_stride, int n_rows) {
    // kTiles[(segments - 1) * kTileTokens + (tokens - 1)].
    static constexpr auto kTiles =
        make_tiles<Dot>(std::make_integer_sequence<int, 2 * kTileTokens>{});
    const int segments = half_scales ? 2 : 1;
    for (int64_t t = 0; t < n_tok; t += kTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
        kTiles[static_cast<size_t>((segments - 1) * kTileTokens + (rn - 1))](n_blocks, group, x, t,
                                                                             y, y_stride, n_rows);
    }
}

} // namespace
} // namespace hearth::cpu
