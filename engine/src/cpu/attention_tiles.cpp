// See attention_tiles.h. Every accumulator chain of the one-at-a-time kernels is kept whole
// (same values, same order, same final reduction); the tiles only interleave independent
// chains, so that a key or value row loaded once serves several queries.
#include "cpu/attention_tiles.h"

#include "cpu/ggml_numerics.h"
#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

namespace hearth::cpu::ggml {
namespace {

inline __m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// tinyBLAS's hsum: high half + low half, then (x0 + x2) + (x1 + x3).
inline float hsum_tinyblas(__m256 c) {
    __m128 x = _mm_add_ps(_mm256_extractf128_ps(c, 1), _mm256_castps256_ps128(c));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

// GGML_F32x8_REDUCE of vec_dot_f16's four accumulators (no leftovers: k % 32 == 0).
inline float reduce_vec_dot(__m256 s0, __m256 s1, __m256 s2, __m256 s3) {
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// acc[r][c] = Σ over the 8-wide chunks at offset, offset + step, ... (< k) of K[c] · q[r].
template <int R, int C>
inline void dot_chains(int64_t k, int64_t offset, int64_t step, const uint16_t* const* q,
                       const uint16_t* const* key, __m256 (&acc)[R][C]) {
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            acc[r][c] = _mm256_setzero_ps();
        }
    }
    for (int64_t i = offset; i < k; i += step) {
        __m256 kv[C];
        for (int c = 0; c < C; ++c) {
            kv[c] = load_f16(key[c] + i);
        }
        for (int r = 0; r < R; ++r) {
            const __m256 qv = load_f16(q[r] + i);
            for (int c = 0; c < C; ++c) {
                acc[r][c] = _mm256_fmadd_ps(kv[c], qv, acc[r][c]);
            }
        }
    }
}

// R queries against C cells starting at cell j.
template <int R, int C>
void dot_tile(DotOrder order, int64_t k, const uint16_t* const* q, const uint16_t* k_rows,
              int64_t stride, int64_t j, float* const* scores) {
    const uint16_t* key[C];
    for (int c = 0; c < C; ++c) {
        key[c] = k_rows + (j + c) * stride;
    }
    if (order == DotOrder::tinyblas) {
        __m256 acc[R][C];
        dot_chains<R, C>(k, 0, 8, q, key, acc);
        for (int r = 0; r < R; ++r) {
            for (int c = 0; c < C; ++c) {
                scores[r][j + c] = hsum_tinyblas(acc[r][c]);
            }
        }
        return;
    }
    // vec_dot_f16's accumulator a takes the chunks at 8a, 8a + 32, ...
    __m256 acc[4][R][C];
    for (int a = 0; a < 4; ++a) {
        dot_chains<R, C>(k, 8 * a, 32, q, key, acc[a]);
    }
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            scores[r][j + c] =
                reduce_vec_dot(acc[0][r][c], acc[1][r][c], acc[2][r][c], acc[3][r][c]);
        }
    }
}

template <int R>
void key_dots_rows(DotOrder order, int64_t k, const uint16_t* const* q, const uint16_t* k_rows,
                   int64_t stride, int64_t first, int64_t last, float* const* scores) {
    constexpr int kCells = 3; // R × 3 accumulators, 3 key rows and a query row in registers
    int64_t j = first;
    for (; j + kCells - 1 <= last; j += kCells) {
        dot_tile<R, kCells>(order, k, q, k_rows, stride, j, scores);
    }
    for (; j <= last; ++j) {
        dot_tile<R, 1>(order, k, q, k_rows, stride, j, scores);
    }
}

