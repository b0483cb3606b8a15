// The download queue: DownloadTasks started in order, at most N at a time, sharing one
// QNetworkAccessManager, a retry policy, a free-space probe and an optional access token.
//
// Tasks are owned by the manager. Destroying the manager pauses the running tasks: their
// NAME.part and state files stay, and restorePending() in the next run picks them up.
// GUI-thread object; not thread-safe.
#pragma once

#include "download_task.h"

#include <QList>
#include <QNetworkAccessManager>
#include <QObject>

class DownloadManager : public QObject {
    Q_OBJECT
public:
    explicit DownloadManager(QObject* parent = nullptr);
    ~DownloadManager() override;

    void setMaxConcurrent(int count);
    int maxConcurrent() const { return m_maxConcurrent; }
    // The token (Hugging Face's) and the origin it belongs to (scheme, host and port, as
    // HfApi::endpoint() gives them): tasks whose URL is on that origin send it; other origins
    // never see it, nor does the CDN a redirect leads to. Empty token: none sent.
    void setToken(const QByteArray& token, const QUrl& origin);
    void setOptions(const DownloadOptions& options) { m_options = options; }
    DownloadOptions options() const { return m_options; }

    // Adds a download; it starts when a slot is free. A download already in the queue for
    // the same destination is returned instead of a second one. With `start` false the task
    // is added paused. A task that starts at once may end before this returns (a directory
    // that cannot be made, a disk too small): connect to taskFailed and taskFinished first.
    DownloadTask* enqueue(const DownloadState& request, bool start = true);
    // Re-enqueues the interrupted downloads whose state files are in `directory`, paused
    // (autoStart false) or queued. Returns how many.
    int restorePending(const QString& directory, bool autoStart);

    void pause(DownloadTask* task);
    void resume(DownloadTask* task);
    void cancel(DownloadTask* task);
    // Forgets a task that is no longer active (finished, failed, cancelled).
    void remove(DownloadTask* task);

    const QList<DownloadTask*>& tasks() const { return m_tasks; }
    DownloadTask* find(const QString& destination) const;
    int activeCount() const;

signals:
    void taskAdded(DownloadTask* task);
    void taskRemoved(DownloadTask* task);
    void taskFinished(DownloadTask* task, const QString& path);
    void taskFailed(DownloadTask* task, const QString& message);
    // Every part of a group finished: `paths` in part order (a split GGUF's first part first).
    void groupFinished(const QString& group, const QStringList& paths);

private:
    void schedule();
    void onTaskFinished(DownloadTask* task, const QString& path);

    QNetworkAccessManager m_network;
    QList<DownloadTask*> m_tasks;
    DownloadOptions m_options;
    QByteArray m_token;
    QUrl m_tokenOrigin;
    int m_maxConcurrent = 2;
};
