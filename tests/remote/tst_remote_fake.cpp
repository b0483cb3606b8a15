// The remote client over HTTP against a fake server on 127.0.0.1 (fake_server.h): the recorded
// streams of vLLM, TGI, llama.cpp's server and Ollama (tests/data/remote/) in pieces, replies
// not streamed, every HTTP error a user meets, the model list, the connection test per server
// family, cancel from another thread, the three timeouts, a refused connection and https to a
// plain port. No test bounds wall-clock time: the timeouts under test are the client's own.
#include "fake_server.h"
#include "hearth/remote/openai_client.h"
#include "test_support.h"

#include <QtTest>
#include <future>
#include <nlohmann/json.hpp>

using namespace hearth;
using namespace hearth::remote;
using hearth::test::FakeServer;
using hearth::test::free_port;

namespace {

std::string fixture(const std::string& name) {
    return test::read_text(test::data_dir() / "remote" / name);
}

RemoteClient client_for(const FakeServer& server, ServerFamily family = ServerFamily::vllm,
                        Timeouts timeouts = {}, std::string key = "sk-test-secret") {
    auto client = RemoteClient::create({server.url(), std::move(key), {}, timeouts}, family);
    if (!client) {
        qFatal("%s", client.error().error.message.c_str());
    }
    return std::move(*client);
}

RemoteChatRequest hello(bool stream = true) {
    RemoteChatRequest request;
    request.model = "m";
    request.messages = {{"user", "Hello", ""}};
    request.generation.stream = stream;
    request.generation.max_tokens = 16;
    return request;
}

QString message_of(const RemoteResult& result) {
    return result ? QString() : QString::fromStdString(result.error().error.error.message);
}

} // namespace

class TestRemoteFake : public QObject {
    Q_OBJECT

private slots:
    void replays_recorded_streams_over_http() {
        FakeServer server;
        const auto index =
            nlohmann::json::parse(test::read_text(test::data_dir() / "remote" / "fixtures.json"));
        for (const auto& f : index["fixtures"]) {
            for (size_t piece : {size_t{1}, size_t{7}, size_t{0}}) {
                server.set_reply({200, "text/event-stream", fixture(f["file"]), piece});
                const RemoteClient client = client_for(server);
                std::string streamed;
                DeltaHandler on_delta = [&](const RemoteDelta& d) {
                    streamed.append(d.content);
                    return true;
                };
                RemoteResult result;
                if (f["endpoint"] == "chat") {
                    result = client.chat(hello(), on_delta);
                } else {
                    RemoteCompletionRequest raw{"m", "Once", {}};
                    result = client.complete(raw, on_delta);
                }
                const QString where = QString("%1 piece %2")
                                          .arg(QString::fromStdString(f["file"].get<std::string>()),
                                               QString::number(piece));
                const RemoteReply& reply = result ? *result : result.error().partial;
                QCOMPARE(reply.content, f["content"].get<std::string>());
                QCOMPARE(streamed, reply.content);
                if (f.contains("error_kind")) {
                    QVERIFY2(!result, qPrintable(where));
                    QCOMPARE(remote_error_kind_name(result.error().error.kind),
                             f["error_kind"].get<std::string>());
                    continue;
                }
                QVERIFY2(result, qPrintable(where + ": " + message_of(result)));
                QCOMPARE(result->finish_reason, f["finish_reason"].get<std::string>());
                QCOMPARE(result->completion_tokens, f["completion_tokens"].get<int32_t>());
                QCOMPARE(result->model, f["model"].get<std::string>());
                QVERIFY(result->timings.time_to_first_token_s > 0);
                QVERIFY(result->timings.total_s >= result->timings.time_to_first_token_s);
                QCOMPARE(result->timings.text_events > 0, true);
            }
        }
        // The request the client sent: streamed with usage asked for, the key as a bearer.
        const auto sent = nlohmann::json::parse(server.last_body());
        QCOMPARE(sent["stream"], true);
        QCOMPARE(server.last_authorization(), std::string("Bearer sk-test-secret"));
    }

