// The chat's verbs and state; the GUI thread's side of the engine worker.
#include "chat_controller.h"

#include "model_locator.h"

#include <QClipboard>
#include <QFileInfo>
#include <QGuiApplication>
#include <QLocale>
#include <QRandomGenerator>
#include <QSettings>
#include <QUrl>

namespace {

const char* kLastModelKey = "model/last";
const char* kLastConversationKey = "conversations/last";

// Shown in the Template panel's preview in place of the message not yet written.
const QString kNextMessagePlaceholder = QStringLiteral("(your next message)");

MessageStats toStats(const GenerationResult& result) {
    return {result.promptTokens,          result.generatedTokens, result.prefillTokensPerSecond,
            result.decodeTokensPerSecond, result.ttftMs,          result.stopReason};
}

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

    // Settings edited in the panels belong to the conversation on screen.
    connect(&m_sampling, &SamplingSettings::changed, this, &ChatController::storeSettingsInCurrent);
    connect(&m_preview, &TemplatePreview::templateNameChanged, this, [this] {
        storeSettingsInCurrent();
        schedulePreview();
    });
    connect(&m_preview, &TemplatePreview::activeChanged, this, &ChatController::schedulePreview);
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
            turns.push_back({message.role, message.text});
        }
        if (turns.isEmpty() || turns.last().role != QLatin1String("user")) {
            turns.push_back({QStringLiteral("user"), kNextMessagePlaceholder});
        }
        const quint64 id = ++m_previewRequest;
        m_engine->post([worker = m_engine->worker(), id, turns, name = m_preview.templateName()] {
            worker->renderPreview(id, turns, name);
        });
    });
}

ChatController::~ChatController() {
    // The EngineThread's destructor cancels, quits and waits: nothing here blocks on a
    // generation in progress for longer than one token.
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
    QStringList parts{m_model.architecture};
    if (!m_model.quantization.isEmpty()) {
        parts << m_model.quantization;
    }
    parts << QStringLiteral("%1 parameters").arg(compactCount(m_model.parameters))
          << QStringLiteral("context %1").arg(m_model.contextLength)
          << QStringLiteral("CPU, %1 threads").arg(m_model.threads);
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

// ---- model ----

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
        path = !lastModel.isEmpty() && QFileInfo::exists(lastModel)
                   ? lastModel
                   : ModelLocator::defaultModelPath();
    }
    if (QFileInfo::exists(path)) {
        loadModel(path);
    } else {
        m_modelPath.clear();
        setModelState(ModelState::NoModel);
        setStatus(QStringLiteral("No model yet"));
    }
}

void ChatController::openModelInNewConversation(const QString& pathOrUrl) {
    stop();
    loadModel(pathOrUrl);
    newConversation();
}

void ChatController::loadModel(const QString& pathOrUrl) {
    // The file dialog gives a file:// URL.
    const QUrl url(pathOrUrl);
    const QString path = url.isLocalFile() ? url.toLocalFile() : pathOrUrl;
    m_modelPath = path;
    m_modelError.clear();
    m_loadProgress = 0;
    m_model = ModelSummary{};
    m_model.name = QFileInfo(path).completeBaseName();
    emit loadProgressChanged();
    setModelState(ModelState::Loading);
    setStatus(QStringLiteral("Loading %1…").arg(m_model.name));
    m_gauge.clearModel();
    m_engine->post([worker = m_engine->worker(), path, context = m_library.contextLength(),
                    threads = m_library.threads()] { worker->loadModel(path, context, threads); });
}

void ChatController::cancelLoad() {
    if (m_modelState == ModelState::Loading) {
        m_engine->worker()->cancelLoad();
    }
}

void ChatController::unloadModel() {
    stop();
    m_engine->post([worker = m_engine->worker()] { worker->unloadModel(); });
    m_model = ModelSummary{};
    m_modelPath.clear();
    m_library.setLoadedPath(QString());
    m_gauge.clearModel();
    setModelState(ModelState::NoModel);
    setStatus(QStringLiteral("No model loaded"));
}

