// The Local server switch: settings, the start/stop hand-over to the worker, and the live
// figures it reads from it.
#include "local_server.h"

#include "engine_worker.h"

#include <QClipboard>
#include <QGuiApplication>
#include <QRandomGenerator>
#include <QSettings>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>

namespace {

// QSettings keys. The API key is not among them: it is never written in clear.
constexpr const char* kEnabledKey = "server/enabled";
constexpr const char* kPortKey = "server/port";
constexpr const char* kSlotsKey = "server/slots";

int readInt(const QSettings& settings, const char* key, int fallback, int low, int high) {
    bool ok = false;
    const qlonglong value = settings.value(QLatin1String(key)).toLongLong(&ok);
    return ok ? int(std::clamp<qlonglong>(value, low, high)) : fallback;
}

} // namespace

LocalServer::LocalServer(EngineThread& engine, QObject* parent)
    : QObject(parent), m_engine(engine) {
    const QSettings settings;
    m_enabled = settings.value(QLatin1String(kEnabledKey), false).toBool();
    m_port = readInt(settings, kPortKey, kDefaultPort, 1, 65535);
    m_slots = readInt(settings, kSlotsKey, kMinSlots, kMinSlots, kMaxSlots);
    m_state = m_enabled ? State::Waiting : State::Off;
    m_clock.start();
    m_timer.setInterval(kStatsIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &LocalServer::poll);
    EngineWorker* worker = m_engine.worker();
    connect(worker, &EngineWorker::serverStarted, this, &LocalServer::onStarted);
    connect(worker, &EngineWorker::serverFailed, this, &LocalServer::onFailed);
    connect(worker, &EngineWorker::serverStopped, this, &LocalServer::onStopped);
}

LocalServer::~LocalServer() {
    shutdown();
}

void LocalServer::shutdown() {
    m_timer.stop();
    m_stopping.waitForFinished();
}

QString LocalServer::url() const {
    return m_state == State::Running ? m_url : QStringLiteral("http://127.0.0.1:%1/v1").arg(m_port);
}

QString LocalServer::memoryText() const {
    if (!m_modelReady || m_slotBytes <= 0) {
        return {};
    }
    return QStringLiteral("%1 of KV cache in %2")
        .arg(slotMemoryArithmetic(m_slots, m_slotBytes))
        .arg(m_onGpu ? QStringLiteral("GPU memory") : QStringLiteral("RAM"));
}

void LocalServer::setEnabled(bool on) {
    if (on == m_enabled) {
        return;
    }
    m_enabled = on;
    QSettings().setValue(QLatin1String(kEnabledKey), on);
    m_error.clear();
    m_note.clear();
    if (on) {
        if (m_modelReady) {
            requestStart();
        } else {
            setState(State::Waiting);
        }
    } else {
        stopNow(QString());
    }
}

void LocalServer::setPort(int port) {
    port = std::clamp(port, 1, 65535);
    if (port == m_port) {
        return;
    }
    m_port = port;
    QSettings().setValue(QLatin1String(kPortKey), port);
    emit settingsChanged();
    emit stateChanged(); // the URL
    if (m_state == State::Running || m_state == State::Starting) {
        requestStart(); // the worker stops the old server first
    }
}

void LocalServer::setServerSlots(int count) {
    count = std::clamp(count, kMinSlots, kMaxSlots);
    if (count == m_slots) {
        return;
    }
    m_slots = count;
    QSettings().setValue(QLatin1String(kSlotsKey), count);
    emit settingsChanged();
    if (m_state == State::Running || m_state == State::Starting) {
        requestStart();
    }
}

