// qwen35's gated delta-net on the GPU, as the CPU forward computes it (engine/src/cpu/
// delta_net.cpp; the per-value math shared through cpu/delta_net_math.h). See delta_net.cuh for
// the operations and the state layout. Correctness first:
//   convolution   one thread per channel, the batch's tokens in order (a channel's state is its
//                 thread's alone); the taps summed with FMA from 0 as ggml's ssm_conv, so the
//                 sum is bit-identical to the CPU's; silu differs from the CPU's avx2 level
//                 (ggml's own exp there) by an ulp or so.
//   l2 norm,      one warp per (token, head), the squares summed in float (the CPU sums in
//   gated norm    double): a few ulps of the scale.
//   delta rule    one warp per row j of a value head's state (column j of S), the tokens in
//                 order: a row's update reads only that row, k, q, v and the head's gates, so
//                 the warps never wait for one another. Each lane keeps d_state / 32 values of
//                 the row in registers; the two row dots are warp tree sums (the CPU's are
//                 ggml's 4x8-lane order): relative differences of float32 rounding size, which
//                 the state carries from token to token.
#include "common.cuh"
#include "cpu/delta_net_math.h"
#include "delta_net.cuh"
#include "launch_grid.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRowSlice = kDeltaNetMaxState / 32; // values of a state row per lane

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

__device__ __forceinline__ bool slot_ok(const RecurrentRows& rows, int32_t slot) {
    return slot >= 0 && slot < rows.n_slots;
}

__global__ void __launch_bounds__(kThreads)
    conv_kernel(const float* x, int64_t x_stride, float* y, int64_t y_stride, float* conv_state,
                int64_t slot_stride, const float* __restrict__ taps, int channels, int d_conv,
                RecurrentRows rows) {
    const int c = static_cast<int>(blockIdx.x) * kThreads + static_cast<int>(threadIdx.x);
    if (c >= channels) {
        return;
    }
    const int kept = d_conv - 1;
    const float* tap = taps + static_cast<int64_t>(c) * d_conv;
    for (int t = 0; t < rows.n_tokens; ++t) {
        const int32_t slot = rows.seq_slots[t];
        if (!slot_ok(rows, slot)) {
            continue;
        }
        float* past =
            conv_state + static_cast<int64_t>(slot) * slot_stride + static_cast<int64_t>(c) * kept;
        const bool fresh = rows.positions[t] == 0;
        float window[kDeltaNetMaxConv];
        for (int i = 0; i < kept; ++i) {
            window[i] = fresh ? 0.0f : past[i];
        }
        window[kept] = x[static_cast<int64_t>(t) * x_stride + c];
        float sum = 0.0f;
        for (int i = 0; i < d_conv; ++i) {
            sum = fmaf(window[i], tap[i], sum);
        }
        for (int i = 0; i < kept; ++i) {
            past[i] = window[i + 1];
        }
        y[static_cast<int64_t>(t) * y_stride + c] = delta_net::silu(sum);
    }
}

__global__ void __launch_bounds__(kThreads)
    l2_norm_kernel(float* x, int n_tokens, int n_heads, int head_dim, int64_t stride, float eps) {
    const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    if (item >= static_cast<int64_t>(n_tokens) * n_heads) {
        return; // the whole warp: item is uniform across it
    }
    float* v = x + (item / n_heads) * stride + (item % n_heads) * head_dim;
    float sum = 0.0f;
    for (int i = lane; i < head_dim; i += 32) {
        sum = fmaf(v[i], v[i], sum);
    }
    const float n = static_cast<float>(head_dim);
    const float mean = warp_sum(sum) / n;
    const float scale = 1.0f / sqrtf(mean + eps / n);
    const float post = 1.0f / sqrtf(n);
    for (int i = lane; i < head_dim; i += 32) {
        v[i] = (v[i] * scale) * post;
    }
}

