// The remote client against Hearth's own OpenAI-compatible server, started in-process on
// 127.0.0.1 (OpenAiServer on port 0) with the default model: the connection test, chat
// streamed and whole (the same greedy reply), cancel mid-stream freeing the server's slot, a
// raw completion equal to the local greedy output, and the errors a user meets (a wrong key,
// an unknown model, https to the plain port, a port nobody listens on); then hearth-cli
// run|chat|compare --endpoint against the same server.
#include "hearth/model.h"
#include "hearth/remote/openai_client.h"
#include "hearth/scheduler.h"
#include "hearth/server/server.h"
#include "test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>
#include <future>

using namespace hearth;
using namespace hearth::remote;
using namespace hearth::test;

namespace {

SamplingParams greedy() {
    SamplingParams s;
    s.temperature = 0;
    s.repeat_penalty = 1;
    return s;
}

RemoteChatRequest sea(bool stream, int32_t max_tokens = 24) {
    RemoteChatRequest request;
    request.messages = {{"user", "Write one sentence about the sea.", ""}};
    request.generation.sampling = greedy();
    request.generation.max_tokens = max_tokens;
    request.generation.stream = stream;
    return request;
}

QString message_of(const RemoteResult& result) {
    return result ? QString() : QString::fromStdString(result.error().error.error.message);
}

} // namespace

