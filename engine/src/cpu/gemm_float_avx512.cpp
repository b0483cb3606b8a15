// AVX-512 kernels for float weights (gemm_float.h), with the bits of the avx2 level's: each
// 512-bit accumulator holds two outputs' 8-lane chains, and each half runs the AVX2 kernel's
// float operations on the same 8 lanes in the same order.
//
// Prompt batches: a register holds tokens 2p and 2p + 1 of one row (the pair layout's 512-bit
// load against the row's 8 values in both halves); tiles of 6 rows × 4 pairs, 24 accumulators.
// F16: tinyBLAS's one FMA chain per output. BF16: ggml_vec_dot_bf16's four chains per output,
// one pass over the row per chain.
//
// BF16 single tokens: a row's chains c0 | c1 in one register and c2 | c3 in another, so each
// 32 values take two 512-bit multiplies and adds; 4 rows at a time share the activation's
// widening. (c0 + c2) | (c1 + c3) is one 512-bit add, then its halves added: ggml's combine.
//
// Compiled with the AVX-512 flags; called only when avx512_kernels_enabled().
#include "cpu/gemm_float.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__FMA__) &&  \
    defined(__F16C__)

#include "cpu/avx2_helpers.h"

#include <algorithm>
#include <array>
#include <immintrin.h>
#include <utility>

namespace hearth::cpu {
namespace {

using avx2::hsum;

constexpr int64_t kPairTile = 16; // 32 tokens per pass over a run of rows (as the AVX2 tiles)

inline __m256 low_half(__m512 v) {
    return _mm512_castps512_ps256(v);
}

inline __m256 high_half(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

inline __m256i broadcast128(const uint16_t* p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// 8 values of a row in both halves.
inline __m512 f16_both(const uint16_t* p) {
    return _mm512_cvtph_ps(broadcast128(p));
}

inline __m512 bf16_both(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(broadcast128(p)), 16));
}

// 16 consecutive values of a row.
inline __m512 bf16_16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

inline const uint16_t* row_at(const void* w, size_t row_bytes, int64_t r) {
    return reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) +
                                             static_cast<size_t>(r) * row_bytes);
}

// Token 2p's sum from the low half into y, 2p + 1's from the high half unless past n_tok.
template <class Finish>
inline void store_pair(__m512 sum, int64_t t, int64_t n_tok, float* y, int64_t y_stride,
                       Finish finish) {
    y[t * y_stride] = finish(hsum(low_half(sum)), t);
    if (t + 1 < n_tok) {
        y[(t + 1) * y_stride] = finish(hsum(high_half(sum)), t + 1);
    }
}

// One pass of R rows × P pairs over the steps s0, s0 + stride, ... below s1: with kFma
// acc = fma(w, x, acc) (tinyBLAS), else acc = w × x + acc as a multiply and an add
// (ggml_vec_dot_bf16's source; the compiler treats both kernels' alike).
template <int R, int P, bool kFma, __m512 (*Widen)(const uint16_t*)>
inline void chain_pass(const uint16_t* const* rows, const float* const* x, int64_t s0, int64_t s1,
                       int64_t stride, __m512 (&acc)[R][P]) {
    for (int64_t s = s0; s < s1; s += stride) {
        __m512 xv[P];
        for (int p = 0; p < P; ++p) {
            xv[p] = _mm512_loadu_ps(x[p] + 16 * s);
        }
        for (int r = 0; r < R; ++r) {
            const __m512 wv = Widen(rows[r] + 8 * s);
            for (int p = 0; p < P; ++p) {
                acc[r][p] = kFma ? _mm512_fmadd_ps(wv, xv[p], acc[r][p])
                                 : _mm512_add_ps(_mm512_mul_ps(wv, xv[p]), acc[r][p]);
            }
        }
    }
}

template <int R, int P>
struct Tile {
    const uint16_t* rows[R];
    const float* x[P];
    Tile(const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t p0, int64_t n) {
        for (int r = 0; r < R; ++r) {
            rows[r] = row_at(w, row_bytes, r0 + r);
        }
        for (int p = 0; p < P; ++p) {
            x[p] = xf + (p0 + p) * pair_floats(n);
        }
    }
};

template <int R, int P>
inline void zero(__m512 (&acc)[R][P]) {
    for (int r = 0; r < R; ++r) {
        for (int p = 0; p < P; ++p) {
            acc[r][p] = _mm512_setzero_ps();
        }
    }
}

// F16: R rows × P pairs from row r0 and pair p0, one FMA chain per output over every step.
template <int R, int P>
void f16_tile(int64_t n, const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t p0,
              int64_t n_tok, float* y, int64_t y_stride) {
    const Tile<R, P> tile(w, row_bytes, r0, xf, p0, n);
    __m512 acc[R][P];
    zero(acc);
    chain_pass<R, P, true, f16_both>(tile.rows, tile.x, 0, n / 8, 1, acc);
    const auto as_summed = [](float sum, int64_t) { return sum; };
    for (int r = 0; r < R; ++r) {
        for (int p = 0; p < P; ++p) {
            store_pair(acc[r][p], 2 * (p0 + p), n_tok, y + r0 + r, y_stride, as_summed);
        }
    }
}

