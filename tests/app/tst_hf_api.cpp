// The Hugging Face client (hf_api) and the remote GGUF probe against hostile or unusual
// servers: the token kept to the hub's origin across pagination and redirects (a second
// server logs what it receives), pagination loops and page bounds, page sizes, a mirror
// served under a path, listing values that are not sizes or SHA-256s, and probe responses
// whose bodies never end or headers longer than it reads. The check before a download: a
// model Hearth cannot run named from its header, the others let through.
#include "catalog.h"
#include "download_test_server.h"
#include "download_test_support.h"
#include "gguf_builder.h"
#include "hf_api.h"
#include "remote_gguf_probe.h"
#include "test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QtTest>
#include <limits>
#include <memory>
#include <optional>

using hearth::test::DownloadTestServer;
using hearth::test::kWaitMs;

namespace {

using ListingResult = std::expected<QList<HfApi::GgufChoice>, QString>;

QByteArray listingOf(const QStringList& names) {
    QJsonArray tree;
    for (const QString& name : names) {
        tree.append(QJsonObject{{"type", "file"},
                                {"path", name},
                                {"lfs", QJsonObject{{"oid", QString(64, 'a')}, {"size", 100}}}});
    }
    return QJsonDocument(tree).toJson(QJsonDocument::Compact);
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestHfApi : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QNetworkAccessManager> m_network;

    void useEndpoint(const QString& endpoint) { qputenv("HEARTH_HF_ENDPOINT", endpoint.toUtf8()); }

    // Lists `repo` and waits; a listing that never ends fails the test after kWaitMs.
    std::optional<ListingResult> list(const QString& repo, const QByteArray& token = {}) {
        std::optional<ListingResult> result;
        HfApi::listGguf(m_network.get(), repo, token, this, [&](auto value) { result = value; });
        QElapsedTimer clock;
        clock.start();
        while (!result && clock.elapsed() < kWaitMs) {
            QTest::qWait(10);
        }
        return result;
    }

    QByteArray tinyGguf() {
        return readAll(
            QString::fromStdString((hearth::test::data_dir() / "gguf" / "tiny.gguf").string()));
    }

private slots:
    void init() {
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_network = std::make_unique<QNetworkAccessManager>();
        useEndpoint(m_server->url("").toString());
    }

    void cleanup() { qunsetenv("HEARTH_HF_ENDPOINT"); }

    // Item 10: the listing's next page is on another origin; the token stays on the hub.
    void tokenIsNotSentToAnotherOriginsPage() {
        DownloadTestServer other;
        QVERIFY(other.listen());
        m_server->setListing("owner/repo", listingOf({"a-Q4_0.gguf"}),
                             other.url("/api/models/owner/repo/tree/main?cursor=2").toString());
        other.setListing("owner/repo", listingOf({"b-Q8_0.gguf"}));
        const auto result = list("owner/repo", "secret");
        QVERIFY(result.has_value());
        QVERIFY2(result->has_value(), qPrintable(result->error()));
        QCOMPARE((*result)->size(), 2); // both pages
        QCOMPARE(m_server->requests().size(), 1);
        QCOMPARE(m_server->requests()[0].authorization, QByteArray("Bearer secret"));
        QCOMPARE(other.requests().size(), 1);
        QCOMPARE(other.requests()[0].path, QString("/api/models/owner/repo/tree/main?cursor=2"));
        QVERIFY2(other.requests()[0].authorization.isEmpty(),
                 other.requests()[0].authorization.constData());
    }

    // A listing redirected to another origin is followed, without the token.
    void tokenIsNotSentAcrossARedirect() {
        DownloadTestServer other;
        QVERIFY(other.listen());
        other.setListing("owner/repo", listingOf({"a-Q4_0.gguf"}));
        m_server->setRedirect("/api/models/owner/repo/tree/main",
                              other.url("/api/models/owner/repo/tree/main").toString());
        const auto result = list("owner/repo", "secret");
        QVERIFY(result.has_value());
        QVERIFY2(result->has_value(), qPrintable(result->error()));
        QCOMPARE((*result)->size(), 1);
        QCOMPARE(m_server->requests()[0].authorization, QByteArray("Bearer secret"));
        QCOMPARE(other.requests().size(), 1);
        QVERIFY(other.requests()[0].authorization.isEmpty());
    }

    // A listing whose next page is itself, and one whose pages never end.
    void paginationIsBounded() {
        m_server->setListing(
            "owner/loop", listingOf({"a-Q4_0.gguf"}),
            m_server->url("/api/models/owner/loop/tree/main?recursive=1").toString());
        auto result = list("owner/loop");
        QVERIFY(result.has_value());
        QVERIFY(!result->has_value());
        QVERIFY2(result->error().contains("links back to a page it gave before"),
                 qPrintable(result->error()));
        QCOMPARE(m_server->requests().size(), 1);
        m_server->setListing("owner/endless", listingOf({"a-Q4_0.gguf"}),
                             "/api/models/owner/endless/tree/main?cursor={n}");
        result = list("owner/endless");
        QVERIFY(result.has_value());
        QVERIFY(!result->has_value());
        QVERIFY2(result->error().contains("runs past 100 pages"), qPrintable(result->error()));
        QCOMPARE(m_server->requestsFor("/api/models/owner/endless/").size(),
                 HfApi::kMaxListingPages);
    }

    void pagesAreBoundedInSize() {
        const QByteArray huge =
            "[{\"type\":\"file\",\"path\":\"" +
            QByteArray(static_cast<qsizetype>(HfApi::kMaxListingPageBytes), 'a') + ".gguf\"}]";
        m_server->setListing("owner/huge", huge);
        const auto result = list("owner/huge");
        QVERIFY(result.has_value());
        QVERIFY(!result->has_value());
        QVERIFY2(result->error().contains("larger than 16 MiB"), qPrintable(result->error()));
    }

    // Item 12: a mirror served under a path keeps it in every URL.
    void mirrorPathIsKept() {
        m_server->setPathPrefix("/mirror");
        m_server->setListing("owner/repo", listingOf({"a-Q4_0.gguf"}));
        for (const QString& endpoint :
             {m_server->url("/mirror").toString(), m_server->url("/mirror//").toString()}) {
            useEndpoint(endpoint);
            QCOMPARE(HfApi::endpoint(), m_server->url("/mirror"));
            QCOMPARE(HfApi::treeUrl("owner/repo"),
                     m_server->url("/mirror/api/models/owner/repo/tree/main?recursive=1"));
            QCOMPARE(HfApi::resolveUrl("owner/repo", "sub/a b.gguf"),
                     m_server->url("/mirror/owner/repo/resolve/main/sub/a b.gguf"));
            const auto result = list("owner/repo");
            QVERIFY(result.has_value());
            QVERIFY2(result->has_value(), qPrintable(result->error()));
            QCOMPARE((*result)->value(0).name, QString("a-Q4_0.gguf"));
            QCOMPARE(m_server->requests().last().path,
                     QString("/mirror/api/models/owner/repo/tree/main?recursive=1"));
        }
        // A link to a file on the mirror names the repository, not "mirror/owner".
        auto reference =
            HfApi::parseReference(m_server->url("/mirror/owner/repo/blob/main/a.gguf").toString());
        QVERIFY2(reference, reference ? "" : qPrintable(reference.error()));
        QCOMPARE(reference->repo, QString("owner/repo"));
        QCOMPARE(reference->file, QString("a.gguf"));
        QVERIFY(!reference->url.isValid());
    }

    // Values in a listing that are not what they claim: named, never trusted.
    void listingValuesAreChecked() {
        const auto entry = [](const QJsonValue& size, const QString& oid) {
            QJsonObject object{{"type", "file"}, {"path", "x.gguf"}};
            object["lfs"] = QJsonObject{{"oid", oid}, {"size", size}};
            return QJsonDocument(QJsonArray{object}).toJson();
        };
        const QString sha(64, 'a');
        QVERIFY(HfApi::parseTree(entry(100, sha)));
        QCOMPARE(HfApi::parseTree(entry(100, sha.toUpper()))->value(0).sha256, sha);
        const std::pair<QByteArray, const char*> bad[] = {
            {entry(-1, sha), "x.gguf the size -1"},
            {entry(1.5, sha), "the size 1.5"},
            {entry(double(qint64(1) << 50), sha), "not a byte count up to 70368744177664"},
            {entry("100", sha), "the size \"100\""},
            {entry(100, "abc"), "gives x.gguf the SHA-256 'abc'"},
            {entry(100, QString(64, 'g')), "not 64 hexadecimal digits"},
            {QByteArray(100000, '[') + QByteArray(100000, ']'), "the repository listing"},
        };
        for (const auto& [json, expected] : bad) {
            auto result = HfApi::parseTree(json);
            QVERIFY2(!result, json.left(200).constData());
            QVERIFY2(result.error().contains(expected), qPrintable(result.error()));
        }
        // Parts whose sizes add up past what a qint64 holds: the total is unknown, not wrong.
        const qint64 big = std::numeric_limits<qint64>::max() / 2 + 1;
        const auto choices = HfApi::groupGguf(
            {{"m-00001-of-00002.gguf", big, {}}, {"m-00002-of-00002.gguf", big, {}}});
        QCOMPARE(choices.size(), 1);
        QCOMPARE(choices[0].totalSize, qint64(-1));
    }

    // Item 10 for the probe: the token goes to the hub's origin, not where it redirects.
    void probeTokenStaysOnTheHubOrigin() {
        DownloadTestServer other;
        QVERIFY(other.listen());
        const QByteArray gguf = tinyGguf();
        QVERIFY(!gguf.isEmpty());
        other.addFile("tiny.gguf", gguf);
        m_server->setRedirect("/owner/repo/resolve/main/tiny.gguf",
                              other.url("/file/tiny.gguf").toString());
        RemoteGgufProbe probe(m_network.get(), m_server->url("/owner/repo/resolve/main/tiny.gguf"),
                              "secret", HfApi::endpoint());
        QSignalSpy finished(&probe, &RemoteGgufProbe::finished);
        QSignalSpy failed(&probe, &RemoteGgufProbe::failed);
        probe.start(gguf.size());
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() + failed.size() == 1, kWaitMs);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][0].toString()));
        QCOMPARE(m_server->requests()[0].authorization, QByteArray("Bearer secret"));
        QCOMPARE(other.requests().size(), 1);
        QVERIFY(other.requests()[0].authorization.isEmpty());
    }

    // The probe reads at most what it asked for: an error page that never ends is answered
    // at its headers, and a redirect to a file: URL is refused.
    void probeReadsNoUnwantedBody() {
        m_server->addFile("tiny.gguf", tinyGguf());
        RemoteGgufProbe busy(m_network.get(), m_server->url("/endless/503/tiny.gguf"));
        QSignalSpy busyFailed(&busy, &RemoteGgufProbe::failed);
        busy.start();
        QTRY_COMPARE_WITH_TIMEOUT(busyFailed.size(), 1, kWaitMs);
        QVERIFY2(busyFailed[0][0].toString().endsWith("HTTP 503"),
                 qPrintable(busyFailed[0][0].toString()));
        m_server->setRedirect("/tofile/tiny.gguf", "file:///etc/hostname");
        RemoteGgufProbe local(m_network.get(), m_server->url("/tofile/tiny.gguf"));
        QSignalSpy localFailed(&local, &RemoteGgufProbe::failed);
        local.start();
        QTRY_COMPARE_WITH_TIMEOUT(localFailed.size(), 1, kWaitMs);
        QVERIFY2(localFailed[0][0].toString().contains("only http and https"),
                 qPrintable(localFailed[0][0].toString()));
    }

    // A model Hearth cannot run is named from general.architecture before any other key is
    // read (its per-layer arrays would fail read_model_info).
    void probeNamesAnArchitectureHearthCannotRun() {
        m_server->addFile("rwkv.gguf", hearth::test::ggufOfArchitecture());
        RemoteGgufProbe probe(m_network.get(), m_server->url("/file/rwkv.gguf"));
        QSignalSpy unsupported(&probe, &RemoteGgufProbe::unsupported);
        QSignalSpy finished(&probe, &RemoteGgufProbe::finished);
        QSignalSpy failed(&probe, &RemoteGgufProbe::failed);
        probe.start();
        QTRY_VERIFY_WITH_TIMEOUT(unsupported.size() + finished.size() + failed.size() == 1,
                                 kWaitMs);
        QCOMPARE(unsupported.size(), 1);
        QCOMPARE(unsupported[0][0].toString(), QStringLiteral("rwkv7"));
        const QString message = unsupported[0][1].toString();
        QCOMPARE(message, cannotRunArchitecture("rwkv7"));
        QVERIFY2(message.startsWith("Hearth cannot run rwkv7 models yet (it runs llama, "),
                 qPrintable(message));
        // A name that is not one (a control character in it) is read_model_info's to refuse.
        m_server->addFile("odd.gguf", hearth::test::ggufOfArchitecture("rwkv\x1b"
                                                                       "7"));
        RemoteGgufProbe odd(m_network.get(), m_server->url("/file/odd.gguf"));
        QSignalSpy oddFailed(&odd, &RemoteGgufProbe::failed);
        odd.start();
        QTRY_COMPARE_WITH_TIMEOUT(oddFailed.size(), 1, kWaitMs);
        QVERIFY2(oddFailed[0][0].toString().contains("general.architecture must be a name"),
                 qPrintable(oddFailed[0][0].toString()));
    }

    // checkBeforeDownload refuses a model Hearth cannot run, saying why, and lets through a
    // model it runs and a file whose header cannot be read (the download says what is wrong).
    void checkBeforeDownloadRefusesOnlyWhatCannotRun() {
        m_server->addFile("rwkv.gguf", hearth::test::ggufOfArchitecture());
        m_server->addFile("tiny.gguf", tinyGguf());
        m_server->addFile("text.gguf", QByteArray("not a GGUF file").repeated(100));
        auto check = [this](const QString& path) -> std::optional<QString> {
            std::optional<QString> verdict;
            checkBeforeDownload(m_network.get(), m_server->url(path), {}, {}, -1, this,
                                [&](const QString& refusal) { verdict = refusal; });
            QElapsedTimer clock;
            clock.start();
            while (!verdict && clock.elapsed() < kWaitMs) {
                QTest::qWait(10);
            }
            return verdict;
        };
        QCOMPARE(check("/file/rwkv.gguf"), std::optional(cannotRunArchitecture("rwkv7")));
        QCOMPARE(check("/file/tiny.gguf"), std::optional(QString()));
        QCOMPARE(check("/file/text.gguf"), std::optional(QString()));
        QCOMPARE(check("/file/absent.gguf"), std::optional(QString()));
        // Through redirects as a download goes.
        m_server->addFile("rwkv-moved.gguf", hearth::test::ggufOfArchitecture());
        QCOMPARE(check("/redirect/2/rwkv-moved.gguf"),
                 std::optional(cannotRunArchitecture("rwkv7")));
        QCOMPARE(m_server->requestsFor("/file/rwkv.gguf").size(), 1);
    }

    // A header longer than the probe reads (two 33 MiB strings): it asks for 4, 16, then
    // 64 MiB (kMaxRequestBytes), and no more.
    void probeReadsAtMostItsLimit() {
        const std::string text(33 << 20, 'x');
        const std::vector<uint8_t> bytes =
            hearth::test::GgufBuilder().str("a", text).str("b", text).build();
        m_server->addFile("long.gguf", QByteArray(reinterpret_cast<const char*>(bytes.data()),
                                                  static_cast<qsizetype>(bytes.size())));
        RemoteGgufProbe probe(m_network.get(), m_server->url("/file/long.gguf"));
        QSignalSpy finished(&probe, &RemoteGgufProbe::finished);
        QSignalSpy failed(&probe, &RemoteGgufProbe::failed);
        probe.start();
        QTRY_VERIFY_WITH_TIMEOUT(finished.size() + failed.size() == 1, kWaitMs);
        QCOMPARE(failed.size(), 1);
        QVERIFY2(failed[0][0].toString().startsWith("file truncated"),
                 qPrintable(failed[0][0].toString()));
        const auto requests = m_server->requestsFor("/file/long.gguf");
        QCOMPARE(requests.size(), 3);
        QCOMPARE(requests[0].range, QByteArray("bytes=0-4194303"));
        QCOMPARE(requests[2].range,
                 "bytes=0-" + QByteArray::number(RemoteGgufProbe::kMaxRequestBytes - 1));
    }
};

QTEST_GUILESS_MAIN(TestHfApi)
#include "tst_hf_api.moc"
