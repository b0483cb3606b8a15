// Reasoning in replies (hearth/reasoning.h): detecting templates' markers and thinking switches
// on the real templates of tests/data/templates/corpus/, the streaming splitter on <think> tags
// and harmony channels (every split of every reply, unclosed, hostile), and gpt-oss's harmony
// format against openai-harmony (tests/data/reasoning/harmony.json,
// scripts/gen-reasoning-reference.py).
#include "hearth/chat_template.h"
#include "hearth/reasoning.h"
#include "hearth/tokenizer.h"
#include "test_support.h"
#include "tokenizer_test_support.h"

#include <QtTest>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

using namespace hearth;

namespace {

std::string corpus_template(const std::string& name) {
    return test::read_text(test::data_dir() / "templates" / "corpus" / (name + ".jinja"));
}

ReasoningFormat think_tags() {
    ReasoningFormat format;
    format.syntax = ReasoningSyntax::tags;
    format.open = "<think>";
    format.close = "</think>";
    return format;
}

ReasoningFormat harmony() {
    ReasoningFormat format;
    format.syntax = ReasoningSyntax::harmony;
    return format;
}

// Feeds `reply` in pieces cut at `cuts` (ascending byte offsets) and collects the output.
SplitReply feed_cut(const ReasoningFormat& format, bool opened, std::string_view reply,
                    const std::vector<size_t>& cuts) {
    ReasoningSplitter splitter(format, opened);
    SplitReply out;
    size_t from = 0;
    auto take = [&](const ReasoningDelta& delta) {
        out.reasoning += delta.reasoning;
        out.answer += delta.answer;
    };
    for (size_t cut : cuts) {
        take(splitter.feed(reply.substr(from, cut - from)));
        from = cut;
    }
    take(splitter.feed(reply.substr(from)));
    take(splitter.finish());
    out.reasoning_closed = splitter.reasoning_closed();
    return out;
}

// The reply split whole, at every single byte boundary, and byte by byte: all must agree.
void check_every_split(const ReasoningFormat& format, bool opened, std::string_view reply,
                       std::string_view reasoning, std::string_view answer, bool closed) {
    const SplitReply whole = split_reasoning(format, opened, reply);
    QCOMPARE(QString::fromStdString(whole.reasoning), QString::fromUtf8(reasoning));
    QCOMPARE(QString::fromStdString(whole.answer), QString::fromUtf8(answer));
    QCOMPARE(whole.reasoning_closed, closed);
    for (size_t cut = 0; cut <= reply.size(); ++cut) {
        const SplitReply two = feed_cut(format, opened, reply, {cut});
        if (two.reasoning != whole.reasoning || two.answer != whole.answer ||
            two.reasoning_closed != closed) {
            QFAIL(qPrintable(QStringLiteral("cut at byte %1: reasoning '%2', answer '%3'")
                                 .arg(cut)
                                 .arg(QString::fromStdString(two.reasoning),
                                      QString::fromStdString(two.answer))));
        }
    }
    std::vector<size_t> every(reply.size());
    for (size_t i = 0; i < reply.size(); ++i) {
        every[i] = i;
    }
    const SplitReply bytes = feed_cut(format, opened, reply, every);
    QCOMPARE(QString::fromStdString(bytes.reasoning), QString::fromUtf8(reasoning));
    QCOMPARE(QString::fromStdString(bytes.answer), QString::fromUtf8(answer));
}

std::string trimmed(std::string_view text) {
    auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    while (!text.empty() && space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && space(text.back())) {
        text.remove_suffix(1);
    }
    return std::string(text);
}

nlohmann::ordered_json harmony_reference() {
    return nlohmann::ordered_json::parse(
        test::read_text(test::data_dir() / "reasoning" / "harmony.json"));
}

} // namespace

class TestReasoning : public QObject {
    Q_OBJECT

private slots:
    // ---- detection, on real templates ----

