// The engine worker: loads the model (on the chosen device, falling back to the CPU),
// renders prompts and generates, on its own thread.
#include "engine_worker.h"

#include "doctor_api.h"
#include "hearth/cuda_device.h"
#include "hearth/device_choice.h"
#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "reply_stream.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <future>
#include <limits>
#include <string>
#include <vector>

namespace {

QString qstr(const std::string& text) {
    return QString::fromStdString(text);
}

std::vector<hearth::ChatMessage> toEngine(const QList<ChatTurn>& turns) {
    std::vector<hearth::ChatMessage> messages;
    messages.reserve(size_t(turns.size()));
    for (const ChatTurn& turn : turns) {
        messages.push_back(
            {turn.role.toStdString(), turn.text.toStdString(), turn.reasoning.toStdString()});
    }
    return messages;
}

// The template variables for the thinking switch's `choice`: none for "" or for a choice the
// template does not offer (a setting kept from another model), so that it is the template's
// default rather than an error.
nlohmann::ordered_json thinkingVariables(const hearth::PromptFormat& format,
                                         const QString& choice) {
    auto variables = format.reasoning.thinking_switch.variables(choice.toStdString());
    return variables ? *variables : nlohmann::ordered_json::object();
}

QString describe(const hearth::Error& error) {
    return qstr(error.message);
}

} // namespace

EngineWorker::EngineWorker() {
    qRegisterMetaType<ModelSummary>();
    qRegisterMetaType<GenerationResult>();
    qRegisterMetaType<PromptPreview>();
    qRegisterMetaType<QList<TokenTrace>>();
}

EngineWorker::~EngineWorker() = default;

void EngineWorker::cancelGeneration(quint64 upToId) {
    quint64 current = m_cancelUpTo.load();
    while (current < upToId && !m_cancelUpTo.compare_exchange_weak(current, upToId)) {
    }
    cancelRemote(upToId); // a remote model's stream is closed at once
    // The running request stops at the scheduler's next step, a prefill's chunk included.
    const std::lock_guard lock(m_chatMutex);
    if (m_chatRunning && m_chatRunning->id <= upToId) {
        (void)m_scheduler->cancel(m_chatRunning->request); // it may have just ended
    }
}

void EngineWorker::cancelLoad() {
    m_cancelLoad = true;
}

