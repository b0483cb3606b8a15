// Elementwise additions, one thread per element, grid-stride; memory-bound. The sums are single
// float additions, the same as the CPU forward's loops, so the results are bit-identical.
#include "common.cuh"
#include "elementwise.cuh"
#include "launch_grid.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    add_bias_kernel(float* x, const float* bias, int n, int64_t total, int64_t stride) {
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < total;
         e += static_cast<int64_t>(gridDim.x) * kThreads) {
        const int64_t row = e / n;
        const int i = static_cast<int>(e - row * n);
        x[row * stride + i] = __fadd_rn(x[row * stride + i], bias[i]);
    }
}

__global__ void __launch_bounds__(kThreads) add_kernel(float* x, const float* r, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        x[i] = __fadd_rn(x[i], r[i]);
    }
}

} // namespace

cudaError_t launch_add_bias(float* x, const float* bias, int n, int n_rows, int64_t stride,
                            cudaStream_t stream) {
    if (n <= 0 || n_rows < 0 || stride < n || x == nullptr || bias == nullptr) {
        return cudaErrorInvalidValue;
    }
    const int64_t total = int64_t(n) * n_rows;
    if (total == 0) {
        return cudaSuccess;
    }
    add_bias_kernel<<<stride_blocks(total, kThreads), kThreads, 0, stream>>>(x, bias, n, total,
                                                                             stride);
    return cudaGetLastError();
}

cudaError_t launch_add(float* x, const float* r, int64_t n, cudaStream_t stream) {
    if (n < 0 || x == nullptr || r == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    add_kernel<<<stride_blocks(n, kThreads), kThreads, 0, stream>>>(x, r, n);
    return cudaGetLastError();
}

} // namespace hearth::kernels
