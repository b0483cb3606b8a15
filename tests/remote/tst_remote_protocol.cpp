// The remote client's parsing, without a network: the SSE parser (every line end, pieces of
// every size, comments, multi-line data, bounds, a stream cut mid-event), the recorded server
// streams of tests/data/remote/ read as the client reads them, endpoint URLs, the request
// bodies per server family, and the SSE fuzzer's regressions. Hostile input: built with ASan
// and UBSan too (label asan).
#include "hearth/remote/endpoint.h"
#include "hearth/remote/openai_client.h"
#include "hearth/remote/sse_parser.h"
#include "reply_reader.h"
#include "sse_fuzz_input.h"
#include "test_support.h"

#include <QtTest>
#include <filesystem>
#include <nlohmann/json.hpp>

using namespace hearth;
using namespace hearth::remote;

namespace {

// UTF-8's byte-order mark.
constexpr char kBom[] = {char(0xEF), char(0xBB), char(0xBF), 0};

struct Parsed {
    std::vector<SseEvent> events;
    size_t comments = 0;
    bool mid_event = false;
    std::optional<Error> error;
};

// `stream` fed in pieces of `piece` bytes (0: whole).
Parsed parse_sse(std::string_view stream, size_t piece = 0) {
    Parsed out;
    SseParser parser([&](const SseEvent& e) {
        out.events.push_back(e);
        return true;
    });
    if (piece == 0) {
        piece = std::max<size_t>(stream.size(), 1);
    }
    for (size_t at = 0; at < stream.size(); at += piece) {
        if (auto fed = parser.feed(stream.substr(at, piece)); !fed) {
            out.error = fed.error();
            return out;
        }
    }
    if (auto done = parser.finish(); !done) {
        out.error = done.error();
    }
    out.comments = parser.comments();
    out.mid_event = parser.ended_mid_event();
    return out;
}

std::string with_line_ends(std::string_view text, std::string_view end) {
    std::string out;
    for (char c : text) {
        if (c == '\n') {
            out += end;
        } else {
            out += c;
        }
    }
    return out;
}

nlohmann::json fixtures() {
    return nlohmann::json::parse(test::read_text(test::data_dir() / "remote" / "fixtures.json"));
}

RemoteResult read_stream(std::string_view body, bool chat, size_t piece) {
    size_t delta_bytes = 0;
    DeltaHandler on_delta = [&](const RemoteDelta& d) {
        delta_bytes += d.content.size() + d.reasoning.size();
        return true;
    };
    detail::StreamReader reader(chat, on_delta, detail::ReplyReader::Clock::now(), "the server");
    for (size_t at = 0; at < body.size(); at += piece) {
        if (!reader.feed(body.substr(at, piece))) {
            break;
        }
    }
    RemoteResult result = reader.finish();
    const RemoteReply& reply = result ? *result : result.error().partial;
    if (delta_bytes != reply.content.size() + reply.reasoning.size()) {
        return std::unexpected(RemoteFailure{
            {Error{ErrorCode::bad_format, "deltas differ"}, RemoteErrorKind::malformed_response, 0},
            {}});
    }
    return result;
}

// Checks one fixture's outcome against its expectations in fixtures.json.
void check_fixture(const nlohmann::json& f, const RemoteResult& result, const QString& where) {
    const std::string content = f["content"];
    if (f.contains("error_kind")) {
        QVERIFY2(!result, qPrintable(where));
        QCOMPARE(remote_error_kind_name(result.error().error.kind),
                 f["error_kind"].get<std::string>());
        QVERIFY2(
            result.error().error.error.message.find(f["error_text"].get<std::string>()) !=
                std::string::npos,
            qPrintable(where + ": " + QString::fromStdString(result.error().error.error.message)));
        QCOMPARE(result.error().partial.content, content); // nothing received is lost
        return;
    }
    QVERIFY2(result,
             qPrintable(where + ": " +
                        (result ? QString()
                                : QString::fromStdString(result.error().error.error.message))));
    QCOMPARE(result->content, content);
    QCOMPARE(result->reasoning, f["reasoning"].get<std::string>());
    QCOMPARE(result->finish_reason, f["finish_reason"].get<std::string>());
    QCOMPARE(result->completion_tokens, f["completion_tokens"].get<int32_t>());
    QCOMPARE(result->tokens_counted_by_server, f["counted_by_server"].get<bool>());
    if (f.contains("prompt_tokens")) {
        QVERIFY(result->usage);
        QCOMPARE(result->usage->prompt_tokens, f["prompt_tokens"].get<int32_t>());
    }
    QCOMPARE(result->model, f["model"].get<std::string>());
    QCOMPARE(result->id, f["id"].get<std::string>());
    QCOMPARE(result->system_fingerprint, f["system_fingerprint"].get<std::string>());
}

} // namespace