void EngineWorker::loadModel(const QString& path, int contextLength, int threads,
                             const QString& device, const QString& gpuLayers,
                             const QString& kvType) {
    m_cancelLoad = false;
    stopServer(QStringLiteral("another model is loading"));
    // Drop the old model first: two models need not fit in memory at once.
    unloadModel();
    QElapsedTimer clock;
    clock.start();
    QElapsedTimer sinceReport;
    sinceReport.start();
    hearth::LoadOptions options;
    options.n_threads = threads;
    options.on_progress = [this, &sinceReport](double fraction) {
        if (sinceReport.elapsed() >= kFlushIntervalMs || fraction >= 1.0) {
            sinceReport.restart();
            emit loadProgress(fraction);
        }
        return !m_cancelLoad.load(std::memory_order_relaxed);
    };
    const uint64_t residentBefore = hearth::read_resident_bytes().value_or(0);
    auto model = hearth::Model::load(path.toStdString(), options);
    if (!model) {
        emit loadFailed(describe(model.error()));
        return;
    }
    const uint64_t residentAfterLoad = hearth::read_resident_bytes().value_or(0);
    hearth::SessionOptions sessionOptions;
    sessionOptions.n_ctx = uint32_t(std::max(contextLength, 0));
    QString gpuLayersNote;
    if (const auto parsed = hearth::parse_gpu_layers(gpuLayers.trimmed().toStdString())) {
        sessionOptions.gpu_layers = *parsed;
    } else { // the default, saying why
        gpuLayersNote = QStringLiteral("%1; auto used").arg(describe(parsed.error()));
    }
    QString kvNote;
    if (const auto parsed = hearth::parse_kv_cache_type(kvType.trimmed().toStdString())) {
        sessionOptions.kv_type = *parsed;
    } else {
        kvNote = QStringLiteral("unknown KV cache type '%1'; F16 used").arg(kvType);
    }
    auto placed = createSession(*model, sessionOptions, device);
    if (!placed.session) {
        if (QString note = fallBackToF16Cache(placed.session.error(), sessionOptions);
            !note.isEmpty()) {
            kvNote = note;
            placed = createSession(*model, sessionOptions, device);
        }
    }
    if (!placed.session) {
        emit loadFailed(describe(placed.session.error()));
        return;
    }
    const uint64_t residentAfterSession = hearth::read_resident_bytes().value_or(0);
    hearth::Session& session = *placed.session;
    m_model = *model;
    m_sessionOptions = placed.options;
    m_doctor.modelLoaded(path.toStdString(), *m_model);
    m_firstReply = true;

    const hearth::ModelInfo& info = m_model->info();
    ModelSummary summary;
    summary.path = path;
    // The file's name: what the user chose and sees in the models folder (general.name is
    // often a training-run label).
    summary.name = QFileInfo(path).completeBaseName();
    summary.architecture = qstr(info.architecture);
    summary.quantization = qstr(info.file_type);
    summary.fileSize = qint64(info.file_size);
    summary.parameters = qint64(info.n_params);
    summary.contextLength = int(session.n_ctx());
    summary.trainedContext = int(info.n_ctx_train);
    summary.threads = m_model->n_threads();
    summary.loadMs = double(clock.nsecsElapsed()) / 1e6;
    summary.cudaDevice = session.cuda_device();
    summary.device = placed.deviceName;
    summary.deviceFellBack = placed.fellBack;
    summary.layerCount = int(info.n_layer);
    summary.kvType = qstr(hearth::kv_cache_type_name(m_sessionOptions.kv_type));
    QStringList notes;
    if (const auto gpu = session.gpu_memory()) {
        summary.weightsBytes = qint64(gpu->weights_bytes);
        summary.kvBytes = qint64(gpu->kv_bytes);
        summary.scratchBytes = qint64(gpu->scratch_bytes);
        summary.planTotalBytes = qint64(gpu->weights_bytes + gpu->kv_bytes + gpu->scratch_bytes);
        summary.gpuLayers = int(gpu->gpu_layers);
        summary.layerCount = int(gpu->n_layers);
        summary.hostKvBytes = qint64(gpu->host_kv_bytes);
        summary.slotBytes = qint64(gpu->kv_bytes);
        summary.slotHostBytes = qint64(gpu->host_kv_bytes);
        if (gpu->gpu_layers < gpu->n_layers) {
            notes << QStringLiteral("partial offload: %1 of %2 layers on the GPU")
                         .arg(gpu->gpu_layers)
                         .arg(gpu->n_layers);
        }
    } else {
        const hearth::MemoryPlan plan =
            hearth::plan_memory(info, {.n_ctx = session.n_ctx(),
                                       .n_seq = 1,
                                       .n_batch = 512,
                                       .kv_type = m_sessionOptions.kv_type,
                                       .device = hearth::DeviceKind::cpu});
        summary.weightsBytes = qint64(plan.weights_bytes);
        summary.kvBytes = qint64(plan.kv_bytes);
        summary.recurrentBytes = qint64(plan.recurrent_bytes);
        summary.scratchBytes = qint64(plan.scratch_bytes);
        summary.planTotalBytes = qint64(plan.total_bytes);
        summary.slotBytes = qint64(plan.kv_bytes + plan.recurrent_bytes);
    }
    addDoctorFigures(summary, info, m_sessionOptions.kv_type,
                     session.gpu_memory() ? 0 : residentBefore, residentAfterLoad,
                     residentAfterSession);
    notes.prepend(placed.note);
    notes << gpuLayersNote << kvNote;
    notes.removeAll(QString());
    summary.deviceNote = notes.join(QStringLiteral(" · "));
    // The chat is one request at a time on the scheduler's one slot, whose cache keeps the
    // conversation's prefix between turns as the session did.
    std::vector<hearth::Session> oneSlot;
    oneSlot.push_back(std::move(session));
    auto scheduler = hearth::Scheduler::create(std::move(oneSlot), chatSchedulerOptions());
    if (!scheduler) {
        m_model.reset();
        emit loadFailed(describe(scheduler.error()));
        return;
    }
    setScheduler(std::move(*scheduler));
    m_modelPath = path;
    m_slotBytes = summary.slotBytes;
    m_slotHostBytes = summary.slotHostBytes;
    if (auto resolved = format(QString()); resolved) {
        summary.templateName = qstr((*resolved)->choice.name);
        summary.templateReason = qstr((*resolved)->choice.reason);
        for (const std::string& choice : (*resolved)->reasoning.thinking_switch.choices()) {
            summary.thinkingChoices << qstr(choice);
        }
    }
    emit modelLoaded(summary);
}

