// The Models panel's "Local server" (issue 19), on the GUI thread: the switch, its settings
// (port and slots persist in QSettings with the switch; the API key lives for the session
// only), its state and errors in words, and live figures read from the worker a few times a
// second: requests in flight / served / refused, slot occupancy and the queue, and tokens/s of
// the server's requests and of the whole model (the chat's included).
//
// The server runs on the chat's scheduler (EngineWorker::startServer): starting waits for a
// running chat reply to end, since the worker re-creates the scheduler with the server's slots
// between the chat's requests; stopping happens at once, on a thread of its own (it joins the
// server's threads), and the chat gets its one slot back after. A model loaded while the
// switch is on starts the server on it; unloading stops it and says so.
#pragma once

#include "local_server_types.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QObject>
#include <QTimer>
#include <QtQml/qqmlregistration.h>
#include <deque>

class EngineThread;
struct ModelSummary;

class LocalServer : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("LocalServer belongs to ChatController")
    Q_PROPERTY(bool enabled READ enabled WRITE setEnabled NOTIFY stateChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY settingsChanged)
    Q_PROPERTY(int serverSlots READ serverSlots WRITE setServerSlots NOTIFY settingsChanged)
    Q_PROPERTY(bool hasApiKey READ hasApiKey NOTIFY settingsChanged)
    // The server's base URL ("http://127.0.0.1:8080/v1"): the one it has, or will have.
    Q_PROPERTY(QString url READ url NOTIFY stateChanged)
    // Why it is not running ("port 8080 is in use — choose another"); "" when nothing failed.
    Q_PROPERTY(QString error READ error NOTIFY stateChanged)
    // What happened to it without an error ("stopped: the model was unloaded").
    Q_PROPERTY(QString note READ note NOTIFY stateChanged)
    // What `slots` cost before they are spent: "2 slots × 96.0 MiB = 192.0 MiB of KV cache in RAM".
    Q_PROPERTY(QString memoryText READ memoryText NOTIFY settingsChanged)
    Q_PROPERTY(int requestsInFlight READ requestsInFlight NOTIFY statsChanged)
    Q_PROPERTY(int requestsServed READ requestsServed NOTIFY statsChanged)
    Q_PROPERTY(int requestsRefused READ requestsRefused NOTIFY statsChanged)
    Q_PROPERTY(int slotCount READ slotCount NOTIFY statsChanged)
    Q_PROPERTY(int slotsBusy READ slotsBusy NOTIFY statsChanged)
    Q_PROPERTY(int serverSlotsBusy READ serverSlotsBusy NOTIFY statsChanged)
    Q_PROPERTY(int queueLength READ queueLength NOTIFY statsChanged)
    Q_PROPERTY(double serverTokensPerSecond READ serverTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(double modelTokensPerSecond READ modelTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(int tokensServed READ tokensServed NOTIFY statsChanged)

public:
    // Off; On but waiting for a model; Starting (it may wait for the chat's reply to end);
    // Running.
    enum class State { Off, Waiting, Starting, Running };
    Q_ENUM(State)

    // docs/LIMITS.md, "Local server in the app": slots beside the chat's (each a KV cache the
    // size of the chat's), and the panel's refresh.
    static constexpr int kMinSlots = 1;
    static constexpr int kMaxSlots = 8;
    static constexpr int kDefaultPort = 8080;
    static constexpr int kStatsIntervalMs = 250;
    // Tokens/s are averaged over the last readings of this span.
    static constexpr int kRateWindowMs = 2000;

    LocalServer(EngineThread& engine, QObject* parent = nullptr);
    ~LocalServer() override;

    bool enabled() const { return m_enabled; }
    void setEnabled(bool on);
    State state() const { return m_state; }
    int port() const { return m_port; }
    void setPort(int port);
    int serverSlots() const { return m_slots; }
    void setServerSlots(int count);
    bool hasApiKey() const { return !m_apiKey.isEmpty(); }
    QString apiKey() const { return m_apiKey; }
    QString url() const;
    QString error() const { return m_error; }
    QString note() const { return m_note; }
    QString memoryText() const;

    int requestsInFlight() const { return int(m_snapshot.requestsInFlight); }
    int requestsServed() const { return int(m_snapshot.requestsServed); }
    int requestsRefused() const { return int(m_snapshot.requestsRefused); }
    int slotCount() const { return m_snapshot.slotCount; }
    int slotsBusy() const { return m_snapshot.slotsBusy; }
    int serverSlotsBusy() const { return m_snapshot.serverSlotsBusy; }
    int queueLength() const { return m_snapshot.queueLength; }
    double serverTokensPerSecond() const { return m_serverRate; }
    double modelTokensPerSecond() const { return m_modelRate; }
    int tokensServed() const { return int(m_snapshot.serverTokens); }

    // A new random key (256 bits), asked for from now on and returned to be shown once; kept
    // for this session only, never written to the settings file. A desktop secret store (the
    // QtKeychain that remote servers' keys use) would keep it across runs: load it in the
    // constructor and store it here.
    Q_INVOKABLE QString generateApiKey();
    Q_INVOKABLE void clearApiKey();
    Q_INVOKABLE void copyToClipboard(const QString& text);

    // ChatController: the model the server runs on is ready (it starts when the switch is
    // on) or is going (the worker stops the server itself and says why).
    void modelReady(const ModelSummary& summary);
    void modelGone();
    // Waits for a stop in progress: before the engine thread goes.
    void shutdown();

signals:
    void stateChanged();
    void settingsChanged();
    void statsChanged();

private:
    void requestStart();
    void stopNow(const QString& note);
    void stopInBackground();
    void setState(State state);
    void poll();
    void onStarted(quint64 ticket, const QString& url, int slotCount);
    void onFailed(quint64 ticket, const QString& message);
    void onStopped(const QString& why);

    EngineThread& m_engine;
    bool m_enabled = false;
    State m_state = State::Off;
    int m_port = kDefaultPort;
    int m_slots = kMinSlots;
    QString m_apiKey;
    QString m_url; // the running server's
    QString m_error;
    QString m_note;
    bool m_modelReady = false;
    qint64 m_slotBytes = 0;
    bool m_onGpu = false;
    quint64 m_ticket = 0; // the start asked for last; older answers are stale
    QFuture<void> m_stopping;

    QTimer m_timer;
    QElapsedTimer m_clock;
    LocalServerSnapshot m_snapshot;
    struct Reading {
        qint64 ms = 0;
        quint64 serverTokens = 0;
        quint64 modelTokens = 0;
    };
    std::deque<Reading> m_readings;
    double m_serverRate = 0;
    double m_modelRate = 0;
};
