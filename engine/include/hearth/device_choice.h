// Which device a session runs on, by the name a user types ("cpu", "cuda", "cuda:1",
// "auto"), and what "auto" picks: the first CUDA device whose free memory holds the model at
// the session's context (the MemoryPlan arithmetic), else the CPU. hearth-cli's --device and
// the desktop app's device setting both go through here, so that they agree.
//
// Thread-safe. choose_device() creates a CUDA context on each device (to read free memory).
#pragma once

#include "hearth/cuda_device.h"
#include "hearth/error.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "hearth/session.h"

#include <string>
#include <string_view>
#include <vector>

namespace hearth {

struct DeviceRequest {
    bool automatic = false; // "auto": choose_device() decides
    DeviceKind kind = DeviceKind::cpu;
    int cuda_device = 0;
};

// "cpu", "cuda" (device 0), "cuda:N", "gpu" (as "cuda") or "auto". Fails with
// `invalid_argument` naming the accepted forms.
Result<DeviceRequest> parse_device(std::string_view name);

struct DeviceChoice {
    DeviceKind kind = DeviceKind::cpu;
    int cuda_device = 0;
    // A line for the user: "CUDA device 0 (NVIDIA H100 80GB HBM3): needs 120.0 MiB of 79.1 GiB
    // free" or "CPU: no CUDA device: ..." / "CPU: the model needs 20.3 GiB, GPU 0 has 7.9 GiB
    // free".
    std::string reason;
};

// Resolves `request` for `info` at `options`' context (0: the session's default) and KV type.
// An explicit request comes back as it is (its reason says so); "auto" picks CUDA only when a
// device exists, the build has CUDA and the cache is F16: the first device whose free memory
// holds the whole model (MemoryPlan), else, unless options.gpu_layers is all, the first that
// takes at least one layer of a partial offload (plan_offload; its summary in the reason).
// options.gpu_layers as a count below the model's layers asks for that split directly.
DeviceChoice choose_device(const DeviceRequest& request, const ModelInfo& info,
                           const SessionOptions& options);

// The same choice among `devices` (list_cuda_devices()'s answer), for callers that have listed
// them already and for tests.
DeviceChoice choose_device_among(const DeviceRequest& request, const ModelInfo& info,
                                 const SessionOptions& options,
                                 const Result<std::vector<CudaDeviceInfo>>& devices);

// "CPU" or "CUDA device N".
std::string device_label(DeviceKind kind, int cuda_device);

} // namespace hearth
