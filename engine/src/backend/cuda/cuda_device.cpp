// CUDA backend, host side: device detection and the host-to-host GPU dequantization helper.
// Every CUDA runtime call is checked; a failure becomes a hearth::Error naming the call.
#include "hearth/cuda_device.h"

#include "backend/cuda/cuda_check.h"
#include "common.cuh"
#include "dequantize.cuh"
#include "hearth/quant.h"

#include <cstddef>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <string_view>
#include <utility>

namespace hearth {

// The kernels repeat the engine's type ids (nvcc cannot compile hearth/tensor_type.h, C++23);
// this file sees both, so a divergence fails the build here. (The block layouts need no check:
// both sides compile the one quant/block_layout.h.)
#define HEARTH_SAME_TYPE_ID(kernel_id, Type)                                                       \
    static_assert(kernels::kernel_id == static_cast<int>(TensorType::Type), #Type " id differs")
HEARTH_SAME_TYPE_ID(type_f32, F32);
HEARTH_SAME_TYPE_ID(type_f16, F16);
HEARTH_SAME_TYPE_ID(type_q4_0, Q4_0);
HEARTH_SAME_TYPE_ID(type_q4_1, Q4_1);
HEARTH_SAME_TYPE_ID(type_q5_0, Q5_0);
HEARTH_SAME_TYPE_ID(type_q5_1, Q5_1);
HEARTH_SAME_TYPE_ID(type_q8_0, Q8_0);
HEARTH_SAME_TYPE_ID(type_q2_k, Q2_K);
HEARTH_SAME_TYPE_ID(type_q3_k, Q3_K);
HEARTH_SAME_TYPE_ID(type_q4_k, Q4_K);
HEARTH_SAME_TYPE_ID(type_q5_k, Q5_K);
HEARTH_SAME_TYPE_ID(type_q6_k, Q6_K);
HEARTH_SAME_TYPE_ID(type_iq4_nl, IQ4_NL);
HEARTH_SAME_TYPE_ID(type_iq4_xs, IQ4_XS);
HEARTH_SAME_TYPE_ID(type_iq2_xxs, IQ2_XXS);
HEARTH_SAME_TYPE_ID(type_iq2_xs, IQ2_XS);
HEARTH_SAME_TYPE_ID(type_iq2_s, IQ2_S);
HEARTH_SAME_TYPE_ID(type_iq3_xxs, IQ3_XXS);
HEARTH_SAME_TYPE_ID(type_iq3_s, IQ3_S);
HEARTH_SAME_TYPE_ID(type_iq1_s, IQ1_S);
HEARTH_SAME_TYPE_ID(type_iq1_m, IQ1_M);
HEARTH_SAME_TYPE_ID(type_bf16, BF16);
HEARTH_SAME_TYPE_ID(type_tq1_0, TQ1_0);
HEARTH_SAME_TYPE_ID(type_tq2_0, TQ2_0);
HEARTH_SAME_TYPE_ID(type_mxfp4, MXFP4);
HEARTH_SAME_TYPE_ID(type_nvfp4, NVFP4);
#undef HEARTH_SAME_TYPE_ID

namespace {

using cuda_detail::check;

// Device memory owned by one scope. release() frees with the error checked; the destructor
// frees whatever an early error return left behind (that error is the one reported).
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (ptr_ != nullptr) {
            cudaFree(ptr_);
        }
    }

    Result<void> allocate(size_t bytes) {
        return check(cudaMalloc(&ptr_, bytes), fmt::format("cudaMalloc({} bytes)", bytes));
    }
    Result<void> release() {
        void* ptr = std::exchange(ptr_, nullptr);
        return check(cudaFree(ptr), "cudaFree");
    }
    void* get() const { return ptr_; }

private:
    void* ptr_ = nullptr;
};

// A stream owned by one scope, with the same release / destructor split as DeviceBuffer.
class Stream {
public:
    Stream() = default;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() {
        if (stream_ != nullptr) {
            cudaStreamDestroy(stream_);
        }
    }

    Result<void> create() {
        return check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                     "cudaStreamCreateWithFlags");
    }
    Result<void> release() {
        cudaStream_t stream = std::exchange(stream_, nullptr);
        return check(cudaStreamDestroy(stream), "cudaStreamDestroy");
    }
    cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
};

