// Compare mode's controller (see compare_controller.h).
#include "compare_controller.h"

#include "compare_divergence.h"
#include "engine_worker.h"
#include "hearth/chat_template.h"

#include <QFileInfo>
#include <algorithm>
#include <atomic>
#include <iterator>
#include <utility>

namespace {

const char* const kShootout[] = {"", "chatml", "llama3", "mistral", "raw"};
static_assert(std::size(kShootout) <= size_t(CompareController::kMaxColumns));

// Request ids unique in the process, not per controller: the worker cancels every id up to
// the last one stopped, and a second controller on the same worker (a test's, a reopened
// view's) must not start below that.
quint64 newRequestId() {
    static std::atomic<quint64> next{1};
    return next++;
}

// The user's turn the shoot-out renders after the conversation so far, to compare templates.
const char* const kProbeMessage = "Hello! How are you?";

} // namespace

CompareController::CompareController(QObject* parent) : QObject(parent) {
    qRegisterMetaType<CompareRequest>();
    qRegisterMetaType<ComparePrompt>();
    qRegisterMetaType<GenerationResult>();
    qRegisterMetaType<CompareSummary>();
    qRegisterMetaType<QList<ComparePrompt>>();
    qRegisterMetaType<QList<GenerationResult>>();
    qRegisterMetaType<OwnTemplateMatch>();
    CompareColumn first;
    m_columns.insertColumn(0, first);
    m_columns.insertColumn(1, first);
}

QObject* CompareController::engine() const {
    return m_engine.data();
}

void CompareController::setEngine(QObject* engine) {
    auto* worker = qobject_cast<EngineWorker*>(engine);
    if (engine && !worker) {
        setError(QStringLiteral("compare needs the chat's engine worker"));
        return;
    }
    if (worker == m_engine) {
        return;
    }
    stop();
    if (m_shootoutRequest != 0) {
        m_shootoutRequest = 0;
        m_deferredSend.clear();
        emit busyChanged();
    }
    setOwnTemplate({});
    for (const auto& connection : m_connections) {
        disconnect(connection);
    }
    m_connections.clear();
    m_engine = worker;
    if (worker) {
        // Queued: the worker emits on its own thread.
        m_connections << connect(worker, &EngineWorker::compareStarted, this,
                                 &CompareController::onStarted, Qt::QueuedConnection)
                      << connect(worker, &EngineWorker::compareTokensArrived, this,
                                 &CompareController::onTokens, Qt::QueuedConnection)
                      << connect(worker, &EngineWorker::compareFinished, this,
                                 &CompareController::onFinished, Qt::QueuedConnection)
                      << connect(worker, &EngineWorker::compareFailed, this,
                                 &CompareController::onFailed, Qt::QueuedConnection)
                      << connect(worker, &EngineWorker::ownTemplateMatched, this,
                                 &CompareController::onOwnTemplateMatched, Qt::QueuedConnection)
                      // Another model: what is known of its template no longer holds.
                      << connect(
                             worker, &EngineWorker::modelLoaded, this,
                             [this] { setOwnTemplate({}); }, Qt::QueuedConnection)
                      << connect(
                             worker, &EngineWorker::modelUnloaded, this,
                             [this] { setOwnTemplate({}); }, Qt::QueuedConnection);
    }
    emit engineChanged();
}

void CompareController::setSameSeed(bool on) {
    if (on == m_sameSeed) {
        return;
    }
    m_sameSeed = on;
    if (on) {
        const QString seed = QString::number(m_columns.column(0).sampling.seed);
        for (int i = 1; i < m_columns.rowCount(); ++i) {
            m_columns.setData(m_columns.index(i), seed, CompareColumnModel::SeedRole);
        }
    }
    emit sameSeedChanged();
}

void CompareController::setSystemPrompt(const QString& text) {
    if (text != m_systemPrompt) {
        m_systemPrompt = text;
        emit systemPromptChanged();
    }
}

QStringList CompareController::templateChoices() const {
    QStringList names{QString()};
    for (const hearth::BuiltinTemplate& builtin : hearth::builtin_templates()) {
        names << QString::fromStdString(builtin.name);
    }
    names << QStringLiteral("raw");
    return names;
}

void CompareController::setError(const QString& message) {
    if (message != m_error) {
        m_error = message;
        emit errorChanged();
    }
}

bool CompareController::refuse(const QString& message) {
    setError(message);
    return false;
}

