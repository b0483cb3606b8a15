// Mixture-of-experts kernels (interface and contracts in moe.cuh): the router's top-k, the
// experts' biased gated activation and the weighted sum of their outputs, each following the
// CPU's routed feed-forward (engine/src/cpu/moe_ffn.cpp) operation for operation.
//
// Kept simple before fast: the router is one thread per token with plain loops (n_expert is at
// most a few hundred, n_used a handful: microseconds); the elementwise kernels are one thread
// per output value, grid-stride. The ranking rule is the CPU's own (model/expert_routing.h),
// so the choice of experts is the CPU's whenever the scores are.
// The GeGLU experts' GELU (gemma4) is the CPU's own too (model/activation_math.h).
#include "common.cuh"
#include "model/activation_math.h"
#include "model/expert_routing.h"
#include "moe.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kRouteThreads = 64;

__device__ __forceinline__ float quiet_nan() {
    return __int_as_float(0x7fc00000);
}

// The CPU's softmax_in_place: max, exp(x - max), a double sum, x *= (float)(1 / sum).
__device__ void softmax_in_place(float* x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; ++i) {
        max = fmaxf(max, x[i]);
    }
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
        x[i] = expf(__fsub_rn(x[i], max));
        sum += static_cast<double>(x[i]);
    }
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (int i = 0; i < n; ++i) {
        x[i] = __fmul_rn(x[i], inv_sum);
    }
}

// One thread per token; see launch_moe_route. The s-th choice is the expert that ranks first
// among those ranking after choice s - 1 (ranks_before is a strict total order).
__global__ void __launch_bounds__(kRouteThreads)
    route_kernel(MoeRouting routing, float* __restrict__ logits, const float* __restrict__ bias,
                 int n_expert, int n_used, int n_tokens, int32_t* __restrict__ selected,
                 float* __restrict__ weights) {
    const int t = static_cast<int>(blockIdx.x) * kRouteThreads + static_cast<int>(threadIdx.x);
    if (t >= n_tokens) {
        return;
    }
    float* l = logits + static_cast<int64_t>(t) * n_expert;
    if (bias != nullptr) {
        for (int e = 0; e < n_expert; ++e) {
            l[e] = __fadd_rn(l[e], bias[e]);
        }
    }
    if (routing == MoeRouting::softmax_top_k) {
        softmax_in_place(l, n_expert);
    }
    int32_t* chosen = selected + static_cast<int64_t>(t) * n_used;
    float* w = weights + static_cast<int64_t>(t) * n_used;
    int previous = -1;
    for (int s = 0; s < n_used; ++s) {
        int best = -1;
        for (int e = 0; e < n_expert; ++e) {
            const bool after_previous =
                previous < 0 || moe::ranks_before(l[previous], previous, l[e], e);
            if (after_previous && (best < 0 || moe::ranks_before(l[e], e, l[best], best))) {
                best = e;
            }
        }
        chosen[s] = best; // n_used <= n_expert: always found
        w[s] = l[best];
        previous = best;
    }
    if (routing == MoeRouting::top_k_softmax) {
        softmax_in_place(w, n_used);
        return;
    }
    double sum = 0.0; // ggml_sum_rows: a double accumulator, rounded to float
    for (int s = 0; s < n_used; ++s) {
        sum += static_cast<double>(w[s]);
    }
    const float divisor = fmaxf(static_cast<float>(sum), moe::kMinWeightSum);
    for (int s = 0; s < n_used; ++s) {
        w[s] = __fdiv_rn(w[s], divisor);
    }
}

