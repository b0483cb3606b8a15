// The engine's thread: an EngineWorker lives on its own QThread and hosts the Model and the
// chat's Scheduler (one slot). The GUI thread talks to it only by queued calls (see
// EngineThread) and hears back through signals that carry values. The chat's request runs on
// the scheduler's thread, whose callbacks emit the streamed text (queued to the GUI thread)
// while the worker's thread waits for the end. Streamed text is coalesced: at most one
// tokensArrived per kFlushIntervalMs, plus one at the end, so that the GUI thread gets at
// most one model update per frame however fast the engine decodes.
//
// Cancelling is the one call made from another thread: cancelGeneration() cancels the chat's
// request on its scheduler, and it and cancelLoad() set atomics that the engine's callbacks
// read between tokens and between load steps.
#pragma once

#include "compare/compare_model_pool.h"
#include "compare/compare_types.h"
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/remote/openai_client.h"
#include "hearth/sampling.h"
#include "hearth/scheduler.h"
#include "hearth/server/server.h"
#include "hearth/session.h"
#include "local_server_types.h"
#include "doctor_api.h"
#include "reply_doctor.h"
#include "token_trace.h"

#include <QList>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>
#include <QVariantList>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

struct ModelSummary {
    QString path;
    QString name; // general.name, else the file name
    QString architecture;
    QString quantization; // "Q4_1"
    qint64 fileSize = 0;
    qint64 parameters = 0;
    int contextLength = 0; // the session's
    int trainedContext = 0;
    int threads = 0;
    // The CUDA device the session runs on (its runtime ordinal), or -1 for the CPU.
    int cudaDevice = -1;
    QString device; // "CPU" or the GPU's name with its ordinal: "NVIDIA H100 (CUDA 0)"
    // why this device: "auto" chose it, or the GPU failed and the CPU took over; and a
    // partial offload ("partial offload: 18 of 32 layers on the GPU")
    QString deviceNote;
    bool deviceFellBack = false; // the GPU was asked for (or chosen) but could not take the model
    // Layers on the GPU (0 on the CPU) of the model's layerCount: fewer is a partial offload,
    // whose other layers' KV cache (hostKvBytes) is in RAM.
    int gpuLayers = 0;
    int layerCount = 0;
    qint64 hostKvBytes = 0;
    QString kvType; // the KV cache's: "f16" or "q8_0"
    double loadMs = 0;
    // On the CPU, MemoryPlan at the session's context; on CUDA, the session's device arenas
    // (with a partial offload, those of the GPU's layers).
    qint64 weightsBytes = 0;
    qint64 kvBytes = 0;
    qint64 scratchBytes = 0;
    // A hybrid model's recurrent state (fixed whatever the context; 0 for other models).
    qint64 recurrentBytes = 0;
    qint64 planTotalBytes = 0;
    QString templateName; // what "" resolves to for this model
    QString templateReason;
    // Its template's thinking switch (hearth::ThinkingSwitch::choices), empty without one.
    QStringList thinkingChoices;
    // One more slot (the local server's): its KV cache and recurrent state at the session's
    // context on the session's device (the memory plan on the CPU, the session's arena on a
    // GPU); with a partial offload, slotHostBytes more in RAM for the CPU's layers.
    qint64 slotBytes = 0;
    qint64 slotHostBytes = 0;
    // A remote server's model (issue 20; path "remote:<entry id>"): it runs on the server, and
    // the connection test (hearth::remote::ServerProbe) said what the server is.
    bool remote = false;
    QString endpoint;          // "http://gpu-box:8000/v1"
    QString serverFamily;      // "vLLM", "Hearth", ... (server_family_name)
    QString serverDescription; // "vLLM 0.6.3"
    QStringList serverFacts;   // the probe's lines
    QStringList ignoredKnobs;  // the sampling knobs the server ignores ("top-k", ...)
    bool serverHasCompletions = false;
    qint64 serverModelBytes = 0; // the model's memory on the server, where it says (Ollama)
    qint64 serverGpuBytes = 0;
    // The context window's cost: the KV cache at 2K, 8K, 32K and 128K tokens, as
    // [{tokens, kvBytes, totalBytes, beyondTrained}] (hearth::context_cost).
    QVariantList contextCost;
    // On the CPU, the plan against the process's resident growth over the load
    // (hearth::compare_memory): the measured bytes, the difference, and what explains it.
    qint64 measuredBytes = 0;
    double memoryTruthDifference = 0;
    QString memoryTruth;
};

