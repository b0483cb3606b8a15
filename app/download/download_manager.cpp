// The download queue (see the header).
#include "download_manager.h"

#include <QDir>
#include <algorithm>

DownloadManager::DownloadManager(QObject* parent) : QObject(parent) {}

DownloadManager::~DownloadManager() {
    for (DownloadTask* task : std::as_const(m_tasks)) {
        task->pause(); // keeps NAME.part and its state for the next run
    }
    qDeleteAll(m_tasks);
}

void DownloadManager::setMaxConcurrent(int count) {
    m_maxConcurrent = std::max(1, count);
    schedule();
}

void DownloadManager::setToken(const QByteArray& token, const QUrl& origin) {
    m_token = token;
    m_tokenOrigin = origin;
}

DownloadTask* DownloadManager::find(const QString& destination) const {
    const QString wanted = QDir::cleanPath(destination);
    for (DownloadTask* task : m_tasks) {
        if (QDir::cleanPath(task->destination()) == wanted) {
            return task;
        }
    }
    return nullptr;
}

int DownloadManager::activeCount() const {
    return static_cast<int>(std::count_if(m_tasks.begin(), m_tasks.end(),
                                          [](DownloadTask* task) { return task->isActive(); }));
}

DownloadTask* DownloadManager::enqueue(const DownloadState& request, bool start) {
    if (DownloadTask* existing = find(request.destination)) {
        const auto status = existing->status();
        if (status != DownloadTask::Status::Cancelled && status != DownloadTask::Status::Failed &&
            status != DownloadTask::Status::Finished) {
            return existing;
        }
        remove(existing);
    }
    const QByteArray token =
        HttpPolicy::sameOrigin(request.url, m_tokenOrigin) ? m_token : QByteArray();
    auto* task = new DownloadTask(&m_network, request, token, m_options, this);
    connect(task, &DownloadTask::finished, this,
            [this, task](const QString& path) { onTaskFinished(task, path); });
    connect(task, &DownloadTask::failed, this, [this, task](const QString& message) {
        emit taskFailed(task, message);
        schedule();
    });
    connect(task, &DownloadTask::statusChanged, this, [this](DownloadTask::Status status) {
        if (status == DownloadTask::Status::Paused || status == DownloadTask::Status::Cancelled) {
            schedule();
        }
    });
    if (!start) {
        task->pause();
    }
    m_tasks.append(task);
    emit taskAdded(task);
    schedule();
    return task;
}

int DownloadManager::restorePending(const QString& directory, bool autoStart) {
    const QDir dir(directory);
    int count = 0;
    for (const QString& name : dir.entryList({QStringLiteral("*.part.json")}, QDir::Files)) {
        const auto state = DownloadState::loadFile(dir.filePath(name));
        if (!state || find(state->destination)) {
            continue;
        }
        enqueue(*state, autoStart);
        ++count;
    }
    return count;
}

void DownloadManager::pause(DownloadTask* task) {
    if (m_tasks.contains(task)) {
        task->pause();
    }
}

void DownloadManager::resume(DownloadTask* task) {
    if (!m_tasks.contains(task) || task->isActive() ||
        task->status() == DownloadTask::Status::Finished) {
        return;
    }
    // Back in the queue, behind the downloads already waiting.
    m_tasks.removeOne(task);
    m_tasks.append(task);
    task->requeue();
    schedule();
}

void DownloadManager::cancel(DownloadTask* task) {
    if (m_tasks.contains(task)) {
        task->cancel();
    }
}

void DownloadManager::remove(DownloadTask* task) {
    if (!m_tasks.contains(task)) {
        return;
    }
    if (task->isActive()) {
        task->pause();
    }
    m_tasks.removeOne(task);
    emit taskRemoved(task);
    task->deleteLater();
    schedule();
}

void DownloadManager::schedule() {
    for (DownloadTask* task : std::as_const(m_tasks)) {
        if (activeCount() >= m_maxConcurrent) {
            return;
        }
        if (task->status() == DownloadTask::Status::Queued) {
            task->start();
        }
    }
}

void DownloadManager::onTaskFinished(DownloadTask* task, const QString& path) {
    emit taskFinished(task, path);
    const QString group = task->state().group;
    if (!group.isEmpty()) {
        QStringList paths;
        for (DownloadTask* other : std::as_const(m_tasks)) {
            if (other->state().group != group) {
                continue;
            }
            if (other->status() != DownloadTask::Status::Finished) {
                paths.clear();
                break;
            }
            paths.append(other->destination());
        }
        if (!paths.isEmpty()) {
            paths.sort(); // -00001-of-0000N first
            emit groupFinished(group, paths);
        }
    }
    schedule();
}
