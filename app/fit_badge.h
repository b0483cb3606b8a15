// The Models panel's fit badge: whether a model fits this machine at a context on the device
// the next load would use, and a line that explains it. On a GPU that cannot hold the whole
// model, the engine's offload plan says how many layers would (partial offload).
//
// Pure arithmetic over the figures given (no device call): any thread.
#pragma once

#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"

#include <QString>
#include <cstdint>

struct FitTarget {
    uint32_t nCtx = 0; // tokens; the caller resolves "auto"
    // The KV cache's type: Q8_0 holds it in about half the memory of F16.
    hearth::KvCacheType kvType = hearth::KvCacheType::f16;
    // The GPU, when the session would run there.
    bool gpu = false;
    QString gpuName;
    uint64_t gpuFreeBytes = 0;
    // hearth/gpu_layers.h: kAllGpuLayers, kAutoGpuLayers or a count.
    int32_t gpuLayers = hearth::kAutoGpuLayers;
    // RAM available; 0 when unknown.
    uint64_t hostAvailableBytes = 0;
    // hostAvailableBytes is the memory budget the user stated (the pre-flight's), not free RAM.
    bool hostIsBudget = false;
};

struct FitBadge {
    QString fit;    // "fits", "tight", "partial", "will not fit"; "" when unknown
    QString detail; // "needs 120 MiB at 4096 tokens (weights ..., KV cache ... F16) · 12 GiB ..."
};

FitBadge assessFit(const hearth::ModelInfo& info, const FitTarget& target);
