// Gated feed-forward activations, elementwise:
//   SwiGLU  out = silu(g) * u,  silu(g) = g / (1 + exp(-g))
//   GeGLU   out = gelu(g) * u,  gelu(g) = 0.5 h (1 + tanh(sqrt(2/pi) h (1 + 0.044715 h^2)))
// GeGLU follows the CPU forward (after ggml's CPU backend): h is g rounded to F16, the result
// rounded to F16 again, identity for g >= 10 and 0 for g <= -10, in the one definition both
// compilers read (model/activation_math.h). expf / tanhf are the accurate (non fast-math)
// versions: within 2 ulps of the host's.
// One thread per element, grid-stride; the kernel is memory-bound (3 floats per element).
#include "common.cuh"
#include "glu.cuh"
#include "launch_grid.cuh"
#include "model/activation_math.h"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

template <GluKind kKind>
__global__ void __launch_bounds__(kThreads)
    glu_kernel(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        const float g = gate[i];
        const float a =
            kKind == GluKind::swiglu ? g / (1.0f + expf(-g)) : activation_math::gelu_tanh(g);
        out[i] = a * up[i];
    }
}

} // namespace

cudaError_t launch_glu(GluKind kind, const float* gate, const float* up, float* out, int64_t n,
                       cudaStream_t stream) {
    if (n < 0 || gate == nullptr || up == nullptr || out == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    const unsigned grid = stride_blocks(n, kThreads);
    switch (kind) {
    case GluKind::swiglu:
        glu_kernel<GluKind::swiglu><<<grid, kThreads, 0, stream>>>(gate, up, out, n);
        break;
    case GluKind::geglu:
        glu_kernel<GluKind::geglu><<<grid, kThreads, 0, stream>>>(gate, up, out, n);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace hearth::kernels
