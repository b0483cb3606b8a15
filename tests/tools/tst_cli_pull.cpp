// `hearth-cli pull` end to end against a local HTTP server standing in for the Hub
// (HEARTH_HF_ENDPOINT): a repository file, a split model, the choice list, a catalog id,
// a plain URL, a dropped connection, and the failures (bad checksum, 404, gated, usage).
// A real split model, pulled, loads as one model from its first part. Hostile and odd
// servers: one that never resumes, failures before the transfer starts, the token kept to
// the Hub's origin (a second server logs what it receives), a mirror under a path. Each
// pull that could hang runs under a timeout that fails the test instead.
#include "../app/download_test_server.h"
#include "../app/download_test_support.h"
#include "catalog.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

using hearth::test::DownloadTestServer;
using hearth::test::sha256Hex;

namespace {

QByteArray pattern(qsizetype size, char seed) {
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i) {
        bytes[i] = static_cast<char>((i * 31 + seed) & 0xff);
    }
    return bytes;
}

QJsonObject lfsEntry(const QString& path, const QByteArray& bytes) {
    return {{"type", "file"},
            {"path", path},
            {"size", 134},
            {"lfs", QJsonObject{{"oid", sha256Hex(bytes)}, {"size", bytes.size()}}}};
}

} // namespace

class TestCliPull : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<DownloadTestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    QByteArray m_q4 = pattern(300000, 1);
    QByteArray m_q8 = pattern(500000, 2);
    QByteArray m_part1 = pattern(200000, 3);
    QByteArray m_part2 = pattern(100000, 4);

    QString m_endpoint; // HEARTH_HF_ENDPOINT for the next pull

    // Runs hearth-cli while this thread's event loop keeps serving HTTP; killed, and reported
    // as "hearth-cli timed out", past `timeoutMs`.
    hearth::test::CliResult pull(const QStringList& args, const QByteArray& token = {},
                                 int timeoutMs = 60000) {
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HEARTH_HF_ENDPOINT", m_endpoint);
        env.insert("HEARTH_DOWNLOAD_RETRY_MS", "50");
        env.remove("HF_TOKEN");
        env.remove("HUGGING_FACE_HUB_TOKEN");
        if (!token.isEmpty()) {
            env.insert("MY_TOKEN", QString::fromLatin1(token));
        }
        process.setProcessEnvironment(env);
        process.start(QStringLiteral(HEARTH_CLI_PATH), QStringList{"pull"} + args);
        hearth::test::CliResult result;
        QElapsedTimer clock;
        clock.start();
        while (process.state() != QProcess::NotRunning && clock.elapsed() < timeoutMs) {
            QTest::qWait(10);
        }
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished();
            result.err = "hearth-cli timed out";
            return result;
        }
        result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
        result.out = process.readAllStandardOutput();
        result.err = process.readAllStandardError();
        return result;
    }

    QString path(const QString& name) const { return m_dir->filePath(name); }

    static QByteArray readAll(const QString& file) {
        QFile in(file);
        return in.open(QIODevice::ReadOnly) ? in.readAll() : QByteArray();
    }