// Describes device `index`; the caller's current device is left as it was.
Result<CudaDeviceInfo> describe_device(int index) {
    cudaDeviceProp prop{};
    if (auto ok = check(cudaGetDeviceProperties(&prop, index),
                        fmt::format("cudaGetDeviceProperties(device {})", index));
        !ok) {
        return std::unexpected(ok.error());
    }
    CudaDeviceInfo info;
    info.index = index;
    info.name = prop.name;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.sm_count = prop.multiProcessorCount;

    // cudaDeviceProp lost memoryClockRate in CUDA 13; the attribute remains, in kHz. A device
    // that does not report it gets bandwidth 0 rather than an error.
    int memory_clock_khz = 0;
    if (cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, index) !=
        cudaSuccess) {
        cudaGetLastError();
        memory_clock_khz = 0;
    }
    if (memory_clock_khz > 0 && prop.memoryBusWidth > 0) {
        // Double data rate: two transfers of busWidth bits per memory clock.
        info.memory_bandwidth_gbs =
            2.0 * memory_clock_khz * 1e3 * (prop.memoryBusWidth / 8.0) / 1e9;
    }

    // Free memory needs a context on the device: switch to it, then back.
    int previous = 0;
    if (auto ok = check(cudaGetDevice(&previous), "cudaGetDevice"); !ok) {
        return std::unexpected(ok.error());
    }
    if (auto ok = check(cudaSetDevice(index), fmt::format("cudaSetDevice({})", index)); !ok) {
        return std::unexpected(ok.error());
    }
    size_t free_bytes = 0, total_bytes = 0;
    auto mem = check(cudaMemGetInfo(&free_bytes, &total_bytes),
                     fmt::format("cudaMemGetInfo(device {})", index));
    auto restored = check(cudaSetDevice(previous), fmt::format("cudaSetDevice({})", previous));
    if (!mem) {
        return std::unexpected(mem.error());
    }
    if (!restored) {
        return std::unexpected(restored.error());
    }
    info.free_bytes = free_bytes;
    info.total_bytes = total_bytes;
    return info;
}

// Shared by cuda_dequantize (Out = float) and cuda_dequantize_f16 (Out = uint16_t).
template <class Out, class Launcher>
Result<void> dequantize_on_device(TensorType type, const void* host_src, Out* host_dst,
                                  int64_t n_elements, Launcher launcher, std::string_view name) {
    const auto traits = tensor_type_traits(static_cast<uint32_t>(type));
    if (!traits) {
        return fail(ErrorCode::unsupported,
                    fmt::format("cannot dequantize unknown tensor type id {}",
                                static_cast<uint32_t>(type)));
    }
    const int type_id = static_cast<int>(type);
    if (!kernels::can_launch_dequantize(type_id)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("CUDA dequantization of {} is not supported", traits->name));
    }
    if (n_elements < 0 || n_elements % traits->block_size != 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("cannot dequantize {} elements of {}: not a whole number of "
                                "{}-element blocks",
                                n_elements, traits->name, traits->block_size));
    }
    if (n_elements == 0) {
        return {};
    }
    if (host_src == nullptr || host_dst == nullptr) {
        return fail(ErrorCode::invalid_argument, "cuda_dequantize: null source or destination");
    }
    const auto src_bytes = static_cast<size_t>(n_elements / traits->block_size) * traits->type_size;
    const auto dst_bytes = static_cast<size_t>(n_elements) * sizeof(Out);

    // Each step returns on failure; the RAII owners free what was allocated so far.
    // (libstdc++ 12's std::expected has no and_then, hence the plain sequence.)
    Stream stream;
    DeviceBuffer src, dst;
    if (auto ok = stream.create(); !ok) {
        return ok;
    }
    if (auto ok = src.allocate(src_bytes); !ok) {
        return ok;
    }
    if (auto ok = dst.allocate(dst_bytes); !ok) {
        return ok;
    }
    if (auto ok = check(
            cudaMemcpyAsync(src.get(), host_src, src_bytes, cudaMemcpyHostToDevice, stream.get()),
            fmt::format("cudaMemcpyAsync({} bytes to the device)", src_bytes));
        !ok) {
        return ok;
    }
    if (auto ok =
            check(cudaMemsetAsync(dst.get(), 0xff, dst_bytes, stream.get()), "cudaMemsetAsync");
        !ok) {
        return ok;
    }
    if (auto ok = check(
            launcher(type_id, src.get(), static_cast<Out*>(dst.get()), n_elements, stream.get()),
            fmt::format("{}({}, {} elements)", name, traits->name, n_elements));
        !ok) {
        return ok;
    }
    if (auto ok = check(
            cudaMemcpyAsync(host_dst, dst.get(), dst_bytes, cudaMemcpyDeviceToHost, stream.get()),
            fmt::format("cudaMemcpyAsync({} bytes to the host)", dst_bytes));
        !ok) {
        return ok;
    }
    // Faults inside the kernel surface here, after the fact.
    if (auto ok = check(cudaStreamSynchronize(stream.get()),
                        fmt::format("{}({}): cudaStreamSynchronize", name, traits->name));
        !ok) {
        return ok;
    }
    if (auto ok = dst.release(); !ok) {
        return ok;
    }
    if (auto ok = src.release(); !ok) {
        return ok;
    }
    return stream.release();
}

} // namespace

