// The fit badge's decision (see the header).
#include "model_fit.h"

#include <algorithm>

namespace {

int rank(hearth::Fit fit) {
    switch (fit) {
    case hearth::Fit::fits:
        return 2;
    case hearth::Fit::tight:
        return 1;
    case hearth::Fit::wont_fit:
        return 0;
    }
    return 0;
}

} // namespace

QList<MemoryDevice> ramOnly(quint64 bytes) {
    return {MemoryDevice{QStringLiteral("RAM"), bytes, false}};
}

FitEstimate chooseDevice(quint64 cpuBytes, quint64 gpuBytes, const QList<MemoryDevice>& devices) {
    FitEstimate best;
    bool chosen = false;
    for (const MemoryDevice& device : devices) {
        const hearth::Fit fit =
            hearth::assess_fit(device.gpu ? gpuBytes : cpuBytes, device.totalBytes);
        const bool better = !chosen || rank(fit) > rank(best.fit) ||
                            (rank(fit) == rank(best.fit) &&
                             ((device.gpu && !best.gpu) ||
                              (device.gpu == best.gpu && device.totalBytes > best.availableBytes)));
        if (better) {
            chosen = true;
            best.fit = fit;
            best.availableBytes = device.totalBytes;
            best.device = device.name;
            best.gpu = device.gpu;
        }
    }
    return best;
}

FitEstimate fitOnThisMachine(const hearth::ModelInfo& info, uint32_t nCtx,
                             const QList<MemoryDevice>& devices) {
    hearth::MemoryPlanOptions options;
    options.n_ctx =
        nCtx ? nCtx : std::min<uint32_t>(info.n_ctx_train ? info.n_ctx_train : 4096, 8192);
    const hearth::MemoryPlan cpu = hearth::plan_memory(info, options);
    options.device = hearth::DeviceKind::cuda;
    const hearth::MemoryPlan gpu = hearth::plan_memory(info, options);
    FitEstimate estimate = chooseDevice(cpu.total_bytes, gpu.total_bytes, devices);
    estimate.plan = estimate.gpu ? gpu : cpu;
    return estimate;
}

FitEstimate roughFit(qint64 fileSize, const QList<MemoryDevice>& devices) {
    // Weights plus a tenth for a modest KV cache and scratch; on a GPU also the runtime's
    // own memory, as plan_memory counts it.
    const quint64 cpu = static_cast<quint64>(std::max<qint64>(fileSize, 0)) * 11 / 10;
    hearth::MemoryPlanOptions options;
    options.device = hearth::DeviceKind::cuda;
    const quint64 runtime = hearth::plan_memory(hearth::ModelInfo{}, options).overhead_bytes;
    FitEstimate estimate = chooseDevice(cpu, cpu + runtime, devices);
    estimate.plan.weights_bytes = static_cast<quint64>(std::max<qint64>(fileSize, 0));
    estimate.plan.total_bytes = estimate.gpu ? cpu + runtime : cpu;
    return estimate;
}
