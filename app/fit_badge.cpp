// The fit badge: the engine's MemoryPlan for the whole model, its offload plan for a split.
#include "fit_badge.h"

#include "hearth/memory_plan.h"
#include "hearth/session.h"

#include <optional>

namespace {

QString bytes(double n) {
    return QString::fromStdString(hearth::format_bytes(n));
}

QString fitName(hearth::Fit fit) {
    switch (fit) {
    case hearth::Fit::fits:
        return QStringLiteral("fits");
    case hearth::Fit::tight:
        return QStringLiteral("tight");
    case hearth::Fit::wont_fit:
        break;
    }
    return QStringLiteral("will not fit");
}

} // namespace

FitBadge assessFit(const hearth::ModelInfo& info, const FitTarget& requested) {
    // The CUDA backend does not run hybrid (recurrent-layer) models yet: they load on the CPU.
    FitTarget target = requested;
    if (!info.recurrent_layers.empty()) {
        target.gpu = false;
    }
    const hearth::MemoryPlan plan = hearth::plan_memory(
        info, {.n_ctx = target.nCtx,
               .n_seq = 1,
               .n_batch = 512,
               .kv_type = target.kvType,
               .device = target.gpu ? hearth::DeviceKind::cuda : hearth::DeviceKind::cpu});
    const uint64_t available = target.gpu ? target.gpuFreeBytes : target.hostAvailableBytes;
    const QString where = target.gpu            ? QStringLiteral("free on %1").arg(target.gpuName)
                          : target.hostIsBudget ? QStringLiteral("memory budget")
                                                : QStringLiteral("RAM available");
    if (available == 0) {
        return {
            QString(),
            QStringLiteral("needs %1; free memory unknown").arg(bytes(double(plan.total_bytes)))};
    }
    const hearth::Fit whole = hearth::assess_fit(plan.total_bytes, available);
    // A hybrid model's recurrent state is its own line: fixed, whatever the context.
    const QString recurrent =
        plan.recurrent_bytes > 0
            ? QStringLiteral(", recurrent state %1").arg(bytes(double(plan.recurrent_bytes)))
            : QString();
    FitBadge wholeBadge{
        fitName(whole),
        QStringLiteral("needs %1 at %2 tokens (weights %3, KV cache %4 %5%6) · %7 %8")
            .arg(bytes(double(plan.total_bytes)))
            .arg(target.nCtx)
            .arg(bytes(double(plan.weights_bytes)), bytes(double(plan.kv_bytes)),
                 QString::fromUtf8(hearth::kv_cache_type_name(target.kvType)).toUpper(), recurrent,
                 bytes(double(available)), where)};
    if (!target.gpu) {
        return wholeBadge;
    }

    // A count of at least the model's layers is the whole model, as "all" is.
    const bool allAsked = target.gpuLayers == hearth::kAllGpuLayers ||
                          (target.gpuLayers >= 1 && uint32_t(target.gpuLayers) >= info.n_layer);
    const bool splitAsked = target.gpuLayers >= 1 && !allAsked;
    const bool wholeFits = whole != hearth::Fit::wont_fit;
    if (allAsked || (wholeFits && !splitAsked)) {
        return wholeBadge;
    }

    // A split, as the device choice makes it on "gpu" and "auto" alike (choose_device): the
    // user's layer count, or the most layers that fit.
    const auto offload = hearth::plan_offload(
        info, {.n_ctx = target.nCtx,
               .n_seq = 1,
               .n_batch = 512,
               .gpu_free_bytes = target.gpuFreeBytes,
               .host_available_bytes = target.hostAvailableBytes,
               .n_gpu_layers = splitAsked ? std::optional<uint32_t>(uint32_t(target.gpuLayers))
                                          : std::nullopt});
    const bool someLayersFit = offload && offload->n_gpu_layers > 0;
    if (!offload) {
        return {fitName(hearth::Fit::wont_fit), QString::fromStdString(offload.error().message)};
    }
    if (!someLayersFit) {
        wholeBadge.detail += QStringLiteral(" · not one layer fits the GPU");
        return wholeBadge;
    }
    return {QStringLiteral("partial"), QStringLiteral("partial: %1 at %2 tokens · %3 %4")
                                           .arg(QString::fromStdString(offload->summary))
                                           .arg(target.nCtx)
                                           .arg(bytes(double(available)), where)};
}
