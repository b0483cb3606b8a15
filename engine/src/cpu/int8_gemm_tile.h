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

inline __m256i broadcast4(const void* p) {
    int32_t v = 0;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Pins a running sum to a register at this point. GCC otherwise reassociates a block's chain of
// vpaddd into a tree over every product of the unrolled block, which keeps them all live at once
// and spills them to the stack (the AVX2 policies' sums; VNNI's vpdpbusd accumulates in place).
inline void keep_in_register(__m256i& v) {
    asm("" : "+x"(v));
}

// The first n_rows (≤ 8) lanes of acc to out.
inline void store_rows(float* out, __m256 acc, int n_rows) {
    if (n_rows == kInt8Rows) {
        _mm256_storeu_ps(out, acc);
    } else {
        alignas(32) float lanes[kInt8Rows];
        _mm256_store_ps(lanes, acc);
        std::memcpy(out, lanes, static_cast<size_t>(n_rows) * sizeof(float));
    }
}

// A Dot policy has: kTileTokens (tokens per register tile), W and prep() (a 32-byte weight load
// made ready once for every token of the tile), run<kRun>() (the products of kRun consecutive
// quads added to the row sums), kRunQuads (the quads per run for a format's largest q: how many
// the kernel may add before widening) and kUnsignedOffset (what to add times the activations'
// integer block sum so the sums are those of the unsigned q: 128 where run() multiplied q - 128).
// The part of a Dot policy that the policies multiplying the bytes as loaded share: 6 tokens
// per tile, no preparation, no offset, two quads per run.
struct PlainBytesDot {
    static constexpr int kTileTokens = 6;
    static constexpr int kUnsignedOffset = 0;
    static constexpr int kRunQuads(int /*max_q*/) { return 2; }
    using W = __m256i;
    static W prep(__m256i w) { return w; }
};

// A tile's RN tokens from t0, as its loops read them: token t's int8 values (xq[t]), block
// scales (xd[t]), negated scaled sums per scale of the weights (xs[t]: per 32 values where
// kSegments is 1, per 16 where 2) and integer block sums (xi[t]). Shared by the 256-bit tile
// below and the 512-bit one (int8_gemm_avx512vnni.cpp).
template <int RN, int kSegments>
struct TileTokens {
    const int8_t* xq[RN];
    const float* xd[RN];
    const float* xs[RN];
    const int32_t* xi[RN];

    TileTokens(const Int8Activations& x, int64_t t0) {
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            xq[t] = x.qs + (t0 + t) * x.qs_stride;
            xd[t] = x.d + (t0 + t) * x.d_stride;
            xs[t] = kSegments == 1 ? x.neg_dsum32 + (t0 + t) * x.d_stride
                                   : x.neg_dsum16 + (t0 + t) * 2 * x.d_stride;
            xi[t] = x.sum32 + (t0 + t) * x.d_stride;
        }
    }
};

// kSegments = 1: one scale per 32 values (8 quads); 2: one per 16 (4 quads each). kRun quads'
// weights are loaded (and prepared) once and serve every token of the tile.
template <typename Dot, int RN, int kSegments, int kRun>
void tile(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t t0,
          float* y, int64_t y_stride, int n_rows) {
    constexpr int kQuads = 8 / kSegments;
    static_assert(kQuads % kRun == 0);
    const TileTokens<RN, kSegments> tok(x, t0);
    const auto& [xq, xd, xs, xi] = tok;
    __m256 acc[RN];
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
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
            for (int q0 = h * kQuads; q0 < (h + 1) * kQuads; q0 += kRun) {
                typename Dot::W w[kRun];
#pragma GCC unroll 8
                for (int i = 0; i < kRun; ++i) {
                    w[i] = Dot::prep(_mm256_loadu_si256(
                        reinterpret_cast<const __m256i*>(blk.qs + 32 * (q0 + i))));
                }
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    isum[t] = Dot::template run<kRun>(isum[t], w, xq[t] + 32 * b + 4 * q0);
                }
            }
            if constexpr (Dot::kUnsignedOffset != 0) {
                static_assert(kSegments == 1, "full-byte types have one scale per block");
#pragma GCC unroll 8
                for (int t = 0; t < RN; ++t) {
                    isum[t] = _mm256_add_epi32(isum[t],
                                               _mm256_set1_epi32(Dot::kUnsignedOffset * xi[t][b]));
                }
            }
            const __m256 scale = _mm256_loadu_ps(blk.scale[h]);
            const __m256 min = _mm256_loadu_ps(blk.min[h]);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                const __m256 sd = _mm256_mul_ps(scale, _mm256_broadcast_ss(xd[t] + b));
                acc[t] = _mm256_fmadd_ps(sd, _mm256_cvtepi32_ps(isum[t]), acc[t]);
                acc[t] =
                    _mm256_fmadd_ps(min, _mm256_broadcast_ss(xs[t] + kSegments * b + h), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
        store_rows(y + (t0 + t) * y_stride, acc[t], n_rows);
    }
}