    void reads_replies_not_streamed() {
        FakeServer server;
        // vLLM's whole response (serving_chat.py, chat_completion_full_generator).
        server.set_reply(
            {200, "application/json",
             R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"Qwen/Qwen3-8B","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"Hm.","content":"Hi there","tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":9,"total_tokens":12,"completion_tokens":3},"system_fingerprint":"fp-x"})"});
        const RemoteResult result = client_for(server).chat(hello(false));
        QVERIFY2(result, qPrintable(message_of(result)));
        QCOMPARE(result->content, std::string("Hi there"));
        QCOMPARE(result->reasoning, std::string("Hm."));
        QCOMPARE(result->finish_reason, std::string("stop"));
        QCOMPARE(result->completion_tokens, 3);
        QVERIFY(result->tokens_counted_by_server);
        QCOMPARE(result->system_fingerprint, std::string("fp-x"));
        QCOMPARE(nlohmann::json::parse(server.last_body())["stream"], false);

        // A server that ignores "stream" and answers JSON: read as a whole reply.
        server.set_reply(
            {200, "application/json",
             R"({"choices":[{"index":0,"message":{"content":"whole"},"finish_reason":"length"}]})"});
        const RemoteResult ignored = client_for(server).chat(hello(true));
        QVERIFY2(ignored, qPrintable(message_of(ignored)));
        QCOMPARE(ignored->content, std::string("whole"));

        server.set_reply({200, "application/json", R"({"choices":"nope"})"});
        const RemoteResult bad = client_for(server).chat(hello(false));
        QVERIFY(!bad);
        QCOMPARE(bad.error().error.kind, RemoteErrorKind::malformed_response);
        server.set_reply({200, "application/json", "<html>proxy error</html>"});
        QCOMPARE(client_for(server).chat(hello(false)).error().error.kind,
                 RemoteErrorKind::malformed_response);
    }

    void http_errors_have_clear_messages() {
        FakeServer server;
        struct Case {
            int status;
            const char* body;
            RemoteErrorKind kind;
            ErrorCode code;
            const char* needle;
        };
        const Case cases[] = {
            {401, R"({"error":{"message":"Invalid API key","type":"invalid_request_error"}})",
             RemoteErrorKind::unauthorized, ErrorCode::invalid_argument, "Invalid API key"},
            {403, R"({"error":"forbidden"})", RemoteErrorKind::unauthorized,
             ErrorCode::invalid_argument, "HTTP 403"},
            // vLLM's older error shape, and Ollama's
            {404,
             R"({"object":"error","message":"The model `m` does not exist.","type":"NotFoundError","param":null,"code":404})",
             RemoteErrorKind::model_not_found, ErrorCode::invalid_argument, "no model named 'm'"},
            {404,
             R"({"error":{"message":"model 'm' not found, try pulling it first","type":"not_found_error"}})",
             RemoteErrorKind::model_not_found, ErrorCode::invalid_argument, "try pulling"},
            {400,
             R"({"error":{"message":"x","type":"invalid_request_error","code":"model_not_found"}})",
             RemoteErrorKind::model_not_found, ErrorCode::invalid_argument, "no model named"},
            {404, R"({"detail":"Not Found"})", RemoteErrorKind::not_found, ErrorCode::unsupported,
             "ends in /v1"},
            {429, R"({"error":{"message":"Rate limit reached"}})", RemoteErrorKind::rate_limited,
             ErrorCode::busy, "Rate limit reached"},
            {503, "Service Unavailable", RemoteErrorKind::unavailable, ErrorCode::busy,
             "still loading"},
            {500, R"({"error":{"message":"boom"}})", RemoteErrorKind::server_error, ErrorCode::io,
             "boom"},
            {422,
             R"({"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"})",
             RemoteErrorKind::bad_request, ErrorCode::invalid_argument, "strictly positive"},
        };
        for (const Case& c : cases) {
            server.set_reply({c.status, "application/json", c.body});
            const RemoteResult result = client_for(server).chat(hello());
            QVERIFY(!result);
            const RemoteError& e = result.error().error;
            QVERIFY2(e.kind == c.kind, qPrintable(QString("%1: %2").arg(c.status).arg(
                                           remote_error_kind_name(e.kind))));
            QCOMPARE(e.error.code, c.code);
            QCOMPARE(e.http_status, c.status);
            QVERIFY2(e.error.message.find(c.needle) != std::string::npos, e.error.message.c_str());
            QVERIFY(e.error.message.find(server.url()) != std::string::npos); // names the server
            QVERIFY(e.error.message.find("sk-test-secret") == std::string::npos); // never the key
        }
        QVERIFY(is_retryable(RemoteErrorKind::rate_limited));
        QVERIFY(!is_retryable(RemoteErrorKind::unauthorized));
        // A hostile error body: long, with control characters and invalid UTF-8.
        server.set_reply({500, "text/plain", std::string(100000, '\x01') + "\xff\xfe"});
        const RemoteResult hostile = client_for(server).chat(hello());
        QVERIFY(!hostile);
        QVERIFY(hostile.error().error.error.message.size() < 1000);
        QVERIFY(hostile.error().error.error.message.find('\x01') == std::string::npos);
    }

