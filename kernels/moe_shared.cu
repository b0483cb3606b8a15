// qwen35moe's shared expert joining the routed sum (interface and contract in moe_shared.cuh):
//   out[t][i] += shared[t][i] * sigmoid(gate[t]),  sigmoid(x) = 1 / (1 + exp(-x))
// as the CPU's add_shared_expert (cpu/moe_shared_expert.cpp): the sigmoid in float with expf
// (within 2 ulps of the host's exp), then a rounded product and a rounded sum (no fused
// multiply-add, which the CPU's ggml_mul and ggml_add do not do).
// One thread per output value, grid-stride; memory-bound.
#include "common.cuh"
#include "moe_shared.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    add_gated_shared_kernel(const float* shared, int64_t shared_stride, const float* gate,
                            int64_t total, int64_t n_embd, float* out, int64_t out_stride) {
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < total;
         e += static_cast<int64_t>(gridDim.x) * kThreads) {
        const int64_t t = e / n_embd;
        const int64_t i = e - t * n_embd;
        const float weight = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-gate[t])));
        float& y = out[t * out_stride + i];
        y = __fadd_rn(y, __fmul_rn(shared[t * shared_stride + i], weight));
    }
}

} // namespace

cudaError_t launch_add_gated_shared_expert(const float* shared, int64_t shared_stride,
                                           const float* gate, int n_tokens, int64_t n_embd,
                                           float* out, int64_t out_stride, cudaStream_t stream) {
    if (n_tokens < 0 || n_embd < 1 || shared_stride < n_embd || out_stride < n_embd ||
        shared == nullptr || gate == nullptr || out == nullptr) {
        return cudaErrorInvalidValue;
    }
    const int64_t total = int64_t(n_tokens) * n_embd;
    if (total == 0) {
        return cudaSuccess;
    }
    const int64_t blocks = (total + kThreads - 1) / kThreads;
    const auto grid = static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
    add_gated_shared_kernel<<<grid, kThreads, 0, stream>>>(shared, shared_stride, gate, total,
                                                           n_embd, out, out_stride);
    return cudaGetLastError();
}

} // namespace hearth::kernels
