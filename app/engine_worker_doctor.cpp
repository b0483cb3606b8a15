// EngineWorker and the doctor: the evidence of the chat's finished reply handed to ReplyDoctor.
#include "doctor_api.h"
#include "engine_worker.h"

#include <QVariantMap>

std::vector<hearth::Diagnosis> EngineWorker::diagnoseReply(
    const GenerationRequest& request, const hearth::PromptFormat& format,
    const hearth::GenerationStats& stats, const hearth::TokenStreamMonitor& monitor,
    const hearth::SamplingParams& sampling, const hearth::FittedPrompt& fitted) {
    std::string systemPrompt;
    std::string userMessage;
    for (const ChatTurn& turn : request.messages) {
        if (turn.role == QLatin1String("system")) {
            systemPrompt = turn.text.toStdString();
        } else if (turn.role == QLatin1String("user")) {
            userMessage = turn.text.toStdString();
        }
    }
    const hearth::DeviceKind device = m_scheduler->device();
    return m_doctor.diagnose(
        *m_model, {.format = format,
                   .stats = stats,
                   .monitor = monitor,
                   .sampling = sampling,
                   .renderedPrompt = fitted.text,
                   .systemPrompt = std::move(systemPrompt),
                   .userMessage = std::move(userMessage),
                   .droppedMessages = fitted.dropped_messages,
                   .droppedTurns = fitted.dropped_turns,
                   .nCtx = m_scheduler->n_ctx(),
                   .nThreads = m_model->n_threads(),
                   .firstRun = m_firstReply,
                   .device = device,
                   .gpuLayers = device == hearth::DeviceKind::cuda ? m_model->info().n_layer : 0});
}

void EngineWorker::addDoctorFigures(ModelSummary& summary, const hearth::ModelInfo& info,
                                    hearth::KvCacheType kvType, uint64_t residentBefore,
                                    uint64_t residentAfterLoad, uint64_t residentAfter) {
    for (const hearth::ContextCostPoint& point : hearth::context_cost(info, kvType)) {
        summary.contextCost.append(
            QVariantMap{{QStringLiteral("tokens"), int(point.n_ctx)},
                        {QStringLiteral("kvBytes"), double(point.kv_bytes)},
                        {QStringLiteral("totalBytes"), double(point.total_bytes)},
                        {QStringLiteral("beyondTrained"), point.beyond_trained}});
    }
    // The truth is the CPU's: a GPU session's memory is the device's (residentBefore 0).
    if (residentBefore == 0 || residentAfterLoad == 0 || residentAfter == 0) {
        return;
    }
    hearth::MemoryPlan plan;
    plan.weights_bytes = uint64_t(summary.weightsBytes);
    plan.kv_bytes = uint64_t(summary.kvBytes);
    plan.recurrent_bytes = uint64_t(summary.recurrentBytes);
    plan.scratch_bytes = uint64_t(summary.scratchBytes);
    plan.total_bytes = uint64_t(summary.planTotalBytes);
    const hearth::MemoryTruth truth =
        hearth::compare_memory(plan, residentBefore, residentAfterLoad, residentAfter);
    summary.measuredBytes = qint64(truth.measured_bytes());
    summary.memoryTruthDifference = truth.difference();
    summary.memoryTruth = QString::fromStdString(truth.explanation);
}
