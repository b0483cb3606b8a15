// Decode attention over an F16 KV cache, split over the sequence (flash-decoding).
//
// Math, for one query row and head h (kv head g = h / (n_head / n_head_kv)):
//   q' = f16(q * q_scale)   (the CPU forward rounds the query to F16 before it meets the cache)
//   s_j = cap(q' . K_j) * score_scale                    j in [first, pos]
//   out = sum_j exp(s_j - M) V_j / sum_j exp(s_j - M),     M = max_j s_j
// cap: gemma2's soft cap c · tanh(x / c) (attention_math::soft_cap, the CPU's ScoreSoftCap),
// or none. A sink logit (gpt-oss) joins the softmax in pass 2 only: M = max(M, sink) and the
// denominator gains exp(sink - M), as the CPU's softmax (ggml_soft_max_add_sinks).
// Pass 1 cuts [0, n_ctx) into chunks of kChunk cells; the CTA of (chunk c, head, row) keeps a
// running maximum m, sum l and unnormalised output o over the cells of its chunk
// (online softmax: when the maximum grows from m to m', l and o are scaled by exp(m - m')),
// and writes (m_c, l_c, o_c) to the workspace. Pass 2 merges the chunks of a (row, head):
//   M = max_c m_c,  L = sum_c l_c exp(m_c - M),  out = sum_c o_c exp(m_c - M) / L.
// Difference from the CPU: the CPU rounds the softmax weights to F16 before multiplying V
// (ggml's F16 matrix product); the split form never has the normalised weights in one
// place, so they stay float32 here. The relative difference is ~2^-11 per weight, and the
// tests bound it.
//
// Work decomposition of pass 1: 4 warps per CTA take the chunk's cells in turn; for a cell,
// lane l holds dimensions l, l + 32, ... of q' and reads those of K_j and V_j (consecutive
// lanes read consecutive halves: 64-byte coalesced accesses), a butterfly sum gives s_j to
// every lane. The 4 warps' (m, l, o) are merged in shared memory at the end.
// KV append: one thread per element, rounding to F16 to nearest even (as the CPU's F16C
// conversion does).
#include "attention.cuh"
#include "common.cuh"
#include "model/attention_math.h"

namespace hearth::kernels {
namespace {

constexpr int kChunk = 256;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxPerLane = kAttentionMaxHeadDim / 32;

int n_chunks(const KvLayout& l) {
    return (l.n_ctx + kChunk - 1) / kChunk;
}

// Floats of one partial result: m, l, then head_dim_v output values.
__host__ __device__ int partial_floats(int head_dim_v) {
    return 2 + head_dim_v;
}

__global__ void kv_append_kernel(const float* __restrict__ k, int64_t k_stride,
                                 const float* __restrict__ v, int64_t v_stride,
                                 uint16_t* __restrict__ k_cache, uint16_t* __restrict__ v_cache,
                                 KvLayout l, const int32_t* __restrict__ slots,
                                 const int32_t* __restrict__ positions) {
    const int r = static_cast<int>(blockIdx.y);
    const int slot = slots[r];
    const int pos = positions[r];
    if (slot < 0 || slot >= l.n_slots || pos < 0 || pos >= l.n_ctx) {
        return;
    }
    const int k_width = l.n_head_kv * l.head_dim_k;
    const int v_width = l.n_head_kv * l.head_dim_v;
    const int64_t cell = static_cast<int64_t>(slot) * l.n_ctx + pos;
    const int i = static_cast<int>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < k_width) {
        k_cache[cell * k_width + i] = fp32_to_fp16_bits(k[r * k_stride + i]);
    }
    if (i < v_width) {
        v_cache[cell * v_width + i] = fp32_to_fp16_bits(v[r * v_stride + i]);
    }
}

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

// grid (chunk, head, row)
__global__ void __launch_bounds__(kThreads)
    attention_split_kernel(const float* __restrict__ q, int64_t q_stride,
                           const uint16_t* __restrict__ k_cache,
                           const uint16_t* __restrict__ v_cache, KvLayout l,
                           const int32_t* __restrict__ slots, const int32_t* __restrict__ positions,
                           int window, float q_scale, float score_scale, float soft_cap,
                           float* __restrict__ partials) {
    const int chunk = static_cast<int>(blockIdx.x);
    const int h = static_cast<int>(blockIdx.y);
    const int r = static_cast<int>(blockIdx.z);
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int dk = l.head_dim_k, dv = l.head_dim_v;
    const int g = h / (l.n_head / l.n_head_kv);
    const int slot = slots[r];
    const int pos = positions[r];
    const int first = window > 0 && pos + 1 > window ? pos + 1 - window : 0;
    const int begin = max(chunk * kChunk, first);
    const int end = min((chunk + 1) * kChunk, pos + 1); // exclusive
    float* out = partials + ((static_cast<int64_t>(r) * l.n_head + h) * gridDim.x + chunk) *
                                partial_floats(dv);
    const bool valid = slot >= 0 && slot < l.n_slots && pos >= 0 && pos < l.n_ctx;
    if (!valid || begin >= end) {
        for (int i = static_cast<int>(threadIdx.x); i < partial_floats(dv); i += kThreads) {
            out[i] = i == 0 ? -INFINITY : 0.0f;
        }
        return;
    }

    float qv[kMaxPerLane];
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int d = lane + 32 * j;
        qv[j] = d < dk
                    ? fp16_bits_to_fp32(fp32_to_fp16_bits(q[r * q_stride + h * dk + d] * q_scale))
                    : 0.0f;
    }
    const int64_t k_width = static_cast<int64_t>(l.n_head_kv) * dk;
    const int64_t v_width = static_cast<int64_t>(l.n_head_kv) * dv;
    const uint16_t* k_base = k_cache + static_cast<int64_t>(slot) * l.n_ctx * k_width + g * dk;
    const uint16_t* v_base = v_cache + static_cast<int64_t>(slot) * l.n_ctx * v_width + g * dv;