__global__ void __launch_bounds__(kThreads)
    delta_rule_kernel(const float* __restrict__ qkv, int64_t qkv_stride,
                      const float* __restrict__ beta_in, const float* __restrict__ alpha_in,
                      const float* __restrict__ dt_bias, const float* __restrict__ a,
                      float* ssm_state, int64_t slot_stride, float* out, int64_t out_stride,
                      DeltaRuleShape shape, RecurrentRows rows) {
    const int d = shape.d_state;
    const int head = static_cast<int>(blockIdx.x);
    const int j = static_cast<int>(blockIdx.y) * kWarps + static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    if (j >= d) {
        return; // the whole warp
    }
    const int k_head = head % shape.n_k_heads;
    const int64_t key_width = static_cast<int64_t>(shape.n_k_heads) * d;
    const int64_t head_floats = static_cast<int64_t>(d) * d;
    const float scale = 1.0f / sqrtf(static_cast<float>(d));
    for (int t = 0; t < rows.n_tokens; ++t) {
        const int32_t slot = rows.seq_slots[t];
        if (!slot_ok(rows, slot)) {
            continue;
        }
        float* row = ssm_state + static_cast<int64_t>(slot) * slot_stride + head * head_floats +
                     static_cast<int64_t>(j) * d;
        const float* qkv_row = qkv + static_cast<int64_t>(t) * qkv_stride;
        const float* q = qkv_row + static_cast<int64_t>(k_head) * d;
        const float* k = qkv_row + key_width + static_cast<int64_t>(k_head) * d;
        const float* v = qkv_row + 2 * key_width + static_cast<int64_t>(head) * d;
        const int64_t gate_at = static_cast<int64_t>(t) * shape.n_v_heads + head;
        const float beta = delta_net::sigmoid(beta_in[gate_at]);
        const float decay = expf(delta_net::log_decay(alpha_in[gate_at], dt_bias[head], a[head]));
        const bool fresh = rows.positions[t] == 0;

        float s[kRowSlice];
        float sk = 0.0f;
#pragma unroll
        for (int r = 0; r < kRowSlice; ++r) {
            const int i = lane + 32 * r;
            s[r] = 0.0f;
            if (i < d) {
                s[r] = (fresh ? 0.0f : row[i]) * decay;
                sk = fmaf(s[r], k[i], sk);
            }
        }
        const float delta = (v[j] - warp_sum(sk)) * beta;
        float sq = 0.0f;
#pragma unroll
        for (int r = 0; r < kRowSlice; ++r) {
            const int i = lane + 32 * r;
            if (i < d) {
                s[r] = fmaf(k[i], delta, s[r]);
                row[i] = s[r];
                sq = fmaf(s[r], q[i], sq);
            }
        }
        sq = warp_sum(sq);
        if (lane == 0) {
            out[static_cast<int64_t>(t) * out_stride + static_cast<int64_t>(head) * d + j] =
                sq * scale;
        }
    }
}

__global__ void __launch_bounds__(kThreads)
    gated_norm_kernel(float* o, const float* __restrict__ z, const float* __restrict__ norm,
                      int n_tokens, int n_heads, int head_dim, int64_t stride, float eps) {
    const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    if (item >= static_cast<int64_t>(n_tokens) * n_heads) {
        return; // the whole warp
    }
    const int64_t at = (item / n_heads) * stride + (item % n_heads) * head_dim;
    float* v = o + at;
    const float* g = z + at;
    float sum = 0.0f;
    for (int i = lane; i < head_dim; i += 32) {
        sum = fmaf(v[i], v[i], sum);
    }
    const float mean = warp_sum(sum) / static_cast<float>(head_dim);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = lane; i < head_dim; i += 32) {
        v[i] = ((v[i] * scale) * norm[i]) * delta_net::silu(g[i]);
    }
}

__global__ void __launch_bounds__(kThreads)
    split_kernel(const float* __restrict__ projection, float* __restrict__ q,
                 float* __restrict__ gate, int64_t count, int head_dim) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
         i += step) {
        // i = (token · n_heads + head) · head_dim + e; its source row holds 2 · head_dim values
        const int64_t head_row = i / head_dim;
        const int64_t e = i % head_dim;
        q[i] = projection[head_row * 2 * head_dim + e];
        gate[i] = projection[head_row * 2 * head_dim + head_dim + e];
    }
}

__global__ void __launch_bounds__(kThreads)
    sigmoid_gate_kernel(float* x, const float* __restrict__ gate, int64_t n) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) {
        x[i] *= delta_net::sigmoid(gate[i]);
    }
}

// Whether n_tokens rows of n_heads heads of head_dim values, rows `stride` values apart, are a
// shape the per-(token, head) kernels take.
bool heads_ok(int n_tokens, int n_heads, int head_dim, int64_t stride) {
    return n_tokens >= 0 && n_heads > 0 && head_dim > 0 &&
           stride >= static_cast<int64_t>(n_heads) * head_dim;
}

bool rows_ok(const RecurrentRows& rows) {
    return rows.n_tokens >= 0 && rows.n_slots > 0 &&
           (rows.n_tokens == 0 || (rows.positions != nullptr && rows.seq_slots != nullptr));
}

} // namespace

cudaError_t launch_delta_net_conv(const float* x, int64_t x_stride, float* y, int64_t y_stride,
                                  float* conv_state, int64_t slot_stride, const float* taps,
                                  int channels, int d_conv, const RecurrentRows& rows,
                                  cudaStream_t stream) {
    if (channels <= 0 || d_conv < 1 || d_conv > kDeltaNetMaxConv || x_stride < channels ||
        y_stride < channels || slot_stride < static_cast<int64_t>(channels) * (d_conv - 1) ||
        x == nullptr || y == nullptr || conv_state == nullptr || taps == nullptr ||
        !rows_ok(rows)) {
        return cudaErrorInvalidValue;
    }
    if (rows.n_tokens == 0) {
        return cudaSuccess;
    }
    const unsigned blocks = static_cast<unsigned>((channels + kThreads - 1) / kThreads);
    conv_kernel<<<blocks, kThreads, 0, stream>>>(x, x_stride, y, y_stride, conv_state, slot_stride,
                                                 taps, channels, d_conv, rows);
    return cudaGetLastError();
}

