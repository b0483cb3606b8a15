// Helpers shared by the download tests: the SHA-256 the Hugging Face API and the catalog
// write (lower-case hex), and a bounded wait for a DownloadTask to end.
#pragma once

#include "download_task.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QString>
#include <QTest>

namespace hearth::test {

// How long a test waits for a local download before failing.
inline constexpr int kWaitMs = 20000;

inline QString sha256Hex(const QByteArray& bytes) {
    return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

// Waits up to `timeoutMs` for the task to finish or fail; true when it finished.
inline bool waitForDownload(const DownloadTask* task, int timeoutMs = kWaitMs) {
    QElapsedTimer clock;
    clock.start();
    while (task->status() != DownloadTask::Status::Finished &&
           task->status() != DownloadTask::Status::Failed && clock.elapsed() < timeoutMs) {
        QTest::qWait(10);
    }
    return task->status() == DownloadTask::Status::Finished;
}

} // namespace hearth::test
