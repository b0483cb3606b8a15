// Where the remote servers' API keys live: the desktop's secret store (the Secret Service:
// GNOME Keyring, KWallet) through QtKeychain when the build has it and a session bus is there
// to reach one; otherwise in memory, for this session only. Never in the settings file.
//
// GUI thread only. The secret store answers asynchronously; every key is also kept in memory
// once known, so that a key just typed is usable at once whatever the store does.
#pragma once

#include <QHash>
#include <QObject>
#include <QString>
#include <functional>

class RemoteKeyStore : public QObject {
    Q_OBJECT

public:
    explicit RemoteKeyStore(QObject* parent = nullptr);

    // Whether keys go to the secret store (it may still refuse one: statusText then says so).
    bool persistent() const { return m_persistent; }
    // For the Models panel: where keys are kept, in a sentence.
    QString statusText() const { return m_status; }

    // Keeps `key` for the entry `id` ("" forgets it).
    void store(const QString& id, const QString& key);
    void remove(const QString& id);
    // The key of `id`: from memory, else from the secret store; `done` gets "" when there is
    // none. Called on the GUI thread, possibly before fetch returns.
    void fetch(const QString& id, std::function<void(const QString& key)> done);
    // The key of `id` known this session (stored, or fetched earlier); "" when none.
    QString known(const QString& id) const { return m_keys.value(id); }

signals:
    void statusChanged();

private:
    void storeFailed(const QString& reason);

    QHash<QString, QString> m_keys; // what is known this session
    bool m_persistent = false;
    QString m_status;
};
