// Chat templates against Python jinja2: every template of tests/data/templates/corpus/ and
// every built-in, rendered on the conversations of scripts/gen-template-reference.py, must
// give the goldens of tests/data/templates/expected/ byte for byte (or fail with the same
// message). Also: the built-in library, choose_template, the warnings, and hearth-cli template.
// Regenerate the goldens: .venv/bin/python scripts/gen-template-reference.py
#include "hearth/chat_template.h"
#include "test_support.h"

#include <QObject>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::string read_text(const fs::path& path) {
    QFile f(QString::fromStdString(path.string()));
    if (!f.open(QIODevice::ReadOnly)) {
        return {};
    }
    return f.readAll().toStdString();
}

fs::path templates_data() {
    return hearth::test::data_dir() / "templates";
}

// "byte 123: expected '...⟦x⟧...' got '...⟦y⟧...'" around the first difference.
std::string first_difference(const std::string& expected, const std::string& actual) {
    size_t i = 0;
    while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) {
        ++i;
    }
    auto context = [i](const std::string& s) {
        size_t from = i > 40 ? i - 40 : 0;
        std::string before = s.substr(from, i - from);
        std::string after = i < s.size() ? s.substr(i, 40) : std::string("<end>");
        return ordered_json(before + "⟦" + after).dump();
    };
    return "first difference at byte " + std::to_string(i) + " (expected " +
           std::to_string(expected.size()) + " bytes, got " + std::to_string(actual.size()) +
           "):\n    expected " + context(expected) + "\n    actual   " + context(actual);
}

std::string template_source(const std::string& name) {
    if (name.rfind("builtin-", 0) == 0) {
        const hearth::BuiltinTemplate* t = hearth::find_builtin_template(name.substr(8));
        return t ? t->source : std::string();
    }
    return read_text(templates_data() / "corpus" / (name + ".jinja"));
}

hearth::VocabularyLookup vocabulary(std::set<std::string> tokens) {
    return [tokens = std::move(tokens)](std::string_view t) {
        return tokens.contains(std::string(t));
    };
}

} // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT

