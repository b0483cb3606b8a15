// Downloads against hostile or broken servers (the local test server): retries that stop when
// attempts make no lasting progress (a server that ignores or refuses Range and drops every
// response), a bound on attempts in all, the token kept to its origin (a second server logs
// what it receives), bodies of redirects and error pages never read, endless headers, refused
// URL schemes, file names a server or link chooses, and state files from the models folder.
#include "download_manager.h"
#include "download_test_server.h"
#include "download_test_support.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>
#include <sys/stat.h>

using hearth::test::DownloadTestServer;
using hearth::test::sha256Hex;
using hearth::test::waitForDownload;

namespace {

// How long a test waits for a download that a bounded retry policy ends in well under a
// second; an unbounded one runs past it and fails the test instead of hanging it.
constexpr int kBoundedWaitMs = 10000;

QByteArray randomBytes(qsizetype size, quint32 seed) {
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator(seed).fillRange(reinterpret_cast<quint32*>(bytes.data()), size / 4);
    return bytes;
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestDownloadLimits : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    QByteArray m_file = randomBytes(1 << 20, 7);

    std::unique_ptr<DownloadManager> makeManager(int maxRetries = 3, int maxAttempts = 100) {
        auto manager = std::make_unique<DownloadManager>();
        DownloadOptions options;
        options.retryBaseDelayMs = 20;
        options.maxRetries = maxRetries;
        options.maxAttempts = maxAttempts;
        options.transferTimeoutMs = 5000;
        manager->setOptions(options);
        return manager;
    }

    DownloadState request(const QUrl& url, const QString& name = QStringLiteral("model.gguf")) {
        DownloadState state;
        state.url = url;
        state.destination = m_dir->filePath(name);
        state.expectedSize = m_file.size();
        state.sha256 = sha256Hex(m_file);
        return state;
    }

private slots:
    void init() {
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_server->addFile("model.gguf", m_file);
    }

    // Item 8: the server ignores Range and drops every response half way. Each attempt after
    // the first starts over from zero and reaches the same half: no lasting progress.
    void rangeIgnoredAndEveryResponseDroppedGivesUp() {
        auto manager = makeManager(3);
        DownloadTask* task = manager->enqueue(request(m_server->url("/dropall/model.gguf")));
        QVERIFY(!waitForDownload(task, kBoundedWaitMs));
        QCOMPARE(task->status(), DownloadTask::Status::Failed);
        const QString message = task->errorMessage();
        QVERIFY2(message.startsWith("download failed after 4 attempts: the connection closed "
                                    "after 524288 of 1048576 bytes"),
                 qPrintable(message));
        QVERIFY2(message.contains("does not resume downloads (it ignored the Range request)"),
                 qPrintable(message));
        // The first request, then one per retry: maxRetries + 1 with no progress.
        const auto requests = m_server->requestsFor("/dropall/");
        QCOMPARE(requests.size(), 4);
        QVERIFY(requests[0].range.isEmpty());
        QCOMPARE(requests[1].range, QByteArray("bytes=524288-"));
        QVERIFY(!QFile::exists(m_dir->filePath("model.gguf")));
    }

    // Item 8: 416 to every Range request, and a request without one dropped half way.
    void rangeRefusedAndEveryResponseDroppedGivesUp() {
        auto manager = makeManager(3);
        DownloadTask* task = manager->enqueue(request(m_server->url("/refuse/model.gguf")));
        QVERIFY(!waitForDownload(task, kBoundedWaitMs));
        QCOMPARE(task->status(), DownloadTask::Status::Failed);
        const QString message = task->errorMessage();
        QVERIFY2(message.startsWith("download failed after 4 attempts"), qPrintable(message));
        QVERIFY2(message.contains("it refused the Range request with HTTP 416"),
                 qPrintable(message));
        const auto requests = m_server->requestsFor("/refuse/");
        QVERIFY2(requests.size() <= 5, qPrintable(QString::number(requests.size())));
    }

    // A connection that drops again and again but takes the file further each time is
    // retried past maxRetries: only attempts without lasting progress count.
    void progressKeepsRetrying() {
        m_server->setTrickleBytes(300000);
        auto manager = makeManager(1);
        DownloadTask* task = manager->enqueue(request(m_server->url("/trickle/model.gguf")));
        QVERIFY2(waitForDownload(task, kBoundedWaitMs), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        QCOMPARE(m_server->requestsFor("/trickle/").size(), 4); // 300000 bytes each
    }

    // A server that sends a few more bytes on each connection: each attempt makes progress,
    // so maxAttempts is what stops it. What arrived is kept and a later start continues.
    void attemptsInAllAreBounded() {
        m_server->setTrickleBytes(1000);
        auto manager = makeManager(3, 5);
        DownloadTask* task = manager->enqueue(request(m_server->url("/trickle/model.gguf")));
        QVERIFY(!waitForDownload(task, kBoundedWaitMs));
        QCOMPARE(task->status(), DownloadTask::Status::Failed);
        QVERIFY2(task->errorMessage().startsWith("download stopped after 5 attempts in all"),
                 qPrintable(task->errorMessage()));
        QVERIFY2(task->errorMessage().contains("the 5000 bytes received are kept"),
                 qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requestsFor("/trickle/").size(), 5);
        QCOMPARE(QFileInfo(m_dir->filePath("model.gguf.part")).size(), 5000);
        QVERIFY(QFile::exists(m_dir->filePath("model.gguf.part.json")));
        m_server->setTrickleBytes(1 << 21);
        manager->resume(task);
        QVERIFY2(waitForDownload(task, kBoundedWaitMs), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        QCOMPARE(m_server->requestsFor("/trickle/").last().range, QByteArray("bytes=5000-"));
    }

    // Item 10: the token goes to its origin (scheme, host and port) only. A second server on
    // the same host but another port stands for another origin and logs what it receives.
    void tokenStaysOnItsOrigin() {
        DownloadTestServer other;
        QVERIFY(other.listen());
        other.addFile("model.gguf", m_file);
        auto manager = makeManager();
        manager->setToken("secret", m_server->url("/"));
        // A file on the other origin: no token, though the host is the same.
        DownloadTask* direct =
            manager->enqueue(request(other.url("/file/model.gguf"), "direct.gguf"));
        QVERIFY2(waitForDownload(direct), qPrintable(direct->errorMessage()));
        QCOMPARE(other.requests().size(), 1);
        QVERIFY(other.requests()[0].authorization.isEmpty());
        // The hub redirects to the other origin (its CDN): the token stays behind.
        m_server->setRedirect("/owner/repo/resolve/main/model.gguf",
                              other.url("/file/model.gguf").toString());
        DownloadTask* redirected = manager->enqueue(
            request(m_server->url("/owner/repo/resolve/main/model.gguf"), "redirected.gguf"));
        QVERIFY2(waitForDownload(redirected), qPrintable(redirected->errorMessage()));
        QCOMPARE(m_server->requests().size(), 1);
        QCOMPARE(m_server->requests()[0].authorization, QByteArray("Bearer secret"));
        QCOMPARE(other.requests().size(), 2);
        QVERIFY(other.requests()[1].authorization.isEmpty());
        // Same port, another host name: another origin too.
        DownloadTask* renamed = manager->enqueue(
            request(m_server->url("/file/model.gguf", "localhost"), "renamed.gguf"));
        QVERIFY2(waitForDownload(renamed), qPrintable(renamed->errorMessage()));
        QVERIFY(m_server->requests().last().authorization.isEmpty());
    }

    // A redirect whose body never ends is followed at its headers; an error page whose body
    // never ends is answered at its headers. Neither body is read (nor buffered).
    void bodiesOfRedirectsAndErrorsAreNotRead() {
        auto manager = makeManager(2);
        DownloadTask* moved = manager->enqueue(request(m_server->url("/endless/302/model.gguf")));
        QVERIFY2(waitForDownload(moved, kBoundedWaitMs), qPrintable(moved->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        QCOMPARE(m_server->requests().last().path, QString("/file/model.gguf"));
        DownloadTask* busy =
            manager->enqueue(request(m_server->url("/endless/503/model.gguf"), "busy.gguf"));
        QVERIFY(!waitForDownload(busy, kBoundedWaitMs));
        QVERIFY2(busy->errorMessage().startsWith("download failed after 3 attempts: HTTP 503"),
                 qPrintable(busy->errorMessage()));
        QCOMPARE(m_server->requestsFor("/endless/503/").size(), 3);
    }

    // Headers that never end: Qt bounds neither their size nor their count, but they bring no
    // body data, so the transfer timeout drops the connection.
    void headersThatNeverEndAreDropped() {
        auto manager = makeManager(1);
        DownloadOptions options = manager->options();
        options.transferTimeoutMs = 1000;
        manager->setOptions(options);
        DownloadTask* task = manager->enqueue(request(m_server->url("/headers/model.gguf")));
        QVERIFY(!waitForDownload(task, kBoundedWaitMs));
        QVERIFY2(task->errorMessage().startsWith("download failed after 2 attempts: no data "
                                                 "from 127.0.0.1 for 1 s"),
                 qPrintable(task->errorMessage()));
    }

    // http and https only: not a file: URL given, nor one a redirect leads to.
    void otherSchemesAreRefused() {
        auto manager = makeManager();
        DownloadTask* local = manager->enqueue(request(QUrl("file:///etc/hostname")));
        QVERIFY(!waitForDownload(local, kBoundedWaitMs));
        QVERIFY2(local->errorMessage().contains("only http and https"),
                 qPrintable(local->errorMessage()));
        m_server->setRedirect("/tofile/model.gguf", "file:///etc/hostname");
        DownloadTask* redirected =
            manager->enqueue(request(m_server->url("/tofile/model.gguf"), "redirected.gguf"));
        QVERIFY(!waitForDownload(redirected, kBoundedWaitMs));
        QVERIFY2(redirected->errorMessage().startsWith("refusing a redirect from http://127.0.0.1"),
                 qPrintable(redirected->errorMessage()));
        QVERIFY(redirected->errorMessage().contains("only http and https"));
        QCOMPARE(QDir(m_dir->path()).entryList(QDir::Files), QStringList());
    }

    // A download that fails before its first byte leaves nothing behind for the next run to
    // list as interrupted; one that cannot fit writes nothing at all.
    void failuresBeforeTheFirstByteLeaveNoFiles() {
        auto manager = makeManager();
        DownloadTask* missing =
            manager->enqueue(request(m_server->url("/file/absent.gguf"), "absent.gguf"));
        QVERIFY(!waitForDownload(missing, kBoundedWaitMs));
        QVERIFY2(missing->errorMessage().contains("404"), qPrintable(missing->errorMessage()));
        DownloadOptions options = manager->options();
        options.freeSpace = [](const QString&) { return qint64(1000); };
        manager->setOptions(options);
        DownloadTask* full = manager->enqueue(request(m_server->url("/file/model.gguf")));
        QCOMPARE(full->status(), DownloadTask::Status::Failed);
        QVERIFY2(full->errorMessage().startsWith("not enough disk space"),
                 qPrintable(full->errorMessage()));
        QCOMPARE(QDir(m_dir->path()).entryList(QDir::Files), QStringList());
    }

    // The name a server or a link chooses becomes a file name in the models folder, or an
    // error: never a path elsewhere, never "..".
    void fileNamesFromUrlsAreChecked() {
        const QString dir = m_dir->path();
        auto plain =
            DownloadState::destinationIn(dir, QUrl("https://h/o/r/resolve/main/m.gguf?x=1"));
        QCOMPARE(plain.value_or(QString()), QDir(dir).absoluteFilePath("m.gguf"));
        // %2F decodes to a slash: the name is what follows the last one.
        auto encoded = DownloadState::destinationIn(dir, QUrl("https://h/a%2F..%2F..%2Fx.gguf"));
        QCOMPARE(encoded.value_or(QString()), QDir(dir).absoluteFilePath("x.gguf"));
        const std::pair<const char*, const char*> refused[] = {
            {"https://h/", "does not end with a file name"},
            {"https://h/x/..", "does not end with a file name"},
            {"https://h/x/%2E%2E", "does not end with a file name"},
            {"https://h/x/.", "does not end with a file name"},
            {"https://h/a%0Ab.gguf", "control character"},
            {"https://h/a%5Cb.gguf", "path separator"},
        };
        for (const auto& [url, reason] : refused) {
            auto result = DownloadState::destinationIn(dir, QUrl(url));
            QVERIFY2(!result, url);
            QVERIFY2(result.error().contains(reason), qPrintable(result.error()));
        }
        const QString longName = QString(DownloadState::kMaxFileNameBytes - 5, 'a') + ".gguf";
        QVERIFY(DownloadState::destinationIn(dir, QUrl("https://h/" + longName)));
        auto tooLong = DownloadState::destinationIn(dir, QUrl("https://h/a" + longName));
        QVERIFY(!tooLong);
        QVERIFY2(tooLong.error().contains("longer than 245 bytes"), qPrintable(tooLong.error()));
    }

    // A state file in the models folder says where its download goes: it may not name another
    // file. Its destination is its own name without ".part.json".
    void stateFilesNameNoOtherFile() {
        QTemporaryDir elsewhere;
        QFile state(m_dir->filePath("x.gguf.part.json"));
        QVERIFY(state.open(QIODevice::WriteOnly));
        state.write(
            QStringLiteral("{\"url\":\"%1\",\"destination\":\"%2\",\"size\":%3,\"sha256\":\"%4\"}")
                .arg(m_server->url("/file/model.gguf").toString(), elsewhere.filePath("victim"))
                .arg(m_file.size())
                .arg(sha256Hex(m_file))
                .toUtf8());
        state.close();
        auto manager = makeManager();
        QCOMPARE(manager->restorePending(m_dir->path(), true), 1);
        DownloadTask* task = manager->tasks().value(0);
        QVERIFY(task);
        QCOMPARE(task->destination(), m_dir->filePath("x.gguf"));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("x.gguf")), m_file);
        QVERIFY(QDir(elsewhere.path()).isEmpty());
    }

    // State files that are not state files: a FIFO (reading it would block), a large file,
    // JSON nested deep, a URL that is not http(s). None is loaded, none blocks.
    void oddStateFilesAreIgnored() {
        const QString fifo = m_dir->filePath("fifo.gguf.part.json");
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        const auto write = [&](const QString& name, const QByteArray& bytes) {
            QFile file(m_dir->filePath(name));
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(bytes);
        };
        const QByteArray url = m_server->url("/file/model.gguf").toEncoded();
        write("large.gguf.part.json", "{\"url\":\"" + url + "\",\"pad\":\"" +
                                          QByteArray(DownloadState::kMaxStateFileBytes, 'x') +
                                          "\"}");
        write("deep.gguf.part.json", QByteArray(30000, '[') + QByteArray(30000, ']'));
        write("local.gguf.part.json", "{\"url\":\"file:///etc/hostname\"}");
        write("good.gguf.part.json", "{\"url\":\"" + url + "\"}");
        QElapsedTimer clock;
        clock.start();
        for (const char* name : {"fifo.gguf", "large.gguf", "deep.gguf", "local.gguf"}) {
            QVERIFY2(!DownloadState::load(m_dir->filePath(name)), name);
        }
        QVERIFY(DownloadState::load(m_dir->filePath("good.gguf")));
        auto manager = makeManager();
        QCOMPARE(manager->restorePending(m_dir->path(), false), 1);
        QVERIFY2(clock.elapsed() < 2000, qPrintable(QString::number(clock.elapsed())));
    }

    // NAME.part is continued only when it is a regular file: a symbolic link planted there
    // would have the download write (and truncate) whatever it points at.
    void partFileThatIsALinkIsNotFollowed() {
        QTemporaryDir elsewhere;
        const QString victim = elsewhere.filePath("victim");
        QFile file(victim);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("precious");
        file.close();
        DownloadState state = request(m_server->url("/file/model.gguf"));
        QVERIFY(state.save().isEmpty());
        QVERIFY(QFile::link(victim, DownloadState::partPath(state.destination)));
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(state);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(state.destination), m_file);
        QCOMPARE(readAll(victim), QByteArray("precious"));
        QVERIFY(m_server->requests()[0].range.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestDownloadLimits)
#include "tst_download_limits.moc"