QString LocalServer::generateApiKey() {
    quint32 words[8];
    QRandomGenerator::system()->fillRange(words);
    const QByteArray raw(reinterpret_cast<const char*>(words), sizeof(words));
    m_apiKey = QStringLiteral("hearth-") +
               QString::fromLatin1(
                   raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    emit settingsChanged();
    if (m_state == State::Running || m_state == State::Starting) {
        requestStart();
    }
    return m_apiKey;
}

void LocalServer::clearApiKey() {
    if (m_apiKey.isEmpty()) {
        return;
    }
    m_apiKey.clear();
    emit settingsChanged();
    if (m_state == State::Running || m_state == State::Starting) {
        requestStart();
    }
}

void LocalServer::copyToClipboard(const QString& text) {
    QGuiApplication::clipboard()->setText(text);
}

void LocalServer::modelReady(const ModelSummary& summary) {
    m_modelReady = true;
    m_slotBytes = summary.slotBytes;
    m_onGpu = summary.cudaDevice >= 0;
    emit settingsChanged(); // the memory text
    if (m_enabled) {
        requestStart();
    }
}

void LocalServer::modelGone() {
    m_modelReady = false;
    ++m_ticket; // a start still queued on the worker finds no model, or is stopped
    emit settingsChanged();
    if (m_enabled && m_state != State::Running) {
        setState(State::Waiting);
    }
}

void LocalServer::requestStart() {
    const quint64 ticket = ++m_ticket;
    const LocalServerOptions options{.port = m_port, .serverSlots = m_slots, .apiKey = m_apiKey};
    m_error.clear();
    setState(State::Starting);
    // After a stop still joining the old server's threads: startServer waits for it.
    m_engine.post(
        [worker = m_engine.worker(), ticket, options] { worker->startServer(ticket, options); });
}

void LocalServer::stopNow(const QString& note) {
    ++m_ticket;
    m_note = note;
    setState(m_enabled ? State::Waiting : State::Off);
    stopInBackground();
}

void LocalServer::stopInBackground() {
    // The worker may be busy with the chat's reply: the stop runs beside it, at once, and the
    // chat's one slot comes back once the worker is free.
    EngineWorker* worker = m_engine.worker();
    m_stopping.waitForFinished(); // one stop at a time
    m_stopping = QtConcurrent::run([worker] {
        worker->stopServer(QString());
        // Once stopped (a start asked for meanwhile keeps its slots). The worker outlives this
        // task: shutdown() waits for it before the engine thread goes.
        QMetaObject::invokeMethod(
            worker, [worker] { worker->leaveServerSlots(); }, Qt::QueuedConnection);
    });
}

void LocalServer::onStarted(quint64 ticket, const QString& url, int slotCount) {
    if (ticket != m_ticket) {
        // A start that waited for the worker while the switch went off (or the model went):
        // its server goes again. While a newer start is on its way, that one replaces it.
        if (m_state != State::Starting) {
            stopInBackground();
        }
        return;
    }
    m_url = url;
    m_slots = slotCount;
    m_error.clear();
    m_note.clear();
    m_readings.clear();
    setState(State::Running);
    poll();
}

void LocalServer::onFailed(quint64 ticket, const QString& message) {
    if (ticket != m_ticket) {
        return;
    }
    m_error = message;
    m_enabled = false; // the switch goes back off, and stays off at the next start
    QSettings().setValue(QLatin1String(kEnabledKey), false);
    setState(State::Off);
}

void LocalServer::onStopped(const QString& why) {
    if (why.isEmpty()) {
        return; // asked for here
    }
    // The model went: the worker stopped the server before it.
    m_note = QStringLiteral("Stopped: %1.").arg(why);
    if (m_state == State::Running) {
        setState(m_enabled ? State::Waiting : State::Off);
    } else {
        emit stateChanged();
    }
}

void LocalServer::setState(State state) {
    m_state = state;
    if (state == State::Running) {
        m_timer.start();
    } else {
        m_timer.stop();
        m_snapshot = LocalServerSnapshot{};
        m_serverRate = 0;
        m_modelRate = 0;
        emit statsChanged();
    }
    emit stateChanged();
}

void LocalServer::poll() {
    m_snapshot = m_engine.worker()->serverSnapshot();
    const Reading now{m_clock.elapsed(), m_snapshot.serverTokens, m_snapshot.modelTokens};
    // A re-created scheduler starts counting again.
    if (!m_readings.empty() && (now.serverTokens < m_readings.back().serverTokens ||
                                now.modelTokens < m_readings.back().modelTokens)) {
        m_readings.clear();
    }
    m_readings.push_back(now);
    while (m_readings.size() > 2 && now.ms - m_readings.front().ms > kRateWindowMs) {
        m_readings.pop_front();
    }
    const Reading& first = m_readings.front();
    const double seconds = double(now.ms - first.ms) / 1000.0;
    m_serverRate = seconds > 0 ? double(now.serverTokens - first.serverTokens) / seconds : 0;
    m_modelRate = seconds > 0 ? double(now.modelTokens - first.modelTokens) / seconds : 0;
    emit statsChanged();
}
