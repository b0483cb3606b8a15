// Launch interface of the RMSNorm kernels (kernels/rms_norm.cu), with the residual add fused
// in front so that the residual stream is read once per layer half.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// For each of n_rows rows of n values (row i at x + i * stride, same stride for y):
//   y = x / sqrt(mean(x^2) + eps) * w
// x, w, y: float32 device memory; y may equal x; w null: no weight (gemma4's V norm).
// cudaErrorInvalidValue for n <= 0, n_rows < 0, stride < n, null x or y; else the launch's
// error.
cudaError_t launch_rms_norm(const float* x, const float* w, float* y, int n, int n_rows,
                            int64_t stride, float eps, cudaStream_t stream);

// The residual add and the next norm in one pass: x += r, then y = rms_norm(x) * w.
// `x` (the residual stream) is updated in place; r and y must not overlap x.
cudaError_t launch_add_rms_norm(float* x, const float* r, const float* w, float* y, int n,
                                int n_rows, int64_t stride, float eps, cudaStream_t stream);

} // namespace hearth::kernels
