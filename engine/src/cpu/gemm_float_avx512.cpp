// AVX-512 kernels for float weights (gemm_float.h), with the bits of the avx2 level's: each
// 512-bit accumulator holds two outputs' 8-lane chains, and each half runs the AVX2 kernel's
// float operations on the same 8 lanes in the same order.
//
// Prompt batches: a register holds tokens 2p and 2p + 1 of one row (the pair layout's 512-bit
// load against the row's 8 values in both halves). F16 (tinyBLAS's order, one FMA chain per
// output): 4 rows × 4 pairs = 16 accumulators. BF16 (ggml_vec_dot_bf16's four chains per
// output): 2 rows × 3 pairs × 4 chains = 24 accumulators.
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
#include <immintrin.h>

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

// F16: R rows × P pairs from row r0 and pair p0, acc = fma(w, x, acc) per step of 8.
template <int R, int P>
void f16_tile(int64_t n, const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t p0,
              int64_t n_tok, float* y, int64_t y_stride) {
    const uint16_t* rows[R];
    const float* x[P];
    __m512 acc[R][P];
    for (int r = 0; r < R; ++r) {
        rows[r] = row_at(w, row_bytes, r0 + r);
        for (int p = 0; p < P; ++p) {
            acc[r][p] = _mm512_setzero_ps();
        }
    }
    for (int p = 0; p < P; ++p) {
        x[p] = xf + (p0 + p) * pair_floats(n);
    }
    for (int64_t s = 0; s < n / 8; ++s) {
        __m512 xv[P];
        for (int p = 0; p < P; ++p) {
            xv[p] = _mm512_loadu_ps(x[p] + 16 * s);
        }
        for (int r = 0; r < R; ++r) {
            const __m512 wv = f16_both(rows[r] + 8 * s);
            for (int p = 0; p < P; ++p) {
                acc[r][p] = _mm512_fmadd_ps(wv, xv[p], acc[r][p]);
            }
        }
    }
    const auto as_summed = [](float sum, int64_t) { return sum; };
    for (int r = 0; r < R; ++r) {
        for (int p = 0; p < P; ++p) {
            store_pair(acc[r][p], 2 * (p0 + p), n_tok, y + r0 + r, y_stride, as_summed);
        }
    }
}

// BF16: R rows × P pairs, chains c[k] over the steps 4g + k, c[k] = p + c[k] with p = w × x.
template <int R, int P>
void bf16_tile(int64_t n, const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t p0,
               int64_t n_tok, float* y, int64_t y_stride) {
    const uint16_t* rows[R];
    const float* x[P];
    __m512 c[R][P][4];
    for (int r = 0; r < R; ++r) {
        rows[r] = row_at(w, row_bytes, r0 + r);
        for (int p = 0; p < P; ++p) {
            for (int k = 0; k < 4; ++k) {
                c[r][p][k] = _mm512_setzero_ps();
            }
        }
    }
    for (int p = 0; p < P; ++p) {
        x[p] = xf + (p0 + p) * pair_floats(n);
    }
    for (int64_t g = 0; g < n / 32; ++g) {
        for (int k = 0; k < 4; ++k) {
            const int64_t s = 4 * g + k;
            __m512 xv[P];
            for (int p = 0; p < P; ++p) {
                xv[p] = _mm512_loadu_ps(x[p] + 16 * s);
            }
            for (int r = 0; r < R; ++r) {
                const __m512 wv = bf16_both(rows[r] + 8 * s);
                for (int p = 0; p < P; ++p) {
                    c[r][p][k] = _mm512_add_ps(_mm512_mul_ps(wv, xv[p]), c[r][p][k]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        const auto finish = [&](float sum, int64_t t) {
            return bf16_with_tail(sum, rows[r], xf, n, t);
        };
        for (int p = 0; p < P; ++p) {
            const __m512 sum = _mm512_add_ps(_mm512_add_ps(c[r][p][0], c[r][p][2]),
                                             _mm512_add_ps(c[r][p][1], c[r][p][3]));
            store_pair(sum, 2 * (p0 + p), n_tok, y + r0 + r, y_stride, finish);
        }
    }
}

using TileFn = void (*)(int64_t, const void*, size_t, int64_t, const float*, int64_t, int64_t,
                        float*, int64_t);

// Rows in tiles of R, pairs in tiles of P, the ragged edges through Tiles[rows - 1][pairs - 1].
template <int R, int P, const TileFn (&Tiles)[R][P]>
void gemm_tiles(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const float* xf,
                int64_t n_tok, float* y, int64_t y_stride) {
    const int64_t n_pairs = (n_tok + 1) / 2;
    for (int64_t q0 = 0; q0 < n_pairs; q0 += kPairTile) {
        const int64_t q1 = std::min(n_pairs, q0 + kPairTile);
        for (int64_t r = 0; r < n_rows; r += R) {
            const int64_t nr = std::min<int64_t>(R, n_rows - r);
            for (int64_t q = q0; q < q1; q += P) {
                const int64_t np = std::min<int64_t>(P, q1 - q);
                Tiles[nr - 1][np - 1](n, w, row_bytes, r, xf, q, n_tok, y, y_stride);
            }
        }
    }
}

constexpr TileFn kF16Tiles[4][4] = {
    {f16_tile<1, 1>, f16_tile<1, 2>, f16_tile<1, 3>, f16_tile<1, 4>},
    {f16_tile<2, 1>, f16_tile<2, 2>, f16_tile<2, 3>, f16_tile<2, 4>},
    {f16_tile<3, 1>, f16_tile<3, 2>, f16_tile<3, 3>, f16_tile<3, 4>},
    {f16_tile<4, 1>, f16_tile<4, 2>, f16_tile<4, 3>, f16_tile<4, 4>},
};

constexpr TileFn kBf16Tiles[2][3] = {
    {bf16_tile<1, 1>, bf16_tile<1, 2>, bf16_tile<1, 3>},
    {bf16_tile<2, 1>, bf16_tile<2, 2>, bf16_tile<2, 3>},
};

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
        return gemm_tiles<4, 4, kF16Tiles>;
    case TensorType::BF16:
        return gemm_tiles<2, 3, kBf16Tiles>;
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
