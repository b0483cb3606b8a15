// The per-value operations of issue 17's dense architectures: the final logit soft cap
// (gemma2) and the attention temperature (mistral3), one thread per value, the formulas from
// model/attention_math.h that the CPU forward uses too.
#include "attention_variants.cuh"
#include "common.cuh"
#include "launch_grid.cuh"
#include "model/attention_math.h"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void soft_cap_kernel(float* __restrict__ x, int64_t n, float cap, float inv_cap) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    if (i < n) {
        x[i] = attention_math::soft_cap(x[i], cap, inv_cap);
    }
}

// grid (ceil(width / kThreads), n_rows)
__global__ void attention_temperature_kernel(float* __restrict__ x, int width, int64_t stride,
                                             const int32_t* __restrict__ positions,
                                             float floor_scale, double scale) {
    const int r = static_cast<int>(blockIdx.y);
    const int i = static_cast<int>(blockIdx.x) * kThreads + static_cast<int>(threadIdx.x);
    if (i >= width) {
        return;
    }
    const int32_t pos = positions[r];
    const float factor = attention_math::attention_temperature(
        static_cast<uint32_t>(pos < 0 ? 0 : pos), floor_scale, scale);
    x[r * stride + i] *= factor;
}

} // namespace

cudaError_t launch_soft_cap(float* x, int64_t n, float cap, cudaStream_t stream) {
    if (x == nullptr || n < 0 || !(cap > 0.0f && cap < INFINITY)) {
        return cudaErrorInvalidValue;
    }
    const ItemGrid grid = item_grid(n, kThreads);
    if (grid.blocks == 0) {
        return grid.status;
    }
    soft_cap_kernel<<<grid.blocks, kThreads, 0, stream>>>(x, n, cap, 1.0f / cap);
    return cudaGetLastError();
}

cudaError_t launch_attention_temperature(float* x, int n_rows, int width, int64_t stride,
                                         const int32_t* positions, float floor_scale, double scale,
                                         cudaStream_t stream) {
    if (x == nullptr || positions == nullptr || n_rows < 0 || n_rows > 65535 || width <= 0 ||
        stride < width || !(floor_scale > 0.0f && floor_scale < INFINITY) ||
        !(scale > -INFINITY && scale < INFINITY)) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    const dim3 grid(static_cast<unsigned>((width + kThreads - 1) / kThreads),
                    static_cast<unsigned>(n_rows));
    attention_temperature_kernel<<<grid, kThreads, 0, stream>>>(x, width, stride, positions,
                                                                floor_scale, scale);
    return cudaGetLastError();
}

} // namespace hearth::kernels