using TileFn = void (*)(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, float*,
                        int64_t, int);

template <typename Dot, int kSegments, int kRun, int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
    return {&tile<Dot, I + 1, kSegments, kRun>...};
}

// Every token of the chunk in tiles of Dot::kTileTokens (the last one ragged), for a format
// of kSegments scales per block and values up to kMaxQ.
template <typename Dot, int kSegments, int kMaxQ>
void run_tiles(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t n_tok,
               float* y, int64_t y_stride, int n_rows) {
    // kTiles[tokens - 1].
    static constexpr auto kTiles = make_tiles<Dot, kSegments, Dot::kRunQuads(kMaxQ)>(
        std::make_integer_sequence<int, Dot::kTileTokens>{});
    for (int64_t t = 0; t < n_tok; t += Dot::kTileTokens) {
        const auto rn = static_cast<int>(std::min<int64_t>(Dot::kTileTokens, n_tok - t));
        kTiles[static_cast<size_t>(rn - 1)](n_blocks, group, x, t, y, y_stride, n_rows);
    }
}

// The kernel over one group (n_rows ≤ 8): Dot's integer products for the 5- and 6-bit formats,
// WideDot's for the 7-bit ones, FullDot's for full bytes.
template <typename Dot, typename WideDot, typename FullDot>
void run_group(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t n_tok,
               Int8Format format, float* y, int64_t y_stride, int n_rows) {
    switch (format) {
    case Int8Format::nibbles:
        run_tiles<Dot, 1, int8_format_max_q(Int8Format::nibbles)>(n_blocks, group, x, n_tok, y,
                                                                  y_stride, n_rows);
        break;
    case Int8Format::nibbles16:
        run_tiles<Dot, 2, int8_format_max_q(Int8Format::nibbles16)>(n_blocks, group, x, n_tok, y,
                                                                    y_stride, n_rows);
        break;
    case Int8Format::wide:
        run_tiles<WideDot, 1, int8_format_max_q(Int8Format::wide)>(n_blocks, group, x, n_tok, y,
                                                                   y_stride, n_rows);
        break;
    case Int8Format::wide16:
        run_tiles<WideDot, 2, int8_format_max_q(Int8Format::wide16)>(n_blocks, group, x, n_tok, y,
                                                                     y_stride, n_rows);
        break;
    case Int8Format::bytes:
        run_tiles<FullDot, 1, int8_format_max_q(Int8Format::bytes)>(n_blocks, group, x, n_tok, y,
                                                                    y_stride, n_rows);
        break;
    }
}

// The whole kernel (int8_gemm.h's Int8GemmFn): each of the call's groups on its own.
template <typename Dot, typename WideDot, typename FullDot>
void run_groups(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x, int64_t n_tok,
                Int8Format format, float* y, int64_t y_stride, int n_rows) {
    for (int r0 = 0; r0 < n_rows; r0 += static_cast<int>(kInt8Rows)) {
        run_group<Dot, WideDot, FullDot>(n_blocks, group + r0 / kInt8Rows * n_blocks, x, n_tok,
                                         format, y + r0, y_stride,
                                         std::min(n_rows - r0, static_cast<int>(kInt8Rows)));
    }
}

} // namespace
} // namespace hearth::cpu
