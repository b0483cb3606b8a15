// AVX2 register-tiled products of the 32-value block formats with their quantized activations
// (gemm_block32.h). Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found
// them.
//
// A tile holds kTileRows × kTileTokens accumulators of 8 float lanes. Per 32-value block, each
// weight block is unpacked (and, for the signed formats, made unsigned: |w|, the sign moved onto
// the activation) once for the tile's tokens, and each activation block loaded once for its
// rows; per (row, token) pair that leaves (vpsignb,) vpmaddubsw, vpmaddwd, vcvtdq2ps and one FMA
// whose scale is a broadcast load. The arithmetic of a pair is that of the per-row kernel
// (vec_dot_avx2.cpp, block32_avx2.h) and of ggml: lane k of the accumulator adds float(sum of
// products of bytes 4k..4k+3) times the float product d_w * d_x, blocks in order, and the 8 lanes
// are summed as ggml's hsum_float_8 does; the formats with a min add the chain
// fma(m_w, s_x, ·) over the blocks, here 8 pairs to a vector (the same FMA per lane). Only the
// interleaving of independent pairs changes, so results are bit-identical to the per-row kernel
// whatever the tiling.
#include "cpu/gemm_block32.h"

namespace hearth::cpu {

bool gemm_block32_supported(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::IQ4_NL:
        return true;
    default:
        return false;
    }
}

} // namespace hearth::cpu

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/block32_avx2.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <immintrin.h>
#include <utility>
#include <vector>

namespace hearth::cpu {
namespace {

using namespace avx2;

// 4 rows × 4 tokens: 16 accumulators, a few of which GCC keeps on the stack; measured on Zen 3
// for Q8_0 against 4×3, 4×2, 3×4 and 2×4 (each 3-10% slower, 1.35-1.5× the per-row kernel).
constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;
// Blocks whose scale products are formed together (one 8-float vector per row × token pair).
constexpr int kScaleRun = 8;

// The float scales a tile reads, converted once per call (tokens) or per kTileRows rows (rows),
// each run of blocks zero-padded to a multiple of kScaleRun: d[i * stride + b] is d of block b
// of row (or token) i. min_rows[i * stride + b] is m of block b of row i; token_sums[(t / 4) *
// 4 * stride + 4 * b + t % 4] is s of block b of token t, four tokens side by side so that one
// 128-bit load broadcasts a block's sums of a tile's tokens.
struct TileScales {
    const float* row_d;
    const float* row_m;
    const float* token_d;
    const float* token_s;
    int64_t stride;
};

template <class W, int RM, int RN>
void tile(int64_t n_blocks, const uint8_t* w, size_t row_bytes, const uint8_t* x, size_t x_stride,
          const TileScales& sc, float* y, int64_t y_stride) {
    using Act = typename W::Act;
    const typename W::Block* wr[RM];
    const Act* xr[RN];
    __m256 acc[RM][RN];
    // Lane 4 * (i % 2) + j of mins[i / 2]: the min chain of row i and token j.
    __m256 mins[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
        wr[i] = reinterpret_cast<const typename W::Block*>(w + i * row_bytes);
#pragma GCC unroll 4
        for (int j = 0; j < RN; ++j) {
            acc[i][j] = _mm256_setzero_ps();
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) {
        xr[j] = reinterpret_cast<const Act*>(x + j * x_stride);
    }
    alignas(32) float d[RM][RN][kScaleRun];
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kScaleRun) {
#pragma GCC unroll 4
        for (int i = 0; i < RM; ++i) {
            const __m256 dw = _mm256_loadu_ps(sc.row_d + i * sc.stride + b0);
#pragma GCC unroll 4
            for (int j = 0; j < RN; ++j) {
                _mm256_store_ps(
                    d[i][j], _mm256_mul_ps(dw, _mm256_loadu_ps(sc.token_d + j * sc.stride + b0)));
            }
        }
        const int run = static_cast<int>(std::min<int64_t>(kScaleRun, n_blocks - b0));
        for (int k = 0; k < run; ++k) {
            const int64_t b = b0 + k;
#pragma GCC unroll 4
            for (int i = 0; i < RM; ++i) {
                const __m256i q = W::values(wr[i][b]);
                const __m256i uq = W::kSigned ? _mm256_sign_epi8(q, q) : q;
#pragma GCC unroll 4
                for (int j = 0; j < RN; ++j) {
                    __m256i qy = load32(xr[j][b].qs);
                    if constexpr (W::kSigned) {
                        qy = _mm256_sign_epi8(qy, q);
                    }
                    const __m256 p = _mm256_cvtepi32_ps(dot_us8(uq, qy));
                    acc[i][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[i][j][k]), p, acc[i][j]);
                }
            }
            if constexpr (W::kMin) {
                const __m256 s =
                    _mm256_broadcast_ps(reinterpret_cast<const __m128*>(sc.token_s + 4 * b));
#pragma GCC unroll 2
                for (int h = 0; h < (RM + 1) / 2; ++h) {
                    const float m_low = sc.row_m[2 * h * sc.stride + b];
                    const float m_high =
                        2 * h + 1 < RM ? sc.row_m[(2 * h + 1) * sc.stride + b] : 0.0f;
                    const __m256 m = _mm256_set_m128(_mm_set1_ps(m_high), _mm_set1_ps(m_low));
                    mins[h] = _mm256_fmadd_ps(m, s, mins[h]);
                }
            }
        }
    }
    alignas(32) float min_lanes[2][8];
    _mm256_store_ps(min_lanes[0], mins[0]);
    _mm256_store_ps(min_lanes[1], mins[1]);
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
#pragma GCC unroll 4
        for (int j = 0; j < RN; ++j) {
            // As the per-row kernel: the lanes' sum plus the min chain (0 without mins).
            y[j * y_stride + i] = hsum(acc[i][j]) + min_lanes[i / 2][4 * (i % 2) + j];
        }
    }
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, const TileScales&,
                        float*, int64_t);

