// The server's request and response layer: every field of the two generation endpoints with
// its type and range, refusals by name, bodies that are not what they claim, the key and bind
// checks, and the response shapes the official clients parse.
#include "hearth/server/access.h"
#include "hearth/server/openai_request.h"
#include "hearth/server/openai_response.h"
#include "request_fuzz_input.h"
#include "test_support.h"

#include <QtTest>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using namespace hearth;
using namespace hearth::server;
using Json = nlohmann::ordered_json;

namespace {

Json user_chat(std::string text = "Hello") {
    Json body;
    body["model"] = "smollm2";
    body["messages"] = Json::array({Json{{"role", "user"}, {"content", text}}});
    return body;
}

// The error of a chat body expected to fail.
ApiError chat_error(const Json& body) {
    auto parsed = parse_chat_completion_request(body.dump());
    if (parsed) {
        qFatal("expected an error for %s", body.dump().c_str());
    }
    return parsed.error();
}

ApiError completion_error(const Json& body) {
    auto parsed = parse_completion_request(body.dump());
    if (parsed) {
        qFatal("expected an error for %s", body.dump().c_str());
    }
    return parsed.error();
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_regular_file()) {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

class TestOpenAiProtocol : public QObject {
    Q_OBJECT

private slots:
    void reads_a_minimal_chat_request_with_the_server_defaults() {
        auto parsed = parse_chat_completion_request(user_chat().dump());
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        QCOMPARE(parsed->model, std::string("smollm2"));
        QCOMPARE(parsed->messages.size(), size_t{1});
        QCOMPARE(parsed->messages[0]["content"].get<std::string>(), std::string("Hello"));
        const GenerationRequest& g = parsed->generation;
        QVERIFY(!g.stream);
        QCOMPARE(g.n, 1);
        QVERIFY(!g.max_tokens);
        QCOMPARE(g.sampling.temperature, 0.8f);
        QCOMPARE(g.sampling.top_k, 40);
        QCOMPARE(g.sampling.top_p, 0.95f);
        QCOMPARE(g.sampling.min_p, 0.05f);
        QCOMPARE(g.sampling.repeat_penalty, 1.0f);
    }

    void reads_every_sampling_field() {
        Json body = user_chat();
        body["temperature"] = 0;
        body["top_p"] = 0.5;
        body["top_k"] = 7;
        body["min_p"] = 0.1;
        body["presence_penalty"] = 0.5;
        body["frequency_penalty"] = -0.5;
        body["repetition_penalty"] = 1.2;
        body["seed"] = -3;
        body["n"] = 2;
        body["max_completion_tokens"] = 33;
        body["stop"] = "END";
        body["stream"] = true;
        body["stream_options"] = Json{{"include_usage", true}};
        body["logprobs"] = true;
        body["top_logprobs"] = 3;
        body["chat_template_kwargs"] = Json{{"enable_thinking", false}};
        body["user"] = "someone"; // accepted and changes nothing
        auto parsed = parse_chat_completion_request(body.dump());
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        const GenerationRequest& g = parsed->generation;
        QCOMPARE(g.sampling.temperature, 0.0f);
        QCOMPARE(g.sampling.top_p, 0.5f);
        QCOMPARE(g.sampling.top_k, 7);
        QCOMPARE(g.sampling.min_p, 0.1f);
        QCOMPARE(g.sampling.presence_penalty, 0.5f);
        QCOMPARE(g.sampling.frequency_penalty, -0.5f);
        QCOMPARE(g.sampling.repeat_penalty, 1.2f);
        QCOMPARE(g.sampling.seed, static_cast<uint64_t>(int64_t{-3}));
        QCOMPARE(g.n, 2);
        QCOMPARE(*g.max_tokens, 33);
        QCOMPARE(g.stop, std::vector<std::string>{"END"});
        QVERIFY(g.stream && g.include_usage && g.logprobs);
        QCOMPARE(g.top_logprobs, 3);
        QCOMPARE(parsed->template_variables["enable_thinking"].get<bool>(), false);
    }

    void takes_the_extension_names_of_llama_cpp_and_vllm() {
        Json body = user_chat();
        body["repeat_penalty"] = 1.3;
        body["repeat_last_n"] = 256;
        body["top_k"] = -1; // vLLM's "off"
        body["max_tokens"] = 5;
        body["stop"] = Json::array({"a", "", "b"}); // the empty one is dropped
        auto parsed = parse_chat_completion_request(body.dump());
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        QCOMPARE(parsed->generation.sampling.repeat_penalty, 1.3f);
        QCOMPARE(parsed->generation.sampling.repeat_last_n, 256);
        QCOMPARE(parsed->generation.sampling.top_k, 0);
        QCOMPARE(*parsed->generation.max_tokens, 5);
        QCOMPARE(parsed->generation.stop, (std::vector<std::string>{"a", "b"}));
        body["top_p"] = 0; // OpenAI's 0: only the most likely token
        parsed = parse_chat_completion_request(body.dump());
        QVERIFY(parsed && parsed->generation.sampling.top_p > 0);
        body["temperature"] = 1.0;
        body["n"] = 3.0; // an integer to a JavaScript client
        parsed = parse_chat_completion_request(body.dump());
        QVERIFY(parsed && parsed->generation.n == 3);
    }

    void normalises_messages_for_the_template() {
        Json body;
        body["messages"] = Json::array(
            {Json{{"role", "developer"}, {"content", "Be brief."}},
             Json{{"role", "user"},
                  {"content", Json::array({Json{{"type", "text"}, {"text", "Hel"}},
                                           Json{{"type", "text"}, {"text", "lo"}}})}},
             Json{{"role", "assistant"},
                  {"content", nullptr},
                  {"tool_calls", Json::array({Json{{"id", "c1"}, {"type", "function"}}})}},
             Json{{"role", "tool"}, {"content", "42"}, {"tool_call_id", "c1"}},
             Json{{"role", "assistant"}, {"content", "ok"}, {"reasoning_content", "hm"}}});
        auto parsed = parse_chat_completion_request(body.dump());
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        const Json& m = parsed->messages;
        QCOMPARE(parsed->model, std::string());
        QCOMPARE(m[0]["role"].get<std::string>(), std::string("system"));
        QCOMPARE(m[1]["content"].get<std::string>(), std::string("Hello"));
        QCOMPARE(m[2]["content"].get<std::string>(), std::string());
        QCOMPARE(m[2]["tool_calls"].size(), size_t{1});
        QCOMPARE(m[3]["tool_call_id"].get<std::string>(), std::string("c1"));
        QCOMPARE(m[4]["reasoning_content"].get<std::string>(), std::string("hm"));
    }

    void refuses_malformed_bodies() {
        for (const std::string& body :
             {std::string("{"), std::string("[]"), std::string("12"), std::string("\"x\""),
              std::string(), std::string("{\"messages\": [}")}) {
            auto parsed = parse_chat_completion_request(body);
            QVERIFY(!parsed);
            QCOMPARE(parsed.error().status, 400);
            QCOMPARE(parsed.error().type, std::string("invalid_request_error"));
        }
        // Invalid UTF-8 and nesting past the bound are malformed too.
        QVERIFY(!parse_chat_completion_request("{\"model\": \"\xff\"}"));
        QVERIFY(!parse_chat_completion_request("{\"x\": " + std::string(100, '[') +
                                               std::string(100, ']') + "}"));
    }

    void refuses_a_body_over_the_limit_with_413() {
        RequestLimits limits;
        limits.max_body_bytes = 64;
        auto parsed =
            parse_chat_completion_request(user_chat(std::string(100, 'x')).dump(), limits);
        QVERIFY(!parsed);
        QCOMPARE(parsed.error().status, 413);
    }

    void names_the_field_of_each_wrong_type_or_value() {
        struct Case {
            const char* field;
            Json value;
        };
        const Case cases[] = {
            {"temperature", "hot"},
            {"temperature", 2.5},
            {"temperature", -1},
            {"top_p", 1.5},
            {"top_k", 2.5},
            {"top_k", -2},
            {"min_p", "x"},
            {"presence_penalty", 3},
            {"frequency_penalty", -3},
            {"seed", "7"},
            {"seed", 1.5},
            {"n", 0},
            {"n", 9},
            {"max_tokens", 0},
            {"max_tokens", "10"},
            {"max_completion_tokens", 1e12},
            {"stream", "yes"},
            {"logprobs", 1},
            {"stop", 5},
            {"stop", Json::array({"a", 1})},
            {"repeat_penalty", 0},
            {"repeat_last_n", -2},
            {"repeat_last_n", 1.5},
            {"model", 5},
            {"messages", "hi"},
            {"tools", Json::object()},
            {"chat_template_kwargs", Json::array()},
        };
        for (const Case& c : cases) {
            Json body = user_chat();
            body[c.field] = c.value;
            const ApiError error = chat_error(body);
            QCOMPARE(error.status, 400);
            QVERIFY2(error.param == c.field, (std::string(c.field) + ": " + error.param).c_str());
            QVERIFY2(error.message.find(c.field) != std::string::npos, error.message.c_str());
        }
    }

    void refuses_inconsistent_fields() {
        Json body = user_chat();
        body["max_tokens"] = 5;
        body["max_completion_tokens"] = 6;
        QCOMPARE(chat_error(body).param, std::string("max_completion_tokens"));
        body = user_chat();
        body["repeat_penalty"] = 1.1;
        body["repetition_penalty"] = 1.2;
        QCOMPARE(chat_error(body).status, 400);
        body = user_chat();
        body["stream_options"] = Json{{"include_usage", true}};
        QCOMPARE(chat_error(body).param, std::string("stream_options"));
        body["stream"] = true;
        body["stream_options"] = Json{{"include_usage", "yes"}};
        QCOMPARE(chat_error(body).param, std::string("stream_options.include_usage"));
        body = user_chat();
        body["top_logprobs"] = 2;
        QCOMPARE(chat_error(body).param, std::string("top_logprobs"));
        body = user_chat();
        body["stop"] = Json::array();
        for (int i = 0; i < 17; ++i) {
            body["stop"].push_back("s");
        }
        QCOMPARE(chat_error(body).param, std::string("stop"));
    }

    void refuses_what_it_cannot_honour_by_name() {
        Json body = user_chat();
        body["response_format"] = Json{{"type", "json_object"}};
        QCOMPARE(chat_error(body).code, std::string("unsupported_parameter"));
        body["response_format"] = Json{{"type", "text"}};
        QVERIFY(parse_chat_completion_request(body.dump()));
        body["logit_bias"] = Json{{"15", 100}};
        QCOMPARE(chat_error(body).param, std::string("logit_bias"));
        body = user_chat();
        body["messages"][0]["content"] =
            Json::array({Json{{"type", "image_url"}, {"image_url", Json{{"url", "data:"}}}}});
        const ApiError image = chat_error(body);
        QCOMPARE(image.code, std::string("unsupported_content"));
        QVERIFY(image.message.find("image_url") != std::string::npos);
    }

    void refuses_bad_messages() {
        Json body = user_chat();
        body["messages"] = Json::array();
        QCOMPARE(chat_error(body).param, std::string("messages"));
        body.erase("messages");
        QCOMPARE(chat_error(body).code, std::string("missing_required_parameter"));
        const Json bad[] = {
            Json{{"content", "x"}},
            Json{{"role", "wizard"}, {"content", "x"}},
            Json{{"role", "user"}},
            Json{{"role", "user"}, {"content", 5}},
            Json{{"role", "user"}, {"content", Json::array({5})}},
            Json{{"role", "user"}, {"content", Json::array({Json{{"type", "text"}}})}},
            Json{{"role", "user"}, {"content", "x"}, {"tool_calls", Json::array()}},
            Json{{"role", "tool"}, {"content", "x"}, {"tool_call_id", 3}},
            Json("just text"),
        };
        for (const Json& message : bad) {
            body["messages"] = Json::array({message});
            const ApiError error = chat_error(body);
            QCOMPARE(error.status, 400);
            QVERIFY2(error.param.starts_with("messages[0]"), error.param.c_str());
        }
        RequestLimits limits;
        limits.max_messages = 2;
        body = user_chat();
        body["messages"].push_back(body["messages"][0]);
        body["messages"].push_back(body["messages"][0]);
        QVERIFY(!parse_chat_completion_request(body.dump(), limits));
    }

    void reads_completion_prompts_in_every_shape() {
        Json body;
        body["prompt"] = "Once upon";
        body["logprobs"] = 2;
        auto parsed = parse_completion_request(body.dump());
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        QCOMPARE(parsed->prompt_text, std::string("Once upon"));
        QVERIFY(parsed->generation.logprobs);
        QCOMPARE(parsed->generation.top_logprobs, 2);
        body["prompt"] = Json::array({"Once"});
        QCOMPARE(parse_completion_request(body.dump())->prompt_text, std::string("Once"));
        body["prompt"] = Json::array({1, 2, 3});
        parsed = parse_completion_request(body.dump());
        QVERIFY(parsed && parsed->prompt_is_tokens);
        QCOMPARE(parsed->prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
        body["prompt"] = Json::array({Json::array({4, 5})});
        QCOMPARE(parse_completion_request(body.dump())->prompt_tokens,
                 (std::vector<int32_t>{4, 5}));
    }

    void refuses_bad_completion_prompts() {
        const Json bad[] = {Json(),
                            Json(""),
                            Json::array(),
                            Json::array({"a", "b"}),
                            Json::array({1, -2}),
                            Json::array({1, "x"}),
                            Json(3),
                            Json::array({Json::array()}),
                            Json::array({4294967296LL})};
        for (const Json& prompt : bad) {
            Json body = Json::object();
            if (!prompt.is_null()) {
                body["prompt"] = prompt;
            }
            const ApiError error = completion_error(body);
            QCOMPARE(error.status, 400);
            QVERIFY2(error.param == "prompt", (prompt.dump() + ": " + error.message).c_str());
        }
        Json body;
        body["prompt"] = "x";
        body["echo"] = true;
        QCOMPARE(completion_error(body).param, std::string("echo"));
        body.erase("echo");
        body["logprobs"] = 6;
        QCOMPARE(completion_error(body).param, std::string("logprobs"));
        body["logprobs"] = 1;
        body["best_of"] = 3;
        QCOMPARE(completion_error(body).param, std::string("best_of"));
    }

    // The fuzzer's seeds and the corpus it grew (scripts/fuzz requests), through its own entry:
    // under the sanitizer build (label asan) any memory error or undefined behaviour fails.
    void replays_the_fuzz_corpus() {
        const auto seeds = files_in(hearth::test::source_dir() / "tests/fuzz/request_seeds");
        const auto corpus = files_in(hearth::test::data_dir() / "fuzz" / "requests");
        QVERIFY(seeds.size() >= 9);
        QVERIFY(corpus.size() >= 100);
        for (const auto& files : {seeds, corpus}) {
            for (const auto& path : files) {
                const std::string outcome =
                    hearth::fuzz::run_request_input(hearth::test::read_text(path));
                QVERIFY2(outcome.starts_with("chat ") &&
                             outcome.find("\ncompletion ") != std::string::npos,
                         path.c_str());
            }
        }
        const std::string full = hearth::fuzz::run_request_input(hearth::test::read_text(
            hearth::test::source_dir() / "tests/fuzz/request_seeds/chat-full.json"));
        QVERIFY2(full.find("n=2 stream=true usage=true max=64 stop=2 logprobs=true/5") !=
                     std::string::npos,
                 full.c_str());
        QVERIFY2(full.find("rendered: ok") != std::string::npos, full.c_str());
    }

    void error_bodies_have_openais_shape() {
        const Json body = error_body(bad_request("'n' must be between 1 and 8", "n", "x"));
        QCOMPARE(body["error"]["message"].get<std::string>(),
                 std::string("'n' must be between 1 and 8"));
        QCOMPARE(body["error"]["type"].get<std::string>(), std::string("invalid_request_error"));
        QCOMPARE(body["error"]["param"].get<std::string>(), std::string("n"));
        QVERIFY(error_body(server_error("boom"))["error"]["param"].is_null());
        QCOMPARE(unauthorized("no").status, 401);
        QCOMPARE(not_found("no").status, 404);
        QCOMPARE(payload_too_large("no").status, 413);
        QCOMPARE(overloaded(429, "full").type, std::string("rate_limit_error"));
        QCOMPARE(overloaded(503, "full").status, 503);
    }

    void checks_the_api_key_in_constant_time() {
        QVERIFY(constant_time_equal("secret", "secret"));
        QVERIFY(!constant_time_equal("secret", "secreT"));
        QVERIFY(!constant_time_equal("secret", "secret2"));
        QVERIFY(!constant_time_equal("", "x"));
        QVERIFY(!check_api_key(std::nullopt, ""));
        QVERIFY(!check_api_key(std::string_view("Bearer k3y"), "k3y"));
        QVERIFY(!check_api_key(std::string_view("bearer   k3y"), "k3y"));
        const auto wrong = check_api_key(std::string_view("Bearer guess-k3y"), "k3y");
        QVERIFY(wrong && wrong->status == 401);
        QVERIFY(wrong->message.find("guess") == std::string::npos); // never echoes the key
        QVERIFY(check_api_key(std::nullopt, "k3y"));
        QVERIFY(check_api_key(std::string_view("Basic k3y"), "k3y"));
        QVERIFY(check_api_key(std::string_view("Bearer"), "k3y"));
    }

    void listens_beyond_loopback_only_with_a_key() {
        for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) {
            QVERIFY2(is_loopback_host(host), host);
            QVERIFY(!check_bind_address(host, false));
        }
        for (const char* host : {"0.0.0.0", "192.168.1.2", "128.0.0.1", "127.0.0", "127.0.0.1.",
                                 "127.0.0.256", "::", "example.org", "127.0.0.1x"}) {
            QVERIFY2(!is_loopback_host(host), host);
            const auto refused = check_bind_address(host, false);
            QVERIFY(refused && refused->find("API key") != std::string::npos);
            QVERIFY(!check_bind_address(host, true));
        }
        QVERIFY(check_bind_address("", true));
    }

    void writes_whole_chat_completions() {
        const ResponseContext context{"chatcmpl-1", 1700000000, "smollm2", "hearth-0.1-cpu"};
        ChoiceResult choice;
        choice.text = "Hi!";
        choice.reasoning = "They greeted me.";
        choice.stop = StopReason::max_tokens;
        choice.logprobs_requested = true;
        choice.logprobs = {{"Hi", -0.5f, {{"Hi", -0.5f}, {"Hello", -1.5f}}},
                           {"\xe2\x82", -0.1f, {}}}; // half a character
        const Json out = chat_completion(context, {choice}, {10, 2, 4, 0});
        QCOMPARE(out["object"].get<std::string>(), std::string("chat.completion"));
        QCOMPARE(out["system_fingerprint"].get<std::string>(), std::string("hearth-0.1-cpu"));
        const Json& c = out["choices"][0];
        QCOMPARE(c["finish_reason"].get<std::string>(), std::string("length"));
        QCOMPARE(c["message"]["reasoning_content"].get<std::string>(),
                 std::string("They greeted me."));
        const Json& lp = c["logprobs"]["content"];
        QCOMPARE(lp[0]["top_logprobs"][1]["token"].get<std::string>(), std::string("Hello"));
        QCOMPARE(lp[1]["token"].get<std::string>(), std::string("\xef\xbf\xbd\xef\xbf\xbd"));
        QCOMPARE(lp[1]["bytes"], Json::array({0xe2, 0x82}));
        QCOMPARE(out["usage"]["total_tokens"].get<int>(), 12);
        QCOMPARE(out["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 4);
        QVERIFY(out.dump().size() > 0); // every string is valid UTF-8
        // A message quoting a client's broken bytes still makes a body.
        QVERIFY(json_text(error_body(bad_request("bad \xff byte"))).find("\xef\xbf\xbd") !=
                std::string::npos);
    }

    void writes_stream_chunks_and_the_end() {
        const ResponseContext context{"chatcmpl-2", 1, "m", "fp"};
        const Json first = chat_completion_chunk(context, {.index = 0, .first = true});
        QCOMPARE(first["choices"][0]["delta"]["role"].get<std::string>(), std::string("assistant"));
        QVERIFY(first["choices"][0]["finish_reason"].is_null());
        const Json text = chat_completion_chunk(context, {.content = "He", .reasoning = "r"});
        QCOMPARE(text["choices"][0]["delta"]["content"].get<std::string>(), std::string("He"));
        QCOMPARE(text["choices"][0]["delta"]["reasoning_content"].get<std::string>(),
                 std::string("r"));
        const Json last = chat_completion_chunk(context, {.finish = StopReason::stop_string});
        QCOMPARE(last["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
        QVERIFY(!last["choices"][0]["delta"].contains("content"));
        const Json usage = usage_chunk(context, "chat.completion.chunk", {3, 4, 0, 0});
        QVERIFY(usage["choices"].empty());
        QCOMPARE(usage["usage"]["total_tokens"].get<int>(), 7);
        const std::string event = sse_event(Json{{"a", 1}});
        QCOMPARE(event, std::string("data: {\"a\":1}\n\n"));
        QCOMPARE(std::string(kSseDone), std::string("data: [DONE]\n\n"));
    }

    void writes_completions_and_the_model_list() {
        const ResponseContext context{"cmpl-1", 1, "m", "fp"};
        ChoiceResult choice;
        choice.text = " there";
        choice.logprobs_requested = true;
        choice.logprobs = {{" the", -0.25f, {{" the", -0.25f}}}, {"re", -0.5f, {}}};
        const Json out = completion(context, {choice}, {2, 2, 0, 0});
        QCOMPARE(out["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(out["choices"][0]["text"].get<std::string>(), std::string(" there"));
        QCOMPARE(out["choices"][0]["logprobs"]["text_offset"], Json::array({0, 4}));
        const Json chunk = completion_chunk(context, 0, "x", {}, false, StopReason::max_tokens);
        QCOMPARE(chunk["choices"][0]["finish_reason"].get<std::string>(), std::string("length"));
        const Json models = model_list({{"smollm2", 5, "hearth", 8192}});
        QCOMPARE(models["object"].get<std::string>(), std::string("list"));
        QCOMPARE(models["data"][0]["id"].get<std::string>(), std::string("smollm2"));
        QCOMPARE(models["data"][0]["meta"]["n_ctx_train"].get<int>(), 8192);
    }
};

QTEST_APPLESS_MAIN(TestOpenAiProtocol)
#include "tst_openai_protocol.moc"
