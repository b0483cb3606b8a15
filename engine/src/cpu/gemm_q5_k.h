// Q5_K weights × Q8_K activations for a batch of tokens, in tiles of 4 weight rows × 64 tokens
// over the plain GGUF rows (no repacked copy): each super-block of a tile's rows is unpacked
// once (5-bit values to bytes, the 6-bit scales to 16-bit vectors, the mins) and then multiplied
// with every token of the tile, instead of being unpacked again for each group of four tokens by
// the per-row kernel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// y[t * y_stride + r] = row r of w · activation row t, for r in [0, n_rows), t in [0, n_tok):
// w holds n_rows Q5_K rows of n_cols values, row_bytes apart; x holds n_tok Q8_K activation
// rows, x_stride bytes apart. Every (row, token) result has the bits of the per-row AVX2 kernel
// (vec_dot_avx2.cpp's dot_q4_5_k, ggml's ggml_vec_dot_q5_K_q8_K): per super-block, eight float
// lanes += float(lane's integer sum) * (d_x * d_w) by FMA; one float += float(the mins' integer
// sum) * (d_x * dmin_w) by FMA; the result hsum(lanes) - that float.
//
// gemm_q5_k_avx2: AVX2 + FMA + F16C; call it only at the avx2 level.
// gemm_q5_k_avx512: AVX512F/BW/VL + VNNI; call it only where avx512_kernels_enabled().
void gemm_q5_k_avx2(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
                    size_t x_stride, int64_t n_tok, float* y, int64_t y_stride);
void gemm_q5_k_avx512(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows,
                      const void* x, size_t x_stride, int64_t n_tok, float* y, int64_t y_stride);

} // namespace hearth::cpu