CompareColumn CompareController::freshColumn(const CompareColumn& settingsFrom) const {
    CompareColumn column;
    column.modelPath = settingsFrom.modelPath;
    column.templateName = settingsFrom.templateName;
    column.sampling = settingsFrom.sampling;
    column.maxTokens = settingsFrom.maxTokens;
    // A column that joins a conversation already under way takes column 1's replies as its
    // history, so that every column answers the same conversation.
    column.replies = m_columns.column(0).replies;
    column.reasonings = m_columns.column(0).reasonings;
    return column;
}

bool CompareController::addColumn() {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    if (m_columns.rowCount() >= kMaxColumns) {
        return refuse(QStringLiteral("compare shows at most %1 columns").arg(kMaxColumns));
    }
    m_columns.insertColumn(m_columns.rowCount(), freshColumn(m_columns.columns().last()));
    setError({});
    return true;
}

bool CompareController::removeColumn(int column) {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    if (column < 0 || column >= m_columns.rowCount()) {
        return refuse(QStringLiteral("there is no column %1").arg(column + 1));
    }
    if (m_columns.rowCount() <= kMinColumns) {
        return refuse(QStringLiteral("compare needs at least %1 columns").arg(kMinColumns));
    }
    m_columns.removeColumnAt(column);
    releaseUnusedModels();
    setError({});
    return true;
}

bool CompareController::duplicateColumn(int column) {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    if (column < 0 || column >= m_columns.rowCount()) {
        return refuse(QStringLiteral("there is no column %1").arg(column + 1));
    }
    if (m_columns.rowCount() >= kMaxColumns) {
        return refuse(QStringLiteral("compare shows at most %1 columns").arg(kMaxColumns));
    }
    m_columns.insertColumn(column + 1, m_columns.column(column));
    setError({});
    return true;
}

bool CompareController::templateShootout() {
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    setError({});
    if (!m_engine) {
        applyShootout({}); // no model to ask: every template gets a column
        return true;
    }
    QList<ChatTurn> probe = conversationFor(m_columns.column(0));
    probe << ChatTurn{QStringLiteral("user"), QString::fromUtf8(kProbeMessage)};
    QStringList candidates;
    for (const char* name : kShootout) {
        if (*name != '\0') {
            candidates << QString::fromUtf8(name);
        }
    }
    const quint64 id = newRequestId();
    m_shootoutRequest = id;
    emit busyChanged();
    QMetaObject::invokeMethod(
        m_engine.data(),
        [worker = m_engine.data(), id, probe, candidates] {
            worker->matchOwnTemplate(id, probe, candidates);
        },
        Qt::QueuedConnection);
    return true;
}

void CompareController::onOwnTemplateMatched(quint64 id, const OwnTemplateMatch& match) {
    if (id != m_shootoutRequest) {
        return;
    }
    m_shootoutRequest = 0;
    setOwnTemplate(match);
    applyShootout(match);
    emit busyChanged();
    if (!m_deferredSend.isEmpty()) {
        send(std::exchange(m_deferredSend, QString()));
    }
}

void CompareController::applyShootout(const OwnTemplateMatch& match) {
    const CompareColumn base = m_columns.column(0);
    QList<CompareColumn> columns;
    for (const char* name : kShootout) {
        const QString templateName = QString::fromUtf8(name);
        if (match.known && !match.twin.isEmpty() && templateName == match.twin) {
            continue; // the "" column shows it, labelled "chatml (model's own)"
        }
        CompareColumn column = freshColumn(base);
        column.modelPath.clear(); // the templates of the chat's model, which was asked
        column.templateName = templateName;
        columns << column;
    }
    m_columns.resetColumns(columns);
}

void CompareController::setOwnTemplate(const OwnTemplateMatch& match) {
    if (match.known == m_ownTemplate.known && match.resolved == m_ownTemplate.resolved &&
        match.twin == m_ownTemplate.twin) {
        return;
    }
    m_ownTemplate = match;
    emit ownTemplateChanged();
}

QString CompareController::ownTemplateLabel() const {
    if (!m_ownTemplate.known) {
        return tr("auto");
    }
    if (!m_ownTemplate.twin.isEmpty()) {
        return m_ownTemplate.resolved == QLatin1String("model")
                   ? tr("%1 (model's own)").arg(m_ownTemplate.twin)
                   : tr("%1 (best match)").arg(m_ownTemplate.twin);
    }
    return m_ownTemplate.resolved == QLatin1String("model")
               ? tr("model's own")
               : tr("%1 (best match)").arg(m_ownTemplate.resolved);
}