struct GenerationRequest {
    quint64 id = 0;
    QList<ChatTurn> messages; // the conversation so far, ending with the user's turn
    hearth::SamplingParams sampling;
    int maxTokens = 512;
    QString templateName; // "" = the model's own or the best match
    // The thinking switch's choice (SamplingSettings::thinking): "" leaves the template's
    // default; a choice the template does not offer is left out too.
    QString thinking;
    // Candidates kept per sampling stage for the token inspector; 0: no trace. A few are
    // cheap: the sampler's cost is one partial sort per stage.
    int traceTopN = 8;
    // Speculative decoding (SamplingSettings::speculation): "off", "lookup" or "draft" with
    // the draft model file.
    QString speculation = QStringLiteral("off");
    QString draftModel;
};

struct PromptPreview {
    quint64 id = 0;
    QString text; // the exact prompt, with the generation prompt
    int tokenCount = 0;
    QString templateName; // resolved
    QString templateReason;
    QStringList specialTokens; // special-token strings that occur in text
    QStringList warnings;
    QString error; // set when the template could not be resolved or rendered
};

Q_DECLARE_METATYPE(ModelSummary)
Q_DECLARE_METATYPE(PromptPreview)

class EngineWorker : public QObject {
    Q_OBJECT

public:
    static constexpr int kFlushIntervalMs = 16;

    EngineWorker();
    ~EngineWorker() override;

    // Worker thread (reach them with QMetaObject::invokeMethod, Qt::QueuedConnection).
    // `device`: "auto", "cpu", "gpu" / "cuda" / "cuda:N" (hearth::parse_device). A GPU that
    // cannot take the model leaves it on the CPU, said in ModelSummary::deviceNote.
    // `gpuLayers`: "auto", "all" or a count (hearth::parse_gpu_layers), for a GPU session;
    // a value it refuses is taken as "auto", said in the note. `kvType`: "f16" or "q8_0"
    // (hearth::parse_kv_cache_type), for the chat's session and compare's; a Q8_0 cache runs
    // on the CPU, and a model that cannot take one (head sizes not multiples of 32) gets F16,
    // said in the note.
    void loadModel(const QString& path, int contextLength, int threads,
                   const QString& device = QStringLiteral("auto"),
                   const QString& gpuLayers = QStringLiteral("auto"),
                   const QString& kvType = QStringLiteral("f16"));
    void unloadModel();
    // The pre-flight's memory check before a load, when the user stated a memory budget
    // (settings.memory_budget_bytes): a model that does not fit it at `settings` is not loaded
    // (none is, afterwards, as after a failed load) and loadDiagnosed then loadFailed say why,
    // with the checklist's fixes. False (nothing done) when it fits, or when the file cannot be
    // read: the load then says what is wrong with it (engine_worker_doctor.cpp).
    bool refuseOverBudget(const QString& path, const hearth::PreflightSettings& settings,
                          const QString& catalogJson);
    // Drops any local model and talks to `target` instead (engine_worker_remote.cpp): the
    // connection test, then modelLoaded (remote) or loadFailed with what went wrong. The chat's
    // requests then go to the server's /v1/chat/completions, streamed through the same signals.
    void connectRemote(const RemoteTarget& target);
    // A new key for the remote model in use (the user fixed or rotated it); "" sends none.
    void setRemoteKey(const QString& apiKey);
    void generate(const GenerationRequest& request);
    // `thinking`: as GenerationRequest::thinking, so that the preview is the prompt sent.
    void renderPreview(quint64 id, const QList<ChatTurn>& messages, const QString& templateName,
                       const QString& thinking = QString());
    // Compare mode: each column one request on the scheduler of its model, a slot per column
    // kept between requests (defined in compare/engine_worker_compare.cpp).
    void generateCompare(const CompareRequest& request);
    // The template shoot-out: which of `candidates` renders `probe` (ending with a user turn)
    // exactly as the model's own template does; answered by ownTemplateMatched (a signal).
    void matchOwnTemplate(quint64 id, const QList<ChatTurn>& probe, const QStringList& candidates);
    Q_SIGNAL void ownTemplateMatched(quint64 id, const OwnTemplateMatch& match);
    // Unloads the compare columns' other models that no path in `paths` names.
    void retainCompareModels(const QStringList& paths);
    // The local server (engine_worker_server.cpp). startServer (worker thread): the scheduler
    // gets options.slots slots beside the chat's reserved one (re-created between the chat's
    // requests: this thread runs them) when their memory fits, and the server starts on it;
    // answered by serverStarted or serverFailed. stopServer (any thread; it waits for the
    // server's threads): its requests are cancelled and it stops, said by serverStopped(why)
    // when one ran; leaveServerSlots (worker thread) then gives the chat back its one slot.
    // Unloading or loading a model stops the server first.
    void startServer(quint64 ticket, const LocalServerOptions& options);
    void stopServer(const QString& why);
    void leaveServerSlots();
    LocalServerSnapshot serverSnapshot() const; // any thread
    // The memory the server's slots count as available (tests); 0: the device's free memory.
    void setServerAvailableMemory(quint64 bytes) { m_serverAvailableMemory = bytes; }
    // The options the chat's session was created with (device and GPU layers included).
    const hearth::SessionOptions& sessionOptions() const { return m_sessionOptions; }

