// hearth-cli serve against the official OpenAI Python client (tests/server/
// openai_client_check.py) on the default model, loopback only: the models list, chat whole and
// streamed (equal to each other and to hearth-cli run), stop strings, completions with the
// tokenizer's prompt count, seeds, log probabilities, n, eight concurrent streams equal to
// their single-request outputs, every error status with the server still answering, a client
// that disconnects mid-stream freeing its slot, the API key, and a port already taken.
#include "test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>
#include <filesystem>

using namespace hearth::test;

namespace {

// The interpreter with the openai package: $HEARTH_TEST_PYTHON (scripts/test sets it), else
// the project's .venv.
QString python_path() {
    if (const char* env = std::getenv("HEARTH_TEST_PYTHON"); env && *env) {
        return QString::fromLocal8Bit(env);
    }
    return QString::fromStdString((source_dir() / ".venv" / "bin" / "python").string());
}

bool python_has_openai() {
    QProcess p;
    p.start(python_path(), {"-c", "import openai"});
    return p.waitForFinished(60000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

// A running `hearth-cli serve`; stopped with SIGTERM when the test ends.
class Server {
public:
    explicit Server(QStringList extra,
                    const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment()) {
        process_.setProcessEnvironment(env);
        QStringList args{"serve", default_model_arg(), "--port", "0", "--slots", "4", "--ctx",
                         "2048"};
        args += extra;
        process_.start(QStringLiteral(HEARTH_CLI_PATH), args);
        // The first line on stdout is the URL, once the model is loaded and the port bound.
        // The bound only keeps a broken server from hanging the test.
        while (!process_.canReadLine() && process_.state() != QProcess::NotRunning) {
            process_.waitForReadyRead(1000);
        }
        url_ = QString::fromUtf8(process_.readLine()).trimmed();
    }
    ~Server() {
        if (process_.state() != QProcess::NotRunning) {
            process_.terminate();
            process_.waitForFinished(60000);
        }
    }
    QString url() const { return url_; }
    // SIGTERM; the exit code (-1 if it did not stop).
    int stop() {
        process_.terminate();
        if (!process_.waitForFinished(60000)) {
            return -1;
        }
        return process_.exitStatus() == QProcess::NormalExit ? process_.exitCode() : -2;
    }
    QByteArray log() { return process_.readAllStandardError(); }

private:
    QProcess process_;
    QString url_;
};

QJsonObject run_client(const QStringList& args) {
    QProcess p;
    p.start(python_path(),
            QStringList{QString::fromStdString(
                (source_dir() / "tests" / "server" / "openai_client_check.py").string())} +
                args);
    if (!p.waitForFinished(30 * 60 * 1000)) {
        p.kill();
        p.waitForFinished();
    }
    const QByteArray out = p.readAllStandardOutput();
    if (p.exitCode() != 0) {
        qWarning("client failed: %s", p.readAllStandardError().constData());
    }
    return QJsonDocument::fromJson(out).object();
}

QString model_id() {
    return QString::fromStdString(default_model_path().stem().string());
}

} // namespace

class TestServerOpenAi : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        if (!python_has_openai()) {
            if (std::getenv("HEARTH_REQUIRE_MODEL")) {
                QFAIL("the openai client is missing: scripts/test installs it into .venv");
            }
            QSKIP("no Python with the openai package (scripts/test installs it)");
        }
    }

    void refuses_to_listen_beyond_loopback_without_a_key() {
        expect_cli_usage_error({"serve", default_model_arg(), "--host", "0.0.0.0"}, "API key");
        expect_cli_usage_error(
            {"serve", default_model_arg(), "--api-key-env", "HEARTH_NO_SUCH_VARIABLE_SET"},
            "HEARTH_NO_SUCH_VARIABLE_SET");
    }

