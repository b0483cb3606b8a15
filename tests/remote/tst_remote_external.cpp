// Optional (label external): the remote client against llama-cpp-python's OpenAI-compatible
// server (python -m llama_cpp.server) on 127.0.0.1 with the default model, when the project's
// .venv has llama_cpp.server importable (its extras: fastapi, uvicorn, sse-starlette); skips
// with a message otherwise. The server is llama.cpp's own code behind a Python front, so this
// checks the client on a server that is not Hearth's: the probe, the model list, a streamed
// chat and a raw completion.
#include "hearth/remote/openai_client.h"
#include "test_support.h"

#include <QProcess>
#include <QtTest>

using namespace hearth;
using namespace hearth::remote;
using namespace hearth::test;

namespace {

QString python_path() {
    if (const char* env = std::getenv("HEARTH_TEST_PYTHON"); env && *env) {
        return QString::fromLocal8Bit(env);
    }
    return QString::fromStdString((source_dir() / ".venv" / "bin" / "python").string());
}

QProcessEnvironment python_environment() {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // The AVX2 build of llama.cpp when the machine has one (see scripts/gen-arch-reference.py):
    // the native AMX build crashes on some quantized types.
    if (!env.contains("LLAMA_CPP_LIB_PATH") && QFile::exists("/tmp/dense-llama-avx2/bin")) {
        env.insert("LLAMA_CPP_LIB_PATH", "/tmp/dense-llama-avx2/bin");
    }
    return env;
}

bool server_importable(QString* why) {
    if (!QFile::exists(python_path())) {
        *why = "no such interpreter";
        return false;
    }
    QProcess p;
    p.setProcessEnvironment(python_environment());
    p.start(python_path(), {"-c", "import llama_cpp.server.app"});
    if (!p.waitForFinished(120000) || p.exitCode() != 0) {
        *why = QString::fromUtf8(p.readAllStandardError()).trimmed().split('\n').last();
        return false;
    }
    return true;
}

} // namespace

class TestRemoteExternal : public QObject {
    Q_OBJECT

private slots:
    void llama_cpp_python_server() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        QString why;
        if (!server_importable(&why)) {
            QSKIP(qPrintable("llama_cpp.server is not importable from " + python_path() + " (" +
                             why + "); install llama-cpp-python[server] there to run this"));
        }
        const int port = free_port();
        QProcess server;
        server.setProcessEnvironment(python_environment());
        server.start(python_path(),
                     {"-m", "llama_cpp.server", "--model", QString::fromStdString(path.string()),
                      "--host", "127.0.0.1", "--port", QString::number(port), "--n_ctx", "2048"});
        QVERIFY(server.waitForStarted());
        auto client = RemoteClient::create({"http://127.0.0.1:" + std::to_string(port)});
        QVERIFY(client);
        // Wait on progress: the server is up once it lists its model (or it has exited).
        std::expected<std::vector<RemoteModel>, RemoteError> models;
        for (int i = 0; i < 600 && server.state() == QProcess::Running; ++i) {
            models = client->list_models();
            if (models) {
                break;
            }
            server.waitForFinished(500);
        }
        QVERIFY2(models, server.readAllStandardError().right(2000).constData());
        QVERIFY(!models->empty());
        auto probe = client->probe();
        QVERIFY(probe);
        QVERIFY(probe->has_completions);
        client->set_family(probe->family);

        RemoteChatRequest chat;
        chat.model = (*models)[0].id;
        chat.messages = {{"user", "Say hello.", ""}};
        chat.generation.sampling.temperature = 0;
        chat.generation.max_tokens = 12;
        std::string streamed;
        auto reply = client->chat(chat, [&](const RemoteDelta& d) {
            streamed += d.content;
            return true;
        });
        QVERIFY2(reply, reply ? "" : reply.error().error.error.message.c_str());
        QVERIFY(!reply->content.empty());
        QCOMPARE(streamed, reply->content);
        QVERIFY(!reply->finish_reason.empty());

        RemoteCompletionRequest raw{(*models)[0].id, "The capital of France is", {}};
        raw.generation.sampling.temperature = 0;
        raw.generation.max_tokens = 8;
        raw.generation.stream = false;
        auto text = client->complete(raw);
        QVERIFY2(text, text ? "" : text.error().error.error.message.c_str());
        QVERIFY(!text->content.empty());
        server.terminate();
        server.waitForFinished(60000);
    }
};

QTEST_GUILESS_MAIN(TestRemoteExternal)
#include "tst_remote_external.moc"
