// EngineWorker and the doctor: the evidence of the chat's finished reply handed to ReplyDoctor.
#include "doctor_api.h"
#include "engine_worker.h"

#include <QFileInfo>
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

bool EngineWorker::refuseOverBudget(const QString& path, const hearth::PreflightSettings& settings,
                                    const QString& catalogJson) {
    if (!settings.memory_budget_bytes) {
        return false;
    }
    auto gguf = hearth::GgufFile::open(path.toStdString());
    if (!gguf) {
        return false;
    }
    auto info = hearth::read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        return false;
    }
    std::vector<hearth::QuantSibling> siblings;
    if (!catalogJson.isEmpty()) {
        if (auto found = hearth::catalog_quant_siblings(catalogJson.toStdString(),
                                                        QFileInfo(path).fileName().toStdString())) {
            siblings = std::move(*found);
        }
    }
    // The same check as the Models panel's card: one verdict, and the same fixes.
    const hearth::CheckItem memory =
        hearth::check_memory(*info, settings, hearth::read_machine_facts(), siblings);
    if (memory.status != hearth::CheckStatus::red) {
        return false;
    }
    stopServer(QStringLiteral("another model is loading"));
    unloadModel(); // as after a failed load: none is loaded
    hearth::Diagnosis oom{.kind = hearth::DiagnosisKind::out_of_memory,
                          .severity = hearth::Severity::error,
                          .title = "The model does not fit the memory budget",
                          .explanation =
                              "Loading it would need more memory than the budget set in the Models "
                              "panel leaves it, so it was not loaded. Each fix below is computed: "
                              "applied, the model loads with it.",
                          .evidence = {memory.summary},
                          .fixes = memory.fixes};
    oom.evidence.insert(oom.evidence.end(), memory.evidence.begin(), memory.evidence.end());
    emit loadDiagnosed({oom});
    emit loadFailed(
        QStringLiteral("%1 does not fit the memory budget: %2")
            .arg(QFileInfo(path).completeBaseName(), QString::fromStdString(memory.summary)));
    return true;
}
