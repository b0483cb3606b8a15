// Launch interface of decode attention over the F16 KV cache (kernels/attention.cu):
// appending a token's keys and values, and flash-decoding (attention split over the
// sequence, then a reduction pass).
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// The cache of one layer: n_slots sequences of n_ctx cells; cell (slot, pos) of the keys at
// k + (slot * n_ctx + pos) * n_head_kv * head_dim_k, values likewise with head_dim_v.
// F16 elements as raw binary16 bits.
struct KvLayout {
    int n_head = 0;    // query heads
    int n_head_kv = 0; // key/value heads; n_head is a multiple of it (grouped-query attention)
    int head_dim_k = 0;
    int head_dim_v = 0;
    int n_ctx = 0;
    int n_slots = 0;
};

// Largest head size the attention kernels take.
inline constexpr int kAttentionMaxHeadDim = 256;

// Writes row r's keys k[r * k_stride + i] and values v[r * v_stride + i] (float32, rounded to
// F16 to nearest even) into cell (slots[r], positions[r]) of the layer's cache, r < n_rows.
// slots and positions are device memory; a cell outside the cache is not written.
cudaError_t launch_kv_append(const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                             int n_rows, uint16_t* k_cache, uint16_t* v_cache,
                             const KvLayout& layout, const int32_t* slots, const int32_t* positions,
                             cudaStream_t stream);

// Floats of workspace launch_attention needs for n_rows query rows.
size_t attention_workspace_floats(const KvLayout& layout, int n_rows);

// For each query row r < n_rows (sequence slots[r], position positions[r]) and head h:
//   q' = f16(q[r][h] * q_scale);  s_j = cap(q' . K[j]) * score_scale  for cells j in
//   [first, positions[r]], first = max(0, pos + 1 - window) (window 0: from 0);
//   out[r][h] = sum_j softmax(s)_j V[j]
// cap(x) = soft_cap * tanh(x / soft_cap) (gemma2's attention logit soft-capping; soft_cap 0:
// cap(x) = x). sinks (gpt-oss; device memory, n_head floats, or null): head h's softmax has
// one more logit, sinks[h], with no value row: M = max(max_j s_j, sinks[h]) and the
// denominator gains exp(sinks[h] - M).
// q rows q_stride floats apart (head h at h * head_dim_k), out rows out_stride apart (head h
// at h * head_dim_v). `workspace` holds attention_workspace_floats(layout, n_rows) floats.
// The kernel grid is sized by n_ctx, not by the positions, so a captured graph stays valid
// as the sequence grows. cudaErrorInvalidValue for bad shapes (head size above
// kAttentionMaxHeadDim, n_head not a multiple of n_head_kv), a negative or non-finite soft_cap
// or null pointers.
cudaError_t launch_attention(const float* q, int64_t q_stride, const uint16_t* k_cache,
                             const uint16_t* v_cache, const KvLayout& layout, const int32_t* slots,
                             const int32_t* positions, int n_rows, int window, float q_scale,
                             float score_scale, float* workspace, float* out, int64_t out_stride,
                             cudaStream_t stream, float soft_cap = 0.0f,
                             const float* sinks = nullptr);

} // namespace hearth::kernels