void CompareController::setLibrary(ModelLibrary* library) {
    if (library == m_library) {
        return;
    }
    for (const auto& connection : m_libraryConnections) {
        disconnect(connection);
    }
    m_libraryConnections.clear();
    m_library = library;
    if (library) {
        auto changed = [this] { emit modelChoicesChanged(); };
        m_libraryConnections << connect(library, &QAbstractItemModel::rowsInserted, this, changed)
                             << connect(library, &QAbstractItemModel::rowsRemoved, this, changed)
                             << connect(library, &QAbstractItemModel::modelReset, this, changed)
                             << connect(library, &QAbstractItemModel::dataChanged, this, changed);
    }
    emit libraryChanged();
    emit modelChoicesChanged();
}

void CompareController::setRemoteServers(RemoteServers* servers) {
    if (servers == m_remoteServers) {
        return;
    }
    m_remoteServers = servers;
    if (servers) {
        connect(servers, &RemoteServers::countChanged, this,
                &CompareController::modelChoicesChanged);
    }
    emit libraryChanged();
    emit modelChoicesChanged();
}

QStringList CompareController::modelChoices() const {
    QStringList paths{QString()};
    if (const RemoteServers* servers = m_remoteServers.data()) {
        for (int row = 0; row < servers->rowCount(); ++row) {
            paths << servers->index(row).data(RemoteServers::PathRole).toString();
        }
    }
    if (const ModelLibrary* library = m_library.data()) {
        for (int row = 0; row < library->rowCount(); ++row) {
            const QModelIndex index = library->index(row);
            const QString path = index.data(ModelLibrary::PathRole).toString();
            if (index.data(ModelLibrary::ErrorRole).toString().isEmpty() && !paths.contains(path)) {
                paths << path;
            }
        }
    }
    for (const CompareColumn& column : m_columns.columns()) {
        if (!paths.contains(column.modelPath)) {
            paths << column.modelPath;
        }
    }
    return paths;
}

QString CompareController::modelLabel(const QString& path) const {
    if (RemoteServers::isRemotePath(path)) {
        const QString name = m_remoteServers ? m_remoteServers->nameOf(path) : QString();
        return name.isEmpty() ? tr("a removed remote server") : name;
    }
    return path.isEmpty() ? tr("chat's model") : QFileInfo(path).completeBaseName();
}

void CompareController::releaseUnusedModels() {
    if (!m_engine) {
        return;
    }
    QStringList paths;
    for (const CompareColumn& column : m_columns.columns()) {
        paths << column.modelPath;
    }
    // Queued behind any comparison under way, which keeps the models it runs on.
    QMetaObject::invokeMethod(
        m_engine.data(), [worker = m_engine.data(), paths] { worker->retainCompareModels(paths); },
        Qt::QueuedConnection);
}

void CompareController::setChatSampling(SamplingSettings* settings) {
    if (settings == m_chatSampling) {
        return;
    }
    disconnect(m_chatSamplingConnection);
    m_chatSampling = settings;
    if (settings) {
        m_chatSamplingConnection = connect(settings, &SamplingSettings::changed, this,
                                           &CompareController::followChatSampling);
    }
    followChatSampling();
    emit chatSamplingChanged();
}

void CompareController::followChatSampling() {
    if (!m_chatSampling || m_samplingEdited || !m_userMessages.isEmpty() || busy()) {
        return;
    }
    const SamplingSettings& chat = *m_chatSampling;
    for (int i = 0; i < m_columns.rowCount(); ++i) {
        m_columns.update(i, [&](CompareColumn& c) {
            // A chat drawing a random seed per reply has no seed to give: the columns keep
            // theirs (one for all in same-seed mode).
            const quint64 seed = chat.randomSeed() ? c.sampling.seed : quint64(chat.seed());
            c.sampling = chat.toParams(seed);
            c.maxTokens = std::clamp(chat.maxTokens(), 1, CompareColumnModel::kMaxTokens);
        });
    }
}

