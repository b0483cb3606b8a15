// CUDA devices as the engine sees them, and GPU dequantization for tests and tools.
// This header names no CUDA type and is the same in every build: hearth_engine links either
// the CUDA backend (hearth_cuda, engine/src/backend/cuda/cuda_device.cpp) or, in a build
// without CUDA, hearth_cuda_stub, whose functions fail with "built without CUDA". Callers need
// no #if; what depends on the build asks cuda_backend_available().
#pragma once

#include "hearth/error.h"
#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hearth {

struct CudaDeviceInfo {
    int index = 0;    // CUDA runtime ordinal, as cudaSetDevice takes it
    std::string name; // "NVIDIA H100 80GB HBM3"
    int cc_major = 0; // compute capability, e.g. 9.0 for Hopper
    int cc_minor = 0;
    uint64_t total_bytes = 0; // device memory, from cudaMemGetInfo at the time of the call
    uint64_t free_bytes = 0;
    int sm_count = 0; // streaming multiprocessors
    // Theoretical peak: 2 (double data rate) x memory clock x bus width; 0 when the device
    // does not report its memory clock. The measured copy bandwidth is lower (~90%).
    double memory_bandwidth_gbs = 0.0;
};

// True when this build has the CUDA backend (the machine may still have no driver or device:
// list_cuda_devices says). Thread-safe.
bool cuda_backend_available();

// The CUDA devices this process can use, in runtime order. Never aborts: without a driver,
// without a device, or when the runtime fails, returns an ErrorCode::device error whose
// message says why ("CUDA driver not found", "no CUDA device: <runtime's reason>").
// Creates a CUDA context on each device (to read free memory). Thread-safe.
Result<std::vector<CudaDeviceInfo>> list_cuda_devices();

// Dequantizes `n_elements` values of `type` from host memory into host memory on the calling
// thread's current CUDA device: allocates device buffers, copies in, launches, copies back,
// frees. Synchronous; bit-exact with hearth::dequantize. The device output is filled with
// 0xFF bytes (NaN) before the launch, so that a value the kernel fails to write shows.
// Fails with `unsupported` / `invalid_argument` as hearth::dequantize does, `out_of_memory`
// when a device allocation fails and `device` for any other CUDA error. Thread-safe.
Result<void> cuda_dequantize(TensorType type, const void* host_src, float* host_dst,
                             int64_t n_elements);

// As cuda_dequantize, writing IEEE binary16 bits: fp32_to_fp16 of hearth::dequantize's values.
Result<void> cuda_dequantize_f16(TensorType type, const void* host_src, uint16_t* host_dst,
                                 int64_t n_elements);

// Device-to-device cudaMemcpy bandwidth of GPU `device` in GB/s (10^9 bytes/s), counting
// each byte once read and once written (2 x bytes per copy), the figure the decode roofline
// is compared with: the best of `repetitions` timed copies of `bytes` bytes after a warm-up.
// Fails with `out_of_memory` when the two buffers do not fit, `device` for other CUDA errors.
Result<double> measure_copy_bandwidth_gbs(int device, size_t bytes = size_t{1} << 30,
                                          int repetitions = 10);

} // namespace hearth
