// Launch interface of gemma4's per-layer embedding kernels (kernels/per_layer_embd.cu): the
// per-layer inputs assembled from the looked-up rows and the normed projection, and the
// scaling by a constant (the projection's scale, each layer's output scale).
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// x[i] *= scale for i < n. Float32 device memory. cudaErrorInvalidValue for n < 0 or a null x.
cudaError_t launch_scale(float* x, float scale, int64_t n, cudaStream_t stream);

// For token t < n_tokens, layer l < n_layer and i < width, with j = t * n_layer * width +
// l * width + i (token-major rows, as the lookup and the projection write them):
//   inputs[(l * n_tokens + t) * width + i] = (projected[j] + selected[j]) * input_scale
// (layer-major, so that each layer's inputs are one contiguous (n_tokens, width) block).
// Float32 device memory, no overlap. cudaErrorInvalidValue for non-positive width or n_layer,
// n_tokens < 0, null pointers.
cudaError_t launch_per_layer_inputs(const float* projected, const float* selected,
                                    float input_scale, int n_tokens, int n_layer, int width,
                                    float* inputs, cudaStream_t stream);

} // namespace hearth::kernels