EngineWorker::PlacedSession
EngineWorker::createSession(const std::shared_ptr<const hearth::Model>& model,
                            hearth::SessionOptions options, const QString& device) {
    PlacedSession placed{.session = hearth::fail(hearth::ErrorCode::invalid_argument, ""),
                         .options = options,
                         .deviceName = {},
                         .note = {},
                         .fellBack = false};
    auto request = hearth::parse_device(device.toStdString());
    if (!request) { // an unknown setting: the CPU, saying why
        placed.note = describe(request.error());
        request = hearth::DeviceRequest{};
    }
    hearth::Placement placement = hearth::place_sessions(model, std::move(options), *request, 1,
                                                         hearth::FallbackPolicy::always);
    if (request->automatic) {
        placed.note = QStringLiteral("auto: %1").arg(qstr(placement.choice.reason));
    }
    if (placement.fell_back) {
        // The GPU could not take it (memory, an architecture the CUDA backend lacks, no
        // device): the CPU still can, and a model on the CPU beats no model.
        placed.note = QStringLiteral("The GPU could not run this model (%1); it runs on the CPU.")
                          .arg(qstr(placement.cuda_error));
        placed.fellBack = true;
    }
    if (placement.sessions) {
        placed.session = std::move(placement.sessions->front());
    } else {
        placed.session = std::unexpected(placement.sessions.error());
    }
    placed.options = placement.options;
    const int cudaDevice = placed.options.cuda_device;
    if (placed.session && placed.options.device == hearth::DeviceKind::cuda) {
        placed.deviceName = QStringLiteral("CUDA %1").arg(cudaDevice);
        if (auto devices = hearth::list_cuda_devices(); devices) {
            for (const hearth::CudaDeviceInfo& gpu : *devices) {
                if (gpu.index == cudaDevice) {
                    placed.deviceName =
                        QStringLiteral("%1 (CUDA %2)").arg(qstr(gpu.name)).arg(gpu.index);
                }
            }
        }
    } else {
        placed.deviceName = QStringLiteral("CPU, %1 threads").arg(model->n_threads());
    }
    return placed;
}

QString EngineWorker::fallBackToF16Cache(const hearth::Error& error,
                                         hearth::SessionOptions& options) {
    if (error.code != hearth::ErrorCode::unsupported ||
        options.kv_type == hearth::KvCacheType::f16) {
        return {};
    }
    options.kv_type = hearth::KvCacheType::f16;
    return QStringLiteral("KV cache F16: %1").arg(describe(error));
}

void EngineWorker::unloadModel() {
    const bool had = m_model != nullptr || m_remote.has_value();
    stopServer(QStringLiteral("the model was unloaded"));
    m_remote.reset();
    m_formats.clear();
    m_compareColumns.scheduler.reset();
    setScheduler(nullptr); // joins its thread: nothing runs on the model after this
    m_model.reset();
    if (had) {
        emit modelUnloaded();
    }
}

hearth::Result<const hearth::PromptFormat*> EngineWorker::format(const QString& templateName) {
    if (auto it = m_formats.find(templateName); it != m_formats.end()) {
        return &it->second;
    }
    auto resolved = hearth::resolve_prompt_format(*m_model, templateName.toStdString());
    if (!resolved) {
        return std::unexpected(resolved.error());
    }
    return &m_formats.emplace(templateName, std::move(*resolved)).first->second;
}

