// The downloads as a list model for QML (see the header).
#include "download_list_model.h"

#include <QFileInfo>

DownloadListModel::DownloadListModel(DownloadManager* manager, QObject* parent)
    : QAbstractListModel(parent), m_manager(manager) {
    for (DownloadTask* task : manager->tasks()) {
        m_rows.append(task);
        watch(task);
    }
    connect(manager, &DownloadManager::taskAdded, this, [this](DownloadTask* task) {
        beginInsertRows({}, static_cast<int>(m_rows.size()), static_cast<int>(m_rows.size()));
        m_rows.append(task);
        endInsertRows();
        watch(task);
    });
    connect(manager, &DownloadManager::taskRemoved, this, [this](DownloadTask* task) {
        const auto row = static_cast<int>(m_rows.indexOf(task));
        if (row >= 0) {
            beginRemoveRows({}, row, row);
            m_rows.removeAt(row);
            endRemoveRows();
        }
    });
}

void DownloadListModel::watch(DownloadTask* task) {
    auto changed = [this, task] {
        const auto row = static_cast<int>(m_rows.indexOf(task));
        if (row >= 0) {
            emit dataChanged(index(row), index(row));
        }
    };
    connect(task, &DownloadTask::progressChanged, this, changed);
    connect(task, &DownloadTask::statusChanged, this, changed);
}

int DownloadListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

DownloadTask* DownloadListModel::taskAt(int row) const {
    return row >= 0 && row < m_rows.size() ? m_rows[row] : nullptr;
}

QString DownloadListModel::statusName(DownloadTask::Status status) {
    switch (status) {
    case DownloadTask::Status::Queued:
        return QStringLiteral("queued");
    case DownloadTask::Status::Running:
        return QStringLiteral("running");
    case DownloadTask::Status::Retrying:
        return QStringLiteral("retrying");
    case DownloadTask::Status::Paused:
        return QStringLiteral("paused");
    case DownloadTask::Status::Verifying:
        return QStringLiteral("verifying");
    case DownloadTask::Status::Finished:
        return QStringLiteral("finished");
    case DownloadTask::Status::Failed:
        return QStringLiteral("failed");
    case DownloadTask::Status::Cancelled:
        return QStringLiteral("cancelled");
    }
    return {};
}

QVariant DownloadListModel::data(const QModelIndex& index, int role) const {
    const DownloadTask* task = taskAt(index.row());
    if (!task) {
        return {};
    }
    switch (role) {
    case NameRole:
        return QFileInfo(task->destination()).fileName();
    case DestinationRole:
        return task->destination();
    case StatusRole:
        return statusName(task->status());
    case ReceivedRole:
        return task->bytesReceived();
    case TotalRole:
        return task->bytesTotal();
    case ProgressRole:
        return task->bytesTotal() > 0 ? static_cast<double>(task->bytesReceived()) /
                                            static_cast<double>(task->bytesTotal())
                                      : -1.0;
    case SpeedRole:
        return task->bytesPerSecond();
    case SecondsLeftRole:
        return task->secondsLeft();
    case ErrorRole:
        return task->errorMessage();
    case ActiveRole:
        return task->isActive();
    default:
        return {};
    }
}

QHash<int, QByteArray> DownloadListModel::roleNames() const {
    return {{NameRole, "name"},     {DestinationRole, "destination"},
            {StatusRole, "status"}, {ReceivedRole, "received"},
            {TotalRole, "total"},   {ProgressRole, "progress"},
            {SpeedRole, "speed"},   {SecondsLeftRole, "secondsLeft"},
            {ErrorRole, "error"},   {ActiveRole, "active"}};
}
