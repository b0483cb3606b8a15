// RemoteServers: the remote entries, their persistence and the connection test.
#include "remote_servers.h"

#include "hearth/remote/openai_client.h"

#include <QFutureWatcher>
#include <QSettings>
#include <QUuid>
#include <QtConcurrent/QtConcurrentRun>

namespace remote = hearth::remote;

namespace {

constexpr const char* kServersKey = "remote/servers";

QString qstr(const std::string& text) {
    return QString::fromStdString(text);
}

// The connection test, on a pool thread: the probe's findings as the panel shows them.
QVariantMap probeServer(const QString& url, const QString& apiKey,
                        const remote::CancelToken& cancel) {
    QVariantMap result{{"ok", false}, {"url", url}};
    remote::EndpointConfig config;
    config.url = url.trimmed().toStdString();
    config.api_key = apiKey.toStdString();
    auto client = remote::RemoteClient::create(std::move(config));
    if (!client) {
        result["error"] = qstr(client.error().error.message);
        return result;
    }
    auto probe = client->probe(cancel);
    if (!probe) {
        result["error"] = qstr(probe.error().error.message);
        return result;
    }
    QStringList models;
    for (const remote::RemoteModel& model : probe->models) {
        models << qstr(model.id);
    }
    QStringList facts;
    for (const std::string& fact : probe->facts) {
        facts << qstr(fact);
    }
    QStringList ignored;
    for (const std::string& knob : remote::ignored_knobs(probe->family)) {
        ignored << qstr(knob);
    }
    const QString family = QString::fromUtf8(remote::server_family_name(probe->family));
    result["ok"] = true;
    result["url"] = qstr(client->url().display());
    result["server"] = probe->description.empty() ? family : qstr(probe->description);
    result["family"] = family;
    result["facts"] = facts;
    result["models"] = models;
    result["ignored"] = ignored;
    result["completions"] = probe->has_completions;
    return result;
}

} // namespace

bool RemoteServers::isRemotePath(const QString& path) {
    return path.startsWith(QLatin1String(kPathPrefix));
}

RemoteServers::RemoteServers(QObject* parent) : QAbstractListModel(parent) {
    // An INI array (remote/servers/1/id, ...), which a person or a script can write too.
    QSettings settings;
    const int size = settings.beginReadArray(QLatin1String(kServersKey));
    for (int i = 0; i < size; ++i) {
        settings.setArrayIndex(i);
        Entry entry{settings.value("id").toString(), settings.value("name").toString(),
                    settings.value("url").toString(), settings.value("model").toString()};
        // A hand-edited or damaged entry is left out rather than offered half.
        if (!entry.id.isEmpty() && remote::parse_endpoint_url(entry.url.toStdString()) &&
            !entry.model.isEmpty()) {
            m_entries.push_back(entry);
        }
    }
    settings.endArray();
    connect(&m_keys, &RemoteKeyStore::statusChanged, this, &RemoteServers::keyStorageChanged);
    for (const Entry& entry : m_entries) {
        m_keys.fetch(entry.id, [](const QString&) {}); // known from now on (targetNow)
    }
}

RemoteServers::~RemoteServers() = default;

int RemoteServers::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_entries.size());
}

QVariant RemoteServers::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_entries.size()) {
        return {};
    }
    const Entry& entry = m_entries.at(index.row());
    switch (role) {
    case IdRole:
        return entry.id;
    case Qt::DisplayRole:
    case NameRole:
        return entry.name;
    case UrlRole:
        return entry.url;
    case ModelRole:
        return entry.model;
    case PathRole:
        return QLatin1String(kPathPrefix) + entry.id;
    case LoadedRole:
        return QLatin1String(kPathPrefix) + entry.id == m_loadedPath;
    default:
        return {};
    }
}

QHash<int, QByteArray> RemoteServers::roleNames() const {
    return {{IdRole, "entryId"},  {NameRole, "name"}, {UrlRole, "url"},
            {ModelRole, "model"}, {PathRole, "path"}, {LoadedRole, "loaded"}};
}