cudaError_t launch_l2_norm_heads(float* x, int n_tokens, int n_heads, int head_dim, int64_t stride,
                                 float eps, cudaStream_t stream) {
    if (!heads_ok(n_tokens, n_heads, head_dim, stride) || x == nullptr) {
        return cudaErrorInvalidValue;
    }
    // One warp per (token, head).
    const ItemGrid grid = item_grid(static_cast<int64_t>(n_tokens) * n_heads, kWarps);
    if (grid.blocks == 0) {
        return grid.status;
    }
    l2_norm_kernel<<<grid.blocks, kThreads, 0, stream>>>(x, n_tokens, n_heads, head_dim, stride,
                                                         eps);
    return cudaGetLastError();
}

cudaError_t launch_delta_rule(const float* qkv, int64_t qkv_stride, const float* beta_in,
                              const float* alpha_in, const float* dt_bias, const float* a,
                              float* ssm_state, int64_t slot_stride, float* out, int64_t out_stride,
                              const DeltaRuleShape& shape, const RecurrentRows& rows,
                              cudaStream_t stream) {
    const int64_t d = shape.d_state;
    if (d < 1 || d > kDeltaNetMaxState || shape.n_k_heads <= 0 || shape.n_v_heads <= 0 ||
        shape.n_v_heads % shape.n_k_heads != 0 || shape.n_v_heads > 65535 ||
        qkv_stride < (2 * int64_t{shape.n_k_heads} + shape.n_v_heads) * d ||
        out_stride < int64_t{shape.n_v_heads} * d ||
        slot_stride < int64_t{shape.n_v_heads} * d * d || qkv == nullptr || beta_in == nullptr ||
        alpha_in == nullptr || dt_bias == nullptr || a == nullptr || ssm_state == nullptr ||
        out == nullptr || !rows_ok(rows)) {
        return cudaErrorInvalidValue;
    }
    if (rows.n_tokens == 0) {
        return cudaSuccess;
    }
    const dim3 grid(static_cast<unsigned>(shape.n_v_heads),
                    static_cast<unsigned>((d + kWarps - 1) / kWarps));
    delta_rule_kernel<<<grid, kThreads, 0, stream>>>(qkv, qkv_stride, beta_in, alpha_in, dt_bias, a,
                                                     ssm_state, slot_stride, out, out_stride, shape,
                                                     rows);
    return cudaGetLastError();
}

cudaError_t launch_gated_rms_norm(float* o, const float* z, const float* norm, int n_tokens,
                                  int n_heads, int head_dim, int64_t stride, float eps,
                                  cudaStream_t stream) {
    if (!heads_ok(n_tokens, n_heads, head_dim, stride) || o == nullptr || z == nullptr ||
        norm == nullptr) {
        return cudaErrorInvalidValue;
    }
    // One warp per (token, head).
    const ItemGrid grid = item_grid(static_cast<int64_t>(n_tokens) * n_heads, kWarps);
    if (grid.blocks == 0) {
        return grid.status;
    }
    gated_norm_kernel<<<grid.blocks, kThreads, 0, stream>>>(o, z, norm, n_tokens, n_heads, head_dim,
                                                            stride, eps);
    return cudaGetLastError();
}

cudaError_t launch_split_query_gate(const float* projection, float* q, float* gate, int n_tokens,
                                    int n_heads, int head_dim, cudaStream_t stream) {
    if (n_tokens < 0 || n_heads <= 0 || head_dim <= 0 || projection == nullptr || q == nullptr ||
        gate == nullptr) {
        return cudaErrorInvalidValue;
    }
    const int64_t count = static_cast<int64_t>(n_tokens) * n_heads * head_dim;
    if (count == 0) {
        return cudaSuccess;
    }
    split_kernel<<<stride_blocks(count, kThreads), kThreads, 0, stream>>>(projection, q, gate,
                                                                          count, head_dim);
    return cudaGetLastError();
}

cudaError_t launch_sigmoid_gate(float* x, const float* gate, int64_t n, cudaStream_t stream) {
    if (n < 0 || x == nullptr || gate == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    sigmoid_gate_kernel<<<stride_blocks(n, kThreads), kThreads, 0, stream>>>(x, gate, n);
    return cudaGetLastError();
}

} // namespace hearth::kernels