bool CompareController::setColumnValue(int column, const QString& field, const QVariant& value) {
    if (column < 0 || column >= m_columns.rowCount()) {
        return refuse(QStringLiteral("there is no column %1").arg(column + 1));
    }
    const int role = m_columns.roleNames().key(field.toUtf8(), -1);
    if (role < 0) {
        return refuse(QStringLiteral("columns have no setting '%1'").arg(field));
    }
    if (!m_columns.setData(m_columns.index(column), value, role)) {
        return refuse(QStringLiteral("column %1: %2").arg(column + 1).arg(m_columns.lastError()));
    }
    if (role == CompareColumnModel::ModelPathRole) {
        releaseUnusedModels();
        emit modelChoicesChanged(); // a path from outside the library joins the choices
    } else if (role != CompareColumnModel::TemplateNameRole) {
        m_samplingEdited = true; // from now on the columns keep their own settings
    }
    if (role == CompareColumnModel::SeedRole && m_sameSeed) {
        for (int i = 0; i < m_columns.rowCount(); ++i) {
            if (i != column) {
                m_columns.setData(m_columns.index(i), value, role);
            }
        }
    }
    setError({});
    return true;
}

QList<ChatTurn> CompareController::conversationFor(const CompareColumn& column) const {
    QList<ChatTurn> turns;
    if (!m_systemPrompt.trimmed().isEmpty()) {
        turns << ChatTurn{QStringLiteral("system"), m_systemPrompt};
    }
    for (int i = 0; i < m_userMessages.size(); ++i) {
        turns << ChatTurn{QStringLiteral("user"), m_userMessages[i]};
        if (i < column.replies.size()) {
            turns << ChatTurn{QStringLiteral("assistant"), column.replies[i],
                              column.reasonings.value(i)};
        }
    }
    return turns;
}

bool CompareController::send(const QString& text) {
    if (text.trimmed().isEmpty()) {
        return refuse(QStringLiteral("type a message to send to the columns"));
    }
    if (!m_engine) {
        return refuse(QStringLiteral("no engine: load a model in the chat first"));
    }
    if (m_shootoutRequest != 0 && m_activeRequest == 0 && m_deferredSend.isEmpty()) {
        m_deferredSend = text; // sent to the shoot-out's columns once they are in place
        return true;
    }
    if (busy()) {
        return refuse(QStringLiteral("wait for the columns to finish, or stop them"));
    }
    for (int i = 0; i < m_columns.rowCount(); ++i) {
        const QString& path = m_columns.column(i).modelPath;
        if (RemoteServers::isRemotePath(path) &&
            (!m_remoteServers || !m_remoteServers->targetNow(path))) {
            return refuse(
                QStringLiteral("column %1's remote server is no longer in the Models panel")
                    .arg(i + 1));
        }
    }
    m_userMessages << text;
    CompareRequest request;
    request.id = newRequestId();
    for (int i = 0; i < m_columns.rowCount(); ++i) {
        const CompareColumn& column = m_columns.column(i);
        CompareColumnRequest columnRequest;
        columnRequest.modelPath = column.modelPath;
        columnRequest.templateName = column.templateName;
        columnRequest.sampling = column.sampling;
        columnRequest.maxTokens = column.maxTokens;
        columnRequest.messages = conversationFor(column);
        if (RemoteServers::isRemotePath(column.modelPath)) {
            columnRequest.remote = m_remoteServers->targetNow(column.modelPath); // checked above
        }
        request.columns << columnRequest;
        m_columns.update(i, [](CompareColumn& c) {
            c.reply.clear();
            c.replyReasoning.clear();
            c.reasoningTokens = 0;
            c.generatedTokens = 0;
            c.tokensPerSecond = 0;
            c.ttftMs = 0;
            c.sharedTokens = 0;
            c.stopReason.clear();
            c.error.clear();
            c.divergence.reset();
            c.generating = true;
        });
    }
    m_activeRequest = request.id;
    m_summaryText.clear();
    emit summaryChanged();
    setError({});
    emit conversationChanged();
    emit busyChanged();
    QMetaObject::invokeMethod(
        m_engine.data(), [worker = m_engine.data(), request] { worker->generateCompare(request); },
        Qt::QueuedConnection);
    return true;
}

void CompareController::stop() {
    if (m_engine && m_activeRequest != 0) {
        m_engine->cancelCompare(m_activeRequest);
    }
}

bool CompareController::promote(int column) {
    if (column < 0 || column >= m_columns.rowCount()) {
        return refuse(QStringLiteral("there is no column %1").arg(column + 1));
    }
    const CompareColumn& c = m_columns.column(column);
    if (c.generating || c.replies.isEmpty() || m_userMessages.isEmpty()) {
        return refuse(QStringLiteral("column %1 has no finished reply to promote").arg(column + 1));
    }
    setError({});
    emit promoted(m_userMessages.last(), c.replies.last());
    return true;
}