// Tiles<W>::table[(rm - 1) * kTileTokens + (rn - 1)]: the tile of rm rows × rn tokens.
template <class W>
struct Tiles {
    template <int... I>
    static constexpr std::array<TileFn, sizeof...(I)> make(std::integer_sequence<int, I...>) {
        return {&tile<W, I / kTileTokens + 1, I % kTileTokens + 1>...};
    }
    static constexpr auto table = make(std::make_integer_sequence<int, kTileRows * kTileTokens>{});
};

// d (and m, where the block has one) of n_rows blocks rows as floats, `stride` apart, the
// padding past n_blocks zero.
template <class Block, bool kMin>
void block_scales(const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n_blocks, float* d,
                  float* m, int64_t stride) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const auto* blocks = reinterpret_cast<const Block*>(rows + r * row_bytes);
        float* d_row = d + r * stride;
        for (int64_t b = 0; b < n_blocks; ++b) {
            d_row[b] = h2f(blocks[b].d);
        }
        std::fill(d_row + n_blocks, d_row + stride, 0.0f);
        if constexpr (kMin) {
            float* m_row = m + r * stride;
            for (int64_t b = 0; b < n_blocks; ++b) {
                m_row[b] = h2f(blocks[b].m);
            }
            std::fill(m_row + n_blocks, m_row + stride, 0.0f);
        }
    }
}

// The Q8_1 activation blocks' sums s, four tokens side by side (TileScales::token_s); tokens
// past n_tok are zero.
void token_sums(const uint8_t* x, size_t x_stride, int64_t n_tok, int64_t n_blocks, float* out,
                int64_t stride) {
    std::fill(out, out + (n_tok + kTileTokens - 1) / kTileTokens * kTileTokens * stride, 0.0f);
    for (int64_t t = 0; t < n_tok; ++t) {
        const auto* blocks = reinterpret_cast<const BlockQ8_1*>(x + t * x_stride);
        float* group = out + t / kTileTokens * kTileTokens * stride;
        for (int64_t b = 0; b < n_blocks; ++b) {
            group[kTileTokens * b + t % kTileTokens] = h2f(blocks[b].s);
        }
    }
}

template <class W>
void gemm(int64_t n_cols, const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
          size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / 32;
    const int64_t stride = (n_blocks + kScaleRun - 1) / kScaleRun * kScaleRun;
    const int64_t token_groups = (n_tok + kTileTokens - 1) / kTileTokens;
    // Tokens' d and s, then the current kTileRows rows' d and m. Per calling thread, so that
    // steady-state calls do not allocate.
    thread_local std::vector<float> scales;
    scales.resize(
        static_cast<size_t>((n_tok + token_groups * kTileTokens + 2 * kTileRows) * stride));
    float* token_d = scales.data();
    float* token_s = token_d + n_tok * stride;
    float* row_d = token_s + token_groups * kTileTokens * stride;
    float* row_m = row_d + kTileRows * stride;
    block_scales<typename W::Act, false>(x, x_stride, n_tok, n_blocks, token_d, nullptr, stride);
    if constexpr (W::kMin) {
        token_sums(x, x_stride, n_tok, n_blocks, token_s, stride);
    }
    for (int64_t r = 0; r < n_rows; r += kTileRows) {
        const auto rm = static_cast<int>(std::min<int64_t>(kTileRows, n_rows - r));
        const uint8_t* rows = w + static_cast<size_t>(r) * row_bytes;
        block_scales<typename W::Block, W::kMin>(rows, row_bytes, rm, n_blocks, row_d, row_m,
                                                 stride);
        for (int64_t t = 0; t < n_tok; t += kTileTokens) {
            const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
            const TileScales sc{.row_d = row_d,
                                .row_m = row_m,
                                .token_d = token_d + t * stride,
                                .token_s = token_s + t * stride,
                                .stride = stride};
            Tiles<W>::table[static_cast<size_t>((rm - 1) * kTileTokens + (rn - 1))](
                n_blocks, rows, row_bytes, x + static_cast<size_t>(t) * x_stride, x_stride, sc,
                y + t * y_stride + r, y_stride);
        }
    }
}

} // namespace

void gemm_block32_avx2(TensorType weight_type, int64_t n_cols, const void* vw, size_t row_bytes,
                       int64_t n_rows, const void* vx, size_t x_stride, int64_t n_tok, float* y,
                       int64_t y_stride) {
    const auto* w = static_cast<const uint8_t*>(vw);
    const auto* x = static_cast<const uint8_t*>(vx);
    with_block32_format(weight_type, [&]<class W>() {
        gemm<W>(n_cols, w, row_bytes, n_rows, x, x_stride, n_tok, y, y_stride);
    });
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void gemm_block32_avx2(TensorType, int64_t, const void*, size_t, int64_t, const void*, size_t,
                       int64_t, float*, int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
