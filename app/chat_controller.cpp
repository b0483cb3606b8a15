// ChatController's wiring: the worker's signals, the panels' objects, the Template panel's
// preview, the properties the window reads, and start(). The verbs live by concern in
// chat_model_loading.cpp, chat_conversations.cpp, chat_persistence.cpp, chat_generation.cpp
// and chat_message_edits.cpp.
#include "chat_controller.h"

#include "model_locator.h"

#include <QFileInfo>
#include <QSettings>

namespace {

// Shown in the Template panel's preview in place of the message not yet written.
const QString kNextMessagePlaceholder = QStringLiteral("(your next message)");

QString compactCount(qint64 n) {
    if (n >= 1'000'000'000) {
        return QStringLiteral("%1B").arg(double(n) / 1e9, 0, 'f', 1);
    }
    if (n >= 1'000'000) {
        return QStringLiteral("%1M").arg(qRound(double(n) / 1e6));
    }
    return QString::number(n);
}

} // namespace

ChatController::ChatController(QObject* parent)
    : QObject(parent), m_engine(std::make_unique<EngineThread>()) {
    m_server = std::make_unique<LocalServer>(*m_engine);
    m_filter.setSourceModel(&m_list);
    m_previewTimer.setSingleShot(true);
    m_previewTimer.setInterval(120);

    EngineWorker* worker = m_engine->worker();
    connect(worker, &EngineWorker::loadProgress, this, [this](double fraction) {
        m_loadProgress = fraction;
        emit loadProgressChanged();
    });
    connect(worker, &EngineWorker::modelLoaded, this, &ChatController::onModelLoaded);
    connect(worker, &EngineWorker::loadFailed, this, &ChatController::onLoadFailed);
    connect(worker, &EngineWorker::loadDiagnosed, this,
            [this](const std::vector<hearth::Diagnosis>& found) { m_loadDiagnoses = found; });
    connect(worker, &EngineWorker::tokensArrived, this, &ChatController::onTokens);
    connect(worker, &EngineWorker::tracesArrived, this,
            [this](quint64 id, const QList<TokenTrace>& traces) {
                if (id == m_activeRequest && m_replyConversationId == m_currentId) {
                    m_messages.appendTokens(m_messages.streamingRow(), traces);
                }
            });
    connect(worker, &EngineWorker::generationFinished, this, &ChatController::onFinished);
    connect(worker, &EngineWorker::generationFailed, this, &ChatController::onFailed);
    connect(worker, &EngineWorker::previewReady, this, [this](const PromptPreview& preview) {
        if (preview.id == m_previewRequest) {
            m_preview.setPreview(preview);
        }
    });

    // A downloaded model joins the Models panel's list. The recommended one, asked for from
    // the empty state, is loaded too, unless the user has loaded another model meanwhile.
    connect(&m_downloads, &DownloadController::modelDownloaded, &m_library, &ModelLibrary::rescan);
    connect(&m_recommended, &RecommendedModel::downloaded, this, [this](const QString& path) {
        if (m_modelState != ModelState::Ready && m_modelState != ModelState::Loading) {
            loadModel(path);
        }
    });
    // The model's name as the list has it ("llama3.2:3b" for an Ollama blob), once scanned.
    connect(&m_library, &ModelLibrary::countChanged, this, [this] {
        const QString listed = m_library.nameOf(m_modelPath);
        if (!listed.isEmpty() && listed != m_model.name) {
            m_model.name = listed;
            emit modelChanged();
        }
    });

    // A key fixed in the Models panel applies to the remote model in use at once (Regenerate
    // then retries with it).
    connect(&m_remoteServers, &RemoteServers::keyChanged, this,
            [this](const QString& path, const QString& apiKey) {
                if (path == m_modelPath) {
                    m_engine->post(
                        [worker = m_engine->worker(), apiKey] { worker->setRemoteKey(apiKey); });
                }
            });

    // Settings edited in the panels belong to the conversation on screen.
    connect(&m_sampling, &SamplingSettings::changed, this, &ChatController::storeSettingsInCurrent);
    // The thinking switch changes the prompt.
    connect(&m_sampling, &SamplingSettings::changed, this, &ChatController::schedulePreview);
    connect(&m_preview, &TemplatePreview::templateNameChanged, this, [this] {
        storeSettingsInCurrent();
        schedulePreview();
    });
    connect(&m_preview, &TemplatePreview::activeChanged, this, &ChatController::schedulePreview);
    // The pre-flight card reads the settings the next load would use and applies its fixes
    // to them; a change of them computes it again.
    m_preflight.setSettingsSource([this] { return preflightSettings(); });
    m_preflight.setSettingsApplier(
        [this](const hearth::SettingsChange& change) { return applySettingsChange(change); });
    connect(&m_library, &ModelLibrary::settingsChanged, &m_preflight, &PreflightCard::refresh);
    connect(&m_sampling, &SamplingSettings::changed, &m_preflight, &PreflightCard::refresh);
    connect(&m_preview, &TemplatePreview::templateNameChanged, &m_preflight,
            &PreflightCard::refresh);
    connect(this, &ChatController::systemPromptChanged, &m_preflight, &PreflightCard::refresh);
    // The fit badges fit in the card's memory budget too: one verdict.
    m_library.setMemoryBudget(m_preflight.memoryBudget());
    connect(&m_preflight, &PreflightCard::changed, this,
            [this] { m_library.setMemoryBudget(m_preflight.memoryBudget()); });
    // The doctor's notices belong to the reply on screen.
    // (currentConversationChanged also says the title changed: only another conversation clears.)
    connect(this, &ChatController::currentConversationChanged, this, [this] {
        if (m_currentId != m_diagnosesFor) {
            clearDiagnoses();
        }
    });
    connect(&m_messages, &MessageListModel::countChanged, this, &ChatController::schedulePreview);
    connect(&m_previewTimer, &QTimer::timeout, this, [this] {
        if (m_modelState != ModelState::Ready || !m_preview.active()) {
            return;
        }
        QList<ChatTurn> turns;
        if (!m_systemPrompt.isEmpty()) {
            turns.push_back({QStringLiteral("system"), m_systemPrompt});
        }
        for (const Message& message : m_messages.messages()) {
            turns.push_back({message.role, message.text, message.reasoning});
        }
        if (turns.isEmpty() || turns.last().role != QLatin1String("user")) {
            turns.push_back({QStringLiteral("user"), kNextMessagePlaceholder});
        }
        const quint64 id = ++m_previewRequest;
        m_engine->post([worker = m_engine->worker(), id, turns, name = m_preview.templateName(),
                        thinking = m_sampling.thinking()] {
            worker->renderPreview(id, turns, name, thinking);
        });
    });
}