void EngineWorker::generate(const GenerationRequest& request) {
    if (m_remote) {
        generateRemote(request);
        return;
    }
    if (!m_scheduler) {
        emit generationFailed(request.id, QStringLiteral("no model is loaded"));
        return;
    }
    if (cancelled(request.id)) {
        GenerationResult result;
        result.stopReason =
            QString::fromUtf8(hearth::stop_reason_name(hearth::StopReason::cancelled));
        emit generationFinished(request.id, result);
        return;
    }
    auto prompt = format(request.templateName);
    if (!prompt) {
        emit generationFailed(request.id, describe(prompt.error()));
        return;
    }
    auto speculation = speculationOptions(request);
    if (!speculation) {
        emit generationFailed(request.id, describe(speculation.error()));
        return;
    }
    const hearth::GenerateOptions options{.max_tokens = request.maxTokens,
                                          .stop_strings = (*prompt)->stop_strings,
                                          .speculation = *speculation};
    hearth::SamplingParams sampling = request.sampling;
    sampling.trace = request.traceTopN > 0;
    sampling.trace_top_n = std::max(request.traceTopN, 1);

    const nlohmann::ordered_json variables = thinkingVariables(**prompt, request.thinking);

    // The conversation as it fits the context, the oldest turns left out (hearth::fit_prompt).
    const std::vector<hearth::ChatMessage> messages = toEngine(request.messages);
    auto fitted = hearth::fit_prompt(**prompt, m_model->tokenizer(), messages, m_scheduler->n_ctx(),
                                     hearth::reply_reserve(request.maxTokens, m_scheduler->n_ctx()),
                                     variables);
    if (!fitted) {
        emit generationFailed(request.id, describe(fitted.error()));
        return;
    }
    // The request's callbacks run on the scheduler's thread: they feed the reply and emit
    // its coalesced pieces there (queued to the GUI thread); this thread waits for the end.
    ReplyStream reply((*prompt)->reasoning, fitted->text);
    hearth::TokenStreamMonitor monitor; // the doctor's entropy and loop watch
    QList<TokenTrace> pendingTraces;
    QElapsedTimer sinceFlush;
    sinceFlush.start();
    auto flush = [&](double ms) {
        if (!pendingTraces.isEmpty()) {
            emit tracesArrived(request.id, pendingTraces);
            pendingTraces.clear();
        }
        if (reply.hasNews()) {
            const hearth::ReasoningDelta delta = reply.take();
            emit tokensArrived(request.id, qstr(delta.reasoning), qstr(delta.answer),
                               reply.generated(), reply.reasoningTokens(), ms);
        }
        sinceFlush.restart();
    };
    std::promise<hearth::Result<hearth::GenerationStats>> done;
    std::future<hearth::Result<hearth::GenerationStats>> finished = done.get_future();
    hearth::SchedulerRequest chat{
        .prompt = std::move(fitted->tokens),
        .sampling = sampling,
        .options = options,
        .reserved = true, // the chat's own slot, whatever the local server's requests take
        .on_token =
            [&](const hearth::TokenEvent& event) {
                if (event.token >= 0 && event.trace) {
                    pendingTraces.append(
                        TokenTrace::fromEngine(event.token, *event.trace, m_model->tokenizer()));
                }
                if (event.token >= 0) {
                    monitor.observe(event.token, event.trace);
                }
                reply.feed(event);
                if (sinceFlush.elapsed() >= kFlushIntervalMs) {
                    flush(event.ms);
                }
                return !cancelled(request.id);
            },
        .on_done =
            [&done](hearth::RequestId, const hearth::Result<hearth::GenerationStats>& stats) {
                done.set_value(stats);
            }};
    if (const hearth::Result<void> started = startChatRequest(request.id, std::move(chat));
        !started) {
        emit generationFailed(request.id, describe(started.error()));
        return;
    }
    const hearth::Result<hearth::GenerationStats> stats = finished.get();
    endChatRequest();
    if (!stats) {
        emit generationFailed(request.id, describe(stats.error()));
        return;
    }
    reply.finish();
    flush(stats->prefill_ms + stats->decode_ms);
    GenerationResult result = reply.result(*stats);
    const hearth::SchedulerMetrics metrics = m_scheduler->metrics();
    // The chat's slot: the first (reserved when the local server has the others).
    result.kvUsed = metrics.kv_cells.empty() ? 0 : int(metrics.kv_cells.front());
    result.droppedTurns = int(fitted->dropped_messages);
    result.draftedTokens = stats->n_drafted;
    result.acceptedDraftTokens = stats->n_draft_accepted;
    result.device = qstr(hearth::device_label(m_scheduler->device(), m_sessionOptions.cuda_device));
    result.diagnoses = diagnoseReply(request, **prompt, *stats, monitor, sampling, *fitted);
    m_firstReply = false;
    emit generationFinished(request.id, result);
}

