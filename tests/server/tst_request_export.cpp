// "Copy as…" (server/request_export): each server's request for a conversation with hostile
// text survives bash (checked with bash -n, then run with curl replaced by a function that
// prints its arguments), its body parses back to the same messages and settings (Hearth's
// through the server's own request parser), and each server gets its own parameter names.
#include "hearth/server/openai_request.h"
#include "hearth/server/request_export.h"

#include <QProcess>
#include <QStandardPaths>
#include <QtTest>
#include <algorithm>
#include <string>
#include <vector>

using namespace hearth;
using namespace hearth::server;
using Json = nlohmann::ordered_json;

namespace {

// Quotes, $, backticks, command substitution, newlines, a NUL and control bytes, non-ASCII.
const std::string kHostile = std::string("it's \"quoted\" $HOME `id` $(touch /tmp/pwned) '\\''\n"
                                         "line two\t\\n ünïcödé 🔥 \x01 end") +
                             std::string(1, '\0') + "after NUL";

RequestExportInput hostile_input() {
    RequestExportInput input;
    input.model = "smollm2 'q4'";
    input.model_file = "/models/it's $HOME/SmolLM2.gguf";
    input.system_prompt = "System: " + kHostile;
    input.messages = {{"user", "Hello " + kHostile, ""},
                      {"assistant", "Answer " + kHostile, "Thinking " + kHostile},
                      {"user", "Again: " + kHostile, ""}};
    input.sampling.temperature = 0.7f;
    input.sampling.top_k = 33;
    input.sampling.top_p = 0.9f;
    input.sampling.min_p = 0.05f;
    input.sampling.repeat_penalty = 1.1f;
    input.sampling.repeat_last_n = 128;
    input.sampling.presence_penalty = 0.25f;
    input.sampling.frequency_penalty = -0.5f;
    input.sampling.seed = 123456789;
    input.max_tokens = 512;
    input.stop = {"</s>", "'$`\n"};
    input.context_length = 4096;
    return input;
}

bool have_bash() {
    return !QStandardPaths::findExecutable(QStringLiteral("bash")).isEmpty();
}

// Runs `script` with bash; returns its stdout, failing the test on a non-zero exit.
QByteArray run_bash(const QStringList& args, const std::string& script) {
    QProcess bash;
    bash.start(QStringLiteral("bash"), args);
    bash.write(script.data(), qint64(script.size()));
    bash.closeWriteChannel();
    if (!bash.waitForFinished(-1) || bash.exitCode() != 0) {
        qWarning("bash failed: %s", bash.readAllStandardError().constData());
        return "FAILED";
    }
    return bash.readAllStandardOutput();
}

// The arguments curl would get, as bash parses the command.
std::vector<std::string> curl_arguments(const std::string& command) {
    const std::string script = "curl() { printf '%s\\0' \"$@\"; }\n" + command;
    const QByteArray out = run_bash({QStringLiteral("-s")}, script);
    std::vector<std::string> args;
    std::string current;
    for (char c : out) {
        if (c == '\0') {
            args.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    return args;
}

Json body_from_command(const std::string& command, std::string* url) {
    const auto args = curl_arguments(command);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "-d") {
            *url = args.size() > 1 && args[0] == "-sS" ? args[1] : std::string();
            return Json::parse(args[i + 1]);
        }
    }
    return nullptr;
}

} // namespace

