// float32 -> binary16, round to nearest even with NaN payloads kept, by common.cuh's
// fp32_to_fp16_bits (the CPU's hearth::fp32_to_fp16 step for step). One thread per element,
// grid-stride; memory-bound.
#include "common.cuh"
#include "convert.cuh"
#include "launch_grid.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    convert_kernel(const float* __restrict__ src, uint16_t* __restrict__ dst, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * kThreads) {
        dst[i] = fp32_to_fp16_bits(src[i]);
    }
}

} // namespace

cudaError_t launch_convert_f32_to_f16(const float* src, uint16_t* dst, int64_t n,
                                      cudaStream_t stream) {
    if (n < 0 || src == nullptr || dst == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    convert_kernel<<<stride_blocks(n, kThreads), kThreads, 0, stream>>>(src, dst, n);
    return cudaGetLastError();
}

} // namespace hearth::kernels
