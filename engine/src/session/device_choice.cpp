// Device names and the "auto" choice (see hearth/device_choice.h).
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
        return choose_device_among(request, info, options, std::vector<CudaDeviceInfo>{});
    }
    if (options.kv_type != KvCacheType::f16) { // decided without asking the driver
        return choose_device_among(request, info, options, std::vector<CudaDeviceInfo>{});
    }
    return choose_device_among(request, info, options, list_cuda_devices());
}

DeviceChoice choose_device_among(const DeviceRequest& request, const ModelInfo& info,
                                 const SessionOptions& options,
                                 const Result<std::vector<CudaDeviceInfo>>& devices) {
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
    // A count of layers asks for a split even where the whole model would fit.
    const bool whole = options.gpu_layers < 1 || uint32_t(options.gpu_layers) >= info.n_layer;
    if (whole) {
        for (const CudaDeviceInfo& gpu : *devices) {
            if (plan.total_bytes <= gpu.free_bytes) {
                return {DeviceKind::cuda, gpu.index,
                        fmt::format("CUDA device {} ({}): needs {} of {} free", gpu.index, gpu.name,
                                    format_bytes(double(plan.total_bytes)),
                                    format_bytes(double(gpu.free_bytes)))};
            }
        }
    }
    // Partial offload, unless the whole model was asked for: the first device that takes at
    // least one layer (every layer on the GPU is one the CPU does not compute).
    if (options.gpu_layers != kAllGpuLayers) {
        const auto host = read_host_memory();
        for (const CudaDeviceInfo& gpu : *devices) {
            OffloadOptions offload{.n_ctx = n_ctx,
                                   .n_seq = 1,
                                   .n_batch = options.n_batch,
                                   .gpu_free_bytes = gpu.free_bytes,
                                   .host_available_bytes = host ? host->available_bytes : 0};
            if (options.gpu_layers >= 1) {
                offload.n_gpu_layers = uint32_t(options.gpu_layers);
            }
            const auto split = plan_offload(info, offload);
            if (split && split->n_gpu_layers >= 1) {
                return {DeviceKind::cuda, gpu.index,
                        fmt::format("CUDA device {} ({}): partial offload, {}", gpu.index, gpu.name,
                                    split->summary)};
            }
        }
    }
    const CudaDeviceInfo& first = devices->front();
    return cpu(fmt::format("the model needs {} at a context of {}, GPU {} has {} free{}",
                           format_bytes(double(plan.total_bytes)), n_ctx, first.index,
                           format_bytes(double(first.free_bytes)),
                           options.gpu_layers == kAllGpuLayers
                               ? std::string(" (GPU layers: all, so no partial offload)")
                               : std::string(" and takes not one layer")));
}

Placement place_sessions(const std::shared_ptr<const Model>& model, SessionOptions options,
                         const DeviceRequest& request, size_t n, FallbackPolicy policy) {
    Placement placed{.sessions = fail(ErrorCode::invalid_argument, "no model"),
                     .options = options,
                     .choice = {},
                     .fell_back = false,
                     .cuda_error = {},
                     .note = {}};
    if (!model) {
        return placed;
    }
    placed.choice = choose_device(request, model->info(), options);
    placed.note = placed.choice.reason;
    options.device = placed.choice.kind;
    options.cuda_device = placed.choice.cuda_device;
    placed.sessions = Session::create_group(model, options, n);
    const bool may_retry = policy == FallbackPolicy::always || request.automatic;
    if (!placed.sessions && options.device == DeviceKind::cuda && may_retry) {
        placed.fell_back = true;
        placed.cuda_error = placed.sessions.error().message;
        placed.note = "CPU: CUDA failed: " + placed.cuda_error;
        options.device = DeviceKind::cpu;
        placed.sessions = Session::create_group(model, options, n);
    }
    placed.options = options;
    return placed;
}

} // namespace hearth