bool cuda_backend_available() {
    return true; // this file is the CUDA backend's; hearth_cuda_stub answers false
}

Result<std::vector<CudaDeviceInfo>> list_cuda_devices() {
    // With the static runtime, a machine without the NVIDIA driver still links and starts;
    // the runtime reports driver version 0 there.
    int driver_version = 0;
    if (cudaDriverGetVersion(&driver_version) != cudaSuccess || driver_version == 0) {
        cudaGetLastError();
        return fail(ErrorCode::device, "CUDA driver not found");
    }
    int count = 0;
    if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
        cudaGetLastError();
        if (status == cudaErrorInsufficientDriver) {
            int runtime_version = 0;
            cudaRuntimeGetVersion(&runtime_version);
            return fail(ErrorCode::device,
                        fmt::format("no CUDA device: the NVIDIA driver supports CUDA {}.{}, Hearth "
                                    "was built with CUDA {}.{}; update the driver",
                                    driver_version / 1000, driver_version % 1000 / 10,
                                    runtime_version / 1000, runtime_version % 1000 / 10));
        }
        return fail(ErrorCode::device,
                    fmt::format("no CUDA device: {}", cudaGetErrorString(status)));
    }
    if (count == 0) {
        return fail(ErrorCode::device, "no CUDA device: the runtime reports 0 devices");
    }

    // A device that cannot be queried (exclusive mode held by another process, fault) is left
    // out; the call fails only when none is usable, with the first device's reason.
    std::vector<CudaDeviceInfo> devices;
    Error first_error;
    for (int i = 0; i < count; ++i) {
        auto info = describe_device(i);
        if (info) {
            devices.push_back(std::move(*info));
        } else if (first_error.message.empty()) {
            first_error = info.error();
        }
    }
    if (devices.empty()) {
        return fail(ErrorCode::device, fmt::format("no CUDA device: {}", first_error.message));
    }
    return devices;
}

Result<void> cuda_dequantize(TensorType type, const void* host_src, float* host_dst,
                             int64_t n_elements) {
    return dequantize_on_device(type, host_src, host_dst, n_elements, kernels::launch_dequantize,
                                "launch_dequantize");
}

Result<void> cuda_dequantize_f16(TensorType type, const void* host_src, uint16_t* host_dst,
                                 int64_t n_elements) {
    return dequantize_on_device(type, host_src, host_dst, n_elements,
                                kernels::launch_dequantize_f16, "launch_dequantize_f16");
}

Result<double> measure_copy_bandwidth_gbs(int device, size_t bytes, int repetitions) {
    if (bytes == 0 || repetitions < 1) {
        return fail(ErrorCode::invalid_argument, "measure_copy_bandwidth_gbs: nothing to copy");
    }
    HEARTH_CUDA_TRY(cudaSetDevice(device), fmt::format("cudaSetDevice({})", device));
    Stream stream;
    DeviceBuffer src, dst;
    if (auto ok = stream.create(); !ok)
        return std::unexpected(ok.error());
    if (auto ok = src.allocate(bytes); !ok)
        return std::unexpected(ok.error());
    if (auto ok = dst.allocate(bytes); !ok)
        return std::unexpected(ok.error());
    HEARTH_CUDA_TRY(cudaMemsetAsync(src.get(), 1, bytes, stream.get()), "cudaMemsetAsync");
    cudaEvent_t start = nullptr, stop = nullptr;
    HEARTH_CUDA_TRY(cudaEventCreate(&start), "cudaEventCreate");
    if (auto ok = check(cudaEventCreate(&stop), "cudaEventCreate"); !ok) {
        cudaEventDestroy(start);
        return std::unexpected(ok.error());
    }
    double best_ms = 0.0;
    Result<void> status;
    for (int rep = -1; rep < repetitions && status; ++rep) { // rep -1: warm-up
        status = check(cudaEventRecord(start, stream.get()), "cudaEventRecord");
        if (status)
            status = check(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice,
                                           stream.get()),
                           "cudaMemcpyAsync(device to device)");
        if (status)
            status = check(cudaEventRecord(stop, stream.get()), "cudaEventRecord");
        if (status)
            status = check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0.0f;
        if (status)
            status = check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        if (status && rep >= 0 && (best_ms == 0.0 || ms < best_ms)) {
            best_ms = ms;
        }
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    if (!status) {
        return std::unexpected(status.error());
    }
    return 2.0 * double(bytes) / (best_ms * 1e-3) / 1e9;
}

} // namespace hearth
