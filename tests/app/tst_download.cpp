// Model downloads (hearth_download) against a local HTTP server: resume, redirects, errors,
// checksums, disk space, pause/cancel, the queue, app restarts; the Hub listing and
// references; reading a remote GGUF header; the fit badge's choice of device. The catalog:
// tst_catalog; hostile servers and the limits: tst_download_limits, tst_hf_api.
#include "download_manager.h"
#include "download_test_server.h"
#include "download_test_support.h"
#include "hf_api.h"
#include "model_fit.h"
#include "remote_gguf_probe.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

using hearth::test::DownloadTestServer;
using hearth::test::kWaitMs;
using hearth::test::sha256Hex;
using hearth::test::waitForDownload;

namespace {

QByteArray randomBytes(qsizetype size, quint32 seed) {
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator generator(seed);
    for (char& byte : bytes) {
        byte = static_cast<char>(generator.bounded(256));
    }
    return bytes;
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestDownload : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    QByteArray m_file;     // 1 MiB
    QByteArray m_slowFile; // 2 MiB, served in pieces

    std::unique_ptr<DownloadManager> makeManager() {
        auto manager = std::make_unique<DownloadManager>();
        DownloadOptions options;
        options.retryBaseDelayMs = 50;
        options.maxRetries = 3;
        options.transferTimeoutMs = 5000;
        manager->setOptions(options);
        return manager;
    }

    DownloadState request(const QString& path, const QString& name, const QByteArray& content) {
        DownloadState state;
        state.url = m_server->url(path);
        state.destination = m_dir->filePath(name);
        state.expectedSize = content.size();
        state.sha256 = sha256Hex(content);
        return state;
    }

private slots:
    void init() {
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_file = randomBytes(1 << 20, 1);
        m_slowFile = randomBytes(2 << 20, 2);
        m_server->addFile("model.gguf", m_file);
        m_server->addFile("slow.gguf", m_slowFile);
    }

    void normalDownload() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QSignalSpy progress(task, &DownloadTask::progressChanged);
        QSignalSpy finished(manager.get(), &DownloadManager::taskFinished);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(finished.size(), 1);
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        QCOMPARE(task->sha256(), sha256Hex(m_file));
        QCOMPARE(task->bytesReceived(), m_file.size());
        QVERIFY(progress.size() >= 1);
        QVERIFY(!QFile::exists(m_dir->filePath("model.gguf.part")));
        QVERIFY(!QFile::exists(m_dir->filePath("model.gguf.part.json")));
        QCOMPARE(m_server->requests().size(), 1);
        QVERIFY(m_server->requests()[0].range.isEmpty());
    }

