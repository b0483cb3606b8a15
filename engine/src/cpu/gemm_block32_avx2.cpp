// AVX2 register-tiled products of the 32-value block formats with their quantized activations
// (gemm_block32.h). Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found
// them.
//
// A tile holds kTileRows × kTileTokens accumulators of 8 float lanes. A call first unpacks each
// group of kTileRows weight rows once (unpack_rows: 32 bytes a block, with its d and m as
// floats), which every token tile of the call then reads; within a tile, rows outer and tokens
// inner, one unpacked weight block (made unsigned, |w|, for the signed formats, whose sign moves
// onto the activation) is live at a time and the activation block is a memory operand, so per
// (row, token, block) that leaves (vmovdqu, vpsignb,) vpmaddubsw, vpmaddwd, vcvtdq2ps and one FMA
// whose scale is a broadcast load, with no accumulator spilled. The arithmetic of a pair is that
// of the per-row kernel (vec_dot_avx2.cpp, block32_avx2.h) and of ggml: lane k of the
// accumulator adds float(sum of products of bytes 4k..4k+3) times the float product d_w * d_x,
// blocks in order, and the 8 lanes are summed as ggml's hsum_float_8 does; the formats with a
// min add the chain fma(m_w, s_x, ·) over the blocks, formed outside the tile 8 tokens to a
// vector (row_min_chains: the same FMA per lane). Only the interleaving of independent pairs
// changes, so results are bit-identical to the per-row kernel whatever the tiling.
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

// 3 rows × 4 tokens: 12 accumulators, one weight block, one product in flight, its scale and
// vpmaddwd's ones fit the 16 ymm registers (4 × 4 with the weights unpacked in the tile spilled
// accumulators: ~10 instructions per row, token and block against ~6 here); the min chains of
// Q4_1 and Q5_1 run outside the tile (row_min_chains) so that they take no register from it.
constexpr int kTileRows = 3;
constexpr int kTileTokens = 4;
// Blocks whose scale products are formed together (one 8-float vector per row × token pair).
constexpr int kScaleRun = 8;
// Tokens whose min chains are formed together, one 8-float vector each.
constexpr int kMinTokens = 8;

// The float scales a tile reads, converted once per call (tokens) or per kTileRows rows (rows),
// each run of blocks zero-padded to a multiple of kScaleRun: d[i * stride + b] is d of block b
// of row (or token) i. row_min[i * min_stride + t] is the min chain of row i and token t (0 for
// the formats without a min).
struct TileScales {
    const float* row_d;
    const float* token_d;
    const float* row_min;
    int64_t stride;
    int64_t min_stride;
};

// A weight block unpacked (W::values), aligned for vmovdqa and memory operands.
struct alignas(32) Unpacked {
    uint8_t bytes[32];
};

inline __m256i load(const Unpacked& u) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(u.bytes));
}