private slots:
    void init() {
        m_server = std::make_unique<DownloadTestServer>();
        QVERIFY(m_server->listen());
        m_endpoint = m_server->url("").toString();
        m_dir = std::make_unique<QTemporaryDir>();
        m_server->addFile("m-Q4_K_M.gguf", m_q4);
        m_server->addFile("m-Q8_0.gguf", m_q8);
        m_server->addFile("m-F16-00001-of-00002.gguf", m_part1);
        m_server->addFile("m-F16-00002-of-00002.gguf", m_part2);
        QJsonArray tree{lfsEntry("m-Q4_K_M.gguf", m_q4), lfsEntry("m-Q8_0.gguf", m_q8),
                        lfsEntry("m-F16-00001-of-00002.gguf", m_part1),
                        lfsEntry("m-F16-00002-of-00002.gguf", m_part2),
                        QJsonObject{{"type", "file"}, {"path", "README.md"}, {"size", 10}}};
        m_server->setListing("owner/repo", QJsonDocument(tree).toJson());
        QJsonArray single{lfsEntry("m-Q4_K_M.gguf", m_q4)};
        m_server->setListing("owner/single", QJsonDocument(single).toJson());
        QJsonArray wrong{
            QJsonObject{{"type", "file"},
                        {"path", "m-Q4_K_M.gguf"},
                        {"lfs", QJsonObject{{"oid", QString(64, 'b')}, {"size", m_q4.size()}}}}};
        m_server->setListing("owner/badhash", QJsonDocument(wrong).toJson());
    }

    void pullsOneFileOfARepository() {
        const auto result = pull({"owner/repo:m-Q8_0.gguf", "--dir", m_dir->path()});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q8_0.gguf")), m_q8);
        QCOMPARE(result.out.trimmed(), QDir::toNativeSeparators(path("m-Q8_0.gguf")).toUtf8());
        QVERIFY(!QFile::exists(path("m-Q8_0.gguf.part")));
        // The header first (a bounded Range), then the download.
        QCOMPARE(m_server->requestsFor("/owner/repo/resolve/main/").size(), 2);
        QVERIFY(DownloadTestServer::isProbe(m_server->requestsFor("/owner/repo/resolve/").first()));
        QCOMPARE(m_server->downloadsOf("/owner/repo/resolve/main/").size(), 1);
    }

    void pullsByQuantizationAndTheOnlyFile() {
        auto result = pull({"owner/repo", "--quant", "q4_k_m", "--dir", m_dir->path()});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q4_K_M.gguf")), m_q4);
        QFile::remove(path("m-Q4_K_M.gguf"));
        result = pull({m_server->url("/owner/single").toString(), "--dir", m_dir->path()});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q4_K_M.gguf")), m_q4);
    }

    void listsChoicesWhenAmbiguous() {
        const auto result = pull({"owner/repo", "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 2);
        QVERIFY2(result.out.contains("m-Q4_K_M.gguf") && result.out.contains("m-Q8_0.gguf") &&
                     result.out.contains("m-F16.gguf") && result.out.contains("(2 parts)"),
                 result.out.constData());
        QVERIFY(result.out.contains("293.0 KiB")); // 300000 bytes
        QVERIFY(result.err.contains("choose one"));
        QVERIFY(QDir(m_dir->path()).isEmpty());
    }

    void pullsASplitModelTogether() {
        const auto result = pull({"owner/repo:m-F16.gguf", "--dir", m_dir->path()});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-F16-00001-of-00002.gguf")), m_part1);
        QCOMPARE(readAll(path("m-F16-00002-of-00002.gguf")), m_part2);
        QCOMPARE(result.out.count('\n'), 2);
    }

    // The parts of tests/data/split (llama.gguf of tests/data/arch split in three): pulled
    // together, then `hearth-cli info` on part 1 sees the whole model.
    void pullsASplitModelThatLoadsAsOne() {
        QJsonArray tree;
        QList<QByteArray> parts;
        for (int part = 1; part <= 3; ++part) {
            const QString name = QString("llama-%1-of-00003.gguf").arg(part, 5, 10, QChar('0'));
            QFile file(QString::fromStdString((hearth::test::data_dir() / "split").string()) + "/" +
                       name);
            QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
            parts.append(file.readAll());
            m_server->addFile(name, parts.last());
            tree.append(lfsEntry(name, parts.last()));
        }
        m_server->setListing("owner/split", QJsonDocument(tree).toJson());
        const auto result = pull({"owner/split:llama.gguf", "--dir", m_dir->path()});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        for (int part = 1; part <= 3; ++part) {
            const QString name = QString("llama-%1-of-00003.gguf").arg(part, 5, 10, QChar('0'));
            QCOMPARE(readAll(path(name)), parts[part - 1]);
        }
        const auto whole = hearth::test::run_cli(
            {"info", "--json",
             QString::fromStdString((hearth::test::data_dir() / "arch" / "llama.gguf").string())});
        const auto split =
            hearth::test::run_cli({"info", "--json", path("llama-00001-of-00003.gguf")});
        QVERIFY2(whole.exit_code == 0, whole.err.constData());
        QVERIFY2(split.exit_code == 0, split.err.constData());
        const QJsonObject a = QJsonDocument::fromJson(whole.out).object();
        const QJsonObject b = QJsonDocument::fromJson(split.out).object();
        QVERIFY(!a.isEmpty());
        for (const char* key : {"n_params", "n_tensors", "architecture", "hparams", "quant_mix"}) {
            QVERIFY2(a.value(key) == b.value(key), key);
        }
    }

    void pullsAPlainUrlWithChecksum() {
        // "localhost": a plain URL, not the Hub endpoint (127.0.0.1). It drops once, resumes.
        const auto url = m_server->url("/drop/m-Q4_K_M.gguf", "localhost").toString();
        auto result = pull({url, "--dir", m_dir->path(), "--sha256", sha256Hex(m_q4)});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q4_K_M.gguf")), m_q4);
        QCOMPARE(m_server->downloadsOf("/drop/").size(), 2);
        QVERIFY(m_server->downloadsOf("/drop/").last().range.startsWith("bytes="));
    }

    void rejectsAWrongChecksum() {
        auto result = pull({"owner/badhash:m-Q4_K_M.gguf", "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("SHA-256 mismatch"), result.err.constData());
        QVERIFY(!QFile::exists(path("m-Q4_K_M.gguf")));
        QVERIFY(!QFile::exists(path("m-Q4_K_M.gguf.part")));
        result = pull({m_server->url("/file/m-Q8_0.gguf", "localhost").toString(), "--dir",
                       m_dir->path(), "--sha256", QString(64, 'c')});
        QCOMPARE(result.exit_code, 1);
        QVERIFY(!QFile::exists(path("m-Q8_0.gguf")));
        result = pull({"owner/repo:m-Q8_0.gguf", "--sha256", "xyz"});
        QCOMPARE(result.exit_code, 1);
        QVERIFY(result.err.contains("64 hexadecimal digits"));
    }

    void reportsFailuresClearly() {
        auto result = pull({"owner/absent", "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("repository not found: owner/absent"), result.err.constData());
        result = pull({"owner/repo:nothere.gguf", "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 1);
        QVERIFY(result.err.contains("has no file nothere.gguf"));
        result = pull(
            {m_server->url("/file/absent.gguf", "localhost").toString(), "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("404"), result.err.constData());
        result = pull({"not a model"});
        QCOMPARE(result.exit_code, 2);
        result = pull({});
        QCOMPARE(result.exit_code, 2);
        result = pull({"smollm2-135m-instruct", "--quant", "Q2_K"});
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("no quantization Q2_K"), result.err.constData());
    }

    void gatedFileNeedsTheToken() {
        m_server->setToken("s3cret");
        const auto url = m_server->url("/gated/m-Q4_K_M.gguf", "localhost").toString();
        auto result = pull({url, "--dir", m_dir->path()});
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains(
                     "gated model: accept the license on huggingface.co and set a token"),
                 result.err.constData());
        // A plain URL is not on the Hub: the Hub's token is not sent to it...
        result = pull({url, "--dir", m_dir->path(), "--token-env", "MY_TOKEN"}, "s3cret");
        QCOMPARE(result.exit_code, 1);
        // ...but the same file through the Hub's endpoint gets it.
        m_server->addFile("gated.gguf", m_q4);
        QJsonArray tree{lfsEntry("gated.gguf", m_q4)};
        m_server->setListing("owner/gated", QJsonDocument(tree).toJson());
        result = pull({"owner/gated", "--dir", m_dir->path(), "--token-env", "MY_TOKEN"}, "s3cret");
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(m_server->requests().last().authorization, QByteArray("Bearer s3cret"));
        QVERIFY(!result.err.contains("s3cret"));
        result = pull({"owner/gated", "--token-env", "UNSET_VARIABLE_FOR_TEST"});
        QCOMPARE(result.exit_code, 1);
        QVERIFY(result.err.contains("UNSET_VARIABLE_FOR_TEST"));
    }

    // Item 8: a server that ignores Range (or refuses it with 416) and drops every response
    // half way. The pull gives up with a message that says why, instead of looping forever.
    void givesUpOnAServerThatNeverResumes() {
        for (const char* kind : {"/dropall/", "/refuse/"}) {
            const auto url = m_server->url(kind + QString("m-Q8_0.gguf"), "localhost").toString();
            const auto result =
                pull({url, "--dir", m_dir->path(), "--sha256", sha256Hex(m_q8)}, {}, 20000);
            QCOMPARE(result.exit_code, 1);
            QVERIFY2(result.err.contains("download failed after 5 attempts"),
                     result.err.constData());
            QVERIFY2(result.err.contains("does not resume downloads"), result.err.constData());
            QVERIFY(!QFile::exists(path("m-Q8_0.gguf")));
            QVERIFY(m_server->requestsFor(kind).size() <= 6);
        }
    }

    // Item 9: a task that fails as it is enqueued (a --dir under a regular file, a disk too
    // small for the size the listing announces) ends the pull at once.
    void exitsWhenTheTaskFailsAtStart() {
        QFile plain(path("plain-file"));
        QVERIFY(plain.open(QIODevice::WriteOnly));
        plain.close();
        auto result =
            pull({"owner/repo:m-Q8_0.gguf", "--dir", path("plain-file/models")}, {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("cannot create the directory"), result.err.constData());
        // 32 TiB: more than any disk this runs on has free.
        QJsonArray tree{QJsonObject{
            {"type", "file"},
            {"path", "huge-Q4_0.gguf"},
            {"lfs", QJsonObject{{"oid", QString(64, 'a')}, {"size", qint64(1) << 45}}}}};
        m_server->setListing("owner/huge", QJsonDocument(tree).toJson());
        result = pull({"owner/huge", "--dir", m_dir->path()}, {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("not enough disk space in " + m_dir->path().toUtf8() +
                                     ": 32.0 TiB needed"),
                 result.err.constData());
        QCOMPARE(QDir(m_dir->path()).entryList(QDir::Files), QStringList{"plain-file"});
        QVERIFY(m_server->downloadsOf("/owner/huge/resolve/").isEmpty());
    }

    // A file of zero bytes is complete as soon as it starts: the pull still ends, with it.
    void exitsWhenTheTaskFinishesAtStart() {
        m_server->addFile("empty-Q4_0.gguf", {});
        m_server->setListing("owner/empty",
                             QJsonDocument(QJsonArray{lfsEntry("empty-Q4_0.gguf", {})}).toJson());
        const auto result = pull({"owner/empty", "--dir", m_dir->path()}, {}, 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY(QFileInfo(path("empty-Q4_0.gguf")).isFile());
        QCOMPARE(QFileInfo(path("empty-Q4_0.gguf")).size(), 0);
    }

    // Item 10: HF_TOKEN goes to the Hub's origin only: not to the next page of a listing on
    // another origin, nor to the CDN its download redirects to.
    void tokenStaysOnTheHub() {
        DownloadTestServer other;
        QVERIFY(other.listen());
        m_server->setListing("owner/paged",
                             QJsonDocument(QJsonArray{lfsEntry("m-Q4_K_M.gguf", m_q4)}).toJson(),
                             other.url("/api/models/owner/paged/tree/main?cursor=2").toString());
        other.setListing("owner/paged",
                         QJsonDocument(QJsonArray{lfsEntry("m-Q8_0.gguf", m_q8)}).toJson());
        other.addFile("m-Q8_0.gguf", m_q8);
        m_server->setRedirect("/owner/paged/resolve/main/m-Q8_0.gguf",
                              other.url("/file/m-Q8_0.gguf").toString());
        const auto result =
            pull({"owner/paged:m-Q8_0.gguf", "--dir", m_dir->path(), "--token-env", "MY_TOKEN"},
                 "s3cret", 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q8_0.gguf")), m_q8);
        // The first page, the header probe's and the download's redirects.
        QCOMPARE(m_server->requests().size(), 3);
        for (const auto& request : m_server->requests()) {
            QCOMPARE(request.authorization, QByteArray("Bearer s3cret"));
        }
        QCOMPARE(other.requests().size(), 3); // the second page, the header, the file
        for (const auto& request : other.requests()) {
            QVERIFY2(request.authorization.isEmpty(), qPrintable(request.path));
        }
    }

    // Item 12: a mirror served under a path (HEARTH_HF_ENDPOINT=http://host/mirror).
    void pullsFromAMirrorUnderAPath() {
        m_server->setPathPrefix("/mirror");
        m_endpoint = m_server->url("/mirror").toString();
        const auto result =
            pull({"owner/repo:m-Q8_0.gguf", "--dir", m_dir->path(), "--token-env", "MY_TOKEN"},
                 "s3cret", 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path("m-Q8_0.gguf")), m_q8);
        const auto requests = m_server->requests();
        QCOMPARE(requests.size(), 3); // the listing, the header, the file
        QCOMPARE(requests[0].path, QString("/mirror/api/models/owner/repo/tree/main?recursive=1"));
        for (const qsizetype i : {1, 2}) {
            QCOMPARE(requests[i].path, QString("/mirror/owner/repo/resolve/main/m-Q8_0.gguf"));
            QCOMPARE(requests[i].authorization,
                     QByteArray("Bearer s3cret")); // the mirror is the hub
        }
        QVERIFY(DownloadTestServer::isProbe(requests[1]));
    }

    // A model Hearth cannot run: its header is read, the pull refuses with the reason and
    // downloads nothing; --force downloads it all the same. A catalog entry not yet runnable
    // is refused without a request.
    void refusesAModelHearthCannotRun() {
        const QByteArray rwkv = hearth::test::ggufOfArchitecture();
        m_server->addFile("rwkv-Q8_0.gguf", rwkv);
        m_server->setListing("owner/rwkv",
                             QJsonDocument(QJsonArray{lfsEntry("rwkv-Q8_0.gguf", rwkv)}).toJson());
        auto result = pull({"owner/rwkv", "--dir", m_dir->path()}, {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("hearth-cli: Hearth cannot run rwkv7 models yet (it runs "
                                     "llama, ") &&
                     result.err.contains("; --force downloads it anyway"),
                 result.err.constData());
        QVERIFY(QDir(m_dir->path()).isEmpty());
        QCOMPARE(m_server->requestsFor("/owner/rwkv/resolve/").size(), 1);
        QVERIFY(m_server->downloadsOf("/owner/rwkv/resolve/").isEmpty());
        // A plain URL too.
        result = pull(
            {m_server->url("/file/rwkv-Q8_0.gguf", "localhost").toString(), "--dir", m_dir->path()},
            {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("Hearth cannot run rwkv7 models yet"), result.err.constData());
        QVERIFY(QDir(m_dir->path()).isEmpty());

        result = pull({"owner/rwkv", "--dir", m_dir->path(), "--force"}, {}, 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(result.err.contains("downloading it anyway (--force)"), result.err.constData());
        QCOMPARE(readAll(path("rwkv-Q8_0.gguf")), rwkv);

        // A model it runs (and a file that is not GGUF, as the other tests pull) goes through.
        QFile tinyFile(
            QString::fromStdString((hearth::test::data_dir() / "gguf" / "tiny.gguf").string()));
        QVERIFY(tinyFile.open(QIODevice::ReadOnly));
        const QByteArray tinyBytes = tinyFile.readAll();
        m_server->addFile("tiny-Q8_0.gguf", tinyBytes);
        m_server->setListing(
            "owner/tiny",
            QJsonDocument(QJsonArray{lfsEntry("tiny-Q8_0.gguf", tinyBytes)}).toJson());
        result = pull({"owner/tiny", "--dir", m_dir->path()}, {}, 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY(!result.err.contains("cannot run"));
        QCOMPARE(readAll(path("tiny-Q8_0.gguf")), tinyBytes);

        // The catalog knows: a coming entry is refused before any request, unless --force.
        const auto catalog = builtinCatalog();
        QVERIFY(catalog);
        const CatalogEntry* coming = nullptr;
        for (const CatalogEntry& entry : *catalog) {
            if (!entry.cannotRun.isEmpty() && !coming) {
                coming = &entry;
            }
        }
        if (!coming) {
            return; // every catalog entry runs now
        }
        m_server->setListing(
            coming->repo,
            QJsonDocument(QJsonArray{lfsEntry(coming->files[0].file, rwkv)}).toJson());
        m_server->addFile(coming->files[0].file, rwkv);
        const qsizetype before = m_server->requests().size();
        result = pull({coming->id, "--dir", m_dir->path()}, {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains(coming->cannotRun.toUtf8()), result.err.constData());
        QVERIFY(m_server->downloadsOf("/" + coming->repo + "/resolve/").isEmpty());
        QVERIFY(m_server->requests().size() - before <= 1); // the listing, no header probe
        result = pull({coming->id, "--dir", m_dir->path(), "--force"}, {}, 20000);
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(readAll(path(coming->files[0].file)), rwkv);
        // pull --list says which entries Hearth cannot run yet, with their architecture.
        result = pull({"--list"});
        QCOMPARE(result.exit_code, 0);
        const QList<QByteArray> lines = result.out.split('\n');
        const auto line = std::find_if(lines.begin(), lines.end(), [&](const QByteArray& l) {
            return l.startsWith(coming->id.toUtf8() + ' ');
        });
        QVERIFY(line != lines.end());
        QVERIFY2(line->contains(coming->architecture.toUtf8()) &&
                     line->endsWith("(not yet runnable)"),
                 line->constData());
    }

    // The name a link ends with becomes a file name in --dir, or the pull refuses it.
    void refusesANameThatIsNotAFileName() {
        const auto result =
            pull({m_server->url("/file/%2E%2E", "localhost").toString(), "--dir", m_dir->path()},
                 {}, 20000);
        QCOMPARE(result.exit_code, 1);
        QVERIFY2(result.err.contains("does not end with a file name"), result.err.constData());
        QVERIFY(m_server->requests().isEmpty());
        QVERIFY(QDir(m_dir->path()).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCliPull)
#include "tst_cli_pull.moc"
