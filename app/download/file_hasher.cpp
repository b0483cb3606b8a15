// SHA-256 of a file's first bytes on a worker thread (see the header).
#include "file_hasher.h"

#include <QFile>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>

namespace {

constexpr qint64 kChunkBytes = 1 << 20;

} // namespace

FileHash hashFilePrefix(const QString& path, qint64 bytes,
                        const std::shared_ptr<const std::atomic_bool>& cancel) {
    FileHash result;
    result.hash = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        result.error = QStringLiteral("cannot read %1: %2").arg(path, file.errorString());
        return result;
    }
    const qint64 want = bytes < 0 ? file.size() : bytes;
    QByteArray buffer;
    while (result.bytes < want) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            result.cancelled = true;
            return result;
        }
        buffer = file.read(std::min(kChunkBytes, want - result.bytes));
        if (buffer.isEmpty()) {
            result.error = file.error() != QFileDevice::NoError
                               ? QStringLiteral("cannot read %1: %2").arg(path, file.errorString())
                               : QStringLiteral("%1 has %2 bytes, %3 were expected")
                                     .arg(path)
                                     .arg(result.bytes)
                                     .arg(want);
            return result;
        }
        result.hash->addData(buffer);
        result.bytes += buffer.size();
    }
    return result;
}

QFuture<FileHash> hashFilePrefixAsync(const QString& path, qint64 bytes,
                                      std::shared_ptr<const std::atomic_bool> cancel) {
    return QtConcurrent::run(
        [path, bytes, cancel = std::move(cancel)] { return hashFilePrefix(path, bytes, cancel); });
}