class TestRemoteProtocol : public QObject {
    Q_OBJECT

private slots:
    void sse_takes_every_line_end_in_pieces_of_every_size() {
        const std::string base =
            ": hi\nid: 7\nevent: delta\ndata: one\ndata:  two\n\ndata: [DONE]\n\n";
        for (const char* end : {"\n", "\r\n", "\r"}) {
            const std::string stream = with_line_ends(base, end);
            for (size_t piece = 0; piece <= stream.size(); ++piece) {
                const Parsed p = parse_sse(stream, piece);
                QVERIFY(!p.error);
                QCOMPARE(p.events.size(), size_t{2});
                QCOMPARE(p.events[0].data, std::string("one\n two")); // one space removed
                QCOMPARE(p.events[0].event, std::string("delta"));
                QCOMPARE(p.events[0].id, std::string("7"));
                QCOMPARE(p.events[1].data, std::string("[DONE]"));
                QCOMPARE(p.events[1].event, std::string()); // names do not carry over
                QCOMPARE(p.events[1].id, std::string("7")); // the last event id does
                QCOMPARE(p.comments, size_t{1});
                QVERIFY(!p.mid_event);
            }
        }
        // A \r\n split across two pieces is one line end, not two (which would dispatch).
        const Parsed split = parse_sse("data: a\r\ndata: b\r\n\r\n", 8);
        QCOMPARE(split.events.size(), size_t{1});
        QCOMPARE(split.events[0].data, std::string("a\nb"));
    }

    void sse_skips_comments_and_events_without_data() {
        const Parsed p = parse_sse(":\n: keep-alive\n\nevent: ping\n\nretry: 10\nfoo: bar\n\n"
                                   "data\n\n" +
                                   std::string(kBom));
        QVERIFY(!p.error);
        QCOMPARE(p.comments, size_t{2});
        QCOMPARE(p.events.size(), size_t{1}); // "data" alone: one empty data line
        QCOMPARE(p.events[0].data, std::string());
        // A byte-order mark at the start is not part of the first field.
        const Parsed bom = parse_sse(std::string(kBom) + "data: x\n\n");
        QCOMPARE(bom.events.size(), size_t{1});
        QCOMPARE(bom.events[0].data, std::string("x"));
    }

    void sse_drops_an_event_the_stream_cut() {
        for (const char* stream : {"data: whole\n\ndata: cut", "data: whole\n\ndata: cut\n",
                                   "data: whole\n\nevent: x\n"}) {
            const Parsed p = parse_sse(stream);
            QVERIFY(!p.error);
            QCOMPARE(p.events.size(), size_t{1});
            QVERIFY2(p.mid_event, stream);
        }
        QVERIFY(!parse_sse("data: whole\n\n: trailing comment\n").mid_event);
    }

    void sse_bounds_lines_and_events() {
        std::string long_line = "data: " + std::string(kMaxSseLineBytes, 'x') + "\n\n";
        for (size_t piece : {size_t{0}, size_t{4096}}) {
            const Parsed p = parse_sse(long_line, piece);
            QVERIFY(p.error);
            QCOMPARE(p.error->code, ErrorCode::bad_format);
            QVERIFY(p.error->message.find(std::to_string(kMaxSseLineBytes)) != std::string::npos);
        }
        std::string many;
        const std::string line = "data: " + std::string(1000, 'y') + "\n";
        while (many.size() < kMaxSseEventBytes + kMaxSseEventBytes / 50) {
            many += line;
        }
        const Parsed p = parse_sse(many + "\n");
        QVERIFY(p.error);
        QVERIFY(p.error->message.find(std::to_string(kMaxSseEventBytes)) != std::string::npos);

        // After a failure the parser stays failed.
        SseParser parser([](const SseEvent&) { return true; });
        QVERIFY(!parser.feed(long_line));
        QVERIFY(!parser.feed("data: fine\n\n"));
        QVERIFY(!parser.finish());
    }

    void sse_handler_can_stop_the_stream() {
        int seen = 0;
        SseParser parser([&](const SseEvent&) { return ++seen < 2; });
        auto fed = parser.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n");
        QVERIFY(!fed);
        QCOMPARE(fed.error().code, ErrorCode::cancelled);
        QCOMPARE(seen, 2);
    }