    void detects_markers_and_switches_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("syntax");
        QTest::addColumn<QString>("open");
        QTest::addColumn<QString>("close");
        QTest::addColumn<int>("switchKind");
        QTest::addColumn<QString>("variable");
        const int tags = int(ReasoningSyntax::tags);
        const int boolean = int(ThinkingSwitchKind::boolean);
        QTest::newRow("Qwen3") << "Qwen-Qwen3-0.6B" << tags << "<think>"
                               << "</think>" << boolean << "enable_thinking";
        QTest::newRow("Qwen3.5") << "Qwen3.5-4B" << tags << "<think>"
                                 << "</think>" << boolean << "enable_thinking";
        QTest::newRow("gpt-oss") << "openai-gpt-oss-120b" << int(ReasoningSyntax::harmony) << ""
                                 << "" << int(ThinkingSwitchKind::effort) << "reasoning_effort";
        QTest::newRow("R1 distill (Llama)")
            << "deepseek-ai-DeepSeek-R1-Distill-Llama-8B" << tags << "<think>"
            << "</think>" << int(ThinkingSwitchKind::none) << "";
        QTest::newRow("SmolLM3") << "HuggingFaceTB-SmolLM3-3B" << tags << "<think>"
                                 << "</think>" << boolean << "enable_thinking";
        QTest::newRow("DeepSeek V3.1") << "deepseek-ai-DeepSeek-V3.1" << tags << "<think>"
                                       << "</think>" << boolean << "enable_thinking";
        QTest::newRow("Granite 3.3") << "ibm-granite-granite-3.3-2B-Instruct" << tags << "<think>"
                                     << "</think>" << boolean << "thinking";
        QTest::newRow("Gemma 4") << "google-gemma-4-31B-it-interleaved" << tags
                                 << "<|channel>thought"
                                 << "<channel|>" << boolean << "enable_thinking";
        QTest::newRow("Ministral reasoning")
            << "mistralai-Ministral-3-14B-Reasoning-2512" << tags << "[THINK]"
            << "[/THINK]" << int(ThinkingSwitchKind::none) << "";
        QTest::newRow("Qwen2.5: none")
            << "Qwen-Qwen2.5-7B-Instruct" << int(ReasoningSyntax::none) << ""
            << "" << int(ThinkingSwitchKind::none) << "";
        QTest::newRow("Llama 3.2: none")
            << "meta-llama-Llama-3.2-3B-Instruct" << int(ReasoningSyntax::none) << ""
            << "" << int(ThinkingSwitchKind::none) << "";
    }

    void detects_markers_and_switches() {
        QFETCH(QString, name);
        QFETCH(int, syntax);
        QFETCH(QString, open);
        QFETCH(QString, close);
        QFETCH(int, switchKind);
        QFETCH(QString, variable);
        const std::string source = corpus_template(name.toStdString());
        QVERIFY2(!source.empty(), qPrintable(name));
        const ReasoningFormat format = detect_reasoning_format(source, {});
        QCOMPARE(int(format.syntax), syntax);
        QCOMPARE(QString::fromStdString(format.open), open);
        QCOMPARE(QString::fromStdString(format.close), close);
        QCOMPARE(int(format.thinking_switch.kind), switchKind);
        QCOMPARE(QString::fromStdString(format.thinking_switch.variable), variable);
    }

    void vocabulary_marks_reasoning_when_the_template_does_not() {
        const std::set<std::string, std::less<>> qwen3{"<think>", "</think>", "<|im_start|>"};
        const ReasoningFormat tags = detect_reasoning_format(
            "{{ messages[0].content }}", [&](std::string_view t) { return qwen3.contains(t); });
        QCOMPARE(int(tags.syntax), int(ReasoningSyntax::tags));
        QCOMPARE(QString::fromStdString(tags.close), QStringLiteral("</think>"));
        const std::set<std::string, std::less<>> oss{"<|channel|>", "<|message|>", "<|end|>"};
        QCOMPARE(
            int(detect_reasoning_format("", [&](std::string_view t) { return oss.contains(t); })
                    .syntax),
            int(ReasoningSyntax::harmony));
        // Only one of the pair: nothing.
        QCOMPARE(int(detect_reasoning_format("", [](std::string_view t) { return t == "<think>"; })
                         .syntax),
                 int(ReasoningSyntax::none));
    }

    void switch_is_a_variable_the_template_reads() {
        // Inside a string or after a dot it is not a variable the user can set.
        QCOMPARE(int(detect_reasoning_format("{{ 'enable_thinking' }}{{ m.enable_thinking }}", {})
                         .thinking_switch.kind),
                 int(ThinkingSwitchKind::none));
        QCOMPARE(int(detect_reasoning_format("enable_thinking {# enable_thinking #}", {})
                         .thinking_switch.kind),
                 int(ThinkingSwitchKind::none));
        QCOMPARE(int(detect_reasoning_format("{% if not enable_thinking %}x{% endif %}", {})
                         .thinking_switch.kind),
                 int(ThinkingSwitchKind::boolean));
        // Unclosed tags and strings end the scan without reading past the end.
        QCOMPARE(int(detect_reasoning_format("{% if 'enable_thinking", {}).thinking_switch.kind),
                 int(ThinkingSwitchKind::none));
        QCOMPARE(int(detect_reasoning_format("{{ reasoning_effort", {}).thinking_switch.kind),
                 int(ThinkingSwitchKind::effort));
    }

    void switch_variables() {
        const ThinkingSwitch boolean{ThinkingSwitchKind::boolean, "enable_thinking"};
        QCOMPARE(boolean.choices(), (std::vector<std::string>{"on", "off"}));
        QCOMPARE(QString::fromStdString(boolean.variables("off")->dump()),
                 QStringLiteral(R"({"enable_thinking":false})"));
        QCOMPARE(QString::fromStdString(boolean.variables("on")->dump()),
                 QStringLiteral(R"({"enable_thinking":true})"));
        QCOMPARE(QString::fromStdString(boolean.variables("")->dump()), QStringLiteral("{}"));
        auto bad = boolean.variables("high");
        QVERIFY(!bad);
        QVERIFY(bad.error().message.find("enable_thinking takes on, off") != std::string::npos);
        const ThinkingSwitch effort{ThinkingSwitchKind::effort, "reasoning_effort"};
        QCOMPARE(QString::fromStdString(effort.variables("low")->dump()),
                 QStringLiteral(R"({"reasoning_effort":"low"})"));
        QVERIFY(!effort.variables("off"));
        QVERIFY(!ThinkingSwitch{}.variables("on"));
    }

    // ---- the templates, rendered with the switch and earlier reasoning ----

    void qwen3_switch_and_earlier_reasoning() {
        const std::string source = corpus_template("Qwen-Qwen3-0.6B");
        auto parsed = ChatTemplate::parse(source);
        QVERIFY(parsed);
        const ReasoningFormat format = detect_reasoning_format(source, {});
        std::vector<ChatMessage> messages{{"user", "What is 2 + 2?", ""}};
        ChatRenderOptions options;
        options.extra = *format.thinking_switch.variables("off");
        auto off = parsed->render(messages, options);
        QVERIFY(off);
        QVERIFY(off->ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        QVERIFY(!prompt_opens_reasoning(format, *off));
        options.extra = *format.thinking_switch.variables("on");
        auto on = parsed->render(messages, options);
        QVERIFY(on && on->ends_with("<|im_start|>assistant\n"));
        // The last turn's reasoning is kept; a turn before the last question drops it.
        messages.push_back({"assistant", "4.", "Two plus two is four."});
        options.add_generation_prompt = false;
        auto kept = parsed->render(messages, options);
        QVERIFY(kept);
        QVERIFY2(kept->find("<think>\nTwo plus two is four.\n</think>\n\n4.") != std::string::npos,
                 kept->c_str());
        messages.push_back({"user", "And times 3?", ""});
        options.add_generation_prompt = true;
        auto dropped = parsed->render(messages, options);
        QVERIFY(dropped);
        QVERIFY(dropped->find("Two plus two") == std::string::npos);
    }

    void r1_distill_prompt_opens_reasoning() {
        // The distills' own template ends the generation prompt with "<think>\n".
        const std::string source = corpus_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B");
        auto parsed = ChatTemplate::parse(source);
        QVERIFY(parsed);
        const std::vector<ChatMessage> messages{{"user", "Hi", ""}};
        auto text = parsed->render(messages, ChatRenderOptions{});
        QVERIFY(text);
        const ReasoningFormat format = detect_reasoning_format(source, {});
        QVERIFY(prompt_opens_reasoning(format, *text));
        check_every_split(format, true, "The user greets me.\n</think>\n\nHello!",
                          "The user greets me.", "Hello!", true);
    }

    // ---- the splitter: <think> tags ----

    void think_tags_every_split() {
        check_every_split(think_tags(), false, "<think>\nLet me add: 2 + 2 = 4.\n</think>\n\n4.",
                          "Let me add: 2 + 2 = 4.", "4.", true);
        check_every_split(think_tags(), false, "  <think>a</think>b", "a", "b", true);
        check_every_split(think_tags(), false, "<think></think>Only the answer.", "",
                          "Only the answer.", true);
        check_every_split(think_tags(), false, "No reasoning at all.", "", "No reasoning at all.",
                          false);
        // Multi-byte characters and white space inside the reasoning are kept as they are.
        check_every_split(think_tags(), false, "<think>Grüße\n\n世界 🌍</think>→ ok",
                          "Grüße\n\n世界 🌍", "→ ok", true);
    }

    void unclosed_reasoning_is_all_reasoning() {
        // Cut by the token limit or a cancel: what came is reasoning, even a partial close tag.
        check_every_split(think_tags(), false, "<think>\nStill thinking", "Still thinking", "",
                          false);
        check_every_split(think_tags(), false, "<think>almost done</thi", "almost done</thi", "",
                          false);
        check_every_split(think_tags(), true, "opened by the prompt", "opened by the prompt", "",
                          false);
        // A reply that stops inside the open tag is an answer that happens to look like one.
        check_every_split(think_tags(), false, "<thi", "", "<thi", false);
        check_every_split(think_tags(), false, "   ", "", "", false);
        check_every_split(think_tags(), false, "", "", "", false);
    }

    void markers_elsewhere_are_text() {
        // Only a reply that begins with the open tag has reasoning; the first close tag ends it;
        // later markers are the answer's text.
        check_every_split(think_tags(), false, "Use <think> tags.</think>x", "",
                          "Use <think> tags.</think>x", false);
        check_every_split(think_tags(), false, "<think>a<think>b</think>c</think>d", "a<think>b",
                          "c</think>d", true);
        check_every_split(think_tags(), false, "<think><think></think></think>", "<think>",
                          "</think>", true);
        check_every_split(think_tags(), false, "<think>x</think></think><think>y", "x",
                          "</think><think>y", true);
        check_every_split(think_tags(), false, "<<think>x", "", "<<think>x", false);
    }

    void phase_follows_the_stream() {
        ReasoningSplitter splitter(think_tags(), false);
        QCOMPARE(int(splitter.phase()), int(ReasoningSplitter::Phase::undecided));
        QVERIFY(splitter.feed("\n<thi").empty());
        QCOMPARE(int(splitter.phase()), int(ReasoningSplitter::Phase::undecided));
        auto d = splitter.feed("nk>a b </");
        QCOMPARE(QString::fromStdString(d.reasoning), QStringLiteral("a b"));
        QCOMPARE(int(splitter.phase()), int(ReasoningSplitter::Phase::reasoning));
        d = splitter.feed("think>");
        QVERIFY(d.empty());
        QVERIFY(splitter.reasoning_closed());
        QCOMPARE(int(splitter.phase()), int(ReasoningSplitter::Phase::answer));
        d = splitter.feed("\n\nok");
        QCOMPARE(QString::fromStdString(d.answer), QStringLiteral("ok"));
        // No format: everything is answer, untouched.
        ReasoningSplitter none;
        QCOMPARE(QString::fromStdString(none.feed("  <think>x</think>").answer),
                 QStringLiteral("  <think>x</think>"));
    }

    void counts_the_reasoning_tokens_and_time() {
        ReasoningSplitter splitter(think_tags(), false);
        const std::vector<std::string> tokens{"<think>", "\n",       "Two",  " plus", " two", ".",
                                              "\n",      "</think>", "\n\n", "Four",  "."};
        std::string reasoning;
        std::string answer;
        for (size_t i = 0; i < tokens.size(); ++i) {
            const ReasoningDelta d = splitter.feed_token(tokens[i], 100.0 + 10.0 * double(i));
            reasoning += d.reasoning;
            answer += d.answer;
        }
        QCOMPARE(QString::fromStdString(reasoning), QStringLiteral("Two plus two."));
        QCOMPARE(QString::fromStdString(answer), QStringLiteral("Four."));
        // Eight tokens up to and including </think>; "\n\n" is white space before the answer,
        // so it counts as the answer's.
        QCOMPARE(splitter.reasoning_tokens(), 8);
        QCOMPARE(splitter.reasoning_ms(), 70.0);
        // No reasoning: no tokens, no time; a leading white-space token is the answer's.
        ReasoningSplitter plain(think_tags(), false);
        for (const char* token : {" ", "Hi", "!"}) {
            plain.feed_token(token, 5);
        }
        QCOMPARE(plain.reasoning_tokens(), 0);
        QCOMPARE(plain.reasoning_ms(), 0.0);
    }

    void hostile_streams_hold_back_little() {
        // Random bytes rich in marker fragments: chunked output equals whole output, nothing is
        // invented, and the splitter never holds back more than a marker's length.
        std::mt19937 rng(17);
        const std::vector<std::string> parts{"<think>", "</think>",  "<",           "</",
                                             "think",   ">",         "a",           " ",
                                             "\n",      "é",         "<|channel|>", "<|message|>",
                                             "<|end|>", "<|start|>", "analysis",    "final"};
        for (const ReasoningFormat& format : {think_tags(), harmony()}) {
            for (int round = 0; round < 300; ++round) {
                std::string reply;
                const int n = static_cast<int>(rng() % 40);
                for (int i = 0; i < n; ++i) {
                    reply += parts[rng() % parts.size()];
                }
                const bool opened = rng() % 4 == 0;
                const SplitReply whole = split_reasoning(format, opened, reply);
                QVERIFY(whole.reasoning.size() + whole.answer.size() <= reply.size());
                std::vector<size_t> cuts;
                for (size_t at = 0; at < reply.size(); at += 1 + rng() % 5) {
                    cuts.push_back(at);
                }
                const SplitReply chunked = feed_cut(format, opened, reply, cuts);
                QCOMPARE(chunked.reasoning, whole.reasoning);
                QCOMPARE(chunked.answer, whole.answer);
            }
        }
        // An endless would-be harmony header stops being held at kMaxHarmonyHeaderBytes.
        ReasoningSplitter splitter(harmony(), false);
        const std::string header = "<|channel|>" + std::string(kMaxHarmonyHeaderBytes, 'x');
        const ReasoningDelta d = splitter.feed(header);
        QCOMPARE(d.answer, header);
        QCOMPARE(QString::fromStdString(splitter.feed("more").answer), QStringLiteral("more"));
    }

    void harmony_vocabulary_keeps_headers_and_ends_on_return() {
        // As llama.cpp reads o200k_harmony: the headers' tokens and <|end|> are text the
        // splitter reads, and <|return|> / <|call|> end generation instead of <|end|>.
        test::GgufBuilder vocab;
        vocab.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", "gpt-2")
            .strings("tokenizer.ggml.tokens",
                     {"a", "<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>",
                      "<|call|>", "<|constrain|>"})
            .ints("tokenizer.ggml.token_type", {1, 3, 3, 3, 3, 3, 3, 3})
            .strings("tokenizer.ggml.merges", {});
        auto tokenizer = test::from_bytes(vocab.bytes());
        QVERIFY2(tokenizer, tokenizer ? "" : tokenizer.error().message.c_str());
        QVERIFY(!tokenizer->is_end_of_generation(4));
        QVERIFY(tokenizer->is_end_of_generation(5));
        QVERIFY(tokenizer->is_end_of_generation(6));
        const std::vector<int32_t> reply{2, 0, 3, 0, 4, 1};
        QCOMPARE(QString::fromStdString(tokenizer->decode(reply, {.skip_special = true})),
                 QStringLiteral("<|channel|>a<|message|>a<|end|><|start|>"));
        // Without <|return|> and <|call|> (Phi-3's vocabulary), <|end|> still ends a turn.
        test::GgufBuilder phi;
        phi.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", "gpt-2")
            .strings("tokenizer.ggml.tokens", {"a", "<|end|>"})
            .ints("tokenizer.ggml.token_type", {1, 3})
            .strings("tokenizer.ggml.merges", {});
        auto phi_tokenizer = test::from_bytes(phi.bytes());
        QVERIFY(phi_tokenizer && phi_tokenizer->is_end_of_generation(1));
    }

    // ---- the splitter: harmony ----

    void harmony_text_that_is_not_harmony_is_the_answer() {
        check_every_split(harmony(), false, "Plain text, no channels.", "",
                          "Plain text, no channels.", false);
        // Cut inside a header: the header is markup and is dropped.
        check_every_split(harmony(), false, "<|channel|>analysis<|message|>Thinking<|end|><|sta",
                          "Thinking", "", false);
        check_every_split(harmony(), false, "<|channel|>analysis<|message|>cut mid-thought",
                          "cut mid-thought", "", false);
    }

    void harmony_completions_match_openai_harmony() {
        const auto reference = harmony_reference();
        QVERIFY(reference["completions"].size() >= 5);
        for (const auto& sample : reference["completions"]) {
            // openai-harmony's messages: analysis is reasoning (paragraphs, trimmed), every
            // other channel the answer.
            std::string reasoning;
            std::string answer;
            bool closed = false;
            bool any_reasoning = false;
            for (const auto& message : sample["messages"]) {
                const std::string text = message["text"].get<std::string>();
                if (message["channel"] == "analysis") {
                    if (!trimmed(text).empty()) {
                        reasoning += (reasoning.empty() ? "" : "\n\n") + trimmed(text);
                    }
                    any_reasoning = true;
                } else {
                    answer += text;
                    closed = closed || any_reasoning;
                }
            }
            answer.erase(0, answer.find_first_not_of(" \n\r\t") == std::string::npos
                                ? answer.size()
                                : answer.find_first_not_of(" \n\r\t"));
            qInfo() << "completion" << QString::fromStdString(sample["name"].get<std::string>());
            check_every_split(harmony(), false, sample["reply"].get<std::string>(), reasoning,
                              answer, closed);
        }
    }

    void harmony_renders_match_openai_harmony() {
        const auto reference = harmony_reference();
        auto parsed = ChatTemplate::parse(corpus_template("openai-gpt-oss-120b"));
        QVERIFY2(parsed, parsed ? "" : parsed.error().message.c_str());
        int matched = 0;
        for (const auto& sample : reference["renders"]) {
            ChatRenderOptions options;
            options.bos_token = "<|startoftext|>";
            options.eos_token = "<|return|>";
            options.extra = sample["variables"];
            options.render.now_unix = 1736937045; // 2025-01-15, as the generator froze it
            auto text = parsed->render_messages(sample["messages"], options);
            const QString name = QString::fromStdString(sample["name"].get<std::string>());
            QVERIFY2(text, qPrintable(name));
            QCOMPARE(QString::fromStdString(*text),
                     QString::fromStdString(sample["jinja2"].get<std::string>()));
            if (sample["template_matches_harmony"].get<bool>()) {
                QCOMPARE(QString::fromStdString(*text),
                         QString::fromStdString(sample["expected"].get<std::string>()));
                ++matched;
            }
        }
        // All but the developer message, where the template adds "\n\n" that openai-harmony
        // does not (tests/data/reasoning/README.md).
        QCOMPARE(matched, int(reference["renders"].size()) - 1);
    }
};

QTEST_APPLESS_MAIN(TestReasoning)
#include "tst_reasoning.moc"
