// AVX2 register tiles for float-weight prompt batches (gemm_float.h): 4 rows × 3 tokens, 12
// accumulators; F16 in tinyBLAS's order, BF16 in ggml_vec_dot_bf16's. Also the widening of the
// activations into the pair layout, which the AVX-512 tiles share. Compiled with -mavx2 -mfma
// -mf16c and called only after cpu_features found them.
#include "cpu/gemm_float.h"
#include "hearth/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"

#include <algorithm>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using avx2::hsum;
using avx2::load_bf16x8;
using avx2::load_f16x8;

// Tokens per pass over a run of rows: their pair layout (16 pairs × 8 bytes per column) stays
// in L2 while each weight row is read once per pass.
constexpr int64_t kTokenTile = 32;

// Token t's values in the pair layout: 8 floats per step, 16 floats apart.
inline const float* token_base(const float* xf, int64_t n, int64_t t) {
    return float_act_at(xf, n, t, 0);
}

inline const uint16_t* row_at(const void* w, size_t row_bytes, int64_t r) {
    return reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) +
                                             static_cast<size_t>(r) * row_bytes);
}

// One pass of R rows × T tokens over the steps s0, s0 + stride, ... below s1: with kFma
// acc = fma(w, x, acc) (tinyBLAS), else acc = w × x + acc as a multiply and an add
// (ggml_vec_dot_bf16's source; the compiler treats both kernels' alike).
template <int R, int T, bool kFma, __m256 (*Widen)(const uint16_t*)>
inline void chain_pass(const uint16_t* const* rows, const float* const* x, int64_t s0, int64_t s1,
                       int64_t stride, __m256 (&acc)[R][T]) {
    for (int64_t s = s0; s < s1; s += stride) {
        for (int r = 0; r < R; ++r) {
            const __m256 wv = Widen(rows[r] + 8 * s);
            for (int t = 0; t < T; ++t) {
                const __m256 xv = _mm256_loadu_ps(x[t] + 16 * s);
                acc[r][t] = kFma ? _mm256_fmadd_ps(wv, xv, acc[r][t])
                                 : _mm256_add_ps(_mm256_mul_ps(wv, xv), acc[r][t]);
            }
        }
    }
}

template <int R, int T>
inline void zero(__m256 (&acc)[R][T]) {
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) {
            acc[r][t] = _mm256_setzero_ps();
        }
    }
}

// R rows × T tokens from row r0 and token t0. F16: one FMA chain per output over every step,
// then tinyBLAS's hsum. BF16: chain k over the steps 4g + k of each 32 values, one pass per
// chain (the chains are independent, so running them one after another changes no bits), then
// (c0 + c2) + (c1 + c3), hsum, the tail in double.
template <bool kBf16, int R, int T>
void tile(int64_t n, const void* w, size_t row_bytes, int64_t r0, const float* xf, int64_t t0,
          float* y, int64_t y_stride) {
    const uint16_t* rows[R];
    const float* x[T];
    for (int r = 0; r < R; ++r) {
        rows[r] = row_at(w, row_bytes, r0 + r);
    }
    for (int t = 0; t < T; ++t) {
        x[t] = token_base(xf, n, t0 + t);
    }
    y += t0 * y_stride + r0;
    if constexpr (!kBf16) {
        __m256 acc[R][T];
        zero(acc);
        chain_pass<R, T, true, load_f16x8>(rows, x, 0, n / 8, 1, acc);
        for (int r = 0; r < R; ++r) {
            for (int t = 0; t < T; ++t) {
                y[t * y_stride + r] = hsum(acc[r][t]);
            }
        }
    } else {
        __m256 c[4][R][T];
        for (int k = 0; k < 4; ++k) {
            zero(c[k]);
            chain_pass<R, T, false, load_bf16x8>(rows, x, k, n / 32 * 4, 4, c[k]);
        }
        for (int r = 0; r < R; ++r) {
            for (int t = 0; t < T; ++t) {
                const __m256 sum = _mm256_add_ps(_mm256_add_ps(c[0][r][t], c[2][r][t]),
                                                 _mm256_add_ps(c[1][r][t], c[3][r][t]));
                y[t * y_stride + r] = bf16_with_tail(hsum(sum), rows[r], xf, n, t0 + t);
            }
        }
    }
}

