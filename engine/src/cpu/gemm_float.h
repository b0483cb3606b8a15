// Prompt batches over float weights (F16, BF16) in register tiles, with the bits of the per-row
// kernels of the avx2 level: F16 in llamafile tinyBLAS's order (vec_dot_tinyblas_avx2: one
// 8-lane FMA chain per output, then hsum), BF16 in ggml_vec_dot_bf16's (four 8-lane chains of
// separate multiplies and adds per 32 values, combined (c0 + c2) + (c1 + c3), the tail in
// double). A tile converts each weight vector to f32 once for all of its tokens; every output
// keeps its own chains, so tiling changes only which independent chains run side by side.
//
// The activations (f16 / bf16 rows, the weight type's dot type) are first widened to f32 once
// per matmul, in the pair layout below, which the AVX-512 kernels read as one 512-bit load per
// pair of tokens (token 2p in the low half, 2p + 1 in the high half) and the AVX2 ones as two
// 256-bit halves.
#pragma once

#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// Columns per step of the pair layout: pair p holds, for each step s of 8 columns, token 2p's
// 8 values then token 2p + 1's, at xf + p * pair_floats(n) + 16 * s. Columns past n (up to a
// multiple of 8) and the partner of an odd last token are zero.
inline int64_t float_steps(int64_t n_cols) {
    return (n_cols + 7) / 8;
}
inline int64_t pair_floats(int64_t n_cols) {
    return 16 * float_steps(n_cols);
}
// Floats the pair layout of n_tokens rows takes.
inline size_t float_act_floats(int64_t n_tokens, int64_t n_cols) {
    return static_cast<size_t>((n_tokens + 1) / 2 * pair_floats(n_cols));
}
// Value c of token t in the pair layout.
inline const float* float_act_at(const float* xf, int64_t n_cols, int64_t t, int64_t c) {
    return xf + t / 2 * pair_floats(n_cols) + 16 * (c / 8) + 8 * (t % 2) + c % 8;
}

// A BF16 output's end, as ggml_vec_dot_bf16 ends: the vector part's sum (its first n / 32 * 32
// values) in double, plus each later value's float product w × x in double, then to float.
inline float bf16_with_tail(float vec_sum, const uint16_t* w, const float* xf, int64_t n,
                            int64_t t) {
    double sum = vec_sum;
    for (int64_t i = n / 32 * 32; i < n; ++i) {
        sum += static_cast<double>(bf16_to_fp32(w[i]) * *float_act_at(xf, n, t, i));
    }
    return static_cast<float>(sum);
}

// Whether matmul() takes the tiles for a batch whose per-row kernel is `kernel`: the avx2
// level's F16 tinyBLAS kernel or its BF16 kernel.
bool gemm_float_takes(TensorType type, VecDotFn kernel);

// Token t's activation row (type's dot type: F16 or BF16 values) widened into the pair layout
// (exact). Also zeroes the partner half where t is the last, even-indexed token of n_tokens.
void widen_float_activation(TensorType type, const void* act, int64_t n_cols, int64_t t,
                            int64_t n_tokens, float* xf);

// y[t * y_stride + r] for rows [0, n_rows) (row_bytes apart) and tokens [0, n_tok) of the pair
// layout xf (n_tok > 1): the AVX2 tiles, and the AVX-512 ones (call only when
// avx512_kernels_enabled()). nullptr for other types or where not built for x86.
using GemmFloatFn = void (*)(int64_t n, const void* w, size_t row_bytes, int64_t n_rows,
                             const float* xf, int64_t n_tok, float* y, int64_t y_stride);
GemmFloatFn gemm_float_avx2(TensorType type);
GemmFloatFn gemm_float_avx512(TensorType type);

// BF16 single tokens with AVX-512 (kernels.h's GemvFn: x is the BF16 activation row), the
// bits of the avx2 level's dot_bf16. nullptr for other types or where not built for x86.
GemvFn gemv_float_avx512(TensorType type);

} // namespace hearth::cpu