    // Any thread.
    void cancelGeneration(quint64 upToId); // stops every request with an id <= upToId
    void cancelLoad();
    void cancelCompare(quint64 upToId); // compare requests have their own ids
    // The RAM compare counts as available before loading another model (tests); 0: the
    // machine's MemAvailable.
    void setCompareAvailableMemory(quint64 bytes) { m_compareAvailableMemory = bytes; }

signals:
    void loadProgress(double fraction);
    void modelLoaded(const ModelSummary& summary);
    void loadFailed(const QString& message);
    // Before loadFailed: the doctor's diagnosis of a load refused (refuseOverBudget).
    void loadDiagnosed(const std::vector<hearth::Diagnosis>& diagnoses);
    void modelUnloaded();
    // New text of request `id`, split into reasoning and answer (hearth::ReasoningSplitter);
    // `generated` tokens so far, `reasoningTokens` of them the reasoning's, `ms` since the
    // request started.
    void tokensArrived(quint64 id, const QString& reasoning, const QString& answer, int generated,
                       int reasoningTokens, double ms);
    // The sampling traces of request `id`'s tokens since the last flush, in order; sent just
    // before the tokensArrived of the same flush.
    void tracesArrived(quint64 id, const QList<TokenTrace>& traces);
    void generationFinished(quint64 id, const GenerationResult& result);
    void generationFailed(quint64 id, const QString& message);
    void previewReady(const PromptPreview& preview);
    // Compare mode: the columns' prompts first, then coalesced text per column, then the end.
    void compareStarted(quint64 id, const QList<ComparePrompt>& prompts);
    // `reasoning` and `text` (the answer) as the column's template splits its reply.
    void compareTokensArrived(quint64 id, int column, const QString& reasoning, const QString& text,
                              int generated, double ms);
    void compareFinished(quint64 id, const QList<GenerationResult>& results,
                         const CompareSummary& summary);
    void compareFailed(quint64 id, const QString& message);
    // The local server listens at `url` ("http://127.0.0.1:8080/v1") with `slotCount` server slots.
    void serverStarted(quint64 ticket, const QString& url, int slotCount);
    void serverFailed(quint64 ticket, const QString& message);
    void serverStopped(const QString& why);

private:
    // A session on `device` ("auto", "cpu", "gpu", "cuda:N"), or on the CPU when the GPU
    // cannot take the model; `note` says which and why.
    struct PlacedSession {
        hearth::Result<hearth::Session> session;
        hearth::SessionOptions options; // as created, device included
        QString deviceName;
        QString note;
        bool fellBack = false;
    };
    static PlacedSession createSession(const std::shared_ptr<const hearth::Model>& model,
                                       hearth::SessionOptions options, const QString& device);
    // When `error` says the model cannot take `options`' KV cache type (Session::create's
    // `unsupported` for a Q8_0 cache), switches `options` to F16 and returns the note that
    // says why; "" (and `options` unchanged) otherwise. The chat's sessions and compare's.
    static QString fallBackToF16Cache(const hearth::Error& error, hearth::SessionOptions& options);
    // The scheduler of one model's compare columns in `host`: kept when it has `columns`
    // slots made as `asked`, else made anew (place_sessions' device fall back, F16 for a model
    // that cannot take the cache asked for).
    static hearth::Result<hearth::Scheduler*>
    columnsScheduler(CompareColumns& host, const std::shared_ptr<const hearth::Model>& model,
                     const hearth::SessionOptions& asked, size_t columns);
    hearth::Result<const hearth::PromptFormat*> format(const QString& templateName);
    // The request's speculation (engine_worker_speculation.cpp): the draft model loaded once
    // per file, with the model's threads.
    hearth::Result<hearth::SpeculationOptions> speculationOptions(const GenerationRequest& request);
    // The special-token strings (the template's own, BOS and EOS) that occur in `text`, for
    // the prompt view and Compare's diff to mark.
    static QStringList specialTokensIn(const hearth::PromptFormat& format, const std::string& text);
    // The Gauge's doctor figures of a loaded model: the context's cost and, on the CPU, the
    // memory truth from the resident sizes before and after the load (engine_worker_doctor.cpp).
    static void addDoctorFigures(ModelSummary& summary, const hearth::ModelInfo& info,
                                 hearth::KvCacheType kvType, uint64_t residentBefore,
                                 uint64_t residentAfterLoad, uint64_t residentAfter);
    // The doctor's diagnoses of the chat's finished reply (engine_worker_doctor.cpp).
    std::vector<hearth::Diagnosis>
    diagnoseReply(const GenerationRequest& request, const hearth::PromptFormat& format,
                  const hearth::GenerationStats& stats, const hearth::TokenStreamMonitor& monitor,
                  const hearth::SamplingParams& sampling, const hearth::FittedPrompt& fitted);
    bool cancelled(quint64 id) const { return id <= m_cancelUpTo.load(std::memory_order_relaxed); }