// See launch_group_by_expert: thread e counts expert e's slots, thread 0 turns the counts
// into offsets, then thread e lists its slots in order.
__global__ void __launch_bounds__(kThreads)
    group_kernel(const int32_t* __restrict__ ids, int n_slots, int n_expert,
                 int32_t* __restrict__ order, int32_t* __restrict__ offsets) {
    __shared__ int start[kMoeMaxExperts + 1];
    for (int e = static_cast<int>(threadIdx.x); e < n_expert; e += kThreads) {
        int count = 0;
        for (int s = 0; s < n_slots; ++s) {
            count += ids[s] == e ? 1 : 0;
        }
        start[e] = count;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int sum = 0;
        for (int e = 0; e < n_expert; ++e) {
            const int count = start[e];
            start[e] = sum;
            sum += count;
        }
        start[n_expert] = sum;
    }
    __syncthreads();
    for (int e = static_cast<int>(threadIdx.x); e <= n_expert; e += kThreads) {
        offsets[e] = start[e];
    }
    for (int e = static_cast<int>(threadIdx.x); e < n_expert; e += kThreads) {
        int next = start[e];
        for (int s = 0; s < n_slots; ++s) {
            if (ids[s] == e) {
                order[next++] = s;
            }
        }
    }
}

// The CPU's gated_activation (cpu/forward.cpp), one value.
template <MoeGlu kKind>
__device__ __forceinline__ float gated(float g, float u) {
    if constexpr (kKind == MoeGlu::swiglu_oai) {
        constexpr float kAlpha = 1.702f;
        constexpr float kLimit = 7.0f;
        const float x = fminf(g, kLimit);
        const float y = fminf(fmaxf(u, -kLimit), kLimit);
        const float sig = __fadd_rn(1.0f, expf(__fmul_rn(kAlpha, -x)));
        return __fmul_rn(__fdiv_rn(x, sig), __fadd_rn(y, 1.0f));
    } else if constexpr (kKind == MoeGlu::geglu) {
        return __fmul_rn(activation_math::gelu_tanh(g), u);
    } else {
        return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
    }
}

template <MoeGlu kKind>
__global__ void __launch_bounds__(kThreads)
    glu_kernel(float* gate, const float* __restrict__ up, int64_t stride,
               const float* __restrict__ gate_bias, const float* __restrict__ up_bias,
               const int32_t* __restrict__ ids, int n_expert, int n_slots, int64_t width) {
    const int64_t n = static_cast<int64_t>(n_slots) * width;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; j < n;
         j += static_cast<int64_t>(gridDim.x) * kThreads) {
        const int64_t s = j / width, i = j % width;
        const int64_t row = s * stride + i;
        const int32_t e = ids[s];
        if (e < 0 || e >= n_expert) {
            gate[row] = quiet_nan();
            continue;
        }
        float g = gate[row], u = up[row];
        if (gate_bias != nullptr) {
            g = __fadd_rn(g, gate_bias[e * width + i]);
        }
        if (up_bias != nullptr) {
            u = __fadd_rn(u, up_bias[e * width + i]);
        }
        gate[row] = gated<kKind>(g, u);
    }
}

__global__ void __launch_bounds__(kThreads)
    combine_kernel(const float* __restrict__ down, int64_t down_stride,
                   const float* __restrict__ weights, const int32_t* __restrict__ ids, int n_expert,
                   const float* __restrict__ scale, const float* __restrict__ bias, int n_tokens,
                   int n_used, int64_t n_embd, float* __restrict__ out, int64_t out_stride) {
    const int64_t n = static_cast<int64_t>(n_tokens) * n_embd;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; j < n;
         j += static_cast<int64_t>(gridDim.x) * kThreads) {
        const int64_t t = j / n_embd, i = j % n_embd;
        float y = 0.0f;
        for (int k = 0; k < n_used; ++k) {
            const int64_t s = t * n_used + k;
            const int32_t e = ids[s];
            float d = quiet_nan();
            if (e >= 0 && e < n_expert) {
                d = down[s * down_stride + i];
                if (scale != nullptr) {
                    d = __fmul_rn(d, scale[e]);
                }
                if (bias != nullptr) {
                    d = __fadd_rn(d, bias[e * n_embd + i]);
                }
            }
            const float term = __fmul_rn(d, weights[s]);
            y = k == 0 ? term : __fadd_rn(y, term);
        }
        out[t * out_stride + i] = y;
    }
}

unsigned grid_for(int64_t n) {
    const int64_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

} // namespace

