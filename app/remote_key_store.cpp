// RemoteKeyStore: QtKeychain where built with it and a session bus runs, else memory only.
#include "remote_key_store.h"

#include <QtGlobal>

#ifdef HEARTH_HAVE_QTKEYCHAIN
#include <qt6keychain/keychain.h>
#endif

namespace {

// The secret store's service name: entries appear as "hearth-remote-servers" in Seahorse.
constexpr const char* kService = "hearth-remote-servers";

const QString kSessionOnly = QStringLiteral(
    "API keys are kept for this session only: no desktop secret store is available.");

} // namespace

RemoteKeyStore::RemoteKeyStore(QObject* parent) : QObject(parent), m_status(kSessionOnly) {
#ifdef HEARTH_HAVE_QTKEYCHAIN
    // Without a session bus (CI, Xvfb, a bare ssh session) no Secret Service can answer, and
    // asking would only wait for D-Bus to time out.
    if (!qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS")) {
        m_persistent = true;
        m_status = QStringLiteral("API keys are kept in the desktop's secret store.");
    }
#endif
}

void RemoteKeyStore::storeFailed(const QString& reason) {
    m_persistent = false;
    m_status = QStringLiteral("The desktop's secret store refused the key (%1): API keys are "
                              "kept for this session only.")
                   .arg(reason);
    emit statusChanged();
}

void RemoteKeyStore::store(const QString& id, const QString& key) {
    if (key.isEmpty()) {
        remove(id);
        return;
    }
    m_keys.insert(id, key);
#ifdef HEARTH_HAVE_QTKEYCHAIN
    if (!m_persistent) {
        return;
    }
    auto* job = new QKeychain::WritePasswordJob(QLatin1String(kService), this);
    job->setKey(id);
    job->setTextData(key);
    connect(job, &QKeychain::Job::finished, this, [this](QKeychain::Job* done) {
        if (done->error() != QKeychain::NoError) {
            storeFailed(done->errorString());
        }
    });
    job->start();
#endif
}

void RemoteKeyStore::remove(const QString& id) {
    m_keys.remove(id);
#ifdef HEARTH_HAVE_QTKEYCHAIN
    if (!m_persistent) {
        return;
    }
    auto* job = new QKeychain::DeletePasswordJob(QLatin1String(kService), this);
    job->setKey(id);
    job->start();
#endif
}

void RemoteKeyStore::fetch(const QString& id, std::function<void(const QString&)> done) {
    if (const auto it = m_keys.constFind(id); it != m_keys.cend() || !m_persistent) {
        done(it != m_keys.cend() ? *it : QString());
        return;
    }
#ifdef HEARTH_HAVE_QTKEYCHAIN
    auto* job = new QKeychain::ReadPasswordJob(QLatin1String(kService), this);
    job->setKey(id);
    connect(job, &QKeychain::Job::finished, this,
            [this, id, done = std::move(done)](QKeychain::Job* finished) {
                const auto* read = static_cast<QKeychain::ReadPasswordJob*>(finished);
                const QString key =
                    read->error() == QKeychain::NoError ? read->textData() : QString();
                if (!key.isEmpty()) {
                    m_keys.insert(id, key);
                }
                done(key);
            });
    job->start();
#else
    done(QString());
#endif
}
