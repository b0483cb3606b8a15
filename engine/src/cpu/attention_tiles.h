// Register-tiled forms of the two products of attention_ggml.cpp: the query heads that share
// a KV head against several cache cells at once, each score and each weighted sum accumulated
// in exactly the order of its one-at-a-time form in ggml_numerics.h, so the bits are the same;
// only the order of independent work changes. Compiled with AVX2/FMA/F16C; call only when
// kernel_level() is avx2.
#pragma once

#include <cstdint>

namespace hearth::cpu::ggml {

// The most queries one call of the tiled kernels takes.
inline constexpr int kMaxTileQueries = 4;

// The one-at-a-time order a tiled result reproduces: llamafile's tinyBLAS (prompt batches) or
// ggml_vec_dot_f16 (single tokens).
enum class DotOrder { tinyblas, vec_dot };

// scores[r][j] = K[j] · q[r] for the n_q (1 to kMaxTileQueries) queries and the cells j in
// [first, last], each with the bits of tinyblas_dot_f16 (k a multiple of 8) or vec_dot_f16;
// k_rows points at cell 0's key, stride elements between cells. Other entries are left alone.
void key_dots_f16(DotOrder order, int64_t k, const uint16_t* const* q, int n_q,
                  const uint16_t* k_rows, int64_t stride, int64_t first, int64_t last,
                  float* const* scores);

// out[r][d] = Σ_j V[j][d] · w[r][j] (d < dim) for n_q (1 to kMaxTileQueries) queries that
// share V and the visible cells [first, last], with the bits of weighted_rows_f16(order ==
// tinyblas, dim, v, stride, first, last, n_kv, p_r, out[r]) where w[r][j] is p_r[j] as a
// float. Returns false, computing nothing, where the shape has no tiled form (dim not a
// multiple of 8, or cells in vec_dot_f16's leftover tail): call weighted_rows_f16 then.
bool weighted_rows_f16_tiled(DotOrder order, int64_t dim, const uint16_t* v, int64_t stride,
                             int64_t first, int64_t last, int64_t n_kv, const float* const* w,
                             int n_q, float* const* out);

// The softmax's input row as ggml builds it: x[j] *= scale for j in [first, last], -INF for the
// other j in [0, n) (masked); returns the row's largest value. Same bits as the scalar loop.
float scale_mask_max(float* x, int64_t n, int64_t first, int64_t last, float scale);

// The softmax's weights: p16[j] = probs[j] · inv_sum rounded to F16 (to nearest even, as
// fp32_to_fp16), and weights[j] = p16[j] as a float, for j in [0, n).
void round_weights_f16(const float* probs, float inv_sum, int64_t n, uint16_t* p16, float* weights);

} // namespace hearth::cpu::ggml
