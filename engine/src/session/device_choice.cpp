// Device names and the "auto" choice (see hearth/device_choice.h). Compiled with
// HEARTH_HAVE_CUDA=1 in a build with the CUDA backend, so that list_cuda_devices is the
// real one there (engine/CMakeLists.txt).
#include "hearth/device_choice.h"

#include "hearth/cuda_device.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace hearth {

Result<DeviceRequest> parse_device(std::string_view name) {
    if (name == "auto") {
        return DeviceRequest{.automatic = true, .kind = DeviceKind::cpu, .cuda_device = 0};
    }
    if (name == "cpu") {
        return DeviceRequest{.automatic = false, .kind = DeviceKind::cpu, .cuda_device = 0};
    }
    if (name == "cuda" || name == "gpu") {
        return DeviceRequest{.automatic = false, .kind = DeviceKind::cuda, .cuda_device = 0};
    }
    if (name.starts_with("cuda:")) {
        const std::string_view digits = name.substr(5);
        int ordinal = -1;
        const auto [end, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), ordinal);
        if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
            ordinal >= 0) {
            return DeviceRequest{
                .automatic = false, .kind = DeviceKind::cuda, .cuda_device = ordinal};
        }
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("unknown device '{}': use cpu, cuda, cuda:N (a CUDA device number) "
                            "or auto",
                            name));
}

std::string device_label(DeviceKind kind, int cuda_device) {
    return kind == DeviceKind::cuda ? fmt::format("CUDA device {}", cuda_device) : "CPU";
}

DeviceChoice choose_device(const DeviceRequest& request, const ModelInfo& info,
                           const SessionOptions& options) {
    if (!request.automatic) {
        return {request.kind, request.cuda_device,
                fmt::format("{}: as requested", device_label(request.kind, request.cuda_device))};
    }
    auto cpu = [](std::string why) {
        return DeviceChoice{DeviceKind::cpu, 0, "CPU: " + std::move(why)};
    };
    if (options.kv_type != KvCacheType::f16) {
        return cpu("the CUDA backend keeps an F16 KV cache only");
    }
    auto devices = list_cuda_devices();
    if (!devices) {
        return cpu(devices.error().message);
    }
    if (devices->empty()) {
        return cpu("no CUDA device found");
    }
    uint32_t n_ctx = options.n_ctx;
    if (n_ctx == 0) { // Session::create's default
        n_ctx = std::min<uint32_t>(info.n_ctx_train, 4096);
    }
    const MemoryPlan plan = plan_memory(info, {.n_ctx = n_ctx,
                                               .n_seq = 1,
                                               .n_batch = options.n_batch,
                                               .kv_type = KvCacheType::f16,
                                               .device = DeviceKind::cuda});
    for (const CudaDeviceInfo& gpu : *devices) {
        if (plan.total_bytes <= gpu.free_bytes) {
            return {DeviceKind::cuda, gpu.index,
                    fmt::format("CUDA device {} ({}): needs {} of {} free", gpu.index, gpu.name,
                                format_bytes(double(plan.total_bytes)),
                                format_bytes(double(gpu.free_bytes)))};
        }
    }
    const CudaDeviceInfo& first = devices->front();
    return cpu(fmt::format("the model needs {} at a context of {}, GPU {} has {} free",
                           format_bytes(double(plan.total_bytes)), n_ctx, first.index,
                           format_bytes(double(first.free_bytes))));
}

} // namespace hearth
