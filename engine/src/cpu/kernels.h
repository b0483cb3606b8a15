// Private interface between matmul.cpp and the per-ISA kernel files: activation block
// formats, activation quantizers, and the dot-product kernels of each weight type.
#pragma once

#include "hearth/tensor_type.h"
#include "quant/blocks.h"

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// The activation blocks Q8_1 and Q8_K (quant/block_layout.h, beside the weight formats).
using quant::BlockQ8_1;
using quant::BlockQ8_K;

// Activation quantizers, numerically those of llama.cpp's x86 build: Q8_0/Q8_1 take
// d = amax / 127 and round x * (127 / amax) to nearest even; Q8_K takes iscale = -127 / max
// (max the value of largest magnitude, with its sign) and d = 1 / iscale. n is a multiple of
// the block size. One implementation serves every kernel level, so all levels see the same
// quantized activations.
void quantize_row_q8_0(const float* x, quant::BlockQ8_0* out, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* out, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* out, int64_t n);

// One Q8_0/Q8_1 block of 32 values: qs = round_to_nearest_even(x * id), d (as float, before
// the caller rounds it to f16) = amax / 127 and id = 127 / amax (0 for an all-zero block).
// Returns the sum of the quants. The scalar form defines the bits; the AVX2 form
// (quantize_act_avx2.cpp, used at the avx2 level) gives the same bits eight values at a time.
int quantize_block_q8_scalar(const float* x, int8_t* qs, float& d);
int quantize_block_q8_avx2(const float* x, int8_t* qs, float& d);
// One Q8_K block of 256 values (quantize_row_q8_K's numerics), the scalar form defining the
// bits and the AVX2 form (quantize_act_avx2.cpp) giving them.
void quantize_block_q8_k_scalar(const float* x, BlockQ8_K& y);
void quantize_block_q8_k_avx2(const float* x, BlockQ8_K& y);

// d and id of quantize_block_q8_*, from the block's largest magnitude: one definition for both.
inline float q8_block_inverse_scale(float amax, float& d) {
    d = amax / 127.0f;
    return amax != 0.0f ? 127.0f / amax : 0.0f;
}

// The value each quantized activation stands for (tests compare against these).
void dequantize_activation_row(TensorType weight_type, const void* in, float* out, int64_t n);

// One weight row of n elements (w, in the weight type's layout) against n_tok activation rows
// (x, x_stride bytes apart, in dot_type of the weight type):
// y[t * y_stride] = dot(w, x + t * x_stride) for t in [0, n_tok). n_tok is 1..kMaxTokens.
using VecDotFn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride, float* y,
                          int64_t y_stride, int n_tok);

// Adapts a one-token dot product (n values of a weight row with one activation row) to the
// VecDotFn shape, token by token. Used by the kernel files of each instruction set.
template <float (*Dot)(int64_t, const void*, const void*)>
void per_token(int64_t n, const void* w, const void* x, size_t x_stride, float* y, int64_t y_stride,
               int n_tok) {
    for (int t = 0; t < n_tok; ++t) {
        y[t * y_stride] = Dot(n, w, static_cast<const uint8_t*>(x) + t * x_stride);
    }
}

inline constexpr int kMaxTokens = 4;

// The same for the 32-value formats of prompt batches, with the activations' block scales as
// floats (activation_scales()), scales_stride floats apart per token: ggml's order, the bits of
// the VecDotFn kernel, without converting each token's f16 scales again for every weight row.
using VecDotScaledFn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride,
                                const float* scales, size_t scales_stride, float* y,
                                int64_t y_stride, int n_tok);

// Floats per activation row that activation_scales() writes: d of each Q8_0/Q8_1 block, then
// (Q8_1) its s. 0 for the other dot types.
int64_t activation_scale_count(TensorType weight_type, int64_t n_cols);
void activation_scales(TensorType weight_type, const void* act, float* out, int64_t n_cols);

