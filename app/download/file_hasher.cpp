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
    result.hash = std::make_shared<Sha256>();
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
        result.error = QStringLiteral("cannot read %1: %2").arg(path, file.errorString());
        return result;
    }
    const qint64 want = bytes < 0 ? file.size() : bytes;
    QByteArray buffer(kChunkBytes, Qt::Uninitialized);
    while (result.bytes < want) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            result.cancelled = true;
            return result;
        }
        const qint64 got = file.read(buffer.data(), std::min(kChunkBytes, want - result.bytes));
        if (got <= 0) {
            result.error = file.error() != QFileDevice::NoError
                               ? QStringLiteral("cannot read %1: %2").arg(path, file.errorString())
                               : QStringLiteral("%1 has %2 bytes, %3 were expected")
                                     .arg(path)
                                     .arg(result.bytes)
                                     .arg(want);
            return result;
        }
        result.hash->addData(QByteArrayView(buffer.constData(), got));
        result.bytes += got;
    }
    if (!result.hash->ok()) {
        result.error = result.hash->errorString();
    }
    return result;
}

QFuture<FileHash> hashFilePrefixAsync(const QString& path, qint64 bytes,
                                      std::shared_ptr<const std::atomic_bool> cancel) {
    return QtConcurrent::run(
        [path, bytes, cancel = std::move(cancel)] { return hashFilePrefix(path, bytes, cancel); });
}