// A tile of rm rows × rn tokens. `q` holds the rows' blocks unpacked (W::values), block b of
// row i at q[i * n_blocks + b]; x the tokens' activation rows, x_stride bytes apart.
template <class W, int RM, int RN>
void tile(int64_t n_blocks, const Unpacked* q, const uint8_t* x, size_t x_stride,
          const TileScales& sc, float* y, int64_t y_stride) {
    using Act = typename W::Act;
    const Act* xr[RN];
    __m256 acc[RM][RN];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
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
        // d[i][j][k] = d_w * d_x of block b0 + k: one rounding, as the per-row kernel's.
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
            // Rows outer, tokens inner: one weight block is live at a time; the activation
            // block (and, for the signed formats, the weight block giving its signs) is a memory
            // operand.
#pragma GCC unroll 4
            for (int i = 0; i < RM; ++i) {
                const Unpacked& qi = q[i * n_blocks + b];
                // |w| (vpabsb leaves -128 as 0x80, as ggml's vpsignb(w, w) does).
                const __m256i uq = W::kSigned ? _mm256_abs_epi8(load(qi)) : load(qi);
#pragma GCC unroll 4
                for (int j = 0; j < RN; ++j) {
                    __m256i qy = load32(xr[j][b].qs);
                    if constexpr (W::kSigned) {
                        qy = _mm256_sign_epi8(qy, load(qi));
                    }
                    const __m256 p = _mm256_cvtepi32_ps(dot_us8(uq, qy));
                    acc[i][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[i][j][k]), p, acc[i][j]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
#pragma GCC unroll 4
        for (int j = 0; j < RN; ++j) {
            // As the per-row kernel: the lanes' sum plus the min chain (0 without mins).
            y[j * y_stride + i] = hsum(acc[i][j]) + sc.row_min[i * sc.min_stride + j];
        }
    }
}

using TileFn = void (*)(int64_t, const Unpacked*, const uint8_t*, size_t, const TileScales&, float*,
                        int64_t);

// Tiles<W>::table[(rm - 1) * kTileTokens + (rn - 1)]: the tile of rm rows × rn tokens.
template <class W>
struct Tiles {
    template <int... I>
    static constexpr std::array<TileFn, sizeof...(I)> make(std::integer_sequence<int, I...>) {
        return {&tile<W, I / kTileTokens + 1, I % kTileTokens + 1>...};
    }
    static constexpr auto table = make(std::make_integer_sequence<int, kTileRows * kTileTokens>{});
};

// d of the blocks of n_rows activation rows as floats, `stride` apart, the padding past n_blocks
// zero.
template <class Act>
void token_scales(const uint8_t* x, size_t x_stride, int64_t n_tok, int64_t n_blocks, float* d,
                  int64_t stride) {
    for (int64_t t = 0; t < n_tok; ++t) {
        const auto* blocks = reinterpret_cast<const Act*>(x + t * x_stride);
        float* d_row = d + t * stride;
        for (int64_t b = 0; b < n_blocks; ++b) {
            d_row[b] = h2f(blocks[b].d);
        }
        std::fill(d_row + n_blocks, d_row + stride, 0.0f);
    }
}

// n_rows weight rows in one pass: each block unpacked (W::values; q[i * n_blocks + b] is block b
// of row i), its d as a float (`stride` apart, the padding past n_blocks zero) and, where the
// block has one, its m (n_blocks apart).
template <class W>
void unpack_rows(const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n_blocks,
                 Unpacked* q, float* d, float* m, int64_t stride) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const auto* blocks = reinterpret_cast<const typename W::Block*>(rows + r * row_bytes);
        Unpacked* q_row = q + r * n_blocks;
        float* d_row = d + r * stride;
        float* m_row = m + r * n_blocks;
        for (int64_t b = 0; b < n_blocks; ++b) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(q_row[b].bytes), W::values(blocks[b]));
            d_row[b] = h2f(blocks[b].d);
            if constexpr (W::kMin) {
                m_row[b] = h2f(blocks[b].m);
            }
        }
        std::fill(d_row + n_blocks, d_row + stride, 0.0f);
    }
}

// The Q8_1 activation blocks' sums s, block-major: out[b * tok_stride + t] is s of block b of
// token t; tokens from n_tok to tok_stride are zero.
void token_sums(const uint8_t* x, size_t x_stride, int64_t n_tok, int64_t n_blocks, float* out,
                int64_t tok_stride) {
    std::fill(out, out + n_blocks * tok_stride, 0.0f);
    for (int64_t t = 0; t < n_tok; ++t) {
        const auto* blocks = reinterpret_cast<const BlockQ8_1*>(x + t * x_stride);
        for (int64_t b = 0; b < n_blocks; ++b) {
            out[b * tok_stride + t] = h2f(blocks[b].s);
        }
    }
}

