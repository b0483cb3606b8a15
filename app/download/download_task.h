// One file downloaded over HTTP(S) into NAME.part, verified, then renamed to NAME.
//
// The task follows redirects itself (Hugging Face answers with a redirect to its CDN) under
// http_policy.h's rules: bounded, no loops, the access token only to the origin it was given
// for. It resumes with an HTTP Range request from the bytes already in NAME.part (after a
// dropped connection, a pause or an app restart: see DownloadState), starts over cleanly when
// the server ignores the range, retries failures with exponential back-off until they stop
// taking the file further (DownloadOptions), hashes the data as it arrives, and renames the
// file only when its size and SHA-256 match. The bytes already on disk (a NAME.part it
// continues, a finished file it may not need to fetch again) are hashed on a worker thread
// (file_hasher.h); the request waits for that hash. A download that fails before its first
// byte leaves no NAME.part behind.
//
// Lives on the thread of its QNetworkAccessManager (the GUI thread in the app). Not
// thread-safe. The token is never written to a log, a message or the state file.
#pragma once

#include "download_state.h"
#include "file_hasher.h"
#include "http_policy.h"
#include "sha256.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFutureWatcher>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

// docs/LIMITS.md, "Downloads and Hugging Face".
struct DownloadOptions {
    // Failed attempts in a row that made no lasting progress before the task gives up. An
    // attempt makes lasting progress when it takes the file further than every attempt before
    // it; one that started over from zero (the server ignored or refused the Range) and fell
    // short of that mark did not, however many bytes it fetched.
    int maxRetries = 4;
    // Attempts in all, progress or not, for one start(): a server that sends a few more bytes
    // on each connection stops here. NAME.part stays, to resume later.
    int maxAttempts = 100;
    int retryBaseDelayMs = 1000; // back-off: base, 2×base, 4×base, ... (at most 64×base)
    int transferTimeoutMs = HttpPolicy::kTransferTimeoutMs;
    int maxRedirects = HttpPolicy::kMaxRedirects;
    // Free bytes on the volume of a directory; QStorageInfo by default, a fixed figure in tests.
    std::function<qint64(const QString& directory)> freeSpace;
};

class DownloadTask : public QObject {
    Q_OBJECT
public:
    enum class Status { Queued, Running, Retrying, Paused, Verifying, Finished, Failed, Cancelled };
    Q_ENUM(Status)

    // `token` (may be empty) is sent as "Authorization: Bearer" to the origin of state.url only
    // (the manager gives it to tasks whose URL is on the hub's origin).
    DownloadTask(QNetworkAccessManager* network, DownloadState state, QByteArray token,
                 DownloadOptions options, QObject* parent = nullptr);
    ~DownloadTask() override;

    // Starts or resumes (from Queued, Paused or Failed). Continues NAME.part when its state
    // file describes the same download; otherwise starts from zero.
    void start();
    // Marks a paused, failed or cancelled task as waiting for a slot (DownloadManager).
    void requeue();
    // Stops the transfer and keeps NAME.part and its state, to resume later.
    void pause();
    // Stops the transfer and removes NAME.part and its state.
    void cancel();

    Status status() const { return m_status; }
    bool isActive() const;
    const DownloadState& state() const { return m_state; }
    QString destination() const { return m_state.destination; }
    QString errorMessage() const { return m_error; }
    qint64 bytesReceived() const { return m_offset; }
    qint64 bytesTotal() const { return m_total; } // -1 while unknown
    double bytesPerSecond() const { return m_speed; }
    double secondsLeft() const;                 // -1 while unknown
    QString sha256() const { return m_sha256; } // of the finished file
    int attempts() const { return m_attempt; }
    // True while the bytes already on disk are being hashed, before the request.
    bool isHashing() const { return m_hashWatcher != nullptr; }

signals:
    void progressChanged();
    void statusChanged(DownloadTask::Status status);
    void finished(const QString& path);
    void failed(const QString& message);

private:
    bool alreadyThereCandidate() const;
    void onExistingHashed(const FileHash& result);
    void prepareTransfer();
    void onPartHashed(const FileHash& result);
    void beginTransfer();
    void hashInBackground(const QString& path, qint64 bytes,
                          void (DownloadTask::*then)(const FileHash&));
    void abortHashing();
    void sendRequest();
    void onReadyRead();
    void onFinished();
    bool acceptResponse();
    QNetworkReply* takeReply();
    void handleResponse(QNetworkReply* reply);
    void followRedirect(const QByteArray& location);
    void retryOrFail(const QString& reason);
    void restartFromZero(const QString& why);
    void verifyAndRename();
    void abortReply();
    void fail(const QString& message);
    void setStatus(Status status);
    void updateSpeed(bool force);
    bool checkFreeSpace(qint64 needed);
    QString partPath() const { return DownloadState::partPath(m_state.destination); }

    QNetworkAccessManager* m_network;
    DownloadState m_state;
    QByteArray m_token;
    DownloadOptions m_options;

    Status m_status = Status::Queued;
    QString m_error;
    QString m_sha256;
    QPointer<QNetworkReply> m_reply;
    QFile m_file;
    // Shared with nothing once set: the worker hands over the state it built.
    std::shared_ptr<Sha256> m_hash;
    QFutureWatcher<FileHash>* m_hashWatcher = nullptr; // the hashing under way, if any
    std::shared_ptr<std::atomic_bool> m_hashCancel;
    QTimer m_retryTimer;

    HttpPolicy::RedirectChain m_redirects; // of the current attempt
    bool m_responseAccepted = false;
    QString m_pendingFailure;     // a fatal problem acceptResponse() found
    bool m_ownsPartFiles = false; // this start() wrote NAME.part.json (and opened NAME.part)

    qint64 m_offset = 0; // bytes in NAME.part
    qint64 m_total = -1;
    int m_attempt = 0;        // failed attempts since the last one that made lasting progress
    int m_failedAttempts = 0; // in all, since start()
    qint64 m_furthest = 0;    // the furthest offset any attempt since start() reached
    QString m_restartReason;  // why an attempt had to start over from zero, if one did

    QElapsedTimer m_clock;
    std::deque<std::pair<qint64, qint64>> m_samples; // (ms, offset) over the last seconds
    qint64 m_lastEmitMs = -1000;
    double m_speed = 0;
};
