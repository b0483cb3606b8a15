// Q8_0 weights × Q8_0 activations for a batch of tokens, in register tiles of several weight
// rows × several tokens over the plain GGUF blocks (no repacked copy), so that each 32-byte
// weight block and each activation block is loaded once per tile instead of once per pair.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// y[t * y_stride + r] = row r of w · activation row t, for r in [0, n_rows), t in [0, n_tok):
// w holds n_rows Q8_0 rows of n_cols values, row_bytes apart; x holds n_tok Q8_0 activation
// rows, x_stride bytes apart. Every (row, token) result has the bits of the per-row AVX2
// kernel (ggml's ggml_vec_dot_q8_0_q8_0 and llamafile's tinyBLAS_Q0_AVX): eight float lanes,
// each lane += float(its 4-byte integer partial sum) * (d_w * d_x) by FMA, blocks in order,
// then the same horizontal sum. Compiled for AVX2 + FMA + F16C; call it only at that level.
void gemm_q8_0_avx2(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
                    size_t x_stride, int64_t n_tok, float* y, int64_t y_stride);

} // namespace hearth::cpu
