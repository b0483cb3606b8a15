// Row operations in exactly the floating-point order of ggml's AVX2 CPU backend, so that
// the forward pass gives the same bits as llama.cpp and greedy generations agree with it
// token for token. Compiled with AVX2/FMA/F16C; call only when kernel_level() is avx2
// (elsewhere the functions are stubs that are never reached).
#pragma once

#include "quant/blocks.h"

#include <cstdint>

namespace hearth::cpu::ggml {

// y = silu(x) * g as ggml_vec_swiglu_f32: ggml_v_silu (ggml_v_expf) on 8-wide chunks, the
// scalar x / (1 + expf(-x)) on the leftovers.
void swiglu_f32(int64_t n, float* y, const float* x, const float* g);

// ggml_vec_dot_f16: four 8-lane FMA accumulators over 32-element steps, reduced as
// GGML_F32x8_REDUCE, then the leftovers added in double; returned as float.
float vec_dot_f16(int64_t n, const uint16_t* x, const uint16_t* y);

// One dot product of llamafile's tinyBLAS F16 kernel (prompt batches): a single 8-lane FMA
// accumulator over the k / 8 chunks, then hsum. k must be a multiple of 8.
float tinyblas_dot_f16(int64_t k, const uint16_t* a, const uint16_t* b);

// out[d] = Σ_j V[j][d] · p[j] (d < dim), each the dot product of row d of V^T with the
// weights, in the order of tinyblas_dot_f16 (tinyblas) or vec_dot_f16 over n_kv cells, but
// read cell by cell: v points at cell 0's row, stride elements apart. Cells outside
// [first, last] have weight 0, add exactly 0 and are skipped. n_kv: a multiple of 8 for
// tinyblas.
void weighted_rows_f16(bool tinyblas, int64_t dim, const uint16_t* v, int64_t stride, int64_t first,
                       int64_t last, int64_t n_kv, const uint16_t* p, float* out);

// ggml_vec_dot_q8_0_q8_0 (x86): per block, the integer products summed four by four into
// eight lanes (mul_sum_i8_pairs_float), accumulated as fma(d_x·d_y, lane, acc), then
// hsum_float_8. n is a multiple of 32.
float vec_dot_q8_0(int64_t n, const quant::BlockQ8_0* x, const quant::BlockQ8_0* y);

// acc[i] = fma(q[i] · d, w, acc[i]) over n values in Q8_0 blocks: ggml's
// dequantize_row_q8_0 followed by ggml_vec_mad_f32. n is a multiple of 32.
void mad_q8_0(int64_t n, const quant::BlockQ8_0* v, float w, float* acc);

// ggml_vec_soft_max_f32: y = exp(x - max) (ggml_v_expf on 8-wide chunks, each chunk summed
// horizontally in float and accumulated in double; expf on the leftovers). Returns the sum.
double soft_max_f32(int64_t n, float* y, const float* x, float max);

// RoPE's rotation as ggml's CPU build (compiled with FMA) contracts it: per pair (x0, x1) of
// the first n_rot values of each of n_heads heads (head_dim apart), x0' = fma(x0, cos, -(x1 ·
// sin)) and x1' = fma(x0, sin, x1 · cos); pair i is (x[2i], x[2i+1]), or (x[i], x[i + n_rot /
// 2]) when neox. Here std::fma is one instruction; elsewhere it is libm's, with the same bits.
void rope_fused(float* x, int n_heads, int head_dim, int n_rot, bool neox, const float* cos_t,
                const float* sin_t);

} // namespace hearth::cpu::ggml