    void recorded_streams_read_as_the_servers_meant_them() {
        const nlohmann::json index = fixtures();
        QVERIFY(index["fixtures"].size() >= 11);
        for (const auto& f : index["fixtures"]) {
            const std::string name = f["file"];
            const std::string recorded = test::read_text(test::data_dir() / "remote" / name);
            const bool chat = f["endpoint"] == "chat";
            for (const char* end : {"\n", "\r\n", "\r"}) {
                const std::string body = with_line_ends(recorded, end);
                for (size_t piece = 1; piece <= 64; ++piece) {
                    check_fixture(f, read_stream(body, chat, piece),
                                  QString("%1, piece %2").arg(name.c_str()).arg(piece));
                }
                check_fixture(f, read_stream(body, chat, body.size()), QString(name.c_str()));
            }
        }
    }

    void a_reply_handler_can_stop_the_stream() {
        const std::string body =
            test::read_text(test::data_dir() / "remote" / "llama-server-chat.sse");
        DeltaHandler stop_first = [](const RemoteDelta&) { return false; };
        detail::StreamReader reader(true, stop_first, detail::ReplyReader::Clock::now(), "s");
        QVERIFY(!reader.feed(body));
        const RemoteResult result = reader.finish();
        QVERIFY(!result);
        QCOMPARE(result.error().error.kind, RemoteErrorKind::cancelled);
        QCOMPARE(result.error().partial.content, std::string("Paris")); // kept
    }

    void replies_past_the_bound_are_refused() {
        // One event per 512 KiB of content (under the line bound): the sum passes
        // kMaxReplyBytes.
        const std::string piece(size_t{1} << 19, 'z');
        const std::string event =
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + piece + "\"}}]}\n\n";
        detail::StreamReader reader(true, {}, detail::ReplyReader::Clock::now(), "s");
        size_t events = 0;
        while (reader.feed(event)) {
            QVERIFY(++events <= kMaxReplyBytes / piece.size() + 1);
        }
        const RemoteResult result = reader.finish();
        QVERIFY(!result);
        QCOMPARE(result.error().error.kind, RemoteErrorKind::too_large);
        QVERIFY(result.error().partial.content.size() <= kMaxReplyBytes);
    }

    void urls_parse_and_normalise() {
        struct Case {
            const char* url;
            bool https;
            const char* host;
            int port;
            const char* api;
            const char* root;
        };
        const Case cases[] = {
            {"http://gpu-box:8000", false, "gpu-box", 8000, "/v1", ""},
            {"HTTPS://api.example.com/v1/", true, "api.example.com", 443, "/v1", ""},
            {"http://[::1]:8080/v1", false, "::1", 8080, "/v1", ""},
            {"http://127.0.0.1", false, "127.0.0.1", 80, "/v1", ""},
            {"https://host:8443/openai/v1", true, "host", 8443, "/openai/v1", "/openai"},
            {"http://host/api", false, "host", 80, "/api", "/api"},
        };
        for (const Case& c : cases) {
            auto url = parse_endpoint_url(c.url);
            QVERIFY2(url, c.url);
            QCOMPARE(url->https, c.https);
            QCOMPARE(url->host, std::string(c.host));
            QCOMPARE(url->port, c.port);
            QCOMPARE(url->api_prefix, std::string(c.api));
            QCOMPARE(url->root_prefix, std::string(c.root));
        }
        QCOMPARE(parse_endpoint_url("http://[::1]:8080")->origin(),
                 std::string("http://[::1]:8080"));
        const std::pair<std::string, const char*> bad[] = {
            {"", "empty"},
            {"gpu-box:8000", "no scheme"},
            {"ftp://host", "neither http nor https"},
            {"http://", "no host"},
            {"http://user:secret@host", "API key on its own"},
            {"http://host:0", "1 to 65535"},
            {"http://host:70000", "1 to 65535"},
            {"http://host:80a", "1 to 65535"},
            {"http://host:", "without a port"},
            {"http://host/v1?x=1", "query"},
            {"http://ho st", "space"},
            {"http://host\n/v1", "control"},
            {"http://hést", "non-ASCII"},
            {"http://[::1/v1", "closing"},
            {"http://host//v1", "empty or '..'"},
            {"http://" + std::string(kMaxUrlBytes, 'a'), "longer than"},
        };
        for (const auto& [text, why] : bad) {
            auto url = parse_endpoint_url(text);
            QVERIFY2(!url, text.c_str());
            QCOMPARE(url.error().code, ErrorCode::invalid_argument);
            QVERIFY2(url.error().message.find(why) != std::string::npos,
                     url.error().message.c_str());
            // The password never appears in the message.
            QVERIFY(url.error().message.find("secret") == std::string::npos);
        }
        auto client = RemoteClient::create({"not a url"});
        QVERIFY(!client);
        QCOMPARE(client.error().kind, RemoteErrorKind::invalid_url);
    }