void ChatController::onModelLoaded(const ModelSummary& summary) {
    if (summary.path != m_modelPath) {
        return; // superseded by a later load
    }
    m_model = summary;
    m_loadProgress = 1;
    emit loadProgressChanged();
    QSettings().setValue(QLatin1String(kLastModelKey), summary.path);
    m_gauge.setCudaDevice(summary.cudaDevice);
    m_gauge.setModel(summary);
    m_library.setLoadedPath(summary.path);
    setModelState(ModelState::Ready);
    setStatus(QStringLiteral("Ready · loaded in %1 s").arg(summary.loadMs / 1000.0, 0, 'f', 1));
    schedulePreview();
}

void ChatController::onLoadFailed(const QString& message) {
    // The worker drops the old model before loading a new one: none is loaded now.
    m_library.setLoadedPath(QString());
    m_modelError = message;
    setModelState(ModelState::Failed);
    setStatus(QStringLiteral("The model could not be loaded"));
}

// ---- conversations ----

std::optional<Conversation> ChatController::current() const {
    // A copy: edits go back through commit(), which updates the list model and the file.
    if (const Conversation* conversation = m_list.find(m_currentId)) {
        return *conversation;
    }
    return std::nullopt;
}

void ChatController::commit(Conversation& conversation) {
    conversation.updated = QDateTime::currentDateTimeUtc();
    m_list.upsert(conversation);
    if (!conversation.messages.isEmpty()) {
        const int before = int(m_store.warnings().size());
        m_store.save(conversation);
        if (m_store.warnings().size() != before) {
            emit storeWarningsChanged();
        }
    }
    if (conversation.id == m_currentId) {
        emit currentConversationChanged();
    }
}

void ChatController::showConversation(const Conversation& conversation) {
    m_applyingConversation = true;
    m_currentId = conversation.id;
    m_messages.setMessages(conversation.messages);
    m_systemPrompt = conversation.systemPrompt;
    if (!conversation.sampling.isEmpty()) {
        m_sampling.fromVariantMap(conversation.sampling);
    }
    m_preview.setTemplateName(conversation.templateName);
    m_applyingConversation = false;
    QSettings().setValue(QLatin1String(kLastConversationKey), conversation.id);
    emit systemPromptChanged();
    emit currentConversationChanged();
    schedulePreview();
}

void ChatController::storeSettingsInCurrent() {
    if (m_applyingConversation) {
        return;
    }
    auto conversation = current();
    if (!conversation) {
        return;
    }
    conversation->systemPrompt = m_systemPrompt;
    conversation->sampling = m_sampling.toVariantMap();
    conversation->templateName = m_preview.templateName();
    m_list.upsert(*conversation);
    if (!conversation->messages.isEmpty()) {
        m_store.save(*conversation);
    }
}

void ChatController::newConversation() {
    if (const auto existing = current(); existing && existing->messages.isEmpty()) {
        return; // already on an empty chat
    }
    Conversation conversation = Conversation::create();
    conversation.systemPrompt = m_systemPrompt;
    conversation.sampling = m_sampling.toVariantMap();
    conversation.templateName = m_preview.templateName();
    conversation.modelPath = m_modelPath;
    m_list.upsert(conversation);
    showConversation(conversation);
}

void ChatController::selectConversation(const QString& id) {
    if (id == m_currentId) {
        return;
    }
    const Conversation* conversation = m_list.find(id);
    if (!conversation) {
        return;
    }
    // An empty chat left behind is not worth keeping in the list.
    if (const Conversation* previous = m_list.find(m_currentId);
        previous && previous->messages.isEmpty()) {
        const Conversation next = *conversation;
        m_list.remove(previous->id);
        showConversation(next);
        return;
    }
    showConversation(*conversation);
}

void ChatController::renameConversation(const QString& id, const QString& title) {
    const Conversation* found = m_list.find(id);
    if (!found) {
        return;
    }
    Conversation conversation = *found;
    conversation.title = title.simplified();
    commit(conversation);
}

