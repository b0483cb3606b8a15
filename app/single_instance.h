// One Hearth window per user and profile: the first launch listens on a local socket; a
// later launch hands its arguments (a model file to open) to it and exits.
#pragma once

#include <QLocalServer>
#include <QObject>
#include <QStringList>

class SingleInstance : public QObject {
    Q_OBJECT

public:
    enum class Role {
        Primary,   // no other instance answered: this one listens, and messageReceived reports
        Forwarded, // a running instance took the arguments: this process should exit
        Standalone // another instance holds the name but did not answer in time: run alone
    };

    // `key` names the socket (a file name: no slashes). Two objects with the same key are
    // the same application; defaultKey() gives the one for this user and profile.
    explicit SingleInstance(const QString& key, QObject* parent = nullptr);

    // Becomes the primary instance, or hands `arguments` to the one that is. Blocks for at
    // most about `timeoutMs` when a running instance is slow to answer. A socket left behind
    // by a crashed instance is removed and taken over. Call once.
    Role claim(const QStringList& arguments, int timeoutMs = 1000);

    // The socket's full path: in $XDG_RUNTIME_DIR (else a per-user temporary folder).
    QString serverName() const { return m_serverName; }

    // Per user (the runtime folder is) and per profile: a hash of the settings and data
    // locations, so that a launch with its own XDG_CONFIG_HOME/XDG_DATA_HOME (tests, the
    // screenshot script) does not hand its files to the user's window.
    static QString defaultKey();

signals:
    // A later launch's arguments (possibly empty: it only asked for the window).
    void messageReceived(const QStringList& arguments);

private:
    void readMessage(class QLocalSocket* socket);

    QString m_serverName;
    QLocalServer m_server;
};
