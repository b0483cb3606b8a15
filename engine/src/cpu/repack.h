// Weight matrices rearranged once at load into 8-row interleaved blocks, for kernels that
// unpack each weight byte once for eight rows and several tokens (llama.cpp's "repack" idea).
//
// A packed matrix keeps its GGUF rows too (WeightMatrix::data): the portable kernels, the
// rows past the last full group of 8, and anything else that reads rows use them.
#pragma once

#include "cpu/matmul.h"
#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

inline constexpr int64_t kPackRows = 8;

// Whether `type` has an interleaved layout and this CPU's kernel level a kernel for it.
bool repack_supported(TensorType type);

// Bytes of the packed copy of the first n_rows / 8 * 8 rows of an n_rows × n_cols matrix.
size_t repacked_bytes(TensorType type, int64_t n_rows, int64_t n_cols);

// Writes the interleaved copy of w's first n_rows / 8 * 8 rows to `out`
// (repacked_bytes(...) bytes, any alignment). w.type must be repack_supported.
void repack_rows(const WeightMatrix& w, void* out);

// Kernels over packed groups (repack_avx2.cpp). One group of 8 rows against n_tok (1..4)
// activation rows x (dot type Q8_0, x_stride bytes apart) whose block sums times 8 are
// in sums (n_cols / 32 int32 per token, sums_stride apart):
// y[t * y_stride + r] = row r of the group · x_t for r < 8.
void gemm_q4_0_x8(int64_t n_cols, const void* group, const void* x, size_t x_stride,
                  const int32_t* sums, int64_t sums_stride, float* y, int64_t y_stride, int n_tok);

// The same for Q4_K against Q8_K activations (their bsums hold the sums the mins need).
void gemm_q4_k_x8(int64_t n_cols, const void* group, const void* x, size_t x_stride, float* y,
                  int64_t y_stride, int n_tok);

// One token against n_groups consecutive packed groups (repack_avx512.cpp, AVX-512 + VNNI;
// call only when avx512_kernels_enabled()): y[8g + r] = row r of group g · x, the bits of
// gemm_q4_0_x8 / gemm_q4_k_x8 with n_tok 1. sums as for gemm_q4_0_x8.
void gemv_q4_0_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* x,
                         const int32_t* sums, float* y);
void gemv_q4_k_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* x,
                         float* y);

// n_tok tokens (any count; x_stride bytes apart) against n_groups consecutive packed groups
// (repack_batch_avx512.cpp, AVX-512 + VNNI; call only when avx512_kernels_enabled()):
// y[t * y_stride + 8g + r] = row r of group g · x_t, the bits of gemm_q4_0_x8 / gemm_q4_k_x8.
// sums as for gemm_q4_0_x8.
void gemm_q4_0_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* x,
                         size_t x_stride, const int32_t* sums, int64_t sums_stride, int n_tok,
                         float* y, int64_t y_stride);
void gemm_q4_k_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* x,
                         size_t x_stride, int n_tok, float* y, int64_t y_stride);

// 8 × the sum of the 32 quants of each Q8_0 block of one activation row (n_blocks blocks).
void q8_0_block_sums_x8(const void* x, int32_t* sums, int64_t n_blocks);

} // namespace hearth::cpu