void RemoteServers::testConnection(const QString& url, const QString& apiKey) {
    const quint64 test = ++m_lastTest;
    m_testing = test;
    m_testResult.clear();
    emit testChanged();
    // The watcher belongs to this object: a test still running when the panel goes away
    // answers no one (the probe's own timeouts bound it).
    auto* watcher = new QFutureWatcher<QVariantMap>(this);
    connect(watcher, &QFutureWatcher<QVariantMap>::finished, this, [this, watcher, test] {
        watcher->deleteLater();
        if (test != m_lastTest) {
            return; // a newer test superseded it
        }
        m_testing = 0;
        m_testResult = watcher->result();
        emit testChanged();
        emit testFinished();
    });
    watcher->setFuture(QtConcurrent::run(probeServer, url, apiKey, remote::CancelToken()));
}

QString RemoteServers::add(const QString& name, const QString& url, const QString& apiKey,
                           const QString& model) {
    const auto parsed = remote::parse_endpoint_url(url.trimmed().toStdString());
    if (!parsed) {
        setLastError(qstr(parsed.error().message));
        return {};
    }
    if (model.trimmed().isEmpty()) {
        setLastError(QStringLiteral("Choose one of the server's models (test the connection)."));
        return {};
    }
    Entry entry{QUuid::createUuid().toString(QUuid::WithoutBraces), name.trimmed(), url.trimmed(),
                model.trimmed()};
    if (entry.name.isEmpty()) {
        entry.name = QStringLiteral("%1 (%2)").arg(entry.model, qstr(parsed->host));
    }
    beginInsertRows({}, int(m_entries.size()), int(m_entries.size()));
    m_entries.push_back(entry);
    endInsertRows();
    m_keys.store(entry.id, apiKey);
    save();
    setLastError({});
    emit countChanged();
    return QLatin1String(kPathPrefix) + entry.id;
}

void RemoteServers::remove(const QString& path) {
    const int row = rowOf(path);
    if (row < 0) {
        return;
    }
    m_keys.remove(m_entries.at(row).id);
    beginRemoveRows({}, row, row);
    m_entries.removeAt(row);
    endRemoveRows();
    save();
    emit countChanged();
}

void RemoteServers::setKey(const QString& path, const QString& apiKey) {
    const int row = rowOf(path);
    if (row < 0) {
        return;
    }
    m_keys.store(m_entries.at(row).id, apiKey);
    emit keyChanged(path, apiKey);
}

QString RemoteServers::nameOf(const QString& path) const {
    const int row = rowOf(path);
    return row < 0 ? QString() : m_entries.at(row).name;
}

void RemoteServers::target(const QString& path,
                           std::function<void(std::optional<RemoteTarget>)> done) {
    const int row = rowOf(path);
    if (row < 0) {
        done(std::nullopt);
        return;
    }
    const Entry entry = m_entries.at(row);
    m_keys.fetch(entry.id, [path, entry, done = std::move(done)](const QString& key) {
        done(RemoteTarget{path, entry.name, entry.url, key, entry.model});
    });
}

std::optional<RemoteTarget> RemoteServers::targetNow(const QString& path) const {
    const int row = rowOf(path);
    if (row < 0) {
        return std::nullopt;
    }
    const Entry& entry = m_entries.at(row);
    return RemoteTarget{path, entry.name, entry.url, m_keys.known(entry.id), entry.model};
}

void RemoteServers::setLoadedPath(const QString& path) {
    if (path == m_loadedPath) {
        return;
    }
    m_loadedPath = path;
    if (!m_entries.isEmpty()) {
        emit dataChanged(index(0), index(int(m_entries.size()) - 1), {LoadedRole});
    }
}

int RemoteServers::rowOf(const QString& path) const {
    if (!isRemotePath(path)) {
        return -1;
    }
    const QString id = path.mid(int(qstrlen(kPathPrefix)));
    for (int row = 0; row < m_entries.size(); ++row) {
        if (m_entries.at(row).id == id) {
            return row;
        }
    }
    return -1;
}

void RemoteServers::save() const {
    QSettings settings;
    settings.remove(QLatin1String(kServersKey));
    settings.beginWriteArray(QLatin1String(kServersKey), int(m_entries.size()));
    for (int i = 0; i < m_entries.size(); ++i) {
        const Entry& entry = m_entries.at(i);
        settings.setArrayIndex(i);
        settings.setValue("id", entry.id);
        settings.setValue("name", entry.name);
        settings.setValue("url", entry.url);
        settings.setValue("model", entry.model);
    }
    settings.endArray();
}

void RemoteServers::setLastError(const QString& error) {
    if (error != m_lastError) {
        m_lastError = error;
        emit lastErrorChanged();
    }
}