void CompareController::clearConversation() {
    stop();
    m_userMessages.clear();
    for (int i = 0; i < m_columns.rowCount(); ++i) {
        m_columns.update(i, [](CompareColumn& c) {
            const CompareColumn settings = c;
            c = CompareColumn{};
            c.modelPath = settings.modelPath;
            c.templateName = settings.templateName;
            c.sampling = settings.sampling;
            c.maxTokens = settings.maxTokens;
        });
    }
    m_summaryText.clear();
    emit summaryChanged();
    emit conversationChanged();
}

void CompareController::onStarted(quint64 id, const QList<ComparePrompt>& prompts) {
    if (id != m_activeRequest) {
        return;
    }
    for (int i = 0; i < prompts.size() && i < m_columns.rowCount(); ++i) {
        m_columns.update(i, [&](CompareColumn& c) {
            c.prompt = prompts[i];
            c.hasPrompt = true;
        });
    }
}

void CompareController::onTokens(quint64 id, int column, const QString& reasoning,
                                 const QString& text, int generated, double ms) {
    if (id != m_activeRequest || column < 0 || column >= m_columns.rowCount()) {
        return;
    }
    m_columns.update(column, [&](CompareColumn& c) {
        c.replyReasoning += reasoning;
        c.reply += text;
        c.generatedTokens = generated;
        c.tokensPerSecond = ms > 0 ? generated * 1000.0 / ms : 0;
    });
}

void CompareController::onFinished(quint64 id, const QList<GenerationResult>& results,
                                   const CompareSummary& summary) {
    if (id != m_activeRequest) {
        return;
    }
    for (int i = 0; i < results.size() && i < m_columns.rowCount(); ++i) {
        const GenerationResult& r = results[i];
        m_columns.update(i, [&](CompareColumn& c) {
            c.reply = r.text;
            c.replyReasoning = r.reasoning;
            c.reasoningTokens = r.reasoningTokens;
            c.generatedTokens = r.generatedTokens;
            c.tokensPerSecond = r.decodeTokensPerSecond;
            c.ttftMs = r.ttftMs;
            c.sharedTokens = r.sharedTokens;
            c.stopReason = r.stopReason;
            c.error = r.error;
            c.generating = false;
            while (c.replies.size() < m_userMessages.size() - 1) {
                c.replies << QString(); // a column that joined late and missed a turn
            }
            c.replies << r.text;
            while (c.reasonings.size() < c.replies.size() - 1) {
                c.reasonings << QString();
            }
            c.reasonings << r.reasoning;
        });
    }
    applyDivergences(m_columns, summary.divergences);
    m_summaryText = tr("%1 tokens/s for all columns together; shared prompt prefix of %2 "
                       "tokens computed once; %3 forward steps")
                        .arg(summary.tokensPerSecond, 0, 'f', 1)
                        .arg(summary.sharedPrefixTokens)
                        .arg(summary.steps);
    // Said only when it is not the default: a Q8_0 cache (and F16 for a model that cannot
    // take one).
    if (summary.kvTypes != QStringList{QStringLiteral("f16")} && !summary.kvTypes.isEmpty()) {
        m_summaryText +=
            tr("; KV cache %1").arg(summary.kvTypes.join(QStringLiteral(", ")).toUpper());
    }
    for (int i = 0; i < results.size(); ++i) {
        if (results[i].droppedTurns > 0) {
            m_summaryText += tr("; context full: column %1 left out its %2 oldest messages")
                                 .arg(i + 1)
                                 .arg(results[i].droppedTurns);
        }
    }
    if (summary.modelGroups > 1) {
        m_summaryText += tr("; %1 models: each model's columns batched together, the models "
                            "one after another")
                             .arg(summary.modelGroups);
    }
    emit summaryChanged();
    m_activeRequest = 0;
    emit busyChanged();
    emit finished();
}

void CompareController::onFailed(quint64 id, const QString& message) {
    if (id != m_activeRequest) {
        return;
    }
    // The message was not answered: take it back so that every column's conversation stays
    // one reply per user message.
    m_userMessages.removeLast();
    for (int i = 0; i < m_columns.rowCount(); ++i) {
        m_columns.update(i, [](CompareColumn& c) { c.generating = false; });
    }
    setError(message);
    m_activeRequest = 0;
    emit conversationChanged();
    emit busyChanged();
    emit finished();
}
