// The verbs the window calls and the state it shows: conversations (new, select, rename,
// delete with undo, search), sending, stopping and regenerating replies, the model's
// loading state, and the panels' objects (sampling, template preview, gauge).
//
// Lives on the GUI thread. Owns the EngineThread: requests go to the worker as queued
// calls and come back as signals; nothing here ever waits for the engine. Created by
// Main.qml (one per window); start() begins the first model load.
//
// Defined by concern: chat_controller.cpp (wiring, properties, start), chat_model_loading.cpp,
// chat_conversations.cpp, chat_persistence.cpp, chat_generation.cpp, chat_message_edits.cpp,
// chat_request_export.cpp.
#pragma once

#include "conversation.h"
#include "conversation_list_model.h"
#include "conversation_store.h"
#include "download_controller.h"
#include "engine_worker.h"
#include "gauge.h"
#include "hearth/server/request_export.h"
#include "local_server.h"
#include "message_list_model.h"
#include "model_library.h"
#include "preflight_card.h"
#include "recommended_model.h"
#include "remote_servers.h"
#include "sampling_settings.h"
#include "template_preview.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QStringList>
#include <QTimer>
#include <QtQml/qqmlregistration.h>
#include <memory>
#include <optional>

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(ConversationFilterModel* conversations READ conversations CONSTANT)
    Q_PROPERTY(ConversationListModel* allConversations READ allConversations CONSTANT)
    Q_PROPERTY(MessageListModel* messages READ messages CONSTANT)
    Q_PROPERTY(SamplingSettings* sampling READ sampling CONSTANT)
    Q_PROPERTY(Gauge* gauge READ gauge CONSTANT)
    Q_PROPERTY(TemplatePreview* templatePreview READ templatePreview CONSTANT)
    Q_PROPERTY(ModelLibrary* library READ library CONSTANT)
    // The Models panel's remote servers (issue 20): loaded as models "remote:<id>".
    Q_PROPERTY(RemoteServers* remoteServers READ remoteServers CONSTANT)
    // The Models panel's pre-flight checklist of the selected model (chat_doctor.cpp).
    Q_PROPERTY(PreflightCard* preflight READ preflight CONSTANT)
    // The doctor's notices under the last reply: [{kind, severity, title, explanation,
    // evidence: [..], fixes: [{label, effect}]}]; each diagnosis once per conversation unless
    // its evidence changes, until dismissed or the next reply (chat_doctor.cpp).
    Q_PROPERTY(QVariantList diagnoses READ diagnoses NOTIFY diagnosesChanged)
    // The Download tab's controller, shared with the empty state's recommended model.
    Q_PROPERTY(DownloadController* downloads READ downloads CONSTANT)
    // The empty state's one-click download; loaded when it arrives if no model is.
    Q_PROPERTY(RecommendedModel* recommended READ recommended CONSTANT)
    // The Models panel's "Local server": the loaded model over an OpenAI-compatible API.
    Q_PROPERTY(LocalServer* server READ server CONSTANT)

    Q_PROPERTY(
        QString currentConversationId READ currentConversationId NOTIFY currentConversationChanged)
    Q_PROPERTY(QString currentTitle READ currentTitle NOTIFY currentConversationChanged)
    Q_PROPERTY(
        QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY systemPromptChanged)
    Q_PROPERTY(QVariantList systemPromptPresets READ systemPromptPresets CONSTANT)
    // The engine thread's worker, for the compare view (CompareController.engine).
    Q_PROPERTY(QObject* engineWorker READ engineWorker CONSTANT)

    Q_PROPERTY(ModelState modelState READ modelState NOTIFY modelChanged)
    Q_PROPERTY(double loadProgress READ loadProgress NOTIFY loadProgressChanged)
    Q_PROPERTY(QString modelName READ modelName NOTIFY modelChanged)
    Q_PROPERTY(QString modelDetails READ modelDetails NOTIFY modelChanged)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY modelChanged)
    Q_PROPERTY(QString modelError READ modelError NOTIFY modelChanged)
    // The loaded model's thinking switch ("on", "off" or "low", "medium", "high"), empty when
    // its template has none: the sampling panel shows the switch only then.
    Q_PROPERTY(QStringList thinkingChoices READ thinkingChoices NOTIFY modelChanged)
    Q_PROPERTY(QString modelsDirectory READ modelsDirectory CONSTANT)
    // The model is a remote server's: the sampling panel greys the knobs it ignores
    // (ignoredKnobs, in the panel's words: "top-k", "min-p", "repetition penalty", ...) and
    // names the server family (serverFamily) in their tooltips.
    Q_PROPERTY(bool remoteModel READ remoteModel NOTIFY modelChanged)
    Q_PROPERTY(QString modelEndpoint READ modelEndpoint NOTIFY modelChanged)
    Q_PROPERTY(QString serverFamily READ serverFamily NOTIFY modelChanged)
    Q_PROPERTY(QStringList ignoredKnobs READ ignoredKnobs NOTIFY modelChanged)

    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString statusText READ statusText NOTIFY statusTextChanged)
    Q_PROPERTY(QStringList storeWarnings READ storeWarnings NOTIFY storeWarningsChanged)
    Q_PROPERTY(QString storeWarningsText READ storeWarningsText NOTIFY storeWarningsChanged)
    Q_PROPERTY(bool canUndoDelete READ canUndoDelete NOTIFY undoChanged)
    Q_PROPERTY(QString deletedTitle READ deletedTitle NOTIFY undoChanged)