// Lane class `lane` of the weighted sums: acc[r][d] over the cells j ≡ lane (mod lanes) in
// [first, last], increasing j, for the dims [d0, d0 + 8 × B).
template <int R, int B>
void weighted_chains(const uint16_t* v, int64_t stride, int64_t j0, int64_t last, int64_t lanes,
                     int64_t d0, const float* const* w, float* const* acc) {
    __m256 sum[R][B];
    for (int r = 0; r < R; ++r) {
        for (int b = 0; b < B; ++b) {
            sum[r][b] = _mm256_setzero_ps();
        }
    }
    for (int64_t j = j0; j <= last; j += lanes) {
        const uint16_t* row = v + j * stride + d0;
        __m256 wr[R];
        for (int r = 0; r < R; ++r) {
            wr[r] = _mm256_broadcast_ss(w[r] + j);
        }
        for (int b = 0; b < B; ++b) {
            const __m256 x = load_f16(row + 8 * b);
            for (int r = 0; r < R; ++r) {
                sum[r][b] = _mm256_fmadd_ps(x, wr[r], sum[r][b]);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int b = 0; b < B; ++b) {
            _mm256_storeu_ps(acc[r] + d0 + 8 * b, sum[r][b]);
        }
    }
}

// Two queries keep 4 × 2 sums, one keeps 4 (8 would not pay for the spills of two).
template <int R>
void weighted_lane(const uint16_t* v, int64_t stride, int64_t j0, int64_t last, int64_t lanes,
                   int64_t dim, const float* const* w, float* const* acc) {
    int64_t d = 0;
    for (; d + 32 <= dim; d += 32) {
        weighted_chains<R, 4>(v, stride, j0, last, lanes, d, w, acc);
    }
    switch ((dim - d) / 8) {
    case 3:
        weighted_chains<R, 3>(v, stride, j0, last, lanes, d, w, acc);
        break;
    case 2:
        weighted_chains<R, 2>(v, stride, j0, last, lanes, d, w, acc);
        break;
    case 1:
        weighted_chains<R, 1>(v, stride, j0, last, lanes, d, w, acc);
        break;
    default:
        break;
    }
}

// The reduction of weighted_rows_f16 over lanes[c][d] (c = j % 8 for tinyBLAS; c = j % 32,
// accumulator c / 8 and lane c % 8, for vec_dot_f16).
void reduce_lanes(DotOrder order, int64_t dim, const float* lanes, float* out) {
    auto lane = [&](int c, int64_t d) { return lanes[size_t(c) * size_t(dim) + size_t(d)]; };
    for (int64_t d = 0; d < dim; ++d) {
        float s[8];
        if (order == DotOrder::tinyblas) {
            for (int l = 0; l < 8; ++l) {
                s[l] = lane(l, d);
            }
            float t[4];
            for (int i = 0; i < 4; ++i) {
                t[i] = s[4 + i] + s[i];
            }
            out[d] = (t[0] + t[2]) + (t[1] + t[3]);
            continue;
        }
        for (int l = 0; l < 8; ++l) {
            const float s02 = lane(l, d) + lane(16 + l, d);
            const float s13 = lane(8 + l, d) + lane(24 + l, d);
            s[l] = s02 + s13;
        }
        float t[4];
        for (int i = 0; i < 4; ++i) {
            t[i] = s[i] + s[4 + i];
        }
        out[d] = (t[0] + t[1]) + (t[2] + t[3]); // through double and back: the same float
    }
}

} // namespace

void key_dots_f16(DotOrder order, int64_t k, const uint16_t* const* q, int n_q,
                  const uint16_t* k_rows, int64_t stride, int64_t first, int64_t last,
                  float* const* scores) {
    if (order == DotOrder::vec_dot && k % 32 != 0) {
        // vec_dot_f16's leftovers are summed in double: no tiled form, one dot at a time.
        for (int r = 0; r < n_q; ++r) {
            for (int64_t j = first; j <= last; ++j) {
                scores[r][j] = vec_dot_f16(k, k_rows + j * stride, q[r]);
            }
        }
        return;
    }
    switch (n_q) {
    case 1:
        key_dots_rows<1>(order, k, q, k_rows, stride, first, last, scores);
        break;
    case 2:
        key_dots_rows<2>(order, k, q, k_rows, stride, first, last, scores);
        break;
    case 3:
        key_dots_rows<3>(order, k, q, k_rows, stride, first, last, scores);
        break;
    case 4:
        key_dots_rows<4>(order, k, q, k_rows, stride, first, last, scores);
        break;
    default:
        break;
    }
}