// The min chains of one row against NV * kMinTokens tokens from token_s: out[t] = fma(m_b, s_b,
// ·) over the blocks in order from 0, the per-row kernel's chain.
template <int NV>
void min_chains(const float* m, int64_t n_blocks, const float* token_s, int64_t tok_stride,
                float* out) {
    __m256 chain[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
        chain[v] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256 mb = _mm256_broadcast_ss(m + b);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            chain[v] = _mm256_fmadd_ps(
                mb, _mm256_loadu_ps(token_s + b * tok_stride + v * kMinTokens), chain[v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
        _mm256_storeu_ps(out + v * kMinTokens, chain[v]);
    }
}

// The min chains of n_rows rows against every token: out[i * tok_stride + t], up to four
// vectors of tokens per pass over a row's mins.
void row_min_chains(const float* row_m, int64_t n_rows, int64_t n_blocks, const float* token_s,
                    int64_t tok_stride, float* out) {
    for (int64_t i = 0; i < n_rows; ++i) {
        const float* m = row_m + i * n_blocks;
        float* chains = out + i * tok_stride;
        for (int64_t t = 0; t < tok_stride; t += 4 * kMinTokens) {
            switch (std::min<int64_t>(4, (tok_stride - t) / kMinTokens)) {
            case 4:
                min_chains<4>(m, n_blocks, token_s + t, tok_stride, chains + t);
                break;
            case 3:
                min_chains<3>(m, n_blocks, token_s + t, tok_stride, chains + t);
                break;
            case 2:
                min_chains<2>(m, n_blocks, token_s + t, tok_stride, chains + t);
                break;
            default:
                min_chains<1>(m, n_blocks, token_s + t, tok_stride, chains + t);
                break;
            }
        }
    }
}

template <class W>
void gemm(int64_t n_cols, const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
          size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / 32;
    const int64_t stride = (n_blocks + kScaleRun - 1) / kScaleRun * kScaleRun;
    const int64_t tok_stride = (n_tok + kMinTokens - 1) / kMinTokens * kMinTokens;
    const int64_t token_s_size = W::kMin ? n_blocks * tok_stride : 0;
    const int64_t row_m_size = W::kMin ? kTileRows * n_blocks : 0;
    // Tokens' d and s, then the current kTileRows rows' d, m and min chains. Per calling thread,
    // so that steady-state calls do not allocate.
    thread_local std::vector<float> scales;
    scales.resize(static_cast<size_t>(n_tok * stride + token_s_size + kTileRows * stride +
                                      row_m_size + kTileRows * tok_stride));
    float* token_d = scales.data();
    float* token_s = token_d + n_tok * stride;
    float* row_d = token_s + token_s_size;
    float* row_m = row_d + kTileRows * stride;
    float* row_min = row_m + row_m_size;
    // The current rows' blocks unpacked, read by every token tile; freed with the call.
    std::vector<Unpacked> unpacked(static_cast<size_t>(kTileRows * n_blocks));
    token_scales<typename W::Act>(x, x_stride, n_tok, n_blocks, token_d, stride);
    if constexpr (W::kMin) {
        token_sums(x, x_stride, n_tok, n_blocks, token_s, tok_stride);
    } else {
        std::fill(row_min, row_min + kTileRows * tok_stride, 0.0f);
    }
    for (int64_t r = 0; r < n_rows; r += kTileRows) {
        const auto rm = static_cast<int>(std::min<int64_t>(kTileRows, n_rows - r));
        const uint8_t* rows = w + static_cast<size_t>(r) * row_bytes;
        unpack_rows<W>(rows, row_bytes, rm, n_blocks, unpacked.data(), row_d, row_m, stride);
        if constexpr (W::kMin) {
            row_min_chains(row_m, rm, n_blocks, token_s, tok_stride, row_min);
        }
        for (int64_t t = 0; t < n_tok; t += kTileTokens) {
            const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
            const TileScales sc{.row_d = row_d,
                                .token_d = token_d + t * stride,
                                .row_min = row_min + t,
                                .stride = stride,
                                .min_stride = tok_stride};
            Tiles<W>::table[static_cast<size_t>((rm - 1) * kTileTokens + (rn - 1))](
                n_blocks, unpacked.data(), x + static_cast<size_t>(t) * x_stride, x_stride, sc,
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