cudaError_t launch_moe_route(MoeRouting routing, float* logits, const float* bias, int n_expert,
                             int n_used, int n_tokens, int32_t* selected, float* weights,
                             cudaStream_t stream) {
    if (n_expert < 1 || n_expert > kMoeMaxExperts || n_used < 1 || n_used > n_expert ||
        n_used > kMoeMaxUsed || n_tokens < 0 ||
        (routing != MoeRouting::softmax_top_k && routing != MoeRouting::top_k_softmax)) {
        return cudaErrorInvalidValue;
    }
    if (n_tokens == 0) {
        return cudaSuccess;
    }
    if (logits == nullptr || selected == nullptr || weights == nullptr) {
        return cudaErrorInvalidValue;
    }
    const unsigned grid = static_cast<unsigned>((n_tokens + kRouteThreads - 1) / kRouteThreads);
    route_kernel<<<grid, kRouteThreads, 0, stream>>>(routing, logits, bias, n_expert, n_used,
                                                     n_tokens, selected, weights);
    return cudaGetLastError();
}

cudaError_t launch_group_by_expert(const int32_t* ids, int n_slots, int n_expert, int32_t* order,
                                   int32_t* offsets, cudaStream_t stream) {
    if (n_expert < 1 || n_expert > kMoeMaxExperts || n_slots < 0 || ids == nullptr ||
        order == nullptr || offsets == nullptr) {
        return cudaErrorInvalidValue;
    }
    group_kernel<<<1, kThreads, 0, stream>>>(ids, n_slots, n_expert, order, offsets);
    return cudaGetLastError();
}

cudaError_t launch_moe_glu(MoeGlu kind, float* gate, const float* up, int64_t stride,
                           const float* gate_bias, const float* up_bias, const int32_t* ids,
                           int n_expert, int n_slots, int64_t width, cudaStream_t stream) {
    if (n_slots < 0 || width < 0 || n_expert < 1 || (n_slots > 1 && stride < width)) {
        return cudaErrorInvalidValue;
    }
    if (n_slots == 0 || width == 0) {
        return cudaSuccess;
    }
    if (gate == nullptr || up == nullptr || ids == nullptr) {
        return cudaErrorInvalidValue;
    }
    const unsigned grid = grid_for(int64_t(n_slots) * width);
    switch (kind) {
    case MoeGlu::swiglu:
        glu_kernel<MoeGlu::swiglu><<<grid, kThreads, 0, stream>>>(
            gate, up, stride, gate_bias, up_bias, ids, n_expert, n_slots, width);
        break;
    case MoeGlu::swiglu_oai:
        glu_kernel<MoeGlu::swiglu_oai><<<grid, kThreads, 0, stream>>>(
            gate, up, stride, gate_bias, up_bias, ids, n_expert, n_slots, width);
        break;
    case MoeGlu::geglu:
        glu_kernel<MoeGlu::geglu><<<grid, kThreads, 0, stream>>>(
            gate, up, stride, gate_bias, up_bias, ids, n_expert, n_slots, width);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

cudaError_t launch_moe_combine(const float* down, int64_t down_stride, const float* weights,
                               const int32_t* ids, int n_expert, const float* scale,
                               const float* bias, int n_tokens, int n_used, int64_t n_embd,
                               float* out, int64_t out_stride, cudaStream_t stream) {
    if (n_tokens < 0 || n_used < 1 || n_embd < 0 || n_expert < 1 ||
        (int64_t(n_tokens) * n_used > 1 && down_stride < n_embd) ||
        (n_tokens > 1 && out_stride < n_embd)) {
        return cudaErrorInvalidValue;
    }
    if (n_tokens == 0 || n_embd == 0) {
        return cudaSuccess;
    }
    if (down == nullptr || weights == nullptr || ids == nullptr || out == nullptr) {
        return cudaErrorInvalidValue;
    }
    combine_kernel<<<grid_for(int64_t(n_tokens) * n_embd), kThreads, 0, stream>>>(
        down, down_stride, weights, ids, n_expert, scale, bias, n_tokens, n_used, n_embd, out,
        out_stride);
    return cudaGetLastError();
}

} // namespace hearth::kernels