class TestRemoteHearth : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<server::OpenAiServer> server_;
    std::unique_ptr<server::OpenAiServer> keyed_; // the same scheduler, behind an API key
    std::string model_id_;

    RemoteClient client(std::string url = {}, std::string key = {}) const {
        auto c = RemoteClient::create({url.empty() ? server_->url() : url, std::move(key)},
                                      ServerFamily::hearth);
        if (!c) {
            qFatal("%s", c.error().error.message.c_str());
        }
        return std::move(*c);
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        model_ = *model;
        SchedulerOptions options;
        options.n_slots = 2;
        options.session.n_ctx = 2048;
        auto scheduler = Scheduler::create(model_, options);
        QVERIFY(scheduler);
        scheduler_ = std::move(*scheduler);
        model_id_ = path.stem().string();
        server::ServerOptions server_options;
        server_options.port = 0;
        server_options.model_id = model_id_;
        auto started = server::OpenAiServer::start(model_, *scheduler_, server_options);
        QVERIFY2(started, started ? "" : started.error().message.c_str());
        server_ = std::move(*started);
        server_options.api_key = "right-key";
        auto keyed = server::OpenAiServer::start(model_, *scheduler_, server_options);
        QVERIFY(keyed);
        keyed_ = std::move(*keyed);
    }
    void cleanupTestCase() {
        if (server_) {
            server_->stop();
        }
        if (keyed_) {
            keyed_->stop();
        }
        if (scheduler_) {
            scheduler_->shutdown();
        }
    }

    void connection_test_finds_hearth() {
        auto probe = client().probe();
        QVERIFY2(probe, probe ? "" : probe.error().error.message.c_str());
        QCOMPARE(probe->family, ServerFamily::hearth);
        QCOMPARE(probe->models.size(), size_t{1});
        QCOMPARE(probe->models[0].id, model_id_);
        QCOMPARE(probe->models[0].owned_by, std::string("hearth"));
        QCOMPARE(probe->models[0].context_length, model_->info().n_ctx_train);
        QVERIFY(probe->has_completions);
        QVERIFY(probe->knobs.top_k && probe->knobs.min_p && probe->knobs.repeat_penalty);
        QVERIFY(ignored_knobs(probe->family).empty());
    }

    void chat_streamed_and_whole_agree() {
        const RemoteClient c = client();
        std::string streamed;
        int deltas = 0;
        auto stream = c.chat(sea(true), [&](const RemoteDelta& d) {
            streamed.append(d.content);
            ++deltas;
            return true;
        });
        QVERIFY2(stream, qPrintable(message_of(stream)));
        auto whole = c.chat(sea(false));
        QVERIFY2(whole, qPrintable(message_of(whole)));
        QVERIFY(!stream->content.empty());
        QCOMPARE(stream->content, whole->content);
        QCOMPARE(streamed, stream->content);
        QCOMPARE(stream->finish_reason, whole->finish_reason);
        QVERIFY(stream->usage && whole->usage);
        QCOMPARE(stream->usage->completion_tokens, whole->usage->completion_tokens);
        QCOMPARE(stream->usage->prompt_tokens, whole->usage->prompt_tokens);
        QVERIFY(stream->tokens_counted_by_server);
        QCOMPARE(stream->model, model_id_);
        QVERIFY(deltas > 1);
        QVERIFY(stream->timings.time_to_first_token_s > 0);
        QVERIFY(stream->timings.tokens_per_second > 0);

        // The same greedy reply as hearth-cli run on the same conversation.
        const CliResult run =
            run_cli({"run", default_model_arg(), "-p", "Write one sentence about the sea.",
                     "--temp", "0", "--repeat-penalty", "1", "-n", "24", "--ctx", "2048"});
        QCOMPARE(run.exit_code, 0);
        QCOMPARE(QString::fromUtf8(run.out).trimmed(),
                 QString::fromStdString(stream->content).trimmed());
    }

    void raw_completion_equals_local_greedy_output() {
        RemoteCompletionRequest raw;
        raw.prompt = "The capital of France is";
        raw.generation.sampling = greedy();
        raw.generation.max_tokens = 16;
        for (bool stream : {true, false}) {
            raw.generation.stream = stream;
            auto remote = client().complete(raw);
            QVERIFY2(remote, qPrintable(message_of(remote)));
            SchedulerRequest local;
            auto tokens = model_->tokenizer().encode(raw.prompt);
            QVERIFY(tokens);
            local.prompt = *tokens;
            local.sampling = greedy();
            local.options.max_tokens = 16;
            auto generated = scheduler_->generate(std::move(local));
            QVERIFY(generated);
            QCOMPARE(remote->content, generated->text); // exactly, leading space included
            QCOMPARE(remote->completion_tokens, generated->n_generated);
        }
    }

    void cancel_mid_stream_frees_the_slot() {
        const RemoteClient c = client();
        CancelToken cancel;
        std::promise<void> started;
        bool signalled = false;
        auto request = std::async(std::launch::async, [&] {
            return c.chat(
                sea(true, 1000),
                [&](const RemoteDelta&) {
                    if (!signalled) {
                        signalled = true;
                        started.set_value();
                    }
                    return true;
                },
                cancel);
        });
        started.get_future().wait();
        cancel.cancel();
        const RemoteResult result = request.get();
        QVERIFY(!result);
        QCOMPARE(result.error().error.kind, RemoteErrorKind::cancelled);
        QVERIFY(!result.error().partial.content.empty()); // kept
        QVERIFY(result.error().partial.content.size() < 4000);
        // The server noticed the closed connection and cancelled the request: its slot frees.
        bool freed = false;
        for (int i = 0; i < 20000 && !freed; ++i) {
            freed = scheduler_->metrics().slots_busy == 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        QVERIFY(freed);
        QVERIFY(server_->stats().clients_disconnected >= 1);
        // And the server still answers.
        QVERIFY(c.chat(sea(true, 4)));
    }

    void wrong_api_key() {
        auto wrong = client(keyed_->url(), "wrong-key").chat(sea(true, 4));
        QVERIFY(!wrong);
        QCOMPARE(wrong.error().error.kind, RemoteErrorKind::unauthorized);
        QCOMPARE(wrong.error().error.http_status, 401);
        QVERIFY(wrong.error().error.error.message.find("wrong-key") == std::string::npos);
        auto none = client(keyed_->url()).list_models();
        QCOMPARE(none.error().kind, RemoteErrorKind::unauthorized);
        QVERIFY(client(keyed_->url(), "right-key").chat(sea(true, 4)));
    }

    void unknown_model() {
        RemoteChatRequest unknown = sea(true, 4);
        unknown.model = "no-such-model";
        auto missing = client().chat(unknown);
        QVERIFY(!missing);
        QCOMPARE(missing.error().error.kind, RemoteErrorKind::model_not_found);
        QVERIFY(missing.error().error.error.message.find("no-such-model") != std::string::npos);
    }

    void https_to_the_plain_port() {
        std::string https = server_->url();
        https.replace(0, 4, "https");
        auto tls = client(https).list_models();
        QVERIFY(!tls);
        QCOMPARE(tls.error().kind, RemoteErrorKind::tls);
    }

    void refused_connection() {
        // A port nobody listens on (the server's, once stopped).
        auto other = server::OpenAiServer::start(model_, *scheduler_, [&] {
            server::ServerOptions o;
            o.port = 0;
            o.model_id = model_id_;
            return o;
        }());
        QVERIFY(other);
        const std::string gone = (*other)->url();
        (*other)->stop();
        auto refused = client(gone).chat(sea(true, 4));
        QVERIFY(!refused);
        QCOMPARE(refused.error().error.kind, RemoteErrorKind::connection_refused);
        QVERIFY(is_retryable(refused.error().error.kind));
    }

    void cli_run_and_chat_through_the_endpoint() {
        const QString url = QString::fromStdString(server_->url());
        const QStringList greedy_args{"--temp", "0", "--repeat-penalty", "1", "-n", "16"};
        // run --raw: exactly the local raw output, byte for byte.
        const CliResult local = run_cli(QStringList{"run", default_model_arg(), "--raw", "-p",
                                                    "The capital of France is", "--ctx", "2048"} +
                                        greedy_args);
        const CliResult remote = run_cli(
            QStringList{"run", "--endpoint", url, "--raw", "-p", "The capital of France is"} +
            greedy_args);
        QCOMPARE(local.exit_code, 0);
        QVERIFY2(remote.exit_code == 0, remote.err.constData());
        QCOMPARE(remote.out, local.out);
        QVERIFY(remote.err.contains("endpoint: Hearth"));

        // run --json: run's object, with the endpoint's figures.
        const CliResult json = run_cli(QStringList{"run", "--endpoint", url, "--model",
                                                   QString::fromStdString(model_id_), "-p",
                                                   "Write one sentence about the sea.", "--json"} +
                                       greedy_args);
        QVERIFY2(json.exit_code == 0, json.err.constData());
        const QJsonObject reply = QJsonDocument::fromJson(json.out).object();
        QCOMPARE(reply["generated_tokens"].toInt(), 16);
        QCOMPARE(reply["stop"].toString(), QString("max tokens"));
        QVERIFY(!reply["answer"].toString().isEmpty());
        QCOMPARE(reply["endpoint"].toObject()["server"].toString(), QString("Hearth"));
        QVERIFY(reply["endpoint"].toObject()["tokens_counted_by_server"].toBool());

        // chat: two turns, the second sees the first.
        const CliResult chat =
            run_cli(QStringList{"chat", "--endpoint", url, "--quiet"} + greedy_args,
                    "Hello!\nWhat did I just say?\n");
        QVERIFY2(chat.exit_code == 0, chat.err.constData());
        QCOMPARE(chat.out.count('\n') >= 2, true);

        // Usage errors and the failures a user meets.
        expect_cli_usage_error({"run", "--endpoint", url, default_model_arg(), "-p", "x"},
                               "no MODEL");
        expect_cli_usage_error({"run", "--endpoint", url, "-p", "x", "--ctx", "512"}, "--ctx");
        expect_cli_usage_error(
            {"run", "--endpoint", url, "-p", "x", "--api-key-env", "HEARTH_NO_SUCH_VARIABLE_SET"},
            "HEARTH_NO_SUCH_VARIABLE_SET");
        expect_cli_error({"run", "--endpoint", "ftp://host", "-p", "x"}, "neither http nor https");
        expect_cli_error({"run", "--endpoint", QString::fromStdString(keyed_->url()), "-p", "x"},
                         "refused the API key");
        expect_cli_error({"run", "--endpoint", url, "--model", "nope", "-p", "x"},
                         "no model named 'nope'");
    }

    void cli_compare_puts_the_endpoint_beside_a_local_column() {
        // The same template rendered here, run locally and sent raw to the server: the same
        // greedy text.
        const CliResult compare =
            run_cli({"compare", default_model_arg(), "-p", "Name three colours.", "--template",
                     "chatml", "--column", "template=chatml,remote=1", "--endpoint",
                     QString::fromStdString(server_->url()), "--temp", "0", "--repeat-penalty", "1",
                     "-n", "16", "--ctx", "2048", "--json"});
        QVERIFY2(compare.exit_code == 0, compare.err.constData());
        const QJsonArray columns =
            QJsonDocument::fromJson(compare.out).object()["columns"].toArray();
        QCOMPARE(columns.size(), 2);
        QVERIFY(columns[0].toObject()["remote"].isNull());
        QVERIFY(columns[1].toObject()["remote"].toString().contains("/v1/completions"));
        QVERIFY(!columns[0].toObject()["text"].toString().isEmpty());
        QCOMPARE(columns[1].toObject()["text"].toString(),
                 columns[0].toObject()["text"].toString());
    }
};

QTEST_GUILESS_MAIN(TestRemoteHearth)
#include "tst_remote_hearth.moc"