// The kernel of a weight type for each family; nullptr where the family has none.
VecDotFn vec_dot_portable(TensorType weight_type);
VecDotFn vec_dot_avx2(TensorType weight_type);
// The same for the low-bit types (MXFP4, NVFP4, TQ1_0, TQ2_0, the grid i-quants), kept in
// their own files; vec_dot_portable/vec_dot_avx2 fall back to these.
VecDotFn vec_dot_lowbit_portable(TensorType weight_type);
VecDotFn vec_dot_lowbit_avx2(TensorType weight_type);
VecDotScaledFn vec_dot_scaled_avx2(TensorType weight_type);
// Q6_K at the avx2 level (vec_dot_q6_k_avx2.cpp; nullptr where not built for x86).
VecDotFn vec_dot_q6_k_avx2();
// F32 and F16 rows in the order of llamafile's tinyBLAS, which ggml's mul_mat takes on prompt
// batches (see matmul()); nullptr for other types. n must be a multiple of 8.
VecDotFn vec_dot_tinyblas_avx2(TensorType weight_type);

// One activation row x (dot type of the weight type) against n_rows weight rows of n values,
// row_bytes apart: y[r] = dot(row r, x), the bits of the type's AVX2 VecDotFn for one token.
// scales: activation_scales() of x for the 32-value formats (ignored by the others).
using GemvFn = void (*)(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
                        const float* scales, float* y);
// The AVX-512 single-token kernels (vec_dot_avx512.cpp); nullptr for types without one, or
// where not built for x86. Call only when avx512_kernels_enabled().
GemvFn gemv_avx512(TensorType weight_type);
// Q4_1's, four rows per register (gemv_q4_1_avx512.cpp), Q5_K's, two sub-blocks of a row per
// register (gemv_q5_k_avx512.cpp), and Q6_K's, two chunks of a row per register
// (gemv_q6_k_avx512.cpp), which gemv_avx512 returns for those types: defined only in builds
// with the AVX-512 flags (x86), where gemv_avx512 is; call that instead.
GemvFn gemv_q4_1_avx512();
GemvFn gemv_q5_k_avx512();
GemvFn gemv_q6_k_avx512();
// The same in the order of vec_dot_tinyblas_avx2 (F16; nullptr for other types).
GemvFn gemv_tinyblas_avx512(TensorType weight_type);
// The AVX2 single-token kernels (gemv_avx2.cpp), with the bits of the type's vec_dot_avx2 (and
// of vec_dot_tinyblas_avx2 for gemv_tinyblas_avx2); nullptr for types without one.
GemvFn gemv_avx2(TensorType weight_type);
GemvFn gemv_tinyblas_avx2(TensorType weight_type);
// Q4_1's, four rows a pass (gemv_q4_1_avx2.cpp), and Q5_K's, two rows a pass
// (gemv_q5_k_avx2.cpp), which gemv_avx2 returns for those types; nullptr where not built for x86.
GemvFn gemv_q4_1_avx2();
GemvFn gemv_q5_k_avx2();
// Q6_K's, two rows a pass (gemv_q6_k_avx2.cpp), which gemv_avx2 returns for Q6_K; nullptr where
// not built for x86.
GemvFn gemv_q6_k_avx2();
// The other 32-value formats' (Q4_0, Q5_0, Q5_1, Q8_0, IQ4_NL), four rows a pass
// (gemv_block32_avx2.cpp), which gemv_avx2 returns for those types; nullptr for other types and
// where not built for x86.
GemvFn gemv_block32_avx2(TensorType weight_type);
// F16's (tinyBLAS order) and BF16's, several rows per pass (gemv_float_avx2.cpp), which
// gemv_tinyblas_avx2 / gemv_avx2 return for those types; nullptr where not built for x86.
GemvFn gemv_tinyblas_f16_avx2();
GemvFn gemv_bf16_avx2();

// BF16 activations for BF16 weights: ggml's ggml_compute_fp32_to_bf16 (round to nearest even,
// NaN kept quiet).
void convert_f32_to_bf16(const float* x, uint16_t* out, int64_t n);

// F16 row helpers (matmul.h's dot_f16_f32, axpy_f16_f32 and convert_f32_to_f16).
float dot_f16_f32_portable(const uint16_t* a, const float* b, int64_t n);
void axpy_f16_f32_portable(const uint16_t* a, float scale, float* y, int64_t n);
void convert_f32_to_f16_portable(const float* x, uint16_t* out, int64_t n);
float dot_f16_f32_avx2(const uint16_t* a, const float* b, int64_t n);
void axpy_f16_f32_avx2(const uint16_t* a, float scale, float* y, int64_t n);
void convert_f32_to_f16_avx2(const float* x, uint16_t* out, int64_t n);

} // namespace hearth::cpu
