// Resuming a large NAME.part: its bytes are hashed on a worker thread (file_hasher.h) while
// the GUI thread's event loop keeps running, the request waits for that hash, and a pause
// or cancel during it holds; file_hasher's own checks. Against the local HTTP server.
#include "download_manager.h"
#include "download_test_server.h"
#include "download_test_support.h"
#include "file_hasher.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <algorithm>
#include <memory>

using hearth::test::DownloadTestServer;
using hearth::test::sha256Hex;
using hearth::test::waitForDownload;

namespace {

// Fast random data for large files (one generator call per 4 bytes).
QByteArray bigRandomBytes(qsizetype size, quint32 seed) {
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator(seed).fillRange(reinterpret_cast<quint32*>(bytes.data()),
                                     static_cast<qsizetype>(size / 4));
    return bytes;
}

} // namespace

class TestDownloadHashing : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    QByteArray m_bigFile; // 64 MiB and a tail, made once: resuming a large NAME.part
    qint64 m_bigPart = 0; // the bytes of m_bigFile already in NAME.part
    qint64 m_bigHashMs = 0;
    QString m_bigSha;

    std::unique_ptr<DownloadManager> makeManager() {
        auto manager = std::make_unique<DownloadManager>();
        DownloadOptions options;
        options.retryBaseDelayMs = 50;
        options.transferTimeoutMs = 5000;
        manager->setOptions(options);
        return manager;
    }

    // A download of m_bigFile interrupted after m_bigPart bytes, as an earlier run leaves it.
    DownloadState bigInterrupted() {
        m_server->addFile("big.gguf", m_bigFile);
        DownloadState state;
        state.url = m_server->url("/file/big.gguf");
        state.destination = m_dir->filePath("big.gguf");
        state.expectedSize = m_bigFile.size();
        state.sha256 = m_bigSha;
        if (!state.save().isEmpty()) {
            return {};
        }
        QFile part(DownloadState::partPath(state.destination));
        if (!part.open(QIODevice::WriteOnly) ||
            part.write(m_bigFile.constData(), m_bigPart) != m_bigPart) {
            return {};
        }
        return state;
    }