    void serves_the_openai_client() {
        Server server({});
        QVERIFY2(server.url().startsWith("http://127.0.0.1:"), server.log().constData());
        const QJsonObject r = run_client({server.url(), model_id()});
        QVERIFY2(!r.isEmpty(), server.log().constData());

        QCOMPARE(r["models"].toArray(), QJsonArray{model_id()});
        const QJsonObject chat = r["chat"].toObject();
        const QString text = chat["text"].toString();
        QVERIFY(!text.isEmpty());
        QCOMPARE(chat["object"].toString(), QString("chat.completion"));
        QVERIFY(chat["fingerprint"].toString().startsWith("hearth-"));
        QVERIFY(chat["finish"].toString() == "stop" || chat["finish"].toString() == "length");

        // Streamed: the same text, the role first, the usage chunk at the end.
        const QJsonObject stream = r["stream"].toObject();
        QCOMPARE(stream["text"].toString(), text);
        QCOMPARE(stream["role"].toString(), QString("assistant"));
        QCOMPARE(stream["finish"].toString(), chat["finish"].toString());
        QCOMPARE(stream["usage"].toObject()["completion_tokens"].toInt(),
                 chat["usage"].toObject()["completion_tokens"].toInt());
        QCOMPARE(stream["usage"].toObject()["prompt_tokens"].toInt(),
                 chat["usage"].toObject()["prompt_tokens"].toInt());

        // The same greedy reply as hearth-cli run on the same conversation.
        const CliResult run =
            run_cli({"run", default_model_arg(), "-p", "Write one sentence about the sea.",
                     "--temp", "0", "--repeat-penalty", "1", "-n", "24", "--ctx", "2048"});
        QCOMPARE(run.exit_code, 0);
        QCOMPARE(QString::fromUtf8(run.out).trimmed(), text.trimmed());

        const QJsonObject stop = r["stop"].toObject();
        const QString cut = stop["stop"].toString();
        QCOMPARE(stop["text"].toString(), text.left(text.indexOf(cut)));
        QCOMPARE(stop["finish"].toString(), QString("stop"));

        // A raw completion's prompt count is the tokenizer's.
        const CliResult ids =
            run_cli({"tokenize", default_model_arg(), "--ids", "The capital of France is"});
        QCOMPARE(ids.exit_code, 0);
        const QJsonObject completion = r["completion"].toObject();
        QCOMPARE(completion["usage"].toObject()["prompt_tokens"].toInt(),
                 QJsonDocument::fromJson(ids.out).array().size());
        QVERIFY(!completion["text"].toString().isEmpty());

        const QJsonArray seeded = r["seeded"].toArray();
        QCOMPARE(seeded[0].toString(), seeded[1].toString());

        const QJsonObject lp = r["logprobs"].toObject();
        QVERIFY(lp["n"].toInt() > 0);
        QVERIFY(lp["all_top3"].toBool());
        QVERIFY(lp["greedy_is_top"].toBool());
        QVERIFY(lp["all_nonpositive"].toBool());
        QCOMPARE(r["n2"].toArray().size(), 2);

        const QJsonObject concurrent = r["concurrent"].toObject();
        const QJsonArray together = concurrent["together"].toArray();
        const QJsonArray alone = concurrent["alone"].toArray();
        QCOMPARE(together.size(), 8);
        for (int i = 0; i < 8; ++i) {
            QVERIFY2(!alone[i].toString().isEmpty(), qPrintable(QString::number(i)));
            QCOMPARE(together[i].toString(), alone[i].toString());
        }

        const QJsonObject errors = r["errors"].toObject();
        QCOMPARE(errors["temperature"].toInt(), 400);
        QCOMPARE(errors["empty_messages"].toInt(), 400);
        QCOMPARE(errors["unknown_model"].toInt(), 404);
        QCOMPARE(errors["malformed_json"].toInt(), 400);
        QCOMPARE(errors["unknown_route"].toInt(), 404);
        QCOMPARE(errors["too_large"].toInt(), 413);
        QCOMPARE(errors["too_long_prompt"].toInt(), 400);
        QCOMPARE(r["health_after_errors"].toObject()["status"].toString(), QString("ok"));

        const QJsonObject disconnect = r["disconnect"].toObject();
        QVERIFY(disconnect["events_before_close"].toInt() >= 1);
        QCOMPARE(disconnect["slots_busy_after"].toInt(), 0);
        QVERIFY(!disconnect["next_request"].toString().isEmpty());

        QCOMPARE(server.stop(), 0);
    }

    // A second server on a port already served fails with a message, rather than sharing the
    // port (cpp-httplib's default SO_REUSEPORT let the kernel split connections between them).
    void refuses_a_port_already_served() {
        Server first({});
        const QString port = first.url().section(':', -1).section('/', 0, 0);
        QVERIFY2(port.toInt() > 0, first.log().constData());
        expect_cli_error({"serve", default_model_arg(), "--port", port},
                         "is in use — choose another");
        QCOMPARE(first.stop(), 0);
    }

    void asks_for_the_api_key_and_never_logs_it() {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HEARTH_TEST_SERVER_KEY", "s3cret-k3y");
        Server server({"--api-key-env", "HEARTH_TEST_SERVER_KEY"}, env);
        QVERIFY2(!server.url().isEmpty(), server.log().constData());
        const QJsonObject r =
            run_client({server.url(), model_id(), "--api-key", "s3cret-k3y", "--auth-only"});
        QCOMPARE(r["without_key"].toInt(), 401);
        QCOMPARE(r["with_key"].toArray(), QJsonArray{model_id()});
        QCOMPARE(r["health_without_key"].toInt(), 200);
        QCOMPARE(server.stop(), 0);
        QVERIFY(!server.log().contains("s3cret"));
    }
};

QTEST_GUILESS_MAIN(TestServerOpenAi)
#include "tst_server_openai.moc"
