// Compare mode's verbs and state: two to five columns over one shared conversation, each
// with its own template, sampling settings and model (the chat's unless a column picks
// another); one message sent to all columns, the columns of each model generated together on
// the engine thread (EngineWorker::generateCompare), streamed back per column.
//
// Lives on the GUI thread and never waits for the engine. It does not own the worker: the
// window hands it the chat's EngineWorker (the `engine` property), so that compare runs on
// the model already loaded, one request at a time on the same thread as the chat's. Until
// the first message or a column's sampling is edited, the columns follow the chat's
// sampling settings (`chatSampling`, the Sampling panel's).
#pragma once

#include "compare_column_model.h"
#include "model_library.h"
#include "remote_servers.h"
#include "sampling_settings.h"

#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QtQml/qqmlregistration.h>

class EngineWorker;

class CompareController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(CompareColumnModel* columns READ columns CONSTANT)
    Q_PROPERTY(QObject* engine READ engine WRITE setEngine NOTIFY engineChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(bool sameSeed READ sameSeed WRITE setSameSeed NOTIFY sameSeedChanged)
    Q_PROPERTY(
        QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY systemPromptChanged)
    Q_PROPERTY(QStringList userMessages READ userMessages NOTIFY conversationChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    Q_PROPERTY(QString summaryText READ summaryText NOTIFY summaryChanged)
    Q_PROPERTY(QStringList templateChoices READ templateChoices CONSTANT)
    Q_PROPERTY(int minColumns READ minColumns CONSTANT)
    Q_PROPERTY(int maxColumns READ maxColumns CONSTANT)
    Q_PROPERTY(SamplingSettings* chatSampling READ chatSampling WRITE setChatSampling NOTIFY
                   chatSamplingChanged)
    // How the template picker names "" (the model's own): "auto" until the model is known,
    // then "model's own", "chatml (best match)", or "chatml (model's own)" when the model's
    // own template renders the conversation exactly as the built-in ChatML does.
    Q_PROPERTY(QString ownTemplateLabel READ ownTemplateLabel NOTIFY ownTemplateChanged)
    // The local models a column can pick (the Models panel's list); may be null.
    Q_PROPERTY(ModelLibrary* library READ library WRITE setLibrary NOTIFY libraryChanged)
    // The Models panel's remote servers: each entry a column's model choice too ("remote:<id>").
    Q_PROPERTY(RemoteServers* remoteServers READ remoteServers WRITE setRemoteServers NOTIFY
                   libraryChanged)
    // The column model picker's choices: "" (the chat's model), then the library's models
    // that read without error, then any other path a column uses.
    Q_PROPERTY(QStringList modelChoices READ modelChoices NOTIFY modelChoicesChanged)

public:
    static constexpr int kMinColumns = 2;
    // The template shoot-out's five: the model's own, ChatML, Llama 3, Mistral and raw.
    static constexpr int kMaxColumns = 5;
    // A compare session file (docs/LIMITS.md): five columns of a long conversation fit in a
    // few MiB; it nests 3 deep.
    static constexpr qint64 kMaxSessionFileBytes = qint64{32} << 20;
    static constexpr size_t kMaxSessionNesting = 16;

    explicit CompareController(QObject* parent = nullptr);

    CompareColumnModel* columns() { return &m_columns; }
    QObject* engine() const;
    void setEngine(QObject* engine); // an EngineWorker, or null
    // Generating, or a template shoot-out waiting for the engine's answer.
    bool busy() const { return m_activeRequest != 0 || m_shootoutRequest != 0; }
    bool sameSeed() const { return m_sameSeed; }
    void setSameSeed(bool on);
    QString systemPrompt() const { return m_systemPrompt; }
    void setSystemPrompt(const QString& text);
    QStringList userMessages() const { return m_userMessages; }
    QString error() const { return m_error; }
    QString summaryText() const { return m_summaryText; }
    // "" (the model's own or the best match), then the built-ins, then "raw".
    QStringList templateChoices() const;
    int minColumns() const { return kMinColumns; }
    int maxColumns() const { return kMaxColumns; }
    SamplingSettings* chatSampling() const { return m_chatSampling.data(); }
    void setChatSampling(SamplingSettings* settings);
    QString ownTemplateLabel() const;
    ModelLibrary* library() const { return m_library.data(); }
    void setLibrary(ModelLibrary* library);
    RemoteServers* remoteServers() const { return m_remoteServers.data(); }
    void setRemoteServers(RemoteServers* servers);
    QStringList modelChoices() const;
    // How the model picker names `path`: "chat's model" for "", else the file's name.
    Q_INVOKABLE QString modelLabel(const QString& path) const;

    // Each returns false, with `error` saying why, when it cannot be done.
    Q_INVOKABLE bool addColumn();
    Q_INVOKABLE bool removeColumn(int column);
    Q_INVOKABLE bool duplicateColumn(int column);
    // One column per template: the model's own, ChatML, Llama 3, Mistral and raw, with
    // column 1's sampling settings. With an engine the model is asked first (busy until it
    // answers; a message sent meanwhile waits): a built-in that renders the conversation
    // exactly as the model's own template (SmolLM2's own is ChatML) shares the "" column
    // instead of repeating it. Without an engine, all five.
    Q_INVOKABLE bool templateShootout();
    // Edits a column's setting by role name ("temperature", "seed", ...); in same-seed mode a
    // seed goes to every column.
    Q_INVOKABLE bool setColumnValue(int column, const QString& field, const QVariant& value);
    Q_INVOKABLE bool send(const QString& text);
    Q_INVOKABLE void stop();
    // The lab's "Compare with reference": two columns, `reference` and `quantization`, with the
    // same template and seed and a fresh conversation, so that the next message shows where
    // the quantization's choices diverge (compare_divergence.h). compare_quantizations.cpp.
    Q_INVOKABLE bool compareQuantizations(const QString& reference, const QString& quantization);
    // Emits promoted() with the column's last reply, for the main conversation.
    Q_INVOKABLE bool promote(int column);
    Q_INVOKABLE void clearConversation();
    // Compare sessions as JSON: saveSession writes atomically (defaultDirectory() when `path`
    // is a bare name); openSession replaces the columns and the conversation.
    Q_INVOKABLE bool saveSession(const QString& path);
    Q_INVOKABLE bool openSession(const QString& path);
    Q_INVOKABLE QStringList savedSessions() const; // paths in defaultDirectory(), newest first
    static QString defaultDirectory();             // ~/.local/share/hearth/compare

signals:
    void engineChanged();
    void busyChanged();
    void sameSeedChanged();
    void systemPromptChanged();
    void conversationChanged();
    void errorChanged();
    void summaryChanged();
    void promoted(const QString& userText, const QString& replyText);
    void finished(); // the active request ended (finished, failed or stopped)
    void chatSamplingChanged();
    void ownTemplateChanged();
    void libraryChanged();
    void modelChoicesChanged();

private:
    void onStarted(quint64 id, const QList<ComparePrompt>& prompts);
    void onTokens(quint64 id, int column, const QString& reasoning, const QString& text,
                  int generated, double ms);
    void onFinished(quint64 id, const QList<GenerationResult>& results,
                    const CompareSummary& summary);
    void onFailed(quint64 id, const QString& message);
    void onOwnTemplateMatched(quint64 id, const OwnTemplateMatch& match);
    void setOwnTemplate(const OwnTemplateMatch& match);
    void applyShootout(const OwnTemplateMatch& match);
    void followChatSampling();
    bool refuse(const QString& message);
    void setError(const QString& message);
    QList<ChatTurn> conversationFor(const CompareColumn& column) const;
    CompareColumn freshColumn(const CompareColumn& settingsFrom) const;
    // Tells the engine which other models the columns still use, so it unloads the rest.
    void releaseUnusedModels();

    CompareColumnModel m_columns;
    QPointer<EngineWorker> m_engine;
    QList<QMetaObject::Connection> m_connections;
    QStringList m_userMessages; // shared by every column
    QString m_systemPrompt;
    bool m_sameSeed = true;
    QString m_error;
    QString m_summaryText;
    quint64 m_activeRequest = 0;
    quint64 m_shootoutRequest = 0; // the engine's answer awaited
    QString m_deferredSend;        // sent once the shoot-out's columns are in place
    OwnTemplateMatch m_ownTemplate;
    QPointer<SamplingSettings> m_chatSampling;
    QPointer<ModelLibrary> m_library;
    QPointer<RemoteServers> m_remoteServers;
    QList<QMetaObject::Connection> m_libraryConnections;
    QMetaObject::Connection m_chatSamplingConnection;
    bool m_samplingEdited = false; // a column's sampling was set by hand or from a file
};