public:
    enum class ModelState { NoModel, Loading, Ready, Failed };
    Q_ENUM(ModelState)

    // Conversations are stored under $XDG_DATA_HOME/hearth/conversations.
    explicit ChatController(QObject* parent = nullptr);
    ~ChatController() override;

    ConversationFilterModel* conversations() { return &m_filter; }
    ConversationListModel* allConversations() { return &m_list; }
    MessageListModel* messages() { return &m_messages; }
    QObject* engineWorker() const;
    SamplingSettings* sampling() { return &m_sampling; }
    Gauge* gauge() { return &m_gauge; }
    TemplatePreview* templatePreview() { return &m_preview; }
    ModelLibrary* library() { return &m_library; }
    RemoteServers* remoteServers() { return &m_remoteServers; }
    bool remoteModel() const { return m_model.remote; }
    QString modelEndpoint() const { return m_model.endpoint; }
    QString serverFamily() const { return m_model.serverFamily; }
    QStringList ignoredKnobs() const { return m_model.ignoredKnobs; }
    PreflightCard* preflight() { return &m_preflight; }
    // The settings the next load and reply would use, as the doctor reads them.
    hearth::PreflightSettings preflightSettings() const;
    // Applies a fix's change to the panels' settings; returns what changed, for the status.
    QString applySettingsChange(const hearth::SettingsChange& change);
    QVariantList diagnoses() const;
    const std::vector<hearth::Diagnosis>& shownDiagnoses() const { return m_diagnoses; }
    // Hides notice `index` (it stays seen for this conversation).
    Q_INVOKABLE void dismissDiagnosis(int index);
    // Applies fix `fix` of notice `index` and hides the notice; false out of range. A fix of a
    // load refused for memory loads the model again with it.
    Q_INVOKABLE bool applyDiagnosisFix(int index, int fix);
    DownloadController* downloads() { return &m_downloads; }
    RecommendedModel* recommended() { return &m_recommended; }
    LocalServer* server() { return m_server.get(); }

    QString currentConversationId() const { return m_currentId; }
    QString currentTitle() const;
    QString systemPrompt() const { return m_systemPrompt; }
    void setSystemPrompt(const QString& prompt);
    static QVariantList systemPromptPresets();

    ModelState modelState() const { return m_modelState; }
    double loadProgress() const { return m_loadProgress; }
    QString modelName() const { return m_model.name; }
    QString modelDetails() const;
    QString modelPath() const { return m_modelPath; }
    QString modelError() const { return m_modelError; }
    QStringList thinkingChoices() const { return m_model.thinkingChoices; }
    static QString modelsDirectory();

    bool busy() const { return m_activeRequest != 0; }
    QString statusText() const { return m_statusText; }
    QStringList storeWarnings() const { return m_store.warnings(); }
    QString storeWarningsText() const { return m_store.warnings().join(QLatin1Char('\n')); }
    bool canUndoDelete() const { return m_deleted.has_value(); }
    QString deletedTitle() const { return m_deleted ? m_deleted->displayTitle() : QString(); }

    // Reads the saved conversations, reopens the last one, and loads `modelPath`, else the
    // last model used, else the default model. Call once, after construction.
    Q_INVOKABLE void start(const QString& modelPath = {});
    // Loads a model file (a path or a file:// URL) in a new conversation: what a second
    // `hearth FILE` (a file manager's "Open with") asks of the running window.
    Q_INVOKABLE void openModelInNewConversation(const QString& pathOrUrl);
    // A path or a file:// URL.
    Q_INVOKABLE void loadModel(const QString& pathOrUrl);
    Q_INVOKABLE void cancelLoad();
    Q_INVOKABLE void unloadModel();

    // False when there is nothing to send or a reply is already being generated.
    Q_INVOKABLE bool send(const QString& text);
    Q_INVOKABLE void stop();
    // Replaces the last reply: with a new seed, or the one it was generated with.
    Q_INVOKABLE bool regenerate(bool sameSeed = false);
    // Replaces user message `row` with `text` and generates again from there.
    Q_INVOKABLE bool editAndRerun(int row, const QString& text);
    Q_INVOKABLE void deleteMessage(int row);
    // Adds a user message and a finished reply to the current conversation (a compare
    // column promoted into the chat). False while a reply is streaming or when empty.
    Q_INVOKABLE bool appendExchange(const QString& userText, const QString& replyText);
    Q_INVOKABLE void copyToClipboard(const QString& text);
    // "Copy as…": the current conversation and settings as a request to a server, one entry
    // per hearth::server::kRequestTargets (Hearth, llama-server, vLLM, Ollama), each
    // {name, command, notes}; requestAs is one format's command ("" for an unknown index).
    Q_INVOKABLE QVariantList requestExports() const;
    Q_INVOKABLE QString requestAs(int format) const;
    // Puts requestAs(format) on the clipboard; false for an unknown index.
    Q_INVOKABLE bool copyRequestAs(int format);

    Q_INVOKABLE void newConversation();
    Q_INVOKABLE void selectConversation(const QString& id);
    Q_INVOKABLE void renameConversation(const QString& id, const QString& title);
    Q_INVOKABLE void deleteConversation(const QString& id);
    Q_INVOKABLE void undoDelete();
    Q_INVOKABLE void dismissStoreWarnings();

