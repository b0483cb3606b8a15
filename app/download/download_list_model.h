// The downloads of a DownloadManager as a list model for QML: one row per task, with its
// progress (bytes, speed, time left) and status. GUI thread only.
#pragma once

#include "download_manager.h"

#include <QAbstractListModel>

class DownloadListModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        NameRole = Qt::UserRole + 1,
        DestinationRole,
        StatusRole,      // "queued", "running", "retrying", "paused", "verifying", "finished", ...
        ReceivedRole,    // bytes
        TotalRole,       // bytes, -1 while unknown
        ProgressRole,    // 0..1, -1 while unknown
        SpeedRole,       // bytes per second
        SecondsLeftRole, // -1 while unknown
        ErrorRole,
        ActiveRole,
    };

    explicit DownloadListModel(DownloadManager* manager, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    DownloadTask* taskAt(int row) const;
    static QString statusName(DownloadTask::Status status);

private:
    void watch(DownloadTask* task);

    DownloadManager* m_manager;
    QList<DownloadTask*> m_rows; // in the order they were added
};
