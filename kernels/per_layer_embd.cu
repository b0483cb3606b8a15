// gemma4's per-layer embedding inputs (llama.cpp's project_per_layer_inputs; the CPU's
// Forward::gemma4_per_layer_inputs), the elementwise parts. For token t and layer l:
//   inputs[l][t] = (rmsnorm(per_layer_model_proj · x_t / sqrt(n_embd)) · per_layer_proj_norm
//                   + per_layer_token_embd[token_t][l] · sqrt(n_embd_per_layer)) / sqrt(2)
// The lookup (launch_get_rows), the product (the forward's matrix product), the scale
// (launch_scale) and the norm (launch_rms_norm) are launched by the backend; this file adds
// the two halves and transposes them to layer-major. Each operation is one float rounding, as
// the CPU's loops: x * scale, then (p + s) * input_scale.
// One thread per element, grid-stride; memory-bound.
#include "common.cuh"
#include "per_layer_embd.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
    const int64_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

__global__ void __launch_bounds__(kThreads) scale_kernel(float* x, float scale, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        x[i] = __fmul_rn(x[i], scale);
    }
}

__global__ void __launch_bounds__(kThreads)
    inputs_kernel(const float* __restrict__ projected, const float* __restrict__ selected,
                  float input_scale, int n_tokens, int n_layer, int width,
                  float* __restrict__ inputs) {
    const int64_t row_width = static_cast<int64_t>(n_layer) * width;
    const int64_t n = static_cast<int64_t>(n_tokens) * row_width;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; j < n;
         j += static_cast<int64_t>(gridDim.x) * kThreads) {
        const int64_t t = j / row_width;
        const int64_t l = (j % row_width) / width;
        const int64_t i = j % width;
        inputs[(l * n_tokens + t) * width + i] =
            __fmul_rn(__fadd_rn(projected[j], selected[j]), input_scale);
    }
}

} // namespace

cudaError_t launch_scale(float* x, float scale, int64_t n, cudaStream_t stream) {
    if (n < 0 || x == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    scale_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, scale, n);
    return cudaGetLastError();
}

cudaError_t launch_per_layer_inputs(const float* projected, const float* selected,
                                    float input_scale, int n_tokens, int n_layer, int width,
                                    float* inputs, cudaStream_t stream) {
    if (width <= 0 || n_layer <= 0 || n_tokens < 0 || projected == nullptr || selected == nullptr ||
        inputs == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n_tokens == 0) {
        return cudaSuccess;
    }
    const int64_t n = int64_t(n_tokens) * n_layer * width;
    inputs_kernel<<<blocks_for(n), kThreads, 0, stream>>>(projected, selected, input_scale,
                                                          n_tokens, n_layer, width, inputs);
    return cudaGetLastError();
}

} // namespace hearth::kernels