signals:
    void currentConversationChanged();
    void systemPromptChanged();
    // A fix asks for another file of the model: the download list shows it (searchText set).
    void downloadSuggested(const QString& file);
    void diagnosesChanged();
    void modelChanged();
    void loadProgressChanged();
    void busyChanged();
    void statusTextChanged();
    void storeWarningsChanged();
    void undoChanged();
    // A reply finished (or failed: `stopReason` empty); for tests and the screenshot script.
    void replyFinished(const QString& stopReason);

private:
    // QSettings keys: what the next start() reopens.
    static constexpr const char* kLastModelKey = "model/last";
    static constexpr const char* kLastConversationKey = "conversations/last";

    void onModelLoaded(const ModelSummary& summary);
    void onLoadFailed(const QString& message);
    void onTokens(quint64 id, const QString& reasoning, const QString& answer, int generated,
                  int reasoningTokens, double ms);
    void onFinished(quint64 id, const GenerationResult& result);
    void onFailed(quint64 id, const QString& message);

    std::optional<Conversation> current() const;
    hearth::server::RequestExportInput requestExportInput() const;
    QString displayName(const QString& modelPath) const;
    void startReply(quint64 seed);
    void loadRemote(const QString& path); // a RemoteServers entry
    void beginLoad(const QString& path, const QString& statusFormat);
    void endReply(const QString& reasoning, const QString& text, const MessageStats& stats);
    void commit(Conversation& conversation); // list model and disk
    void showConversation(const Conversation& conversation);
    void storeSettingsInCurrent();
    void schedulePreview();
    void setStatus(const QString& text);
    void setModelState(ModelState state);

    ConversationStore m_store;
    ConversationListModel m_list;
    ConversationFilterModel m_filter;
    MessageListModel m_messages;
    SamplingSettings m_sampling;
    Gauge m_gauge;
    TemplatePreview m_preview;
    ModelLibrary m_library; // the Models panel; its context and threads apply to each load
    RemoteServers m_remoteServers;
    DownloadController m_downloads;
    PreflightCard m_preflight;
    RecommendedModel m_recommended{&m_downloads};
    QTimer m_previewTimer;

    QString m_currentId;
    QString m_systemPrompt;
    std::optional<Conversation> m_deleted;

    ModelState m_modelState = ModelState::NoModel;
    double m_loadProgress = 0;
    QString m_modelPath;
    QString m_modelError;
    ModelSummary m_model;
    QString m_statusText;

    quint64 m_nextRequest = 0;
    quint64 m_activeRequest = 0; // 0: idle
    quint64 m_previewRequest = 0;
    QString m_replyConversationId; // the conversation the active reply belongs to
    quint64 m_lastSeed = 0;
    bool m_applyingConversation = false; // showing one: settings changes are not edits
    // The doctor's notices shown, and the ones each conversation has seen (kind and evidence).
    std::vector<hearth::Diagnosis> m_diagnoses;
    std::vector<hearth::Diagnosis> m_loadDiagnoses; // the load refused's, until loadFailed
    QHash<QString, QSet<QString>> m_seenDiagnoses;
    QString m_diagnosesFor; // the conversation the notices shown belong to
    void showDiagnoses(const QString& conversationId, const std::vector<hearth::Diagnosis>& found);
    void clearDiagnoses();

    // Made after m_engine, whose worker it talks to; shut down before it.
    std::unique_ptr<LocalServer> m_server;
    // Declared last: destroyed first, so the worker stops before the models go away.
    std::unique_ptr<EngineThread> m_engine;
};