void ChatController::deleteConversation(const QString& id) {
    const Conversation* found = m_list.find(id);
    if (!found) {
        return;
    }
    if (id == m_replyConversationId) {
        stop();
    }
    m_deleted = *found;
    m_list.remove(id);
    m_store.remove(id);
    emit undoChanged();
    if (id == m_currentId) {
        m_currentId.clear();
        if (!m_list.conversations().isEmpty()) {
            showConversation(m_list.conversations().first());
        } else {
            newConversation();
        }
    }
}

void ChatController::undoDelete() {
    if (!m_deleted) {
        return;
    }
    Conversation conversation = *m_deleted;
    m_deleted.reset();
    m_list.upsert(conversation);
    if (!conversation.messages.isEmpty()) {
        m_store.save(conversation);
    }
    emit undoChanged();
    selectConversation(conversation.id);
}

void ChatController::dismissStoreWarnings() {
    // The warnings stay in the store (files are still skipped); the UI hides them.
    emit storeWarningsChanged();
}

// ---- generation ----

bool ChatController::send(const QString& text) {
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty() || busy() ||
        (m_modelState != ModelState::Ready && m_modelState != ModelState::Loading)) {
        return false;
    }
    if (!current()) {
        newConversation();
    }
    Conversation conversation = *current();
    conversation.messages.push_back({QStringLiteral("user"), trimmed, {}, {}});
    conversation.modelPath = m_modelPath;
    m_messages.append(conversation.messages.last());
    commit(conversation);
    const quint64 seed = m_sampling.randomSeed() ? QRandomGenerator::global()->generate64()
                                                 : quint64(m_sampling.seed());
    startReply(seed);
    return true;
}

void ChatController::startReply(quint64 seed) {
    GenerationRequest request;
    request.id = ++m_nextRequest;
    if (!m_systemPrompt.isEmpty()) {
        request.messages.push_back({QStringLiteral("system"), m_systemPrompt});
    }
    for (const Message& message : m_messages.messages()) {
        request.messages.push_back({message.role, message.text});
    }
    request.sampling = m_sampling.toParams(seed);
    request.maxTokens = m_sampling.maxTokens();
    request.templateName = m_preview.templateName();
    m_lastSeed = seed;
    m_activeRequest = request.id;
    m_replyConversationId = m_currentId;
    m_messages.append({QStringLiteral("assistant"), QString(), {}, {}}, true);
    m_gauge.generationStarted();
    setStatus(QStringLiteral("Generating…"));
    emit busyChanged();
    m_engine->post([worker = m_engine->worker(), request] { worker->generate(request); });
}

void ChatController::stop() {
    if (m_activeRequest != 0) {
        m_engine->worker()->cancelGeneration(m_activeRequest);
        setStatus(QStringLiteral("Stopping…"));
    }
}

bool ChatController::regenerate(bool sameSeed) {
    if (busy() || m_modelState != ModelState::Ready) {
        return false;
    }
    const QList<Message>& messages = m_messages.messages();
    if (messages.isEmpty()) {
        return false;
    }
    int row = int(messages.size()) - 1;
    if (messages.at(row).role == QLatin1String("assistant")) {
        m_messages.removeFrom(row);
    }
    if (m_messages.messages().isEmpty() ||
        m_messages.messages().last().role != QLatin1String("user")) {
        return false;
    }
    const quint64 seed = sameSeed ? m_lastSeed : QRandomGenerator::global()->generate64();
    startReply(seed);
    return true;
}

bool ChatController::editAndRerun(int row, const QString& text) {
    if (busy() || row < 0 || row >= m_messages.messages().size() ||
        m_messages.messages().at(row).role != QLatin1String("user") || text.trimmed().isEmpty()) {
        return false;
    }
    m_messages.removeFrom(row);
    Conversation conversation = *current();
    conversation.messages = m_messages.messages();
    commit(conversation);
    return send(text);
}

