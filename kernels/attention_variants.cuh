// Launch interface of the per-value operations of issue 17's dense architectures
// (kernels/attention_variants.cu): gemma2's final logit soft-capping and mistral3's attention
// temperature. The attention logit soft cap and gpt-oss's sinks are options of the attention
// kernels themselves (attention.cuh, prompt_attention.cuh).
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// x[i] = cap · tanh(x[i] / cap) for i < n (attention_math::soft_cap, as the CPU forward's
// output head). Float32 device memory. cudaErrorInvalidValue for n < 0, a cap that is not
// finite and above 0, or a null pointer.
cudaError_t launch_soft_cap(float* x, int64_t n, float cap, cudaStream_t stream);

// Multiplies the first `width` floats of each of n_rows rows (row r at x + r * stride) by
// attention_math::attention_temperature(positions[r], floor_scale, scale), the CPU forward's
// factor for the query at that position. positions: device memory (a captured graph reads each
// replay's). cudaErrorInvalidValue for n_rows < 0, width <= 0, stride < width, a floor_scale
// that is not finite and above 0, a non-finite scale or null pointers.
cudaError_t launch_attention_temperature(float* x, int n_rows, int width, int64_t stride,
                                         const int32_t* positions, float floor_scale, double scale,
                                         cudaStream_t stream);

} // namespace hearth::kernels
