// Launch interface of the fused dequantize + matrix-vector kernels (kernels/matvec.cu; the
// expert forms in kernels/matvec_experts.cu): the decode-time products y = W x of a quantized
// weight matrix with a small batch of activation vectors, the weights read from memory once
// for the whole batch.
//
// Plain C++ declarations, no device code: the engine's CUDA backend (compiled by g++) includes
// it. Shape checks belong to the caller; the launcher refuses what it cannot do and never
// prints or exits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Largest number of activation vectors one launch multiplies.
inline constexpr int kMatvecMaxBatch = 8;

// Whether launch_matvec handles weights of GGML type `type_id` (the types launch_dequantize
// handles: F32, F16, BF16, Q4_0..Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, the grid i-quants (IQ1_S,
// IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), TQ1_0, TQ2_0, MXFP4, NVFP4).
bool can_launch_matvec(int type_id);

// Enqueues on `stream`, for b in [0, n_batch) and r in [0, n_rows):
//   y[b * y_stride + r] = sum_c W[r][c] * x[b * x_stride + c]      (c in [0, n_cols))
// W: n_rows rows of n_cols values of type `type_id` in GGUF layout, row r at
// w + r * row_bytes (device memory; row_bytes >= the packed row size, rows may be padded).
// x, y: float32 device memory; y must not overlap x. W[r][c] is the CPU dequantizer's value
// exactly; products and sums are float32 (fused multiply-add), so y differs from a
// double-precision sum by rounding only.
// Returns cudaErrorNotSupported for a type it does not handle; cudaErrorInvalidValue for
// n_batch outside 1..kMatvecMaxBatch, n_cols not a whole number of blocks, a row_bytes smaller
// than a row, negative sizes or null pointers; else the launch's error. n_rows == 0 is a no-op.
cudaError_t launch_matvec(int type_id, const void* w, size_t row_bytes, int64_t n_rows,
                          int64_t n_cols, const float* x, int64_t x_stride, float* y,
                          int64_t y_stride, int n_batch, cudaStream_t stream);

// Largest number of (token, expert) slots one launch_matvec_experts runs (a CUDA grid's y).
inline constexpr int kMatvecMaxSlots = 65535;

// The mixture-of-experts product, for slot s in [0, n_slots) and r in [0, n_rows):
//   y[s * y_stride + r] = sum_c W_e[r][c] * x[(s / slots_per_x) * x_stride + c],  e = ids[s]
// W: n_expert matrices of the layout above, expert e's at w + e * expert_bytes (a GGUF 3-D
// expert tensor); only the selected experts' rows are read. `ids` is device memory (a
// captured CUDA graph reads each replay's routing); an id outside [0, n_expert) writes NaN
// to its rows. slots_per_x = n_used lets each token's slots share its one input row (gate,
// up); 1 gives each slot its own (down). Products as launch_matvec's.
// cudaErrorInvalidValue for bad sizes (expert_bytes < n_rows * row_bytes, n_slots outside
// 0..kMatvecMaxSlots, slots_per_x < 1) or null pointers; cudaErrorNotSupported for a type
// launch_matvec does not handle; else the launch's error.
cudaError_t launch_matvec_experts(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* ids, int n_slots, const float* x, int64_t x_stride,
                                  int slots_per_x, float* y, int64_t y_stride, cudaStream_t stream);

// The same products for a prompt chunk's many slots, grouped by expert: order[offsets[e] ..
// offsets[e + 1]) lists expert e's slots (device memory, from launch_group_by_expert in
// moe.cuh; offsets has n_expert + 1 entries). Each expert's rows are read once per 8 of its
// slots instead of once per slot, and each slot's y row is bit for bit launch_matvec_experts'.
// Slots that no expert lists are not written. Errors as launch_matvec_experts' (x_stride and
// y_stride must be at least a row).
cudaError_t launch_matvec_grouped(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* order, const int32_t* offsets, const float* x,
                                  int64_t x_stride, int slots_per_x, float* y, int64_t y_stride,
                                  cudaStream_t stream);

// Enqueues the embedding lookup x[i * x_stride + c] = E[tokens[i]][c] * scale for i in
// [0, n_tokens): rows of a weight matrix of type `type_id` (layout as above), dequantized.
// `tokens` is device memory (so that a captured CUDA graph reads the ids of each replay);
// an id outside [0, n_rows) writes a row of NaN rather than reading out of bounds.
cudaError_t launch_get_rows(int type_id, const void* w, size_t row_bytes, int64_t n_rows,
                            int64_t n_cols, const int32_t* tokens, int n_tokens, float scale,
                            float* x, int64_t x_stride, cudaStream_t stream);

} // namespace hearth::kernels