private slots:
    void corpus_data() {
        QTest::addColumn<QString>("golden");
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(templates_data() / "expected")) {
            if (entry.path().extension() == ".json") {
                files.push_back(entry.path());
            }
        }
        std::sort(files.begin(), files.end());
        QVERIFY2(files.size() >= 45, "goldens missing: run scripts/gen-template-reference.py");
        for (const auto& f : files) {
            QTest::newRow(f.stem().string().c_str()) << QString::fromStdString(f.string());
        }
    }

    void corpus() {
        QFETCH(QString, golden);
        ordered_json g = ordered_json::parse(read_text(golden.toStdString()));
        const std::string name = g["template"];
        const std::string source = template_source(name);
        QVERIFY2(!source.empty(), ("no source for template " + name).c_str());
        auto parsed = hearth::ChatTemplate::parse(source);
        QVERIFY2(parsed.has_value(),
                 (name + ": " + (parsed ? "" : parsed.error().message)).c_str());

        std::string failures;
        for (const auto& c : g["cases"]) {
            hearth::ChatRenderOptions options;
            options.add_generation_prompt = c["add_generation_prompt"];
            options.bos_token = c["bos_token"];
            options.eos_token = c["eos_token"];
            ordered_json variables = c.value("variables", ordered_json::object());
            if (variables.contains("tools")) {
                options.tools = variables["tools"];
                variables.erase("tools");
            }
            options.extra = variables;
            options.render.now_unix = g["frozen_now_unix"].get<int64_t>();
            auto out = parsed->render_messages(c["messages"], options);
            const std::string case_name = c["name"];
            if (c.contains("expected")) {
                const std::string expected = c["expected"];
                if (!out) {
                    failures += "\n  " + name + " / " + case_name +
                                ": expected text, got error: " + out.error().message;
                } else if (*out != expected) {
                    failures +=
                        "\n  " + name + " / " + case_name + ": " + first_difference(expected, *out);
                }
            } else {
                const std::string message = c["error"]["message"];
                if (out) {
                    failures += "\n  " + name + " / " + case_name + ": expected error \"" +
                                message + "\", got text " + ordered_json(*out).dump();
                } else if (out.error().message != message) {
                    failures += "\n  " + name + " / " + case_name + ": " +
                                first_difference(message, out.error().message);
                }
            }
        }
        QVERIFY2(failures.empty(), failures.c_str());
    }

    // The work budget (RenderLimits::max_work) must leave real templates room: each renders a
    // long conversation (200 turns of 2 KB, 400 KB in all, with tools and a tool call) within
    // a tenth of it. A template may still refuse the conversation (roles, tools), but never
    // for lack of budget.
    void corpus_fits_a_tenth_of_the_work_budget() {
        std::string text;
        while (text.size() < 2048) {
            text += "Grüße — line of a long message, with {{ braces }} and <tags>.\n";
        }
        ordered_json messages = ordered_json::array();
        messages.push_back({{"role", "system"}, {"content", text}});
        for (int turn = 0; turn < 100; ++turn) {
            messages.push_back({{"role", "user"}, {"content", text}});
            messages.push_back({{"role", "assistant"}, {"content", text}});
        }
        messages.push_back({{"role", "user"}, {"content", text}});
        hearth::ChatRenderOptions options;
        options.bos_token = "<s>";
        options.eos_token = "</s>";
        options.tools = ordered_json::parse(R"~([{"type": "function", "function": {"name": "f",
            "description": "d", "parameters": {"type": "object", "properties":
            {"a": {"type": "string"}}}}}])~");
        options.render.limits.max_work = hearth::RenderLimits{}.max_work / 10;
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(templates_data() / "corpus")) {
            files.push_back(entry.path());
        }
        QVERIFY(files.size() >= 30);
        size_t rendered = 0;
        for (const auto& path : files) {
            auto parsed = hearth::ChatTemplate::parse(read_text(path));
            QVERIFY(parsed);
            auto out = parsed->render_messages(messages, options);
            if (!out) {
                QVERIFY2(out.error().message.find("work budget") == std::string::npos,
                         (path.filename().string() + ": " + out.error().message).c_str());
                continue;
            }
            QVERIFY(out->size() > 200 * 2048);
            ++rendered;
        }
        QVERIFY2(rendered >= files.size() - 5, std::to_string(rendered).c_str());
    }

    void builtins() {
        const auto& all = hearth::builtin_templates();
        std::vector<std::string> names;
        for (const auto& t : all) {
            names.push_back(t.name);
            QVERIFY2(!t.source.empty(), t.name.c_str());
            QVERIFY2(!t.description.empty(), t.name.c_str());
            QVERIFY2(hearth::ChatTemplate::parse(t.source).has_value(), t.name.c_str());
            // The embedded copy is the file of templates/.
            QCOMPARE(t.source,
                     read_text(hearth::test::source_dir() / "templates" / (t.name + ".jinja")));
            for (const auto& token : t.tokens) {
                QVERIFY2(t.source.find(token) != std::string::npos,
                         (t.name + ": " + token).c_str());
            }
        }
        const std::vector<std::string> wanted = {
            "chatml", "llama3",  "llama2", "mistral", "gemma",  "gemma4",   "phi3",
            "phi4",   "gpt-oss", "zephyr", "alpaca",  "vicuna", "deepseek", "raw"};
        QCOMPARE(names, wanted);
        QVERIFY(!hearth::find_builtin_template("gemma")->supports_system);
        QCOMPARE(hearth::find_builtin_template("llama3")->stop.front(), std::string("<|eot_id|>"));
        // gpt-oss ends a reply on <|return|> (or <|call|> for a tool call), not on <|end|>,
        // which closes its analysis channel before the final answer.
        QCOMPARE(hearth::find_builtin_template("gpt-oss")->stop,
                 std::vector<std::string>({"<|return|>", "<|call|>"}));
        QVERIFY(hearth::find_builtin_template("nonexistent") == nullptr);
    }

    void gemma_system_message_error_is_verbatim() {
        const hearth::ChatMessage messages[] = {{"system", "Be brief."}, {"user", "Hi"}};
        auto t = hearth::ChatTemplate::parse(hearth::find_builtin_template("gemma")->source);
        QVERIFY(t.has_value());
        auto out = t->render(messages, hearth::ChatRenderOptions{});
        QVERIFY(!out.has_value());
        QCOMPARE(out.error().message, std::string("System role not supported"));
    }

    void convenience_render_matches_json_render() {
        auto t = hearth::ChatTemplate::parse(hearth::find_builtin_template("chatml")->source);
        QVERIFY(t.has_value());
        const hearth::ChatMessage messages[] = {{"user", "Hi"}, {"assistant", "Hello"}};
        hearth::ChatRenderOptions options;
        auto text = t->render(messages, options);
        QVERIFY(text.has_value());
        QCOMPARE(
            *text,
            std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
                        "<|im_start|>assistant\n"));
        ordered_json context = {{"messages",
                                 {{{"role", "user"}, {"content", "Hi"}},
                                  {{"role", "assistant"}, {"content", "Hello"}}}},
                                {"add_generation_prompt", false}};
        QCOMPARE(*t->render(context),
                 std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                             "Hello<|im_end|>\n"));
    }

    void choose_template_data() {
        QTest::addColumn<QStringList>("tokens");
        QTest::addColumn<QString>("embedded");
        QTest::addColumn<QString>("name");
        QTest::newRow("own template wins") << QStringList{"<|im_start|>"} << "{{ 'x' }}"
                                           << "model";
        QTest::newRow("chatml") << QStringList{"<s>", "<|im_start|>", "<|im_end|>"} << ""
                                << "chatml";
        QTest::newRow("llama3") << QStringList{"<|begin_of_text|>", "<|start_header_id|>",
                                               "<|eot_id|>"}
                                << ""
                                << "llama3";
        QTest::newRow("mistral") << QStringList{"<s>", "[INST]", "[/INST]"} << ""
                                 << "mistral";
        QTest::newRow("gemma") << QStringList{"<bos>", "<start_of_turn>", "<end_of_turn>"} << ""
                               << "gemma";
        QTest::newRow("gemma4") << QStringList{"<bos>", "<|turn>", "<turn|>", "<|channel>"} << ""
                                << "gemma4";
        QTest::newRow("phi3") << QStringList{"<s>", "<|user|>", "<|end|>", "<|assistant|>"} << ""
                              << "phi3";
        QTest::newRow("phi4") << QStringList{"<|endoftext|>", "<|im_start|>", "<|im_sep|>",
                                             "<|im_end|>"}
                              << ""
                              << "phi4";
        QTest::newRow("deepseek") << QStringList{"<｜User｜>", "<｜Assistant｜>"} << ""
                                  << "deepseek";
        QTest::newRow("user without end is not phi3") << QStringList{"<|user|>"} << ""
                                                      << "raw";
        QTest::newRow("base vocabulary") << QStringList{"<s>", "</s>", "hello"} << ""
                                         << "raw";
        QTest::newRow("empty vocabulary") << QStringList{} << ""
                                          << "raw";
    }

    void choose_template() {
        QFETCH(QStringList, tokens);
        QFETCH(QString, embedded);
        QFETCH(QString, name);
        std::vector<std::string> vocab;
        for (const auto& t : tokens) {
            vocab.push_back(t.toStdString());
        }
        auto choice = hearth::choose_template(embedded.toStdString(), vocab);
        QCOMPARE(QString::fromStdString(choice.name), name);
        QVERIFY(!choice.source.empty());
        QVERIFY(!choice.reason.empty());
        QCOMPARE(choice.origin, name == "model" ? hearth::TemplateOrigin::embedded
                                : name == "raw" ? hearth::TemplateOrigin::raw
                                                : hearth::TemplateOrigin::builtin);
    }

    void special_tokens_of_templates() {
        auto tokens =
            hearth::template_special_tokens(hearth::find_builtin_template("llama3")->source);
        QCOMPARE(tokens, (std::vector<std::string>{"<|start_header_id|>", "<|end_header_id|>",
                                                   "<|eot_id|>"}));
        tokens = hearth::template_special_tokens(hearth::find_builtin_template("gemma")->source);
        QCOMPARE(tokens, (std::vector<std::string>{"<start_of_turn>", "<end_of_turn>"}));
        tokens = hearth::template_special_tokens(hearth::find_builtin_template("mistral")->source);
        QCOMPARE(tokens, (std::vector<std::string>{"[INST]", "[/INST]"}));
        QVERIFY(hearth::template_special_tokens("<b>{{ x }}</b> <s>").empty());
    }

    void warnings() {
        using Kind = hearth::TemplateWarningKind;
        const std::string chatml = hearth::find_builtin_template("chatml")->source;
        const std::string raw = hearth::find_builtin_template("raw")->source;
        // The kinds of the warnings; a warning without a message shows up as a bogus kind.
        auto kinds = [](const std::vector<hearth::TemplateWarning>& ws) {
            std::vector<Kind> out;
            for (const auto& w : ws) {
                out.push_back(w.message.empty() ? static_cast<Kind>(-1) : w.kind);
            }
            return out;
        };

        hearth::ModelTemplateFacts llama3{
            "Meta-Llama-3-8B-Instruct",
            {},
            "",
            vocabulary({"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"})};
        auto ws = hearth::template_warnings(llama3, chatml, false);
        QCOMPARE(kinds(ws), std::vector<Kind>{Kind::missing_special_tokens});
        QCOMPARE(ws[0].tokens, (std::vector<std::string>{"<|im_start|>", "<|im_end|>"}));
        QVERIFY(hearth::template_warnings(llama3, hearth::find_builtin_template("llama3")->source,
                                          false)
                    .empty());
        QCOMPARE(kinds(hearth::template_warnings(llama3, raw, true)),
                 std::vector<Kind>{Kind::chat_model_used_raw});

        hearth::ModelTemplateFacts base{"Llama-3.1-8B", {"base"}, "", vocabulary({"<s>"})};
        QCOMPARE(kinds(hearth::template_warnings(
                     base, hearth::find_builtin_template("alpaca")->source, false)),
                 std::vector<Kind>{Kind::base_model_with_chat_template});
        QVERIFY(hearth::template_warnings(base, raw, true).empty());

        hearth::ModelTemplateFacts plain{"tiny-gpt", {}, "", vocabulary({"hello"})};
        QCOMPARE(kinds(hearth::template_warnings(
                     plain, hearth::find_builtin_template("vicuna")->source, false)),
                 std::vector<Kind>{Kind::base_model_with_chat_template});

        hearth::ModelTemplateFacts with_own{"SmolLM2-135M-Instruct",
                                            {},
                                            "{{ messages }}",
                                            vocabulary({"<|im_start|>", "<|im_end|>"})};
        QVERIFY(hearth::template_warnings(with_own, chatml, false).empty());
        QCOMPARE(kinds(hearth::template_warnings(with_own, raw, true)),
                 std::vector<Kind>{Kind::chat_model_used_raw});

        hearth::ModelTemplateFacts unknown_vocab{"model", {}, "", nullptr};
        QVERIFY(hearth::template_warnings(unknown_vocab, chatml, false).empty());
    }

    void cli_list() {
        auto r = hearth::test::run_cli({"template", "list"});
        QCOMPARE(r.exit_code, 0);
        for (const char* name : {"chatml", "llama3", "llama2", "mistral", "gemma", "gemma4", "phi3",
                                 "phi4", "zephyr", "alpaca", "vicuna", "deepseek", "raw"}) {
            QVERIFY2(r.out.contains(QByteArray(name) + " "), name);
        }
    }

    void cli_render() {
        QTemporaryDir dir;
        const QString messages = dir.filePath("messages.json");
        QFile f(messages);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(
            R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Grüße {{ x }}"}])");
        f.close();

        auto r = hearth::test::run_cli({"template", "render", "--template", "chatml", "--messages",
                                        messages, "--add-generation-prompt"});
        QCOMPARE(r.exit_code, 0);
        QCOMPARE(r.err, QByteArray());
        QCOMPARE(
            r.out,
            QByteArray("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nGrüße {{ x }}"
                       "<|im_end|>\n<|im_start|>assistant\n"));

        // Built-in BOS by default, overridable; no generation prompt without the flag.
        r = hearth::test::run_cli(
            {"template", "render", "--template", "llama3", "--messages", messages});
        QCOMPARE(r.exit_code, 0);
        QVERIFY(r.out.startsWith("<|begin_of_text|><|start_header_id|>system"));
        QVERIFY(r.out.endsWith("<|eot_id|>"));
        r = hearth::test::run_cli({"template", "render", "--template", "llama3", "--messages",
                                   messages, "--bos-token", "[BOS]"});
        QVERIFY(r.out.startsWith("[BOS]<|start_header_id|>"));

        // A template file and --var.
        const QString tpl = dir.filePath("t.jinja");
        QFile t(tpl);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write("{% for m in messages %}{{ m.role }}{% endfor %}|{{ flag }}|{{ items|length }}\n");
        t.close();
        r = hearth::test::run_cli({"template", "render", "--template-file", tpl, "--messages",
                                   messages, "--var", "flag=true", "--var", "items=[1, 2]"});
        QCOMPARE(r.exit_code, 0);
        QCOMPARE(r.out, QByteArray("systemuser|True|2"));

        // The template's own error reaches stderr verbatim, with status 1 and nothing on stdout.
        r = hearth::test::run_cli(
            {"template", "render", "--template", "gemma", "--messages", messages});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.out, QByteArray());
        QVERIFY2(r.err.contains("System role not supported"), r.err.constData());

        // A template that does not parse.
        QVERIFY(t.open(QIODevice::WriteOnly | QIODevice::Truncate));
        t.write("{% for m in messages %}\n{{ m.role }\n");
        t.close();
        r = hearth::test::run_cli(
            {"template", "render", "--template-file", tpl, "--messages", messages});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.out, QByteArray());
        QVERIFY2(r.err.contains("line 2"), r.err.constData());

        // Usage errors.
        r = hearth::test::run_cli({"template", "render", "--template", "chatml"});
        QCOMPARE(r.exit_code, 2);
        r = hearth::test::run_cli(
            {"template", "render", "--template", "nope", "--messages", messages});
        QCOMPARE(r.exit_code, 1);
    }

    void cli_render_model() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        QTemporaryDir dir;
        const QString messages = dir.filePath("messages.json");
        QFile f(messages);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"([{"role": "user", "content": "Hi"}])");
        f.close();
        auto r = hearth::test::run_cli({"template", "render", "--model",
                                        QString::fromStdString(model.string()), "--messages",
                                        messages, "--add-generation-prompt"});
        QCOMPARE(r.exit_code, 0);
        // SmolLM2-Instruct's own template is ChatML with a default system message.
        QVERIFY2(r.out.contains("<|im_start|>user\nHi<|im_end|>\n"), r.out.constData());
        QVERIFY(r.out.endsWith("<|im_start|>assistant\n"));
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "tst_chat_template.moc"