    const float inv_cap = soft_cap != 0.0f ? 1.0f / soft_cap : 0.0f;
    float m = -INFINITY, sum = 0.0f;
    float o[kMaxPerLane];
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        o[j] = 0.0f;
    }
    for (int cell = begin + warp; cell < end; cell += kWarps) {
        const uint16_t* kc = k_base + cell * k_width;
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < dk) {
                dot = fmaf(qv[j], fp16_bits_to_fp32(kc[d]), dot);
            }
        }
        const float raw = warp_sum(dot);
        const float s =
            (soft_cap != 0.0f ? attention_math::soft_cap(raw, soft_cap, inv_cap) : raw) *
            score_scale;
        const float m_new = fmaxf(m, s);
        const float alpha = expf(m - m_new); // 0 for the first cell (m = -inf)
        const float p = expf(s - m_new);
        sum = sum * alpha + p;
        const uint16_t* vc = v_base + cell * v_width;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < dv) {
                o[j] = fmaf(p, fp16_bits_to_fp32(vc[d]), o[j] * alpha);
            }
        }
        m = m_new;
    }

    // Merge the warps: (m, sum, o) of each into shared memory, then thread i owns dimension i.
    __shared__ float s_m[kWarps], s_l[kWarps];
    __shared__ float s_o[kWarps][kAttentionMaxHeadDim];
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = sum;
    }
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int d = lane + 32 * j;
        if (d < dv) {
            s_o[warp][d] = o[j];
        }
    }
    __syncthreads();
    float m_all = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        m_all = fmaxf(m_all, s_m[w]);
    }
    float weight[kWarps];
    float l_all = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        // A warp that saw no cell has m = -inf and weight 0.
        weight[w] = s_m[w] == -INFINITY ? 0.0f : expf(s_m[w] - m_all);
        l_all += s_l[w] * weight[w];
    }
    if (threadIdx.x == 0) {
        out[0] = m_all;
        out[1] = l_all;
    }
    for (int d = static_cast<int>(threadIdx.x); d < dv; d += kThreads) {
        float acc = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            acc += s_o[w][d] * weight[w];
        }
        out[2 + d] = acc;
    }
}