hearth::SchedulerOptions EngineWorker::chatSchedulerOptions() {
    hearth::SchedulerOptions options;
    options.queue_capacity = 1; // the chat submits one request and waits for it
    return options;
}

hearth::Result<void> EngineWorker::startChatRequest(quint64 id, hearth::SchedulerRequest request) {
    const std::lock_guard lock(m_chatMutex);
    auto submitted = m_scheduler->submit(std::move(request));
    if (!submitted) {
        return std::unexpected(submitted.error());
    }
    m_chatRunning = ChatRunning{.id = id, .request = *submitted};
    return {};
}

void EngineWorker::endChatRequest() {
    const std::lock_guard lock(m_chatMutex);
    m_chatRunning.reset();
}

void EngineWorker::renderPreview(quint64 id, const QList<ChatTurn>& messages,
                                 const QString& templateName, const QString& thinking) {
    PromptPreview preview;
    preview.id = id;
    if (m_remote) {
        preview.error = QStringLiteral("The server applies its own template to the chat.");
        emit previewReady(preview);
        return;
    }
    if (!m_model) {
        preview.error = QStringLiteral("Load a model to see the prompt it will be given.");
        emit previewReady(preview);
        return;
    }
    auto prompt = format(templateName);
    if (!prompt) {
        preview.error = describe(prompt.error());
        emit previewReady(preview);
        return;
    }
    const hearth::PromptFormat& f = **prompt;
    preview.templateName = qstr(f.choice.name);
    preview.templateReason = qstr(f.choice.reason);
    for (const hearth::TemplateWarning& warning : f.warnings) {
        preview.warnings << qstr(warning.message);
    }
    const std::vector<hearth::ChatMessage> engineMessages = toEngine(messages);
    auto text = hearth::render_prompt(f, engineMessages, true, thinkingVariables(f, thinking));
    if (!text) {
        preview.error = describe(text.error());
        emit previewReady(preview);
        return;
    }
    preview.text = qstr(*text);
    if (auto tokens = hearth::tokenize_prompt(m_model->tokenizer(), *text); tokens) {
        preview.tokenCount = int(tokens->size());
    }
    preview.specialTokens = specialTokensIn(f, *text);
    emit previewReady(preview);
}

QStringList EngineWorker::specialTokensIn(const hearth::PromptFormat& format,
                                          const std::string& text) {
    // Those the template writes, and BOS/EOS.
    std::vector<std::string> special = hearth::template_special_tokens(format.choice.source);
    special.push_back(format.bos_token);
    special.push_back(format.eos_token);
    QStringList found;
    for (const std::string& token : special) {
        if (!token.empty() && text.find(token) != std::string::npos &&
            !found.contains(qstr(token))) {
            found << qstr(token);
        }
    }
    return found;
}

EngineThread::EngineThread() : m_worker(new EngineWorker) {
    m_thread.setObjectName(QStringLiteral("hearth-engine"));
    m_worker->moveToThread(&m_thread);
    QObject::connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
}

EngineThread::~EngineThread() {
    m_worker->cancelLoad();
    m_worker->cancelGeneration(std::numeric_limits<quint64>::max());
    m_worker->cancelCompare(std::numeric_limits<quint64>::max());
    // Unloading on the worker's thread frees the model where it was made.
    post([worker = m_worker] { worker->unloadModel(); });
    m_thread.quit();
    m_thread.wait();
}