    void droppedConnectionResumes() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/drop/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        const auto requests = m_server->requestsFor("/drop/");
        QCOMPARE(requests.size(), 2);
        QVERIFY(requests[0].range.isEmpty());
        // The second request continues where the first stopped, half way.
        QCOMPARE(requests[1].range,
                 QByteArray("bytes=") + QByteArray::number(m_file.size() / 2) + "-");
    }

    void serverIgnoringRangeRestartsCleanly() {
        // What an earlier run left: the first 100 KB and the state that goes with them.
        DownloadState state = request("/norange/model.gguf", "model.gguf", m_file);
        QVERIFY(state.save().isEmpty());
        QFile part(DownloadState::partPath(state.destination));
        QVERIFY(part.open(QIODevice::WriteOnly));
        part.write(m_file.left(100000));
        part.close();
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(state);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(state.destination), m_file);
        QCOMPARE(m_server->requests().size(), 1);
        QCOMPARE(m_server->requests()[0].range, QByteArray("bytes=100000-"));
    }

    void partFromAnotherDownloadIsDiscarded() {
        // A .part whose state names another URL must not be continued.
        DownloadState other = request("/file/other.gguf", "model.gguf", randomBytes(10, 3));
        QVERIFY(other.save().isEmpty());
        QFile part(DownloadState::partPath(other.destination));
        QVERIFY(part.open(QIODevice::WriteOnly));
        part.write("garbage");
        part.close();
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
        QVERIFY(m_server->requests()[0].range.isEmpty());
    }

    void wrongChecksumIsRejected() {
        auto manager = makeManager();
        DownloadState state = request("/file/model.gguf", "model.gguf", m_file);
        state.sha256 = sha256Hex("something else");
        DownloadTask* task = manager->enqueue(state);
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("SHA-256 mismatch"),
                 qPrintable(task->errorMessage()));
        QVERIFY(task->errorMessage().contains(sha256Hex(m_file)));
        QVERIFY(!QFile::exists(state.destination));
        QVERIFY(!QFile::exists(DownloadState::partPath(state.destination)));
        QVERIFY(!QFile::exists(DownloadState::statePath(state.destination)));
    }

    void wrongSizeIsRejected() {
        auto manager = makeManager();
        DownloadState state = request("/file/model.gguf", "model.gguf", m_file);
        state.expectedSize = m_file.size() + 10;
        DownloadTask* task = manager->enqueue(state);
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("expected"), qPrintable(task->errorMessage()));
        QVERIFY(!QFile::exists(state.destination));
    }

    void notFound() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/file/absent.gguf", "absent.gguf", m_file));
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("404"), qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requests().size(), 1); // a 404 is not retried
        QVERIFY(!QFile::exists(m_dir->filePath("absent.gguf")));
    }

    void gatedNeedsToken() {
        m_server->setToken("secret");
        {
            auto manager = makeManager();
            DownloadTask* task =
                manager->enqueue(request("/gated/model.gguf", "model.gguf", m_file));
            QVERIFY(!waitForDownload(task));
            QVERIFY2(task->errorMessage().startsWith("gated model: accept the license"),
                     qPrintable(task->errorMessage()));
            QVERIFY(!task->errorMessage().contains("secret"));
        }
        auto manager = makeManager();
        manager->setToken("secret", m_server->url("/"));
        DownloadTask* task = manager->enqueue(request("/gated/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requests().last().authorization, QByteArray("Bearer secret"));
    }

    void tokenDoesNotFollowRedirectToAnotherHost() {
        auto manager = makeManager();
        manager->setToken("secret", m_server->url("/"));
        DownloadTask* task = manager->enqueue(request("/cross/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        const auto requests = m_server->requests();
        QCOMPARE(requests.size(), 2);
        QCOMPARE(requests[0].authorization, QByteArray("Bearer secret"));
        QVERIFY(requests[1].host.startsWith("localhost"));
        QVERIFY(requests[1].authorization.isEmpty());
        // A token for another host is not sent at all.
        auto other = makeManager();
        other->setToken("secret", QUrl("https://huggingface.co"));
        DownloadTask* second = other->enqueue(request("/file/model.gguf", "again.gguf", m_file));
        QVERIFY2(waitForDownload(second), qPrintable(second->errorMessage()));
        QVERIFY(m_server->requests().last().authorization.isEmpty());
    }

    void redirectChain() {
        auto manager = makeManager();
        DownloadTask* task =
            manager->enqueue(request("/redirect/3/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requests().size(), 5); // 4 redirects, then the file
        QCOMPARE(m_server->requests().last().path, QString("/file/model.gguf"));
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
    }

    void redirectLoopFails() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/loop/a", "loop.gguf", m_file));
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("redirect loop"), qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requests().size(), 2);
    }

    void tooManyRedirectsFail() {
        auto manager = makeManager();
        DownloadTask* task =
            manager->enqueue(request("/redirect/15/model.gguf", "model.gguf", m_file));
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("too many redirects"),
                 qPrintable(task->errorMessage()));
    }

    void diskTooSmall() {
        auto manager = makeManager();
        DownloadOptions options = manager->options();
        options.freeSpace = [](const QString&) { return qint64(1000); };
        manager->setOptions(options);
        DownloadTask* task = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().startsWith("not enough disk space"),
                 qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requests().size(), 0); // the size was known: nothing was fetched
        // Size unknown in advance: the check happens on the Content-Length.
        DownloadState unknown = request("/file/model.gguf", "unknown.gguf", m_file);
        unknown.expectedSize = -1;
        DownloadTask* second = manager->enqueue(unknown);
        QVERIFY(!waitForDownload(second));
        QVERIFY2(second->errorMessage().startsWith("not enough disk space"),
                 qPrintable(second->errorMessage()));
        QVERIFY(!QFile::exists(unknown.destination));
    }

    void cancelRemovesEverything() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/slow/slow.gguf", "slow.gguf", m_slowFile));
        QTRY_VERIFY_WITH_TIMEOUT(task->bytesReceived() > 100000, kWaitMs);
        manager->cancel(task);
        QCOMPARE(task->status(), DownloadTask::Status::Cancelled);
        QVERIFY(!QFile::exists(m_dir->filePath("slow.gguf")));
        QVERIFY(!QFile::exists(m_dir->filePath("slow.gguf.part")));
        QVERIFY(!QFile::exists(m_dir->filePath("slow.gguf.part.json")));
    }

    void pauseAndResume() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/slow/slow.gguf", "slow.gguf", m_slowFile));
        QTRY_VERIFY_WITH_TIMEOUT(task->bytesReceived() > 200000, kWaitMs);
        QVERIFY(task->bytesPerSecond() > 0);
        QVERIFY(task->secondsLeft() >= 0);
        manager->pause(task);
        QCOMPARE(task->status(), DownloadTask::Status::Paused);
        const qint64 kept = QFileInfo(m_dir->filePath("slow.gguf.part")).size();
        QVERIFY(kept > 0);
        QTest::qWait(100);
        QCOMPARE(QFileInfo(m_dir->filePath("slow.gguf.part")).size(), kept); // really stopped
        manager->resume(task);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("slow.gguf")), m_slowFile);
        const auto requests = m_server->requestsFor("/slow/");
        QCOMPARE(requests.size(), 2);
        QCOMPARE(requests[1].range, QByteArray("bytes=") + QByteArray::number(kept) + "-");
    }

    void queueRunsAtMostNAtOnce() {
        auto manager = makeManager();
        manager->setMaxConcurrent(2);
        m_server->addFile("slow2.gguf", m_slowFile);
        m_server->addFile("slow3.gguf", m_slowFile);
        DownloadTask* a = manager->enqueue(request("/slow/slow.gguf", "a.gguf", m_slowFile));
        DownloadTask* b = manager->enqueue(request("/slow/slow2.gguf", "b.gguf", m_slowFile));
        DownloadTask* c = manager->enqueue(request("/slow/slow3.gguf", "c.gguf", m_slowFile));
        // Two at once, the third waits.
        QTRY_VERIFY_WITH_TIMEOUT(a->bytesReceived() > 0 && b->bytesReceived() > 0, kWaitMs);
        QCOMPARE(manager->activeCount(), 2);
        QCOMPARE(c->status(), DownloadTask::Status::Queued);
        for (DownloadTask* task : {a, b, c}) {
            QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
            QCOMPARE(readAll(task->destination()), m_slowFile);
        }
    }

    void groupFinishesTogether() {
        auto manager = makeManager();
        const QByteArray part1 = m_file.left(600000);
        const QByteArray part2 = m_file.mid(600000);
        m_server->addFile("m-00001-of-00002.gguf", part1);
        m_server->addFile("m-00002-of-00002.gguf", part2);
        QSignalSpy group(manager.get(), &DownloadManager::groupFinished);
        for (const auto& [name, bytes] : {std::pair{QString("m-00002-of-00002.gguf"), part2},
                                          std::pair{QString("m-00001-of-00002.gguf"), part1}}) {
            DownloadState state = request("/file/" + name, name, bytes);
            state.group = "m";
            manager->enqueue(state);
        }
        QTRY_COMPARE_WITH_TIMEOUT(group.size(), 1, kWaitMs);
        const QStringList paths = group[0][1].toStringList();
        QCOMPARE(paths, QStringList({m_dir->filePath("m-00001-of-00002.gguf"),
                                     m_dir->filePath("m-00002-of-00002.gguf")}));
    }

    void appRestartResumes() {
        qint64 kept = 0;
        {
            auto manager = makeManager();
            DownloadTask* task =
                manager->enqueue(request("/slow/slow.gguf", "slow.gguf", m_slowFile));
            QTRY_VERIFY_WITH_TIMEOUT(task->bytesReceived() > 300000, kWaitMs);
            // The app quits: the manager goes away in the middle of the transfer.
        }
        kept = QFileInfo(m_dir->filePath("slow.gguf.part")).size();
        QVERIFY(kept > 300000);
        QVERIFY(QFile::exists(m_dir->filePath("slow.gguf.part.json")));
        auto manager = makeManager();
        QCOMPARE(manager->restorePending(m_dir->path(), false), 1);
        DownloadTask* task = manager->tasks().value(0);
        QVERIFY(task);
        QCOMPARE(task->status(), DownloadTask::Status::Paused);
        QCOMPARE(task->bytesReceived(), kept); // shown before it starts again
        manager->resume(task);
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(readAll(m_dir->filePath("slow.gguf")), m_slowFile);
        QCOMPARE(m_server->requestsFor("/slow/").last().range,
                 QByteArray("bytes=") + QByteArray::number(kept) + "-");
    }

    void serverErrorsAreRetried() {
        auto manager = makeManager();
        DownloadTask* task = manager->enqueue(request("/busy/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(task), qPrintable(task->errorMessage()));
        QCOMPARE(m_server->requestsFor("/busy/").size(), 3); // 503, 503, then the file
        QCOMPARE(task->attempts(), 2);
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
    }

    void completeFileIsNotFetchedAgain() {
        auto manager = makeManager();
        DownloadTask* first = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(first), qPrintable(first->errorMessage()));
        manager->remove(first);
        DownloadTask* again = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(again), qPrintable(again->errorMessage()));
        QCOMPARE(m_server->requests().size(), 1);
        // A file that differs from what is expected is replaced.
        QFile file(m_dir->filePath("model.gguf"));
        QVERIFY(file.open(QIODevice::ReadWrite));
        file.write("X");
        file.close();
        manager->remove(again);
        DownloadTask* third = manager->enqueue(request("/file/model.gguf", "model.gguf", m_file));
        QVERIFY2(waitForDownload(third), qPrintable(third->errorMessage()));
        QCOMPARE(m_server->requests().size(), 2);
        QCOMPARE(readAll(m_dir->filePath("model.gguf")), m_file);
    }

    void retriesGiveUp() {
        auto manager = makeManager();
        DownloadState state = request("/file/model.gguf", "model.gguf", m_file);
        state.url = QUrl("http://127.0.0.1:1/model.gguf"); // nothing listens on port 1
        DownloadTask* task = manager->enqueue(state);
        QVERIFY(!waitForDownload(task));
        QVERIFY2(task->errorMessage().contains("after 4 attempts"),
                 qPrintable(task->errorMessage()));
    }

    void parseReferences() {
        auto repo = HfApi::parseReference("bartowski/Llama-3.2-1B-Instruct-GGUF");
        QVERIFY(repo);
        QCOMPARE(repo->repo, QString("bartowski/Llama-3.2-1B-Instruct-GGUF"));
        QVERIFY(repo->file.isEmpty());
        auto withFile = HfApi::parseReference(
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q8_0.gguf");
        QVERIFY(withFile);
        QCOMPARE(withFile->file, QString("qwen2.5-0.5b-instruct-q8_0.gguf"));
        auto blob = HfApi::parseReference("https://huggingface.co/bartowski/phi-4-GGUF/blob/main/"
                                          "phi-4-Q4_K_M.gguf?download=true");
        QVERIFY(blob);
        QCOMPARE(blob->repo, QString("bartowski/phi-4-GGUF"));
        QCOMPARE(blob->file, QString("phi-4-Q4_K_M.gguf"));
        auto tree = HfApi::parseReference("https://hf.co/bartowski/phi-4-GGUF/tree/main");
        QVERIFY(tree);
        QVERIFY(tree->file.isEmpty());
        auto direct = HfApi::parseReference("https://example.com/models/x.gguf");
        QVERIFY(direct);
        QVERIFY(direct->repo.isEmpty());
        QCOMPARE(direct->url, QUrl("https://example.com/models/x.gguf"));
        for (const char* bad : {"", "justaname", "a/b/c", "a/b:", "ftp://x/y.gguf",
                                "https://huggingface.co/onlyowner"}) {
            auto result = HfApi::parseReference(bad);
            QVERIFY2(!result, bad);
            QVERIFY(!result.error().isEmpty());
        }
        QCOMPARE(HfApi::quantizationFromName("Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
                 QString("Q4_K_M"));
        QCOMPARE(HfApi::quantizationFromName("qwen2.5-7b-instruct-q5_k_m-00001-of-00002.gguf"),
                 QString("Q5_K_M"));
        QCOMPARE(HfApi::quantizationFromName("Phi-3-mini-4k-instruct-fp16.gguf"), QString("F16"));
        QCOMPARE(HfApi::quantizationFromName("SmolLM2-135M-Instruct.Q4_1.gguf"), QString("Q4_1"));
        QCOMPARE(HfApi::splitPartNames("x-00001-of-00003.gguf"),
                 QStringList(
                     {"x-00001-of-00003.gguf", "x-00002-of-00003.gguf", "x-00003-of-00003.gguf"}));
    }

    void listRepositoryThroughApi() {
        qputenv("HEARTH_HF_ENDPOINT", m_server->url("").toString().toUtf8());
        const QString sha(64, 'a');
        QJsonArray tree;
        tree.append(QJsonObject{{"type", "directory"}, {"path", "sub"}});
        tree.append(QJsonObject{{"type", "file"}, {"path", "README.md"}, {"size", 100}});
        tree.append(QJsonObject{{"type", "file"},
                                {"path", "m-Q4_K_M.gguf"},
                                {"size", 123},
                                {"lfs", QJsonObject{{"oid", sha}, {"size", 1234567}}}});
        tree.append(QJsonObject{{"type", "file"},
                                {"path", "sub/m-Q8_0-00002-of-00002.gguf"},
                                {"lfs", QJsonObject{{"oid", sha}, {"size", 200}}}});
        tree.append(QJsonObject{{"type", "file"},
                                {"path", "sub/m-Q8_0-00001-of-00002.gguf"},
                                {"lfs", QJsonObject{{"oid", sha}, {"size", 100}}}});
        tree.append(QJsonObject{{"type", "file"},
                                {"path", "m-F16-00001-of-00003.gguf"},
                                {"lfs", QJsonObject{{"oid", sha}, {"size", 5}}}});
        m_server->setListing("owner/repo", QJsonDocument(tree).toJson());
        QNetworkAccessManager network;
        std::optional<std::expected<QList<HfApi::GgufChoice>, QString>> result;
        HfApi::listGguf(&network, "owner/repo", {}, this, [&](auto value) { result = value; });
        QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), kWaitMs);
        QVERIFY2(result->has_value(), qPrintable(result->error()));
        const auto& choices = **result;
        QCOMPARE(choices.size(), 3);
        QCOMPARE(choices[0].name, QString("m-F16.gguf"));
        QVERIFY(!choices[0].complete); // 1 of 3 parts listed
        QCOMPARE(choices[1].name, QString("m-Q4_K_M.gguf"));
        QCOMPARE(choices[1].totalSize, 1234567); // lfs.size, not the pointer's size
        QCOMPARE(choices[1].parts[0].sha256, sha);
        QCOMPARE(choices[1].quantization, QString("Q4_K_M"));
        QCOMPARE(choices[2].name, QString("sub/m-Q8_0.gguf"));
        QCOMPARE(choices[2].parts.size(), 2);
        QCOMPARE(choices[2].parts[0].path, QString("sub/m-Q8_0-00001-of-00002.gguf"));
        QCOMPARE(choices[2].totalSize, 300);
        QVERIFY(choices[2].complete);
        QCOMPARE(m_server->requests()[0].path,
                 QString("/api/models/owner/repo/tree/main?recursive=1"));
        QCOMPARE(HfApi::resolveUrl("owner/repo", "a.gguf"),
                 m_server->url("/owner/repo/resolve/main/a.gguf"));

        result.reset();
        HfApi::listGguf(&network, "owner/absent", {}, this, [&](auto value) { result = value; });
        QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), kWaitMs);
        QVERIFY(!result->has_value());
        QVERIFY2(result->error().contains("repository not found"), qPrintable(result->error()));
        QVERIFY(!HfApi::parseTree("{not json"));
        QVERIFY(!HfApi::parseTree("{}"));
        qunsetenv("HEARTH_HF_ENDPOINT");
    }

    void fitPicksTheBestDevice() {
        constexpr quint64 GiB = 1ull << 30;
        const MemoryDevice ram{"RAM", 32 * GiB, false};
        const MemoryDevice small{"Small GPU", 8 * GiB, true};
        const MemoryDevice large{"Large GPU", 80 * GiB, true};
        // Fits on the GPU and in RAM: the GPU, where it runs faster.
        FitEstimate fit = chooseDevice(4 * GiB, 5 * GiB, {ram, small});
        QCOMPARE(fit.fit, hearth::Fit::fits);
        QCOMPARE(fit.device, QString("Small GPU"));
        QVERIFY(fit.gpu);
        QCOMPARE(fit.availableBytes, 8 * GiB);
        // Too large for the GPU, fits in RAM.
        fit = chooseDevice(20 * GiB, 21 * GiB, {ram, small});
        QCOMPARE(fit.fit, hearth::Fit::fits);
        QCOMPARE(fit.device, QString("RAM"));
        QVERIFY(!fit.gpu);
        // Tight on the GPU (above 85%) but comfortable in RAM: RAM's better fit wins.
        fit = chooseDevice(6 * GiB, 7 * GiB, {ram, small});
        QCOMPARE(fit.fit, hearth::Fit::fits);
        QCOMPARE(fit.device, QString("RAM"));
        // Tight everywhere: the GPU.
        fit = chooseDevice(30 * GiB, 7 * GiB, {ram, small});
        QCOMPARE(fit.fit, hearth::Fit::tight);
        QCOMPARE(fit.device, QString("Small GPU"));
        // Two GPUs that both fit: the larger; the order of the list does not matter.
        fit = chooseDevice(4 * GiB, 5 * GiB, {large, ram, small});
        QCOMPARE(fit.device, QString("Large GPU"));
        fit = chooseDevice(4 * GiB, 5 * GiB, {small, ram, large});
        QCOMPARE(fit.device, QString("Large GPU"));
        // Nowhere: won't fit, against the device that comes closest in rank (the GPU).
        fit = chooseDevice(100 * GiB, 101 * GiB, {ram, large});
        QCOMPARE(fit.fit, hearth::Fit::wont_fit);
        QCOMPARE(fit.device, QString("Large GPU"));
        // No GPU: RAM alone, as before.
        fit = chooseDevice(4 * GiB, 5 * GiB, {ram});
        QCOMPARE(fit.device, QString("RAM"));
        QCOMPARE(fit.fit, hearth::Fit::fits);
        // No device figures at all: nothing fits, and no device is named.
        fit = chooseDevice(1, 1, {});
        QCOMPARE(fit.fit, hearth::Fit::wont_fit);
        QVERIFY(fit.device.isEmpty());
        // The rough fit from a file size alone counts the runtime on a GPU: a 7 GiB file
        // fits an 8 GiB card in RAM terms (7.7 GiB, tight) but not with 400 MiB more.
        fit = roughFit(qint64(7) * GiB, {small});
        QCOMPARE(fit.fit, hearth::Fit::wont_fit);
        fit = roughFit(qint64(7) * GiB, ramOnly(8 * GiB));
        QCOMPARE(fit.fit, hearth::Fit::tight);
        // This machine's devices: tst_device_probe.
    }

    void probeReadsRemoteHeader() {
        const QByteArray gguf = readAll(
            QString::fromStdString((hearth::test::data_dir() / "gguf" / "tiny.gguf").string()));
        QVERIFY(!gguf.isEmpty());
        m_server->addFile("tiny.gguf", gguf);
        QNetworkAccessManager network;
        RemoteGgufProbe probe(&network, m_server->url("/redirect/1/tiny.gguf"), {});
        QSignalSpy finished(&probe, &RemoteGgufProbe::finished);
        QSignalSpy failed(&probe, &RemoteGgufProbe::failed);
        probe.start(gguf.size());
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() + failed.size() == 1, kWaitMs);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][0].toString()));
        const auto info = finished[0][0].value<hearth::ModelInfo>();
        QCOMPARE(info.architecture, std::string("llama"));
        QCOMPARE(info.n_layer, 2u);
        const FitEstimate fits = fitOnThisMachine(info, 256, ramOnly(1ull << 30));
        QCOMPARE(fits.fit, hearth::Fit::fits);
        QCOMPARE(fits.device, QString("RAM"));
        QVERIFY(fits.plan.kv_bytes > 0);
        QCOMPARE(fitOnThisMachine(info, 256, ramOnly(1000)).fit, hearth::Fit::wont_fit);
        // On a GPU the plan counts the CUDA runtime's memory too.
        const QList<MemoryDevice> withGpu{{"RAM", 1000, false}, {"Test GPU", 1ull << 30, true}};
        const FitEstimate onGpu = fitOnThisMachine(info, 256, withGpu);
        QCOMPARE(onGpu.fit, hearth::Fit::fits);
        QCOMPARE(onGpu.device, QString("Test GPU"));
        QCOMPARE(onGpu.plan.total_bytes, fits.plan.total_bytes + onGpu.plan.overhead_bytes);
        QVERIFY(onGpu.plan.overhead_bytes > 0);
        QCOMPARE(roughFit(1000, ramOnly(1ull << 30)).fit, hearth::Fit::fits);
        QCOMPARE(roughFit(qint64(1) << 30, ramOnly(1ull << 30)).fit, hearth::Fit::wont_fit);

        // Not a GGUF file: the engine's message comes through.
        RemoteGgufProbe bad(&network, m_server->url("/file/model.gguf"), {});
        QSignalSpy badFailed(&bad, &RemoteGgufProbe::failed);
        bad.start(m_file.size());
        QTRY_COMPARE_WITH_TIMEOUT(badFailed.size(), 1, kWaitMs);
        QVERIFY(!badFailed[0][0].toString().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestDownload)
#include "tst_download.moc"
