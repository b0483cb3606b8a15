// Launch interface of the small elementwise kernels (kernels/elementwise.cu): a bias added to
// every row (qwen2's Q/K/V biases) and a plain residual add.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// x[r * stride + i] += bias[i] for r < n_rows, i < n. Float32 device memory.
// cudaErrorInvalidValue for n <= 0, n_rows < 0, stride < n or null pointers.
cudaError_t launch_add_bias(float* x, const float* bias, int n, int n_rows, int64_t stride,
                            cudaStream_t stream);

// x[i] += r[i] for i < n. Float32 device memory; r must not overlap x unless equal.
// cudaErrorInvalidValue for n < 0 or null pointers.
cudaError_t launch_add(float* x, const float* r, int64_t n, cudaStream_t stream);

} // namespace hearth::kernels