// BF16: chain k over the steps 4g + k of each 32 values, one pass per chain (the chains are
// independent, so running them one after another changes no bits), then
// (c0 + c2) + (c1 + c3) and the tail.
template <int R, int P>
void bf16_tile(int64_t n, const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t p0,
               int64_t n_tok, float* y, int64_t y_stride) {
    const Tile<R, P> tile(w, row_bytes, r0, xf, p0, n);
    __m512 c[4][R][P];
    for (int k = 0; k < 4; ++k) {
        zero(c[k]);
        chain_pass<R, P, false, bf16_both>(tile.rows, tile.x, k, n / 32 * 4, 4, c[k]);
    }
    for (int r = 0; r < R; ++r) {
        const auto finish = [&](float sum, int64_t t) {
            return bf16_with_tail(sum, tile.rows[r], xf, n, t);
        };
        for (int p = 0; p < P; ++p) {
            const __m512 sum = _mm512_add_ps(_mm512_add_ps(c[0][r][p], c[2][r][p]),
                                             _mm512_add_ps(c[1][r][p], c[3][r][p]));
            store_pair(sum, 2 * (p0 + p), n_tok, y + r0 + r, y_stride, finish);
        }
    }
}

using TileFn = void (*)(int64_t, const void*, size_t, int64_t, const float*, int64_t, int64_t,
                        float*, int64_t);

// Tiles[rows - 1][pairs - 1]: the full R × P tile of Tile and its ragged edges.
template <template <int, int> class Tile, int R, int P>
struct TileTable {
    template <size_t... Rs, size_t... Ps>
    static constexpr auto make(std::index_sequence<Rs...>, std::index_sequence<Ps...> ps) {
        return std::array<std::array<TileFn, P>, R>{row<Rs + 1>(ps)...};
    }
    template <int NR, size_t... Ps>
    static constexpr std::array<TileFn, P> row(std::index_sequence<Ps...>) {
        return {Tile<NR, Ps + 1>::run...};
    }
    static constexpr auto table =
        make(std::make_index_sequence<R>(), std::make_index_sequence<P>());
};

template <int R, int P>
struct F16Tile {
    static constexpr TileFn run = f16_tile<R, P>;
};
template <int R, int P>
struct Bf16Tile {
    static constexpr TileFn run = bf16_tile<R, P>;
};

// Rows in tiles of R, pairs in tiles of P, the ragged edges through smaller tiles.
template <template <int, int> class Tile, int R, int P>
void gemm_tiles(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const float* xf,
                int64_t n_tok, float* y, int64_t y_stride) {
    constexpr auto& tiles = TileTable<Tile, R, P>::table;
    const int64_t n_pairs = (n_tok + 1) / 2;
    for (int64_t q0 = 0; q0 < n_pairs; q0 += kPairTile) {
        const int64_t q1 = std::min(n_pairs, q0 + kPairTile);
        for (int64_t r = 0; r < n_rows; r += R) {
            const int64_t nr = std::min<int64_t>(R, n_rows - r);
            for (int64_t q = q0; q < q1; q += P) {
                const int64_t np = std::min<int64_t>(P, q1 - q);
                tiles[nr - 1][np - 1](n, w, row_bytes, r, xf, q, n_tok, y, y_stride);
            }
        }
    }
}

// BF16 single token: R rows from row r0; x the BF16 activation row.
template <int R>
void bf16_rows(int64_t n, const void* w, size_t row_bytes, int64_t r0, const uint16_t* x,
               float* y) {
    const uint16_t* rows[R];
    __m512 c01[R], c23[R];
    for (int r = 0; r < R; ++r) {
        rows[r] = row_at(w, row_bytes, r0 + r);
        c01[r] = _mm512_setzero_ps();
        c23[r] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        const __m512 x01 = bf16_16(x + i);
        const __m512 x23 = bf16_16(x + i + 16);
        for (int r = 0; r < R; ++r) {
            c01[r] = _mm512_add_ps(_mm512_mul_ps(bf16_16(rows[r] + i), x01), c01[r]);
            c23[r] = _mm512_add_ps(_mm512_mul_ps(bf16_16(rows[r] + i + 16), x23), c23[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        const __m512 halves = _mm512_add_ps(c01[r], c23[r]); // c0 + c2 | c1 + c3
        double sum = hsum(_mm256_add_ps(low_half(halves), high_half(halves)));
        for (int64_t i = n / 32 * 32; i < n; ++i) {
            sum += static_cast<double>(bf16_to_fp32(rows[r][i]) * bf16_to_fp32(x[i]));
        }
        y[r0 + r] = static_cast<float>(sum);
    }
}

void gemv_bf16(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
               const float* /*scales*/, float* y) {
    const auto* xs = static_cast<const uint16_t*>(x);
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        bf16_rows<4>(n, w, row_bytes, r, xs, y);
    }
    for (; r < n_rows; ++r) {
        bf16_rows<1>(n, w, row_bytes, r, xs, y);
    }
}

} // namespace

GemmFloatFn gemm_float_avx512(TensorType type) {
    switch (type) {
    case TensorType::F16:
        return gemm_tiles<F16Tile, 6, 4>;
    case TensorType::BF16:
        return gemm_tiles<Bf16Tile, 6, 4>;
    default:
        return nullptr;
    }
}

GemvFn gemv_float_avx512(TensorType type) {
    return type == TensorType::BF16 ? gemv_bf16 : nullptr;
}

} // namespace hearth::cpu

#else // not built with the AVX-512 flags: avx512_kernels_enabled() is false there

namespace hearth::cpu {

GemmFloatFn gemm_float_avx512(TensorType) {
    return nullptr;
}
GemvFn gemv_float_avx512(TensorType) {
    return nullptr;
}

} // namespace hearth::cpu

#endif
