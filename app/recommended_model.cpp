// The recommended model's one-click download (see the header).
#include "recommended_model.h"

#include "download_controller.h"
#include "hf_api.h"

RecommendedModel::RecommendedModel(DownloadController* downloads, QObject* parent)
    : QObject(parent), m_downloads(downloads) {
    const auto catalog = builtinCatalog();
    const CatalogEntry* entry = catalog ? recommendedCatalogEntry(*catalog) : nullptr;
    if (!entry) {
        return;
    }
    m_available = true;
    m_entry = *entry;
    m_file = entry->files.first(); // the catalog lists the quantization to start with first
    m_url = HfApi::resolveUrl(m_entry.repo, m_file.file);

    DownloadManager* manager = m_downloads->manager();
    connect(manager, &DownloadManager::taskAdded, this, [this](DownloadTask* task) {
        if (isOurs(task)) {
            adopt(task);
        }
    });
    connect(m_downloads, &DownloadController::catalogDownloadFailed, this,
            [this](const QString& id, const QString& quantization, const QString& message) {
                if (id == m_entry.id && quantization == m_file.quantization &&
                    m_state == State::Preparing) {
                    setState(State::Failed, message);
                }
            });
    connect(m_downloads, &DownloadController::modelDownloaded, this, [this](const QString& path) {
        if (const DownloadTask* task = m_task.data(); task && path == task->destination()) {
            m_path = path;
            setState(State::Downloaded);
            emit downloaded(path);
        }
    });
    // An interrupted download of this file from an earlier run, restored paused.
    for (DownloadTask* task : manager->tasks()) {
        if (isOurs(task)) {
            adopt(task);
        }
    }
}

bool RecommendedModel::isOurs(const DownloadTask* task) const {
    return task && task->state().url == m_url;
}

void RecommendedModel::adopt(DownloadTask* task) {
    if (m_task) {
        disconnect(m_task, nullptr, this, nullptr);
    }
    m_task = task;
    connect(task, &DownloadTask::statusChanged, this, &RecommendedModel::followTask);
    connect(task, &DownloadTask::progressChanged, this, &RecommendedModel::changed);
    if (m_cancelRequested) {
        m_cancelRequested = false;
        m_downloads->manager()->cancel(task);
    }
    followTask();
}

void RecommendedModel::followTask() {
    const DownloadTask* task = m_task.data();
    if (!task) {
        return;
    }
    using Status = DownloadTask::Status;
    switch (task->status()) {
    case Status::Queued:
    case Status::Running:
    case Status::Retrying:
        setState(State::Downloading);
        break;
    case Status::Paused:
        setState(State::Paused);
        break;
    case Status::Verifying:
        setState(State::Verifying);
        break;
    case Status::Finished:
        break; // Downloaded once the controller reports the model complete
    case Status::Failed:
        setState(State::Failed, task->errorMessage());
        break;
    case Status::Cancelled:
        setState(State::Idle);
        break;
    }
}

void RecommendedModel::setState(State state, const QString& error) {
    m_state = state;
    m_error = error;
    emit changed();
}

QString RecommendedModel::sizeText() const {
    if (m_file.size > 0) {
        return DownloadController::formatBytes(double(m_file.size));
    }
    const qint64 estimate = estimatedFileSize(m_entry.parameters, m_file.quantization);
    return estimate > 0 ? QStringLiteral("≈ ") + DownloadController::formatBytes(double(estimate))
                        : QString();
}

double RecommendedModel::progress() const {
    if (m_state == State::Downloaded || m_state == State::Verifying) {
        return 1;
    }
    const DownloadTask* task = m_task.data();
    if (!task || task->bytesTotal() <= 0) {
        return -1;
    }
    return double(task->bytesReceived()) / double(task->bytesTotal());
}

QString RecommendedModel::progressText() const {
    const DownloadTask* task = m_task.data();
    if (!task || (m_state != State::Downloading && m_state != State::Paused)) {
        return {};
    }
    QString text = DownloadController::formatBytes(double(task->bytesReceived()));
    if (task->bytesTotal() > 0) {
        text += tr(" of %1").arg(DownloadController::formatBytes(double(task->bytesTotal())));
    }
    if (m_state == State::Downloading && task->bytesPerSecond() > 0) {
        text +=
            QStringLiteral(" · %1/s").arg(DownloadController::formatBytes(task->bytesPerSecond()));
        if (task->secondsLeft() >= 0) {
            text += tr(" · %1 left").arg(DownloadController::formatDuration(task->secondsLeft()));
        }
    }
    return text;
}

void RecommendedModel::download() {
    if (!m_available) {
        return;
    }
    switch (m_state) {
    case State::Preparing:
    case State::Downloading:
    case State::Verifying:
        return; // under way
    case State::Paused:
        if (m_task) {
            m_downloads->manager()->resume(m_task);
            return;
        }
        break;
    case State::Idle:
    case State::Downloaded: // deleted since, perhaps: the downloader checks what is there
    case State::Failed:
        break;
    }
    // Asked afresh each time: the Hub's listing gives the size and SHA-256 to check against.
    m_cancelRequested = false;
    setState(State::Preparing);
    m_downloads->downloadCatalogFile(m_entry.id, m_file.quantization);
}

void RecommendedModel::pause() {
    if (m_task && m_state == State::Downloading) {
        m_downloads->manager()->pause(m_task);
    }
}

void RecommendedModel::cancel() {
    if (m_state == State::Preparing) {
        m_cancelRequested = true; // the task is cancelled as soon as it is queued
        setState(State::Idle);
        return;
    }
    using Status = DownloadTask::Status;
    DownloadTask* task = m_task.data();
    if (task && (task->isActive() || task->status() == Status::Queued ||
                 task->status() == Status::Paused)) {
        m_downloads->manager()->cancel(task);
    }
}
