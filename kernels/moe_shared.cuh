// Launch interface of qwen35moe's shared-expert kernel (kernels/moe_shared.cu): the shared
// expert's output, scaled by the sigmoid of its gate logit, added to the routed experts' sum.
// The shared expert's own products are dense matrix products (launch_matvec, or cuBLAS in
// prefill) and its activation launch_glu; this is the one step that has no other kernel.
//
// Plain C++ declarations, no device code: the engine's CUDA backend (compiled by g++) includes
// it. Launchers refuse what they cannot do and never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// For token t in [0, n_tokens) and i in [0, n_embd), as the CPU's add_shared_expert
// (cpu/moe_shared_expert.cpp):
//   w_t = 1 / (1 + exp(-gate[t]))
//   out[t * out_stride + i] += shared[t * shared_stride + i] * w_t
// the product and the sum each rounded on its own (ggml_mul, then ggml_add). Float32 device
// memory; `out` must not overlap `shared` or `gate`. cudaErrorInvalidValue for n_tokens < 0,
// n_embd < 1, a stride below n_embd or null pointers; else the launch's error.
cudaError_t launch_add_gated_shared_expert(const float* shared, int64_t shared_stride,
                                           const float* gate, int n_tokens, int64_t n_embd,
                                           float* out, int64_t out_stride, cudaStream_t stream);

} // namespace hearth::kernels