    void lists_models_of_each_server() {
        FakeServer server;
        server.set_get(
            "/v1/models",
            R"({"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model","created":1733500000,"owned_by":"vllm","root":"Qwen/Qwen3-8B","parent":null,"max_model_len":32768,"permission":[]}]})");
        auto models = client_for(server).list_models();
        QVERIFY(models);
        QCOMPARE(models->size(), size_t{1});
        QCOMPARE((*models)[0].id, std::string("Qwen/Qwen3-8B"));
        QCOMPARE((*models)[0].owned_by, std::string("vllm"));
        QCOMPARE((*models)[0].context_length, 32768u);
        QCOMPARE(server.last_authorization(), std::string("Bearer sk-test-secret"));
        // Ollama with no model pulled: "data": null (a Go nil slice).
        server.set_get("/v1/models", R"({"object":"list","data":null})");
        QVERIFY(client_for(server).list_models()->empty());
        server.set_get("/v1/models", R"({"object":"list","data":[{"name":"no id"}]})");
        auto bad = client_for(server).list_models();
        QVERIFY(!bad);
        QCOMPARE(bad.error().kind, RemoteErrorKind::malformed_response);
        server.clear_gets();
        auto missing = client_for(server).list_models();
        QVERIFY(!missing);
        QCOMPARE(missing.error().kind, RemoteErrorKind::not_found);
    }