bool weighted_rows_f16_tiled(DotOrder order, int64_t dim, const uint16_t* v, int64_t stride,
                             int64_t first, int64_t last, int64_t n_kv, const float* const* w,
                             int n_q, float* const* out) {
    const int64_t lanes = order == DotOrder::tinyblas ? 8 : 32;
    if (dim % 8 != 0 || n_q < 1 || n_q > kMaxTileQueries ||
        (order == DotOrder::vec_dot && last >= (n_kv & ~int64_t{31}))) {
        return false;
    }
    thread_local std::vector<float> buffer;
    buffer.resize(size_t(n_q) * size_t(lanes) * size_t(dim));
    for (int r0 = 0; r0 < n_q; r0 += 2) {
        const int pair = std::min(2, n_q - r0);
        for (int64_t c = 0; c < lanes; ++c) {
            // the first visible cell of lane class c; none: its sums stay 0, as in the original
            const int64_t j0 = first + ((c - first % lanes) + lanes) % lanes;
            float* acc[2];
            for (int r = 0; r < pair; ++r) {
                acc[r] = buffer.data() + (size_t(r0 + r) * size_t(lanes) + size_t(c)) * size_t(dim);
            }
            if (pair == 2) {
                weighted_lane<2>(v, stride, j0, last, lanes, dim, w + r0, acc);
            } else {
                weighted_lane<1>(v, stride, j0, last, lanes, dim, w + r0, acc);
            }
        }
    }
    for (int r = 0; r < n_q; ++r) {
        reduce_lanes(order, dim, buffer.data() + size_t(r) * size_t(lanes) * size_t(dim), out[r]);
    }
    return true;
}

float scale_mask_max(float* x, int64_t n, int64_t first, int64_t last, float scale) {
    int64_t j = 0;
    for (; j < first; ++j) {
        x[j] = -INFINITY;
    }
    __m256 max8 = _mm256_set1_ps(-INFINITY);
    const __m256 scale8 = _mm256_set1_ps(scale);
    for (; j + 8 <= last + 1; j += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j), scale8);
        _mm256_storeu_ps(x + j, v);
        max8 = _mm256_max_ps(max8, v);
    }
    // The largest value is the same whatever order it is found in (the scores hold no NaN;
    // a zero's sign does not change x - max).
    float lanes[8];
    _mm256_storeu_ps(lanes, max8);
    float max_value = -INFINITY;
    for (float v : lanes) {
        max_value = std::max(max_value, v);
    }
    for (; j <= last; ++j) {
        x[j] *= scale;
        max_value = std::max(max_value, x[j]);
    }
    for (; j < n; ++j) {
        x[j] = -INFINITY;
    }
    return max_value;
}

void round_weights_f16(const float* probs, float inv_sum, int64_t n, uint16_t* p16,
                       float* weights) {
    const __m256 inv8 = _mm256_set1_ps(inv_sum);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(probs + j), inv8),
                                          _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p16 + j), h);
        _mm256_storeu_ps(weights + j, _mm256_cvtph_ps(h));
    }
    for (; j < n; ++j) {
        p16[j] = fp32_to_fp16(probs[j] * inv_sum);
        weights[j] = fp16_to_fp32(p16[j]);
    }
}

} // namespace hearth::cpu::ggml

#else // not built for x86 with AVX2: the one-at-a-time forms (kernel_level() never gets here)

namespace hearth::cpu::ggml {

void key_dots_f16(DotOrder order, int64_t k, const uint16_t* const* q, int n_q,
                  const uint16_t* k_rows, int64_t stride, int64_t first, int64_t last,
                  float* const* scores) {
    for (int r = 0; r < n_q; ++r) {
        for (int64_t j = first; j <= last; ++j) {
            scores[r][j] = order == DotOrder::tinyblas
                               ? tinyblas_dot_f16(k, k_rows + j * stride, q[r])
                               : vec_dot_f16(k, k_rows + j * stride, q[r]);
        }
    }
}

bool weighted_rows_f16_tiled(DotOrder, int64_t, const uint16_t*, int64_t, int64_t, int64_t, int64_t,
                             const float* const*, int, float* const*) {
    return false;
}

float scale_mask_max(float* x, int64_t n, int64_t first, int64_t last, float scale) {
    float max_value = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        x[j] = j < first || j > last ? -INFINITY : x[j] * scale;
        max_value = std::max(max_value, x[j]);
    }
    return max_value;
}

void round_weights_f16(const float* probs, float inv_sum, int64_t n, uint16_t* p16,
                       float* weights) {
    for (int64_t j = 0; j < n; ++j) {
        p16[j] = fp32_to_fp16(probs[j] * inv_sum);
        weights[j] = fp16_to_fp32(p16[j]);
    }
}

} // namespace hearth::cpu::ggml

#endif