    // The chat's remote model, when it is one (engine_worker_remote.cpp).
    struct RemoteChat {
        RemoteTarget target;
        hearth::remote::RemoteClient client;
    };
    void generateRemote(const GenerationRequest& request);
    void cancelRemote(quint64 upToId);
    std::optional<RemoteChat> m_remote;
    std::mutex m_remoteMutex; // guards m_remoteRunning and m_compareRemoteRunning
    std::optional<std::pair<quint64, hearth::remote::CancelToken>> m_remoteRunning;
    // A Compare column on a remote server (compare/engine_worker_compare_remote.cpp): its
    // request streamed as the column's text; `rawPrompt` non-empty sends it to /v1/completions.
    GenerationResult runRemoteColumn(quint64 id, int column, const CompareColumnRequest& request,
                                     const std::string& rawPrompt);
    std::optional<std::pair<quint64, hearth::remote::CancelToken>> m_compareRemoteRunning;
    std::map<QString, hearth::remote::ServerFamily> m_remoteFamilies; // by URL, probed once

    // The chat's scheduler: one slot (its session placed by createSession), one request at a
    // time. The chat's request runs on its thread; m_chatRunning lets cancelGeneration (any
    // thread) cancel it there.
    static hearth::SchedulerOptions chatSchedulerOptions();
    hearth::Result<void> startChatRequest(quint64 id, hearth::SchedulerRequest request);
    void endChatRequest();
    // Replaces the scheduler, under m_liveMutex, so that serverSnapshot never reads a dead one.
    void setScheduler(std::unique_ptr<hearth::Scheduler> scheduler);
    // The chat's scheduler again with `serverSlots` slots beside its reserved one; on failure
    // back to the chat's one slot, and the error. Under m_serverLifeMutex, no server running.
    hearth::Result<void> resizeScheduler(size_t serverSlots);
    // Why `serverSlots` slots do not fit the memory available, with the arithmetic; "" if they do.
    QString serverMemoryRefusal(size_t serverSlots) const;

    std::shared_ptr<const hearth::Model> m_model;
    std::shared_ptr<const hearth::Model> m_draftModel; // the last draft model, from m_draftPath
    QString m_draftPath;
    std::unique_ptr<hearth::Scheduler> m_scheduler;
    struct ChatRunning {
        quint64 id = 0;
        hearth::RequestId request = 0;
    };
    std::mutex m_chatMutex; // guards m_chatRunning
    std::optional<ChatRunning> m_chatRunning;
    // How the chat's slot was created (device included): compare's sessions are made alike.
    hearth::SessionOptions m_sessionOptions;
    std::map<QString, hearth::PromptFormat> m_formats; // resolved templates, by name
    ReplyDoctor m_doctor;                              // the chat's diagnoses
    bool m_firstReply = true; // the next reply is the first since the load (warming up)
    std::atomic<quint64> m_cancelUpTo{0};
    std::atomic<bool> m_cancelLoad{false};
    CompareColumns m_compareColumns; // the compare columns on the chat's model
    std::atomic<quint64> m_compareCancelUpTo{0};
    // Columns on other models than the chat's (compare/compare_model_pool.h); made on first use.
    std::shared_ptr<CompareModelPool> m_compareModels;
    std::atomic<quint64> m_compareAvailableMemory{0};

    QString m_modelPath;
    qint64 m_slotBytes = 0; // ModelSummary::slotBytes of the loaded model
    qint64 m_slotHostBytes = 0;
    // Held while the server starts or stops and while the scheduler is replaced, so that a
    // stop on another thread has ended before the scheduler it serves goes.
    std::mutex m_serverLifeMutex;
    std::unique_ptr<hearth::server::OpenAiServer> m_server; // under both mutexes to change
    mutable std::mutex m_liveMutex; // m_server and m_liveScheduler, for serverSnapshot
    hearth::Scheduler* m_liveScheduler = nullptr;
    std::atomic<quint64> m_serverAvailableMemory{0};
};

// Owns the worker's QThread. Destruction is the shutdown: cancel, quit(), wait().
class EngineThread {
public:
    EngineThread();
    ~EngineThread();
    EngineThread(const EngineThread&) = delete;
    EngineThread& operator=(const EngineThread&) = delete;

    EngineWorker* worker() const { return m_worker; }

    // Queues `call` to run on the worker thread.
    template <class F>
    void post(F&& call) {
        QMetaObject::invokeMethod(m_worker, std::forward<F>(call), Qt::QueuedConnection);
    }

private:
    QThread m_thread;
    EngineWorker* m_worker;
};