using TileFn = void (*)(int64_t, const void*, size_t, int64_t, const float*, int64_t, float*,
                        int64_t);

// [rows - 1][tokens - 1]: the full 4 × 3 tile and the ragged edges.
template <bool kBf16>
constexpr TileFn kTiles[4][3] = {
    {tile<kBf16, 1, 1>, tile<kBf16, 1, 2>, tile<kBf16, 1, 3>},
    {tile<kBf16, 2, 1>, tile<kBf16, 2, 2>, tile<kBf16, 2, 3>},
    {tile<kBf16, 3, 1>, tile<kBf16, 3, 2>, tile<kBf16, 3, 3>},
    {tile<kBf16, 4, 1>, tile<kBf16, 4, 2>, tile<kBf16, 4, 3>},
};

template <bool kBf16>
void gemm(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const float* xf,
          int64_t n_tok, float* y, int64_t y_stride) {
    for (int64_t t0 = 0; t0 < n_tok; t0 += kTokenTile) {
        const int64_t t1 = std::min(n_tok, t0 + kTokenTile);
        for (int64_t r = 0; r < n_rows; r += 4) {
            const int64_t nr = std::min<int64_t>(4, n_rows - r);
            for (int64_t t = t0; t < t1; t += 3) {
                const int64_t nt = std::min<int64_t>(3, t1 - t);
                kTiles<kBf16>[nr - 1][nt - 1](n, w, row_bytes, r, xf, t, y, y_stride);
            }
        }
    }
}

} // namespace

bool gemm_float_takes(TensorType type, VecDotFn kernel) {
    if (kernel == nullptr) {
        return false;
    }
    return (type == TensorType::F16 && kernel == vec_dot_tinyblas_avx2(TensorType::F16)) ||
           (type == TensorType::BF16 && kernel == vec_dot_avx2(TensorType::BF16));
}

void widen_float_activation(TensorType type, const void* act, int64_t n_cols, int64_t t,
                            int64_t n_tokens, float* xf) {
    const auto* h = static_cast<const uint16_t*>(act);
    float* out = xf + t / 2 * pair_floats(n_cols) + 8 * (t % 2);
    const bool bf16 = type == TensorType::BF16;
    int64_t s = 0;
    for (; 8 * s + 8 <= n_cols; ++s) {
        _mm256_storeu_ps(out + 16 * s, bf16 ? load_bf16x8(h + 8 * s) : load_f16x8(h + 8 * s));
    }
    if (s < float_steps(n_cols)) { // the last, partial step: zero past n_cols
        for (int64_t i = 0; i < 8; ++i) {
            const int64_t c = 8 * s + i;
            out[16 * s + i] = c >= n_cols ? 0.0f : bf16 ? bf16_to_fp32(h[c]) : fp16_to_fp32(h[c]);
        }
    }
    if (t % 2 == 0 && t + 1 == n_tokens) { // an odd count: the last pair's partner is zero
        for (int64_t step = 0; step < float_steps(n_cols); ++step) {
            _mm256_storeu_ps(out + 16 * step + 8, _mm256_setzero_ps());
        }
    }
}

GemmFloatFn gemm_float_avx2(TensorType type) {
    switch (type) {
    case TensorType::F16:
        return gemm<false>;
    case TensorType::BF16:
        return gemm<true>;
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu

#else // not built for x86: matmul never takes the tiles there

namespace hearth::cpu {

bool gemm_float_takes(TensorType, VecDotFn) {
    return false;
}
void widen_float_activation(TensorType, const void*, int64_t, int64_t, int64_t, float*) {}
GemmFloatFn gemm_float_avx2(TensorType) {
    return nullptr;
}

} // namespace hearth::cpu

#endif
