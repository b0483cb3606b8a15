// The Models panel's "Remote server" entries (issue 20): an OpenAI-compatible server's URL and
// the model chosen from its /v1/models, under a name; the connection test that says what the
// server is and what it supports (hearth::remote::RemoteClient::probe). Entries persist in
// QSettings (remote/servers) without their keys, which RemoteKeyStore keeps.
//
// A remote entry is loaded as the model "remote:<id>" (ChatController::loadModel), so that the
// last model, a conversation's model and the Models panel's "Load" work as for a file.
//
// GUI thread only; the connection test runs on a thread of its own and answers by a signal.
#pragma once

#include "engine_worker.h"
#include "remote_key_store.h"

#include <QAbstractListModel>
#include <QStringList>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>
#include <functional>
#include <optional>

class RemoteServers : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("RemoteServers belongs to ChatController")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    // Where API keys are kept, in a sentence (the secret store, or this session only).
    Q_PROPERTY(QString keyStorage READ keyStorage NOTIFY keyStorageChanged)
    Q_PROPERTY(bool keysPersistent READ keysPersistent NOTIFY keyStorageChanged)
    Q_PROPERTY(bool testing READ testing NOTIFY testChanged)
    // The last connection test: {ok, url, server, facts, models, ignored, completions, error}.
    Q_PROPERTY(QVariantMap testResult READ testResult NOTIFY testChanged)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)

public:
    enum Role { IdRole = Qt::UserRole + 1, NameRole, UrlRole, ModelRole, PathRole, LoadedRole };
    Q_ENUM(Role)

    static constexpr const char* kPathPrefix = "remote:";
    static bool isRemotePath(const QString& path);

    explicit RemoteServers(QObject* parent = nullptr);
    ~RemoteServers() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString keyStorage() const { return m_keys.statusText(); }
    bool keysPersistent() const { return m_keys.persistent(); }
    bool testing() const { return m_testing != 0; }
    QVariantMap testResult() const { return m_testResult; }
    QString lastError() const { return m_lastError; }

    // The connection test of `url` with `apiKey`; testResult answers (testFinished too).
    Q_INVOKABLE void testConnection(const QString& url, const QString& apiKey);
    // Adds an entry; its path ("remote:<id>"), or "" when the URL does not parse or no model
    // is named (lastError says which). The key goes to the key store, never to the settings.
    Q_INVOKABLE QString add(const QString& name, const QString& url, const QString& apiKey,
                            const QString& model);
    Q_INVOKABLE void remove(const QString& path);
    // A new key for the entry at `path` ("" sends none).
    Q_INVOKABLE void setKey(const QString& path, const QString& apiKey);

    // The entry's name ("" when `path` is not an entry).
    QString nameOf(const QString& path) const;
    // What the worker needs to talk to the entry at `path`, its key fetched from the store;
    // `done` gets nothing when no entry has that path.
    void target(const QString& path, std::function<void(std::optional<RemoteTarget>)> done);
    // The same at once, with the key known this session (every entry's is fetched from the
    // secret store when the list is read): for Compare's columns.
    std::optional<RemoteTarget> targetNow(const QString& path) const;
    void setLoadedPath(const QString& path);

signals:
    void countChanged();
    void keyStorageChanged();
    void testChanged();
    void lastErrorChanged();
    void testFinished(); // for tests and the screenshot script
    // The key of the entry at `path` changed: the chat's remote model takes it.
    void keyChanged(const QString& path, const QString& apiKey);

private:
    struct Entry {
        QString id;
        QString name;
        QString url;
        QString model;
    };
    int rowOf(const QString& path) const;
    void save() const;
    void setLastError(const QString& error);

    QList<Entry> m_entries;
    RemoteKeyStore m_keys;
    QVariantMap m_testResult;
    quint64 m_testing = 0; // the test under way, 0: none
    quint64 m_lastTest = 0;
    QString m_lastError;
    QString m_loadedPath;
};
