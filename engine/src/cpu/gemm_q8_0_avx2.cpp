// AVX2 register-tiled Q8_0 × Q8_0 matrix product (gemm_q8_0.h).
// Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found them.
//
// A tile holds kTileRows × kTileTokens accumulators of 8 float lanes. Per 32-value block, each
// weight block is loaded and made unsigned (|w|, the sign moved onto the activation) once for
// the tile's tokens, and each activation block once for its rows; per (row, token) pair that
// leaves vpsignb, vpmaddubsw, vpmaddwd, vcvtdq2ps and one FMA whose scale is a broadcast load
// (the per-row kernel also converts and multiplies the scales). The arithmetic of a pair is that
// of the per-row kernel (vec_dot_avx2.cpp) and of ggml: lane k of the accumulator adds
// float(sum of products of bytes 4k..4k+3) times the float product d_w * d_x, blocks in order,
// and the 8 lanes are summed as ggml's hsum_float_8 does. Only the interleaving of independent
// pairs changes, so results are bit-identical to the per-row kernel whatever the tiling.
#include "cpu/gemm_q8_0.h"
#include "quant/blocks.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"

#include <algorithm>
#include <array>
#include <immintrin.h>
#include <utility>
#include <vector>

namespace hearth::cpu {
namespace {

using quant::BlockQ8_0;

// 4 rows × 4 tokens: 16 accumulators, a few of which GCC keeps on the stack; measured on Zen 3
// against 4×3, 4×2, 3×4 and 2×4 (each 3-10% slower, 1.35-1.5× the per-row kernel).
constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;
// Blocks whose scale products are formed together (one 8-float vector per row × token pair).
constexpr int kScaleRun = 8;

using avx2::hsum;
using avx2::load32;

// Scales are read as floats, converted once per call: ws[i * scale_stride + b] is d of block b
// of row i, xs[j * scale_stride + b] that of token j, both zero-padded to a multiple of
// kScaleRun blocks. Every kScaleRun blocks the tile's d_w * d_x products are formed 8 at a time
// (the same float products, so the same bits) and the block loop only broadcasts them.
template <int RM, int RN>
void tile(int64_t n_blocks, const uint8_t* w, size_t row_bytes, const float* ws, const uint8_t* x,
          size_t x_stride, const float* xs, int64_t scale_stride, float* y, int64_t y_stride) {
    const BlockQ8_0* wr[RM];
    const BlockQ8_0* xr[RN];
    __m256 acc[RM][RN];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
        wr[i] = reinterpret_cast<const BlockQ8_0*>(w + i * row_bytes);
#pragma GCC unroll 4
        for (int j = 0; j < RN; ++j) {
            acc[i][j] = _mm256_setzero_ps();
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) {
        xr[j] = reinterpret_cast<const BlockQ8_0*>(x + j * x_stride);
    }
    const __m256i ones = _mm256_set1_epi16(1);
    alignas(32) float d[RM][RN][kScaleRun];
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kScaleRun) {
#pragma GCC unroll 4
        for (int i = 0; i < RM; ++i) {
            const __m256 dw = _mm256_loadu_ps(ws + i * scale_stride + b0);
#pragma GCC unroll 4
            for (int j = 0; j < RN; ++j) {
                _mm256_store_ps(d[i][j],
                                _mm256_mul_ps(dw, _mm256_loadu_ps(xs + j * scale_stride + b0)));
            }
        }
        const int run = static_cast<int>(std::min<int64_t>(kScaleRun, n_blocks - b0));
        for (int k = 0; k < run; ++k) {
            const int64_t b = b0 + k;
#pragma GCC unroll 4
            for (int i = 0; i < RM; ++i) {
                const __m256i q = load32(wr[i][b].qs);
                const __m256i uq = _mm256_sign_epi8(q, q);
#pragma GCC unroll 4
                for (int j = 0; j < RN; ++j) {
                    const __m256i s = _mm256_sign_epi8(load32(xr[j][b].qs), q);
                    const __m256 p =
                        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(uq, s), ones));
                    acc[i][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[i][j][k]), p, acc[i][j]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
#pragma GCC unroll 4
        for (int j = 0; j < RN; ++j) {
            y[j * y_stride + i] = hsum(acc[i][j]);
        }
    }
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const float*, const uint8_t*, size_t,
                        const float*, int64_t, float*, int64_t);

// kTiles[(rm - 1) * kTileTokens + (rn - 1)]: the tile of rm rows × rn tokens, for the edges.
template <int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
    return {&tile<I / kTileTokens + 1, I % kTileTokens + 1>...};
}
constexpr auto kTiles = make_tiles(std::make_integer_sequence<int, kTileRows * kTileTokens>{});

// The f16 block scales of n_rows rows (row_bytes apart) as floats, scale_stride apart, the
// padding past n_blocks zero.
void scales_to_float(const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n_blocks,
                     float* out, int64_t scale_stride) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const auto* blocks = reinterpret_cast<const BlockQ8_0*>(rows + r * row_bytes);
        float* dst = out + r * scale_stride;
        for (int64_t b = 0; b < n_blocks; ++b) {
            dst[b] = _cvtsh_ss(blocks[b].d);
        }
        std::fill(dst + n_blocks, dst + scale_stride, 0.0f);
    }
}

} // namespace

void gemm_q8_0_avx2(int64_t n_cols, const void* vw, size_t row_bytes, int64_t n_rows,
                    const void* vx, size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    const auto* w = static_cast<const uint8_t*>(vw);
    const auto* x = static_cast<const uint8_t*>(vx);
    const int64_t n_blocks = n_cols / quant::QK8_0;
    const int64_t scale_stride = (n_blocks + kScaleRun - 1) / kScaleRun * kScaleRun;
    // Scales of the tokens, then of the current kTileRows rows. Per calling thread, so that
    // steady-state calls do not allocate.
    thread_local std::vector<float> scales;
    scales.resize(static_cast<size_t>((n_tok + kTileRows) * scale_stride));
    float* xs = scales.data();
    float* ws = xs + n_tok * scale_stride;
    scales_to_float(x, x_stride, n_tok, n_blocks, xs, scale_stride);
    for (int64_t r = 0; r < n_rows; r += kTileRows) {
        const auto rm = static_cast<int>(std::min<int64_t>(kTileRows, n_rows - r));
        const uint8_t* rows = w + static_cast<size_t>(r) * row_bytes;
        scales_to_float(rows, row_bytes, rm, n_blocks, ws, scale_stride);
        for (int64_t t = 0; t < n_tok; t += kTileTokens) {
            const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
            kTiles[static_cast<size_t>((rm - 1) * kTileTokens + (rn - 1))](
                n_blocks, rows, row_bytes, ws, x + static_cast<size_t>(t) * x_stride, x_stride,
                xs + t * scale_stride, scale_stride, y + t * y_stride + r, y_stride);
        }
    }
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void gemm_q8_0_avx2(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*,
                    int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