    void bodies_send_what_each_family_honours() {
        RemoteChatRequest request;
        request.model = "m";
        request.system_prompt = "Be brief.";
        request.messages = {
            {"user", "Hi", ""}, {"assistant", "Hello", "greeting"}, {"user", "Again", ""}};
        request.generation.sampling.temperature = 0.5f;
        request.generation.sampling.top_k = 20;
        request.generation.sampling.seed = 42;
        request.generation.max_tokens = 64;
        request.generation.stop = {"\n\n"};
        request.template_variables = {{"enable_thinking", false}};
        struct Expect {
            ServerFamily family;
            std::vector<const char*> present;
            std::vector<const char*> absent;
            const char* reasoning_key; // in the assistant message, "" for none
        };
        const Expect expects[] = {
            {ServerFamily::hearth,
             {"top_k", "min_p", "repeat_penalty", "seed", "chat_template_kwargs"},
             {"repetition_penalty"},
             "reasoning_content"},
            {ServerFamily::llama_server,
             {"top_k", "min_p", "repeat_penalty", "repeat_last_n", "chat_template_kwargs"},
             {},
             "reasoning_content"},
            {ServerFamily::vllm,
             {"top_k", "min_p", "repetition_penalty", "chat_template_kwargs"},
             {"repeat_penalty"},
             "reasoning_content"},
            {ServerFamily::tgi,
             {"temperature", "top_p", "seed", "frequency_penalty", "max_tokens", "stop"},
             {"top_k", "min_p", "repeat_penalty", "presence_penalty", "chat_template_kwargs"},
             ""},
            {ServerFamily::ollama,
             {"temperature", "seed", "presence_penalty"},
             {"top_k", "min_p", "repeat_penalty", "chat_template_kwargs"},
             "reasoning"},
            {ServerFamily::unknown,
             {"temperature", "top_p", "seed", "stop", "max_tokens"},
             {"top_k", "min_p", "repeat_penalty", "repetition_penalty", "chat_template_kwargs"},
             ""},
        };
        for (const Expect& e : expects) {
            auto client = RemoteClient::create({"http://127.0.0.1:9"}, e.family);
            QVERIFY(client);
            const nlohmann::ordered_json body = client->chat_body(request);
            const char* family = server_family_name(e.family);
            for (const char* key : e.present) {
                QVERIFY2(body.contains(key), qPrintable(QString("%1: %2").arg(family, key)));
            }
            for (const char* key : e.absent) {
                QVERIFY2(!body.contains(key), qPrintable(QString("%1: %2").arg(family, key)));
            }
            QCOMPARE(body["model"], "m");
            QCOMPARE(body["stream"], true);
            QCOMPARE(body["stream_options"]["include_usage"], true);
            QCOMPARE(body["messages"].size(), size_t{4});
            QCOMPARE(body["messages"][0]["role"], "system");
            const auto& assistant = body["messages"][2];
            for (const char* key : {"reasoning_content", "reasoning"}) {
                QCOMPARE(assistant.contains(key), std::string_view(key) == e.reasoning_key);
            }
            // Each ignored knob is named for the sampling panel.
            const auto ignored = ignored_knobs(e.family);
            QCOMPARE(std::find(ignored.begin(), ignored.end(), "top-k") != ignored.end(),
                     !knob_support(e.family).top_k);
            // The raw endpoint: the prompt exactly as given, no messages.
            RemoteCompletionRequest raw{"m", "<|im_start|>user\nHi ", request.generation};
            raw.generation.stream = false;
            const auto raw_body = client->completion_body(raw);
            QCOMPARE(raw_body["prompt"], "<|im_start|>user\nHi ");
            QVERIFY(!raw_body.contains("messages"));
            QVERIFY(!raw_body.contains("stream_options"));
        }
        // Without a fixed seed none is sent; without a model name none either.
        auto client = RemoteClient::create({"http://127.0.0.1:9"}, ServerFamily::vllm);
        request.generation.send_seed = false;
        request.model.clear();
        const auto body = client->chat_body(request);
        QVERIFY(!body.contains("seed"));
        QVERIFY(!body.contains("model"));
    }

    void fuzz_regressions_replay_as_recorded() {
        const auto dir = test::data_dir() / "remote" / "sse-fuzz-regressions";
        size_t replayed = 0;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.path().extension() != ".input") {
                continue;
            }
            const std::string expected = test::read_text(entry.path().string() + ".expected");
            QCOMPARE(fuzz::run_sse_input(test::read_text(entry.path())), expected);
            ++replayed;
        }
        QVERIFY(replayed > 0);
    }
};

QTEST_GUILESS_MAIN(TestRemoteProtocol)
#include "tst_remote_protocol.moc"