bool ChatController::appendExchange(const QString& userText, const QString& replyText) {
    if (busy() || userText.trimmed().isEmpty() || replyText.isEmpty()) {
        return false;
    }
    if (!current()) {
        newConversation();
    }
    Conversation conversation = *current();
    conversation.messages.push_back({QStringLiteral("user"), userText.trimmed(), {}, {}});
    conversation.messages.push_back({QStringLiteral("assistant"), replyText, {}, {}});
    m_messages.setMessages(conversation.messages);
    commit(conversation);
    return true;
}

void ChatController::deleteMessage(int row) {
    if (busy() || row < 0 || row >= m_messages.messages().size()) {
        return;
    }
    QList<Message> messages = m_messages.messages();
    messages.removeAt(row);
    m_messages.setMessages(messages);
    Conversation conversation = *current();
    conversation.messages = messages;
    commit(conversation);
}

void ChatController::copyToClipboard(const QString& text) {
    if (QClipboard* clipboard = QGuiApplication::clipboard()) {
        clipboard->setText(text);
    }
}

void ChatController::onTokens(quint64 id, const QString& text, int generated, double ms) {
    if (id != m_activeRequest) {
        return;
    }
    if (m_replyConversationId == m_currentId) {
        m_messages.appendText(m_messages.streamingRow(), text);
    }
    m_gauge.progress(generated, ms);
    if (m_gauge.decodeTokensPerSecond() > 0) {
        setStatus(
            QStringLiteral("Generating… %1 tok/s").arg(m_gauge.decodeTokensPerSecond(), 0, 'f', 1));
    }
}

void ChatController::endReply(const QString& text, const MessageStats& stats) {
    const QString conversationId = m_replyConversationId;
    m_activeRequest = 0;
    m_replyConversationId.clear();
    if (conversationId == m_currentId && m_messages.streamingRow() >= 0) {
        m_messages.finishStreaming(m_messages.streamingRow(), text, stats);
    }
    if (const Conversation* found = m_list.find(conversationId)) {
        Conversation conversation = *found;
        if (conversationId == m_currentId) {
            conversation.messages = m_messages.messages();
        } else {
            conversation.messages.push_back({QStringLiteral("assistant"), text, stats, {}});
        }
        // A reply that produced nothing at all is not kept.
        if (!conversation.messages.isEmpty() &&
            conversation.messages.last().role == QLatin1String("assistant") &&
            conversation.messages.last().text.isEmpty()) {
            conversation.messages.removeLast();
            if (conversationId == m_currentId) {
                m_messages.setMessages(conversation.messages);
            }
        }
        commit(conversation);
    }
    emit busyChanged();
}

void ChatController::onFinished(quint64 id, const GenerationResult& result) {
    if (id != m_activeRequest) {
        return;
    }
    // The streamed text is what the user saw; the result's is the same without a stop string.
    endReply(result.text.isEmpty() && m_messages.streamingRow() >= 0
                 ? m_messages.messages().at(m_messages.streamingRow()).text
                 : result.text,
             toStats(result));
    m_gauge.generationFinished(result);
    QString status = QStringLiteral("%1 tokens · %2 tok/s")
                         .arg(result.generatedTokens)
                         .arg(result.decodeTokensPerSecond, 0, 'f', 1);
    if (result.droppedTurns > 0) {
        status += QStringLiteral(" · context full: the %1 oldest messages were left out")
                      .arg(result.droppedTurns);
    }
    if (result.stopReason == QLatin1String("cancelled")) {
        status = QStringLiteral("Stopped · ") + status;
    }
    setStatus(status);
    emit replyFinished(result.stopReason);
}

void ChatController::onFailed(quint64 id, const QString& message) {
    if (id != m_activeRequest) {
        return;
    }
    endReply(QString(), {});
    m_gauge.generationFinished({});
    setStatus(QStringLiteral("Could not generate: %1").arg(message));
    emit replyFinished(QString());
}

void ChatController::schedulePreview() {
    if (m_preview.active()) {
        m_previewTimer.start();
    }
}