class TestRequestExport : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (!have_bash()) {
            QSKIP("bash is needed to check the generated commands");
        }
    }

    void commandsSurviveBash_data() {
        QTest::addColumn<int>("target");
        QTest::newRow("hearth") << int(RequestTarget::hearth);
        QTest::newRow("llama-server") << int(RequestTarget::llama_server);
        QTest::newRow("vllm") << int(RequestTarget::vllm);
        QTest::newRow("ollama") << int(RequestTarget::ollama);
    }
    void commandsSurviveBash() {
        QFETCH(int, target);
        const RequestExportInput input = hostile_input();
        const ExportedRequest r = export_request(input, RequestTarget(target));
        QCOMPARE(run_bash({QStringLiteral("-n")}, r.command), QByteArray());
        std::string url;
        const Json body = body_from_command(r.command, &url);
        QCOMPARE(body, r.body);
        QVERIFY(url.starts_with("http://127.0.0.1:"));
        QCOMPARE(body["model"].get<std::string>(), input.model);

        // The messages, byte for byte, with the system prompt first.
        const Json& messages = body["messages"];
        QCOMPARE(messages.size(), input.messages.size() + 1);
        QCOMPARE(messages[0]["role"], "system");
        QCOMPARE(messages[0]["content"].get<std::string>(), input.system_prompt);
        const char* reasoning_key =
            RequestTarget(target) == RequestTarget::ollama ? "thinking" : "reasoning_content";
        for (size_t i = 0; i < input.messages.size(); ++i) {
            const Json& m = messages[i + 1];
            QCOMPARE(m["role"].get<std::string>(), input.messages[i].role);
            QCOMPARE(m["content"].get<std::string>(), input.messages[i].content);
            if (input.messages[i].reasoning.empty()) {
                QVERIFY(!m.contains(reasoning_key));
            } else {
                QCOMPARE(m[reasoning_key].get<std::string>(), input.messages[i].reasoning);
            }
        }
        QVERIFY(!r.notes.empty());
        // The comment that starts the server keeps its quoted path a comment.
        QVERIFY(r.command.starts_with("# "));
    }

    // The app's Local server running: the command targets its URL and reads the key from
    // $HEARTH_API_KEY as bash runs it; the key itself is never in the text.
    void runningServerAndItsKey() {
        RequestExportInput input = hostile_input();
        input.hearth_url = "http://127.0.0.1:18123/v1";
        input.hearth_api_key = true;
        const ExportedRequest r = export_request(input, RequestTarget::hearth);
        QVERIFY(r.command.starts_with("# Hearth's local server is running at "
                                      "http://127.0.0.1:18123/v1"));
        QVERIFY(r.command.find("hearth-cli serve") == std::string::npos);
        const auto args = curl_arguments("HEARTH_API_KEY=s3cret\n" + r.command);
        QCOMPARE(args.at(1), std::string("http://127.0.0.1:18123/v1/chat/completions"));
        QVERIFY(std::ranges::find(args, std::string("Authorization: Bearer s3cret")) != args.end());
        // The other servers take no key from it, and without one none is sent.
        const ExportedRequest other = export_request(input, RequestTarget::llama_server);
        QVERIFY(other.command.find("HEARTH_API_KEY") == std::string::npos);
        input.hearth_api_key = false;
        QVERIFY(export_request(input, RequestTarget::hearth).command.find("Authorization") ==
                std::string::npos);
    }

    // Hearth's body read by the server's own parser gives back the chat's settings.
    void hearthBodyParsesBack() {
        const RequestExportInput input = hostile_input();
        const ExportedRequest r = export_request(input, RequestTarget::hearth);
        std::string url;
        const Json body = body_from_command(r.command, &url);
        QCOMPARE(url, std::string("http://127.0.0.1:8080/v1/chat/completions"));
        auto parsed = parse_chat_completion_request(body.dump());
        QVERIFY2(parsed.has_value(), parsed ? "" : parsed.error().message.c_str());
        const SamplingParams& s = parsed->generation.sampling;
        QCOMPARE(s.temperature, input.sampling.temperature);
        QCOMPARE(s.top_k, input.sampling.top_k);
        QCOMPARE(s.top_p, input.sampling.top_p);
        QCOMPARE(s.min_p, input.sampling.min_p);
        QCOMPARE(s.repeat_penalty, input.sampling.repeat_penalty);
        QCOMPARE(s.presence_penalty, input.sampling.presence_penalty);
        QCOMPARE(s.frequency_penalty, input.sampling.frequency_penalty);
        QCOMPARE(s.seed, input.sampling.seed);
        QCOMPARE(parsed->generation.max_tokens, input.max_tokens);
        QCOMPARE(parsed->generation.stop, input.stop);
        QCOMPARE(parsed->model, input.model);
        QCOMPARE(parsed->messages.size(), input.messages.size() + 1);
        QCOMPARE(parsed->messages[2]["reasoning_content"].get<std::string>(),
                 input.messages[1].reasoning);
        QCOMPARE(parsed->messages[3]["content"].get<std::string>(), input.messages[2].content);
        // The server's penalty window is fixed: the chat's 128 is said to differ.
        QVERIFY(std::ranges::any_of(r.notes, [](const std::string& n) {
            return n.find("repeat_last_n") != std::string::npos;
        }));
        // Values go out as typed, not as the float's double expansion.
        QCOMPARE(body["temperature"].dump(), std::string("0.7"));
    }

    // A seed above 2^63 keeps its bits through the server's signed reading.
    void hearthLargeSeedParsesBack() {
        RequestExportInput input = hostile_input();
        input.sampling.seed = 0xFEDCBA9876543210ull;
        const ExportedRequest r = export_request(input, RequestTarget::hearth);
        auto parsed = parse_chat_completion_request(r.body.dump());
        QVERIFY(parsed.has_value());
        QCOMPARE(parsed->generation.sampling.seed, input.sampling.seed);
    }

    void eachServerItsNames() {
        RequestExportInput input = hostile_input();
        input.sampling.top_k = 0; // off
        const Json llama = export_request(input, RequestTarget::llama_server).body;
        QCOMPARE(llama["repeat_penalty"].dump(), std::string("1.1"));
        QCOMPARE(llama["repeat_last_n"], 128);
        QCOMPARE(llama["top_k"], 0);
        QCOMPARE(llama["max_tokens"], 512);

        const ExportedRequest vllm = export_request(input, RequestTarget::vllm);
        QVERIFY(!vllm.body.contains("repeat_penalty"));
        QVERIFY(!vllm.body.contains("repeat_last_n"));
        QCOMPARE(vllm.body["repetition_penalty"].dump(), std::string("1.1"));
        QCOMPARE(vllm.body["top_k"], -1);
        QCOMPARE(vllm.body["min_p"].dump(), std::string("0.05"));
        QVERIFY(vllm.command.find("--max-model-len 4096") != std::string::npos);

        const ExportedRequest ollama = export_request(input, RequestTarget::ollama);
        QVERIFY(!ollama.body.contains("temperature"));
        const Json& options = ollama.body["options"];
        QCOMPARE(options["num_ctx"], 4096);
        QCOMPARE(options["num_predict"], 512);
        QCOMPARE(options["repeat_last_n"], 128);
        QCOMPARE(options["seed"], 123456789);
        QCOMPARE(options["stop"], Json(input.stop));
        QCOMPARE(ollama.body["stream"], false);

        const ExportedRequest llama_server = export_request(input, RequestTarget::llama_server);
        QVERIFY(llama_server.command.find("-c 4096") != std::string::npos);
        // The notes name the parameters whose names or defaults differ.
        auto mentions = [](const ExportedRequest& r, std::string_view word) {
            return std::ranges::any_of(
                r.notes, [&](const std::string& n) { return n.find(word) != std::string::npos; });
        };
        QVERIFY(mentions(vllm, "repetition_penalty"));
        QVERIFY(mentions(vllm, "--max-model-len"));
        QVERIFY(mentions(ollama, "num_ctx"));
        QVERIFY(mentions(ollama, "num_predict"));
        QVERIFY(mentions(llama_server, "-c"));
        QVERIFY(mentions(llama_server, "n_predict"));
    }

    // A chat that draws a new seed per reply sends none; an unknown context sends no num_ctx.
    void randomSeedAndNoContext() {
        RequestExportInput input = hostile_input();
        input.fixed_seed = false;
        input.context_length = 0;
        input.max_tokens.reset();
        for (RequestTarget target : kRequestTargets) {
            const ExportedRequest r = export_request(input, target);
            QVERIFY(!r.body.contains("seed"));
            QVERIFY(!r.body.contains("max_tokens"));
            if (target == RequestTarget::ollama) {
                QVERIFY(!r.body["options"].contains("seed"));
                QVERIFY(!r.body["options"].contains("num_ctx"));
                QCOMPARE(r.body["options"]["num_predict"], -1);
            }
            QCOMPARE(run_bash({QStringLiteral("-n")}, r.command), QByteArray());
        }
    }

    // Text that is not UTF-8 goes out replaced, never as an exception or a broken command.
    void invalidUtf8() {
        RequestExportInput input = hostile_input();
        input.messages[0].content = "bad \xC3\x28 bytes \xFF";
        for (RequestTarget target : kRequestTargets) {
            const ExportedRequest r = export_request(input, target);
            std::string url;
            const Json body = body_from_command(r.command, &url);
            QVERIFY(body.is_object());
            QCOMPARE(body, r.body); // the body as sent, replaced bytes included
            QCOMPARE(body["messages"][1]["content"].get<std::string>(),
                     std::string("bad \xEF\xBF\xBD( bytes \xEF\xBF\xBD"));
        }
    }

    // A newline in the model's path or name cannot end the comment that starts the server
    // and run what follows when the command is pasted.
    void namesCannotEscapeTheComment() {
        RequestExportInput input = hostile_input();
        input.model_file = "/m/x\nprintf INJECTED\n'\nprintf INJECTED\n";
        input.model = "name\nprintf INJECTED\n";
        input.template_name = "t\rprintf INJECTED\n";
        for (RequestTarget target : kRequestTargets) {
            const ExportedRequest r = export_request(input, target);
            QCOMPARE(run_bash({QStringLiteral("-n")}, r.command), QByteArray());
            const auto args = curl_arguments(r.command);
            QVERIFY(!args.empty());
            QCOMPARE(args.front(), std::string("-sS")); // nothing ran before curl
            QVERIFY(args[1].starts_with("http://127.0.0.1:"));
            for (const std::string& arg : args) {
                QVERIFY(arg.find("INJECTED") == std::string::npos || arg.starts_with("{"));
            }
            QVERIFY(r.command.substr(0, r.command.find('\n')).find("INJECTED") !=
                    std::string::npos); // kept, on the comment's one line
        }
    }

    // Every byte but NUL (which no shell word holds) survives shell_quote.
    void shellQuoteEveryByte() {
        std::string all;
        for (int c = 1; c < 256; ++c) {
            all += char(c);
        }
        const QByteArray out = run_bash({QStringLiteral("-s")}, "printf '%s' " + shell_quote(all));
        QCOMPARE(out, QByteArray::fromStdString(all));
    }
};

QTEST_GUILESS_MAIN(TestRequestExport)
#include "tst_request_export.moc"
