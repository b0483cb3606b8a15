// Launch interface of prompt (prefill) attention over the F16 KV cache
// (kernels/prompt_attention.cu): n query rows at consecutive positions of one sequence, tiled
// so that each key/value cell is read once per tile of query rows instead of once per row.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include "attention.cuh"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Query rows per block of the prompt attention (the granularity of its K/V reuse).
inline constexpr int kPromptAttentionRows = 16;

// launch_attention's result for the rows r < n_rows of a prompt chunk of sequence `slot` at
// positions p0 + r, whose keys and values are already in the cache (launch_kv_append): for
// each row r and head h (key/value head h / (n_head / n_head_kv)),
//   q' = f16(q[r][h] * q_scale);  s_j = cap(q' . K[j]) * score_scale  for cells j in
//   [first, p0 + r], first = max(0, p0 + r + 1 - window) (window 0: from 0);
//   out[r][h] = sum_j softmax(s)_j V[j]
// with launch_attention's soft cap and attention sinks (soft_cap 0, sinks null: none).
// q rows q_stride floats apart (head h at h * head_dim_k), out rows out_stride apart (head h
// at h * head_dim_v). No workspace. slot and p0 are host values (prefill is not captured in a
// graph). cudaErrorInvalidValue for bad shapes (as launch_attention), a slot outside
// [0, n_slots), p0 < 0, p0 + n_rows > n_ctx, a negative window, a negative or non-finite
// soft_cap or null pointers.
cudaError_t launch_prompt_attention(const float* q, int64_t q_stride, const uint16_t* k_cache,
                                    const uint16_t* v_cache, const KvLayout& layout, int slot,
                                    int p0, int n_rows, int window, float q_scale,
                                    float score_scale, float* out, int64_t out_stride,
                                    cudaStream_t stream, float soft_cap = 0.0f,
                                    const float* sinks = nullptr);

} // namespace hearth::kernels
