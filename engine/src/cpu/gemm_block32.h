// The 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) × their quantized
// activations for a batch of tokens, in register tiles of several weight rows × several tokens
// over the plain GGUF blocks (no repacked copy), so that each weight block is unpacked once per
// tile and each activation block loaded once per tile instead of once per (row, token) pair.
#pragma once

#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// Whether gemm_block32_avx2 takes this weight type.
bool gemm_block32_supported(TensorType weight_type);

// y[t * y_stride + r] = row r of w · activation row t, for r in [0, n_rows), t in [0, n_tok):
// w holds n_rows rows of n_cols values of `weight_type`, row_bytes apart; x holds n_tok
// activation rows of its dot type (Q8_0, or Q8_1 for Q4_1 and Q5_1), x_stride bytes apart.
// Every (row, token) result has the bits of the per-row AVX2 kernel (vec_dot_avx2.cpp, ggml's
// ggml_vec_dot_*_q8_*): eight float lanes, each lane += float(its 4-byte integer partial sum) *
// (d_w * d_x) by FMA, blocks in order, the same horizontal sum, plus (Q4_1, Q5_1) the FMA chain
// of m_w * s_x over the blocks. Compiled for AVX2 + FMA + F16C; call it only at that level.
void gemm_block32_avx2(TensorType weight_type, int64_t n_cols, const void* w, size_t row_bytes,
                       int64_t n_rows, const void* x, size_t x_stride, int64_t n_tok, float* y,
                       int64_t y_stride);

// The same products with the same bits in AVX-512 (VNNI) tiles (gemm_block32_avx512.cpp): two
// tokens' 8-lane accumulators share a zmm register and vpdpbusd forms the integer partials.
// Call it only where avx512_kernels_enabled() (cpu_features.h).
void gemm_block32_avx512(TensorType weight_type, int64_t n_cols, const void* w, size_t row_bytes,
                         int64_t n_rows, const void* x, size_t x_stride, int64_t n_tok, float* y,
                         int64_t y_stride);

} // namespace hearth::cpu