    void connection_test_tells_the_server_family() {
        struct Family {
            ServerFamily family;
            std::map<std::string, std::string> gets;
            bool completions;
            uint32_t context;
            const char* version;
        };
        // Shapes from each server's source (remote/src/probe.cpp cites them).
        const Family families[] = {
            {ServerFamily::vllm,
             {{"/v1/models", R"({"data":[{"id":"q","owned_by":"vllm","max_model_len":8192}]})"},
              {"/version", R"({"version":"0.6.3"})"}},
             true,
             8192,
             "0.6.3"},
            {ServerFamily::llama_server,
             {{"/v1/models",
               R"({"object":"list","data":[{"id":"m.gguf","owned_by":"llamacpp","meta":{"n_ctx_train":131072}}]})"},
              {"/props",
               R"({"default_generation_settings":{"n_ctx":4096},"total_slots":4,"model_path":"m.gguf","build_info":"b4567-8a1d206f"})"}},
             true,
             4096,
             "b4567-8a1d206f"},
            {ServerFamily::tgi,
             {{"/v1/models", R"({"object":"list","data":[{"id":"tgi","owned_by":"tgi"}]})"},
              {"/info",
               R"({"model_id":"meta-llama/Llama-3.1-8B-Instruct","model_dtype":"torch.float16","max_total_tokens":8192,"max_input_tokens":8191,"version":"2.4.0"})"}},
             false,
             8192,
             "2.4.0"},
            {ServerFamily::ollama,
             {{"/v1/models",
               R"({"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1,"owned_by":"library"}]})"},
              {"/api/version", R"({"version":"0.5.7"})"},
              {"/api/ps",
               R"({"models":[{"name":"qwen3:8b","size":6654289920,"size_vram":6654289920,"context_length":4096}]})"}},
             true,
             4096,
             "0.5.7"},
            {ServerFamily::unknown, {{"/v1/models", R"({"data":[{"id":"gpt-x"}]})"}}, true, 0, ""},
        };
        for (const Family& f : families) {
            FakeServer server;
            for (const auto& [path, body] : f.gets) {
                server.set_get(path, body);
            }
            // /v1/completions with an empty body: refused (it exists), or 404 (TGI, here).
            server.set_reply(
                {f.completions ? 400 : 404, "application/json",
                 f.completions ? R"({"error":{"message":"prompt is required"}})" : ""});
            auto probe = client_for(server, ServerFamily::unknown).probe();
            QVERIFY2(probe, probe ? "" : probe.error().error.message.c_str());
            QCOMPARE(server_family_name(probe->family), server_family_name(f.family));
            QCOMPARE(probe->has_completions, f.completions);
            QCOMPARE(probe->context_length, f.context);
            QCOMPARE(probe->version, std::string(f.version));
            QCOMPARE(probe->knobs.top_k, knob_support(f.family).top_k);
            QVERIFY(!probe->models.empty());
            QCOMPARE(server.last_body(), std::string("{}")); // nothing generated
            if (f.family == ServerFamily::ollama) {
                QCOMPARE(probe->gpu_memory_bytes, uint64_t{6654289920});
            }
            QVERIFY(!probe->facts.empty());
        }
    }

    void cancel_from_another_thread_closes_the_stream() {
        FakeServer server;
        server.set_reply({200, "text/event-stream", fixture("llama-server-chat.sse"), 0,
                          FakeServer::Stall::after_first_event_pinging});
        const RemoteClient client = client_for(server);
        CancelToken cancel;
        std::promise<void> first_delta;
        bool signalled = false;
        // The first event is role-only; the server stalls after it, sending keep-alives, so
        // the cancel comes while the client waits on the network.
        auto request =
            std::async(std::launch::async, [&] { return client.chat(hello(), {}, cancel); });
        // Wait for the server to be stalled (its first event sent), then cancel.
        for (int i = 0; i < 100000 && !signalled; ++i) {
            signalled = !server.last_body().empty();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        QVERIFY(signalled);
        cancel.cancel();
        const RemoteResult result = request.get();
        QVERIFY(!result);
        QCOMPARE(result.error().error.kind, RemoteErrorKind::cancelled);
        QCOMPARE(result.error().error.error.code, ErrorCode::cancelled);
        QVERIFY(!server.client_gone() || true);
        // The server sees the connection closed (its keep-alive write fails) while still
        // stalled: the cancel did not wait for the server.
        for (int i = 0; i < 100000 && !server.client_gone(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        QVERIFY(server.client_gone());
        // A token cancelled before the request: nothing is sent.
        server.rearm();
        server.set_reply({200, "text/event-stream", fixture("llama-server-chat.sse")});
        const RemoteResult early = client.chat(hello(), {}, cancel);
        QCOMPARE(early.error().error.kind, RemoteErrorKind::cancelled);
    }

    void timeouts_end_requests_that_stall() {
        FakeServer server;
        // One short deadline per case, the others left long, so that a loaded machine cannot
        // make another phase's deadline fire first.
        Timeouts between_only;
        between_only.between_chunks = std::chrono::milliseconds(300);
        Timeouts first_only;
        first_only.connect = std::chrono::milliseconds(300);
        first_only.first_byte = std::chrono::milliseconds(300);
        Timeouts metadata_only;
        metadata_only.metadata = std::chrono::milliseconds(300);

        server.set_reply({200, "text/event-stream", fixture("vllm-chat-reasoning.sse"), 0,
                          FakeServer::Stall::after_first_event_silent});
        const RemoteResult between =
            client_for(server, ServerFamily::vllm, between_only).chat(hello());
        QVERIFY(!between);
        QCOMPARE(between.error().error.kind, RemoteErrorKind::timeout);
        QVERIFY2(between.error().error.error.message.find("between-chunks") != std::string::npos,
                 qPrintable(message_of(between)));
        server.release();
        server.rearm();

        server.set_reply({200, "text/event-stream", fixture("vllm-chat-reasoning.sse"), 0,
                          FakeServer::Stall::before_headers});
        const RemoteResult first = client_for(server, ServerFamily::vllm, first_only).chat(hello());
        QVERIFY(!first);
        QCOMPARE(first.error().error.kind, RemoteErrorKind::timeout);
        QVERIFY2(first.error().error.error.message.find("first-byte") != std::string::npos,
                 qPrintable(message_of(first)));
        server.release();
        server.rearm();

        server.set_get("/v1/models", "{}", FakeServer::Stall::before_headers);
        auto models = client_for(server, ServerFamily::vllm, metadata_only).list_models();
        QVERIFY(!models);
        QCOMPARE(models.error().kind, RemoteErrorKind::timeout);
        QVERIFY(is_retryable(models.error().kind));
        server.release();
    }

    void refused_connections_and_tls_failures() {
        const int port = free_port();
        auto refused = RemoteClient::create({"http://127.0.0.1:" + std::to_string(port)});
        QVERIFY(refused);
        auto models = refused->list_models();
        QVERIFY(!models);
        QCOMPARE(models.error().kind, RemoteErrorKind::connection_refused);
        QCOMPARE(models.error().error.code, ErrorCode::io);
        QVERIFY(models.error().error.message.find(std::to_string(port)) != std::string::npos);
        const RemoteResult chat = refused->chat(hello());
        QCOMPARE(chat.error().error.kind, RemoteErrorKind::connection_refused);

        FakeServer server;
        server.set_get("/v1/models", R"({"data":[]})");
        QVERIFY(https_supported()); // Debian's cpp-httplib is built with OpenSSL
        auto tls = RemoteClient::create({"https://127.0.0.1:" + std::to_string(server.port())});
        QVERIFY(tls);
        auto over_tls = tls->list_models();
        QVERIFY(!over_tls);
        QCOMPARE(over_tls.error().kind, RemoteErrorKind::tls);
        QVERIFY2(over_tls.error().error.message.find("http://") != std::string::npos,
                 over_tls.error().error.message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestRemoteFake)
#include "tst_remote_fake.moc"
