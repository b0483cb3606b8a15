// SHA-256 of a file's first bytes on a worker thread (QtConcurrent): DownloadTask re-hashes
// the NAME.part it resumes, or the finished file it may not need to fetch again, which takes
// seconds for gigabytes and must not block the GUI thread its network replies live on.
#pragma once

#include "sha256.h"

#include <QFuture>
#include <QString>
#include <atomic>
#include <memory>

struct FileHash {
    // The state after the bytes read, to be continued with the bytes that follow them.
    std::shared_ptr<Sha256> hash;
    qint64 bytes = 0; // bytes hashed
    QString error;    // empty on success
    bool cancelled = false;
};

// Hashes the first `bytes` of `path` (all of it for -1) in 1 MiB reads, checking `cancel`
// between reads. A file shorter than `bytes` is an error: it changed under us.
FileHash hashFilePrefix(const QString& path, qint64 bytes,
                        const std::shared_ptr<const std::atomic_bool>& cancel);

// The same on the global thread pool.
QFuture<FileHash> hashFilePrefixAsync(const QString& path, qint64 bytes,
                                      std::shared_ptr<const std::atomic_bool> cancel);