private slots:
    void initTestCase() {
        m_bigPart = qint64(64) << 20;
        m_bigFile = bigRandomBytes(m_bigPart + (256 << 10), 4);
        // The reference digest from Qt's own SHA-256, a different implementation from the
        // hasher's (OpenSSL). Its time on the part bounds the event loop's longest gap below:
        // Qt's hash is the slower, so the bound is generous; that the hashing runs off the GUI
        // thread is shown by isHashing() and by no request going out before it ends.
        QElapsedTimer clock;
        clock.start();
        QCryptographicHash hash(QCryptographicHash::Sha256);
        hash.addData(QByteArrayView(m_bigFile).first(m_bigPart));
        m_bigHashMs = clock.elapsed();
        hash.addData(QByteArrayView(m_bigFile).sliced(m_bigPart));
        m_bigSha = QString::fromLatin1(hash.result().toHex());
    }

    void init() {
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void resumeHashesPartOffTheGuiThread() {
        const DownloadState state = bigInterrupted();
        QVERIFY(!state.destination.isEmpty());
        auto manager = makeManager();
        // The GUI thread's event loop: the longest gap between ticks of a 5 ms timer, from
        // just before the task starts until it is done.
        QElapsedTimer clock;
        clock.start();
        qint64 last = 0;
        qint64 longestGap = 0;
        bool requestWhileHashing = false;
        DownloadTask* task = nullptr;
        QTimer ticker;
        ticker.setInterval(5);
        connect(&ticker, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            longestGap = std::max(longestGap, now - last);
            last = now;
            if (task && task->isHashing() && !m_server->requests().isEmpty()) {
                requestWhileHashing = true;
            }
        });
        ticker.start();
        last = clock.elapsed();
        task = manager->enqueue(state);
        QVERIFY(task->isHashing());
        QCOMPARE(task->bytesReceived(), m_bigPart);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        ticker.stop();
        QVERIFY(!requestWhileHashing);
        QCOMPARE(task->sha256(), m_bigSha);
        QCOMPARE(QFileInfo(state.destination).size(), m_bigFile.size());
        QCOMPARE(m_server->requests().size(), 1);
        QCOMPARE(m_server->requests()[0].range,
                 QByteArray("bytes=") + QByteArray::number(m_bigPart) + "-");
        // No long stall of the GUI thread while the part is hashed.
        const qint64 bound = std::min<qint64>(250, m_bigHashMs / 2);
        QVERIFY2(longestGap < bound, qPrintable(QStringLiteral("longest gap %1 ms, hashing %2 ms")
                                                    .arg(longestGap)
                                                    .arg(m_bigHashMs)));
        qInfo("longest event-loop gap %lld ms; hashing the part takes %lld ms", longestGap,
              m_bigHashMs);
    }

    void pauseWhileHashing() {
        const DownloadState state = bigInterrupted();
        QVERIFY(!state.destination.isEmpty());
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(state);
        QVERIFY(task->isHashing());
        manager->pause(task);
        QCOMPARE(task->status(), DownloadTask::Status::Paused);
        QVERIFY(!task->isHashing());
        // The hash finishing later must not start the transfer.
        QTest::qWait(static_cast<int>(std::max<qint64>(200, m_bigHashMs)));
        QCOMPARE(task->status(), DownloadTask::Status::Paused);
        QVERIFY(m_server->requests().isEmpty());
        QCOMPARE(QFileInfo(DownloadState::partPath(state.destination)).size(), m_bigPart);
        manager->resume(task);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(task->sha256(), m_bigSha);
        QCOMPARE(m_server->requests().size(), 1);
    }

    void cancelWhileHashing() {
        const DownloadState state = bigInterrupted();
        QVERIFY(!state.destination.isEmpty());
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(state);
        QVERIFY(task->isHashing());
        manager->cancel(task);
        QCOMPARE(task->status(), DownloadTask::Status::Cancelled);
        QVERIFY(!QFile::exists(DownloadState::partPath(state.destination)));
        QVERIFY(!QFile::exists(DownloadState::statePath(state.destination)));
        QTest::qWait(static_cast<int>(std::max<qint64>(200, m_bigHashMs)));
        QCOMPARE(task->status(), DownloadTask::Status::Cancelled);
        QVERIFY(m_server->requests().isEmpty());
        QVERIFY(!QFile::exists(state.destination));
    }

    void fileHasherChecksItsInput() {
        const QString path = m_dir->filePath("data.bin");
        const QByteArray data = bigRandomBytes(3 << 20, 5); // more than one 1 MiB read
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(data);
        file.close();
        const FileHash prefix = hashFilePrefixAsync(path, 1000, nullptr).result();
        QVERIFY2(prefix.error.isEmpty(), qPrintable(prefix.error));
        QCOMPARE(prefix.bytes, 1000);
        QCOMPARE(QString::fromLatin1(prefix.hash->result().toHex()), sha256Hex(data.left(1000)));
        const FileHash whole = hashFilePrefix(path, -1, nullptr);
        QCOMPARE(QString::fromLatin1(whole.hash->result().toHex()), sha256Hex(data));
        // The file shrank since its size was read.
        const FileHash longer = hashFilePrefix(path, data.size() + 1, nullptr);
        QVERIFY2(longer.error.contains(QStringLiteral("has %1 bytes, %2 were expected")
                                           .arg(data.size())
                                           .arg(data.size() + 1)),
                 qPrintable(longer.error));
        const FileHash missing = hashFilePrefix(m_dir->filePath("missing.bin"), 10, nullptr);
        QVERIFY2(missing.error.startsWith("cannot read"), qPrintable(missing.error));
        const auto cancel = std::make_shared<std::atomic_bool>(true);
        const FileHash cancelled = hashFilePrefix(path, -1, cancel);
        QVERIFY(cancelled.cancelled);
        QCOMPARE(cancelled.bytes, 0);
    }
};

QTEST_GUILESS_MAIN(TestDownloadHashing)
#include "tst_download_hashing.moc"
