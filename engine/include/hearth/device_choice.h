// Which device a session runs on, by the name a user types ("cpu", "cuda", "cuda:1",
// "auto"), and what "auto" picks: the first CUDA device whose free memory holds the model at
// the session's context (the MemoryPlan arithmetic), else the first that holds some of its
// layers (a partial offload), else the CPU. hearth-cli's --device and
// the desktop app's device setting both go through here, so that they agree, and both create
// their sessions with place_sessions(), which falls back to the CPU when CUDA fails.
//
// Thread-safe. choose_device() creates a CUDA context on each device (to read free memory).
#pragma once

#include "hearth/cuda_device.h"
#include "hearth/error.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "hearth/session.h"

#include <memory>
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

// What place_sessions does when the CUDA sessions it chose cannot be created.
enum class FallbackPolicy {
    only_when_automatic, // "auto" retries on the CPU; an explicit cuda[:N] fails (hearth-cli)
    always,              // any CUDA failure retries on the CPU: a model on the CPU beats none
};

struct Placement {
    // `n` sessions on one device, or why they could not be made: the CUDA error where there
    // was no retry, else the CPU's (as Session::create_group fails).
    Result<std::vector<Session>> sessions;
    SessionOptions options; // as the sessions were (last) created, device included
    DeviceChoice choice;    // what choose_device() picked, before any fall back
    bool fell_back = false; // CUDA failed and the CPU was tried
    std::string cuda_error; // when fell_back: why CUDA failed (create_group's message)
    // A line for the user: the choice's reason, or after a fall back "CPU: CUDA failed: <why>".
    std::string note;
};

// `n` sessions (Session::create_group) on the device choose_device() picks for `request`,
// retried on the CPU per `policy` when that is CUDA and creation fails. The choice and the
// fall back are reported whether or not the sessions were made, so that a caller can say
// what was tried. Thread-safe as choose_device() and create_group() are.
Placement place_sessions(const std::shared_ptr<const Model>& model, SessionOptions options,
                         const DeviceRequest& request, size_t n, FallbackPolicy policy);

} // namespace hearth
