// One file downloaded over HTTP(S) into NAME.part, verified, then renamed to NAME.
//
// The task follows redirects itself (Hugging Face answers with a redirect to its CDN) so
// that it can stop loops and send the access token only to the host it was given for. It
// resumes with an HTTP Range request from the bytes already in NAME.part (after a dropped
// connection, a pause or an app restart: see DownloadState), starts over cleanly when the
// server ignores the range, retries network failures with exponential back-off, hashes the
// data as it arrives, and renames the file only when its size and SHA-256 match. The bytes
// already on disk (a NAME.part it continues, a finished file it may not need to fetch again)
// are hashed on a worker thread (file_hasher.h); the request waits for that hash.
//
// Lives on the thread of its QNetworkAccessManager (the GUI thread in the app). Not
// thread-safe. The token is never written to a log, a message or the state file.
#pragma once

#include "download_state.h"
#include "file_hasher.h"
#include "sha256.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFutureWatcher>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

struct DownloadOptions {
    int maxRetries = 4;            // attempts after a failure that made no progress
    int retryBaseDelayMs = 1000;   // back-off: base, 2×base, 4×base, ...
    int transferTimeoutMs = 30000; // a stalled connection counts as dropped after this
    int maxRedirects = 10;
    // Free bytes on the volume of a directory; QStorageInfo by default, a fixed figure in tests.
    std::function<qint64(const QString& directory)> freeSpace;
};

class DownloadTask : public QObject {
    Q_OBJECT
public:
    enum class Status { Queued, Running, Retrying, Paused, Verifying, Finished, Failed, Cancelled };
    Q_ENUM(Status)

    // `token` (may be empty) is sent as "Authorization: Bearer" to the host of state.url only.
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
    void followRedirect(const QByteArray& location);
    void retryOrFail(const QString& reason);
    void restartFromZero();
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

    QUrl m_currentUrl;    // after redirects
    QSet<QUrl> m_visited; // URLs of this redirect chain, to stop loops
    int m_redirects = 0;
    bool m_responseAccepted = false;
    QString m_pendingFailure; // a fatal problem acceptResponse() found

    qint64 m_offset = 0; // bytes in NAME.part
    qint64 m_total = -1;
    int m_attempt = 0;
    qint64 m_offsetAtAttempt = 0;

    QElapsedTimer m_clock;
    std::deque<std::pair<qint64, qint64>> m_samples; // (ms, offset) over the last seconds
    qint64 m_lastEmitMs = -1000;
    double m_speed = 0;
};
