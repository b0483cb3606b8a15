// The Download tab's check before a download (DownloadController against a local server
// standing in for the Hub): a file whose header names an architecture Hearth cannot run is
// held with the reason, nothing is downloaded until "Download anyway", and dismissing it
// forgets it; a model Hearth runs starts at once; a catalog entry Hearth cannot run yet is
// held without reading its header, and whoever asked hears why. Catalog rows carry the
// architecture and, for the coming entries, why they are disabled.
#include "catalog.h"
#include "download_controller.h"
#include "download_test_server.h"
#include "download_test_support.h"
#include "test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

using hearth::test::DownloadTestServer;
using hearth::test::kWaitMs;

namespace {

QJsonObject lfsEntry(const QString& path, const QByteArray& bytes) {
    return {{"type", "file"},
            {"path", path},
            {"lfs", QJsonObject{{"oid", hearth::test::sha256Hex(bytes)}, {"size", bytes.size()}}}};
}

QByteArray tinyGguf() {
    QFile file(QString::fromStdString((hearth::test::data_dir() / "gguf" / "tiny.gguf").string()));
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestDownloadCheck : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<DownloadController> m_controller;
    QByteArray m_rwkv = hearth::test::ggufOfArchitecture();
    QByteArray m_tiny = tinyGguf();

    // Looks `repo` up and waits for its files.
    bool lookup(const QString& repo) {
        m_controller->lookup(repo);
        QElapsedTimer clock;
        clock.start();
        while ((m_controller->lookupBusy() || m_controller->lookupFiles().isEmpty()) &&
               clock.elapsed() < kWaitMs) {
            QTest::qWait(10);
        }
        return !m_controller->lookupFiles().isEmpty();
    }

    // Waits until no header is being read.
    bool checked() {
        QElapsedTimer clock;
        clock.start();
        QTest::qWait(10);
        while (!m_controller->checkingFile().isEmpty() && clock.elapsed() < kWaitMs) {
            QTest::qWait(10);
        }
        return m_controller->checkingFile().isEmpty();
    }

    int rows() const { return m_controller->downloads()->rowCount(); }

private slots:
    void init() {
        QVERIFY(!m_tiny.isEmpty());
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        qputenv("HEARTH_HF_ENDPOINT", m_server->url("").toString().toUtf8());
        m_dir = std::make_unique<QTemporaryDir>();
        m_server->addFile("rwkv-Q8_0.gguf", m_rwkv);
        m_server->addFile("tiny-Q8_0.gguf", m_tiny);
        m_server->setListing(
            "owner/rwkv", QJsonDocument(QJsonArray{lfsEntry("rwkv-Q8_0.gguf", m_rwkv)}).toJson());
        m_server->setListing(
            "owner/tiny", QJsonDocument(QJsonArray{lfsEntry("tiny-Q8_0.gguf", m_tiny)}).toJson());
        m_controller = std::make_unique<DownloadController>();
        m_controller->setModelsDirectory(m_dir->path());
    }

    void cleanup() {
        m_controller.reset();
        m_server.reset();
    }

    void holdsAModelHearthCannotRunUntilTheUserInsists() {
        QVERIFY(lookup("owner/rwkv"));
        QSignalSpy held(m_controller.get(), &DownloadController::heldChanged);
        m_controller->downloadLookupFile(0);
        QCOMPARE(m_controller->checkingFile(), QStringLiteral("rwkv-Q8_0.gguf"));
        QVERIFY(checked());
        QCOMPARE(m_controller->heldName(), QStringLiteral("rwkv-Q8_0.gguf"));
        QCOMPARE(m_controller->heldMessage(), cannotRunArchitecture("rwkv7"));
        QVERIFY(held.size() >= 2);
        QCOMPARE(rows(), 0);
        QVERIFY(m_server->downloadsOf("/owner/rwkv/resolve/").isEmpty());
        // Dismissed: forgotten, nothing downloaded.
        m_controller->dismissHeld();
        QVERIFY(m_controller->heldMessage().isEmpty());
        QCOMPARE(rows(), 0);
        // Asked again, then insisted on: it downloads.
        m_controller->downloadLookupFile(0);
        QVERIFY(checked());
        QVERIFY(!m_controller->heldMessage().isEmpty());
        QSignalSpy downloaded(m_controller.get(), &DownloadController::modelDownloaded);
        m_controller->downloadAnyway();
        QVERIFY(m_controller->heldMessage().isEmpty());
        QCOMPARE(rows(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(downloaded.size(), 1, kWaitMs);
        QCOMPARE(downloaded[0][0].toString(), m_dir->filePath("rwkv-Q8_0.gguf"));
        QFile file(m_dir->filePath("rwkv-Q8_0.gguf"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), m_rwkv);
    }

    void startsAModelHearthRunsAtOnce() {
        QVERIFY(lookup("owner/tiny"));
        QSignalSpy downloaded(m_controller.get(), &DownloadController::modelDownloaded);
        m_controller->downloadLookupFile(0);
        QVERIFY(checked());
        QVERIFY(m_controller->heldMessage().isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(downloaded.size(), 1, kWaitMs);
        // The header, then the download.
        QCOMPARE(m_server->requestsFor("/owner/tiny/resolve/").size(), 2);
        QVERIFY(DownloadTestServer::isProbe(m_server->requestsFor("/owner/tiny/resolve/")[0]));
    }

    // "Check fit" on a file Hearth cannot run says why instead of a fit.
    void checkFitSaysWhyAModelCannotRun() {
        QVERIFY(lookup("owner/rwkv"));
        m_controller->probe(0);
        QTRY_VERIFY_WITH_TIMEOUT(m_controller->lookupFiles().value(0).toMap().contains("cannotRun"),
                                 kWaitMs);
        const QVariantMap file = m_controller->lookupFiles().value(0).toMap();
        QCOMPARE(file.value("architecture").toString(), QStringLiteral("rwkv7"));
        QCOMPARE(file.value("cannotRun").toString(), cannotRunArchitecture("rwkv7"));
    }

    // The catalog's rows name the architecture; an entry Hearth cannot run yet says why,
    // and asking for it holds it without reading the header, telling whoever asked.
    void catalogEntriesHearthCannotRunAreHeld() {
        const QVariantList catalog = m_controller->catalog();
        QVariantMap coming;
        for (const QVariant& row : catalog) {
            const QVariantMap entry = row.toMap();
            QVERIFY(!entry.value("architecture").toString().isEmpty());
            if (entry.value("id") == "qwen3-8b") {
                QCOMPARE(entry.value("architecture").toString(), QStringLiteral("qwen3"));
                QVERIFY(entry.value("cannotRun").toString().isEmpty());
            }
            if (!entry.value("cannotRun").toString().isEmpty() && coming.isEmpty()) {
                coming = entry;
            }
        }
        if (coming.isEmpty()) {
            QSKIP("every catalog entry runs now");
        }
        QCOMPARE(coming.value("cannotRun").toString(),
                 cannotRunArchitecture(coming.value("architecture").toString()));
        const QVariantMap file = coming.value("files").toList().value(0).toMap();
        const QString repo = coming.value("repo").toString();
        m_server->setListing(
            repo,
            QJsonDocument(QJsonArray{lfsEntry(file.value("file").toString(), m_rwkv)}).toJson());
        m_server->addFile(file.value("file").toString(), m_rwkv);
        QSignalSpy failed(m_controller.get(), &DownloadController::catalogDownloadFailed);
        m_controller->downloadCatalogFile(coming.value("id").toString(),
                                          file.value("quantization").toString());
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kWaitMs);
        QCOMPARE(failed[0][2].toString(), coming.value("cannotRun").toString());
        QCOMPARE(m_controller->heldMessage(), coming.value("cannotRun").toString());
        QVERIFY(m_server->requestsFor("/" + repo + "/resolve/").isEmpty());
        QCOMPARE(rows(), 0);
        m_controller->downloadAnyway();
        QCOMPARE(rows(), 1);
    }
};

QTEST_GUILESS_MAIN(TestDownloadCheck)
#include "tst_download_check.moc"
