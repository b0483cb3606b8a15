// RMSNorm, optionally fused with the residual add before it.
//
// Math, per row of n values:  x' = x + r (fused variant only; x' written back)
//   s = 1 / sqrt(sum(x'^2) / n + eps);   y = (x' * s) * w   (w null: y = x' * s)
// as the CPU forward (engine/src/cpu/forward.cpp) computes it, except that the sum of squares
// is a float32 tree sum rather than a double-precision sequential one: a relative difference
// of a few float32 ulps in s, far below the weights' quantization error.
//
// One CTA of 256 threads per row: each thread squares and sums a strided slice, the CTA adds
// the 256 partial sums (warp shuffles, then one warp over the 8 warp sums), then each thread
// scales its slice. A row is read twice (sum, then scale) and hits L1/L2 the second time.
#include "common.cuh"
#include "rms_norm.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

// Sum of `value` over the CTA, returned to every thread.
__device__ float block_sum(float value) {
    __shared__ float warp_sums[kThreads / 32];
    __shared__ float total;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    if (lane == 0) {
        warp_sums[warp] = value;
    }
    __syncthreads();
    if (warp == 0) {
        float s = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) {
            s += __shfl_xor_sync(0xffffffffu, s, offset);
        }
        if (lane == 0) {
            total = s;
        }
    }
    __syncthreads();
    return total;
}

template <bool kAdd>
__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(float* x, const float* __restrict__ r, const float* __restrict__ w, float* y,
                    int n, int64_t stride, float eps) {
    float* xr = x + static_cast<int64_t>(blockIdx.x) * stride;
    float* yr = y + static_cast<int64_t>(blockIdx.x) * stride;
    float sum = 0.0f;
    for (int i = static_cast<int>(threadIdx.x); i < n; i += kThreads) {
        float v = xr[i];
        if constexpr (kAdd) {
            v += r[static_cast<int64_t>(blockIdx.x) * stride + i];
            xr[i] = v;
        }
        sum = fmaf(v, v, sum);
    }
    const float mean = block_sum(sum) / static_cast<float>(n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = static_cast<int>(threadIdx.x); i < n; i += kThreads) {
        yr[i] = w != nullptr ? (xr[i] * scale) * w[i] : xr[i] * scale;
    }
}

} // namespace

cudaError_t launch_rms_norm(const float* x, const float* w, float* y, int n, int n_rows,
                            int64_t stride, float eps, cudaStream_t stream) {
    if (n <= 0 || n_rows < 0 || stride < n || x == nullptr || y == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    // const_cast: the kAdd = false instantiation never writes x.
    rms_norm_kernel<false><<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(
        const_cast<float*>(x), nullptr, w, y, n, stride, eps);
    return cudaGetLastError();
}

cudaError_t launch_add_rms_norm(float* x, const float* r, const float* w, float* y, int n,
                                int n_rows, int64_t stride, float eps, cudaStream_t stream) {
    if (n <= 0 || n_rows < 0 || stride < n || x == nullptr || r == nullptr || w == nullptr ||
        y == nullptr || y == x) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    rms_norm_kernel<true>
        <<<static_cast<unsigned>(n_rows), kThreads, 0, stream>>>(x, r, w, y, n, stride, eps);
    return cudaGetLastError();
}

} // namespace hearth::kernels