// grid (head, row): merges the chunks.
__global__ void __launch_bounds__(kThreads)
    attention_merge_kernel(const float* __restrict__ partials, int n_split, int n_head, int dv,
                           const float* __restrict__ sinks, float* __restrict__ out,
                           int64_t out_stride) {
    const int h = static_cast<int>(blockIdx.x);
    const int r = static_cast<int>(blockIdx.y);
    const float* p =
        partials + (static_cast<int64_t>(r) * n_head + h) * n_split * partial_floats(dv);
    float m_all = -INFINITY;
    for (int c = 0; c < n_split; ++c) {
        m_all = fmaxf(m_all, p[c * partial_floats(dv)]);
    }
    const bool any_cell = m_all != -INFINITY;
    float l_all = 0.0f;
    if (sinks != nullptr && any_cell) {
        m_all = fmaxf(m_all, sinks[h]);
        l_all = expf(sinks[h] - m_all);
    }
    for (int c = 0; c < n_split; ++c) {
        const float m = p[c * partial_floats(dv)];
        if (m != -INFINITY) {
            l_all += p[c * partial_floats(dv) + 1] * expf(m - m_all);
        }
    }
    // A row whose slot or position is invalid has no cell at all: its output is NaN.
    const float inv = any_cell && l_all > 0.0f ? 1.0f / l_all : __int_as_float(0x7fc00000);
    for (int d = static_cast<int>(threadIdx.x); d < dv; d += kThreads) {
        float acc = 0.0f;
        for (int c = 0; c < n_split; ++c) {
            const float m = p[c * partial_floats(dv)];
            if (m != -INFINITY) {
                acc += p[c * partial_floats(dv) + 2 + d] * expf(m - m_all);
            }
        }
        out[r * out_stride + static_cast<int64_t>(h) * dv + d] = acc * inv;
    }
}

bool valid_layout(const KvLayout& l) {
    return l.n_head > 0 && l.n_head_kv > 0 && l.n_head % l.n_head_kv == 0 && l.head_dim_k > 0 &&
           l.head_dim_v > 0 && l.head_dim_k <= kAttentionMaxHeadDim &&
           l.head_dim_v <= kAttentionMaxHeadDim && l.n_ctx > 0 && l.n_slots > 0;
}

} // namespace

cudaError_t launch_kv_append(const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                             int n_rows, uint16_t* k_cache, uint16_t* v_cache,
                             const KvLayout& layout, const int32_t* slots, const int32_t* positions,
                             cudaStream_t stream) {
    if (!valid_layout(layout) || n_rows < 0 || n_rows > 65535 || k == nullptr || v == nullptr ||
        k_cache == nullptr || v_cache == nullptr || slots == nullptr || positions == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    const int width =
        max(layout.n_head_kv * layout.head_dim_k, layout.n_head_kv * layout.head_dim_v);
    const dim3 grid(static_cast<unsigned>((width + 255) / 256), static_cast<unsigned>(n_rows));
    kv_append_kernel<<<grid, 256, 0, stream>>>(k, k_stride, v, v_stride, k_cache, v_cache, layout,
                                               slots, positions);
    return cudaGetLastError();
}

size_t attention_workspace_floats(const KvLayout& layout, int n_rows) {
    if (!valid_layout(layout) || n_rows <= 0) {
        return 0;
    }
    return static_cast<size_t>(n_rows) * layout.n_head * n_chunks(layout) *
           partial_floats(layout.head_dim_v);
}

cudaError_t launch_attention(const float* q, int64_t q_stride, const uint16_t* k_cache,
                             const uint16_t* v_cache, const KvLayout& layout, const int32_t* slots,
                             const int32_t* positions, int n_rows, int window, float q_scale,
                             float score_scale, float* workspace, float* out, int64_t out_stride,
                             cudaStream_t stream, float soft_cap, const float* sinks) {
    if (!valid_layout(layout) || n_rows < 0 || n_rows > 65535 || window < 0 ||
        !(soft_cap >= 0.0f && soft_cap < INFINITY) || q == nullptr || k_cache == nullptr ||
        v_cache == nullptr || slots == nullptr || positions == nullptr || workspace == nullptr ||
        out == nullptr || layout.n_head > 65535) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    const int n_split = n_chunks(layout);
    attention_split_kernel<<<dim3(static_cast<unsigned>(n_split),
                                  static_cast<unsigned>(layout.n_head),
                                  static_cast<unsigned>(n_rows)),
                             kThreads, 0, stream>>>(q, q_stride, k_cache, v_cache, layout, slots,
                                                    positions, window, q_scale, score_scale,
                                                    soft_cap, workspace);
    if (const cudaError_t status = cudaGetLastError(); status != cudaSuccess) {
        return status;
    }
    attention_merge_kernel<<<dim3(static_cast<unsigned>(layout.n_head),
                                  static_cast<unsigned>(n_rows)),
                             kThreads, 0, stream>>>(workspace, n_split, layout.n_head,
                                                    layout.head_dim_v, sinks, out, out_stride);
    return cudaGetLastError();
}

} // namespace hearth::kernels