ChatController::~ChatController() {
    // The EngineThread's destructor cancels, quits and waits: nothing here blocks on a
    // generation in progress for longer than one token; the server's stop, if one is under
    // way, ends first (unloading stops a running server).
    m_server->shutdown();
    m_engine.reset();
}

QObject* ChatController::engineWorker() const {
    return m_engine->worker();
}

QString ChatController::currentTitle() const {
    const Conversation* conversation = m_list.find(m_currentId);
    return conversation ? conversation->displayTitle() : QStringLiteral("New chat");
}

QVariantList ChatController::systemPromptPresets() {
    auto preset = [](const QString& name, const QString& text) {
        return QVariantMap{{QStringLiteral("name"), name}, {QStringLiteral("text"), text}};
    };
    return {preset(QStringLiteral("None"), QString()),
            preset(QStringLiteral("Helpful assistant"),
                   QStringLiteral("You are a helpful assistant. Answer clearly and concisely.")),
            preset(QStringLiteral("Concise"),
                   QStringLiteral("Answer in one or two sentences. No preamble.")),
            preset(QStringLiteral("Teacher"),
                   QStringLiteral("You are a patient teacher. Explain step by step, with a short "
                                  "example, and check understanding at the end.")),
            preset(QStringLiteral("Programmer"),
                   QStringLiteral("You are an expert programmer. Answer with working code in "
                                  "Markdown code blocks and a brief explanation."))};
}

void ChatController::setSystemPrompt(const QString& prompt) {
    if (m_systemPrompt == prompt) {
        return;
    }
    m_systemPrompt = prompt;
    emit systemPromptChanged();
    storeSettingsInCurrent();
    schedulePreview();
}

QString ChatController::modelDetails() const {
    if (m_modelState != ModelState::Ready) {
        return {};
    }
    if (m_model.remote) {
        QStringList parts{m_model.serverDescription, m_model.endpoint};
        if (m_model.contextLength > 0) {
            parts << QStringLiteral("context %1").arg(m_model.contextLength);
        }
        return parts.join(QStringLiteral(" · "));
    }
    QStringList parts{m_model.architecture};
    if (!m_model.quantization.isEmpty()) {
        parts << m_model.quantization;
    }
    parts << QStringLiteral("%1 parameters").arg(compactCount(m_model.parameters))
          << QStringLiteral("context %1").arg(m_model.contextLength)
          << (m_model.cudaDevice < 0 ? QStringLiteral("CPU, %1 threads").arg(m_model.threads)
              : m_model.gpuLayers < m_model.layerCount
                  // partial offload: the rest of the layers run on the CPU's threads
                  ? QStringLiteral("%1, %2 of %3 layers (the rest on the CPU)")
                        .arg(m_model.device)
                        .arg(m_model.gpuLayers)
                        .arg(m_model.layerCount)
                  : m_model.device);
    return parts.join(QStringLiteral(" · "));
}

QString ChatController::modelsDirectory() {
    return ModelLocator::modelsDirectory();
}

void ChatController::setStatus(const QString& text) {
    if (m_statusText != text) {
        m_statusText = text;
        emit statusTextChanged();
    }
}

void ChatController::setModelState(ModelState state) {
    m_modelState = state;
    emit modelChanged();
}

void ChatController::schedulePreview() {
    if (m_preview.active()) {
        m_previewTimer.start();
    }
}

void ChatController::start(const QString& modelPath) {
    m_library.rescan();
    m_list.setConversations(m_store.loadAll());
    emit storeWarningsChanged();
    QSettings settings;
    const QString last = settings.value(QLatin1String(kLastConversationKey)).toString();
    if (const Conversation* conversation = m_list.find(last)) {
        showConversation(*conversation);
    } else if (!m_list.conversations().isEmpty()) {
        showConversation(m_list.conversations().first());
    } else {
        newConversation();
    }

    QString path = modelPath;
    if (path.isEmpty()) {
        const QString lastModel = settings.value(QLatin1String(kLastModelKey)).toString();
        // Reopened without the user asking: only a regular file (a FIFO or a device named
        // in a hand-edited settings file would stall the load).
        path = !lastModel.isEmpty() &&
                       (QFileInfo(lastModel).isFile() || RemoteServers::isRemotePath(lastModel))
                   ? lastModel
                   : ModelLocator::defaultModelPath();
    }
    if (RemoteServers::isRemotePath(path) && !m_remoteServers.nameOf(path).isEmpty()) {
        loadModel(path); // a remote server, asked for or used last
    } else if (QFileInfo::exists(path)) {
        loadModel(path);
    } else {
        m_modelPath.clear();
        setModelState(ModelState::NoModel);
        setStatus(QStringLiteral("No model yet"));
    }
}
