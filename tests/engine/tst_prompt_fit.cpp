// The one context-overflow policy (hearth::fit_prompt): a conversation fitted to a context by
// leaving out its oldest exchanges, never the system prompt or the last message; the
// context_full error with its arithmetic; hostile sizes.
#include "hearth/prompt.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

#include <QtTest>
#include <limits>

using namespace hearth;

namespace {

// A ChatML template that writes every reply's reasoning, earlier turns' included.
constexpr const char* kKeepsReasoning =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}"
    "{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

PromptFormat format_of(const std::string& source) {
    PromptFormat format;
    format.choice = {TemplateOrigin::builtin, "test", source, "test"};
    auto parsed = ChatTemplate::parse(source);
    if (parsed) {
        format.chat_template = std::move(*parsed);
    }
    format.reasoning = detect_reasoning_format(source, {});
    return format;
}

// A system prompt, five answered questions (each reply with long reasoning) and a last one.
std::vector<ChatMessage> conversation() {
    std::vector<ChatMessage> messages{{"system", "You are terse.", ""}};
    for (int i = 1; i <= 5; ++i) {
        messages.push_back({"user", "Question number " + std::to_string(i) + "?", ""});
        messages.push_back({"assistant", "Answer " + std::to_string(i) + ".",
                            "Let me think about question " + std::to_string(i) +
                                " at some length, weighing every side of it carefully."});
    }
    messages.push_back({"user", "The last question?", ""});
    return messages;
}

// The conversation without its first `k` exchanges, as the policy should send it.
std::vector<ChatMessage> without(const std::vector<ChatMessage>& messages, size_t k) {
    std::vector<ChatMessage> kept{messages.front()};
    kept.insert(kept.end(), messages.begin() + 1 + std::ptrdiff_t(2 * k), messages.end());
    return kept;
}

} // namespace

class TestPromptFit : public QObject {
    Q_OBJECT

    std::optional<Tokenizer> tokenizer_;
    PromptFormat keeps_ = format_of(kKeepsReasoning);

    size_t length(const PromptFormat& format, const std::vector<ChatMessage>& messages) {
        auto text = render_prompt(format, messages, true);
        auto tokens = tokenize_prompt(*tokenizer_, *text);
        return tokens->size();
    }

private slots:
    void initTestCase() {
        auto tokenizer =
            Tokenizer::from_gguf_file(test::data_dir() / "tokenizer" / "ggml-vocab-gpt-2.gguf");
        QVERIFY2(tokenizer, tokenizer ? "" : tokenizer.error().message.c_str());
        tokenizer_.emplace(std::move(*tokenizer));
        QVERIFY(keeps_.chat_template);
    }

    void fits_without_dropping() {
        const auto messages = conversation();
        const size_t full = length(keeps_, messages);
        auto fitted = fit_prompt(keeps_, *tokenizer_, messages, full + 100, 100);
        QVERIFY2(fitted, fitted ? "" : fitted.error().message.c_str());
        QCOMPARE(fitted->dropped_turns, size_t{0});
        QCOMPARE(fitted->dropped_messages, size_t{0});
        QCOMPARE(fitted->text, *render_prompt(keeps_, messages, true));
        QCOMPARE(fitted->tokens, *tokenize_prompt(*tokenizer_, fitted->text));
    }

    void drops_the_fewest_oldest_exchanges() {
        const auto messages = conversation();
        const size_t reserve = 16;
        for (size_t k = 1; k <= 5; ++k) {
            // Exactly room for the prompt without k exchanges and the reserve.
            const size_t n_ctx = length(keeps_, without(messages, k)) + reserve;
            auto fitted = fit_prompt(keeps_, *tokenizer_, messages, n_ctx, reserve);
            QVERIFY2(fitted, fitted ? "" : fitted.error().message.c_str());
            QCOMPARE(fitted->dropped_turns, k);
            QCOMPARE(fitted->dropped_messages, 2 * k);
            QCOMPARE(fitted->text, *render_prompt(keeps_, without(messages, k), true));
            QVERIFY(fitted->tokens.size() + reserve <= n_ctx);
            // The system prompt and the last question always stay.
            QVERIFY(fitted->text.starts_with("<|im_start|>system\nYou are terse."));
            QVERIFY(fitted->text.find("The last question?") != std::string::npos);
            QVERIFY(fitted->text.find("Question number " + std::to_string(k) + "?") ==
                    std::string::npos);
            // One token fewer of context: one more exchange out.
            if (k < 5) {
                auto tighter = fit_prompt(keeps_, *tokenizer_, messages, n_ctx - 1, reserve);
                QVERIFY(tighter);
                QCOMPARE(tighter->dropped_turns, k + 1);
            }
        }
    }

    void without_system_prompt_the_first_exchange_goes() {
        auto messages = conversation();
        messages.erase(messages.begin());
        std::vector<ChatMessage> last_two(messages.end() - 3, messages.end());
        const size_t n_ctx = length(keeps_, last_two) + 1;
        auto fitted = fit_prompt(keeps_, *tokenizer_, messages, n_ctx, 1);
        QVERIFY(fitted);
        QCOMPARE(fitted->dropped_turns, size_t{4});
        QCOMPARE(fitted->dropped_messages, size_t{8});
        QVERIFY(fitted->text.starts_with("<|im_start|>user\nQuestion number 5?"));
    }

    void exchanges_are_whole_whatever_their_shape() {
        // A greeting before the first question is an exchange of its own; two questions in a
        // row are two exchanges; a tool reply belongs to the exchange it follows.
        const std::vector<ChatMessage> messages{{"system", "S", ""},
                                                {"assistant", "Hello, how can I help?", ""},
                                                {"user", "First?", ""},
                                                {"user", "Second?", ""},
                                                {"assistant", "Calling a tool.", ""},
                                                {"tool", "42", ""},
                                                {"assistant", "It is 42.", ""},
                                                {"user", "Last?", ""}};
        const std::vector<std::pair<size_t, size_t>> expected{{1, 1}, {2, 2}, {3, 6}};
        for (const auto& [turns, from] : expected) {
            std::vector<ChatMessage> kept{messages.front()};
            kept.insert(kept.end(), messages.begin() + std::ptrdiff_t(from + 1), messages.end());
            auto fitted = fit_prompt(keeps_, *tokenizer_, messages, length(keeps_, kept) + 1, 1);
            QVERIFY(fitted);
            QCOMPARE(fitted->dropped_turns, turns);
            QCOMPARE(fitted->dropped_messages, from);
        }
    }

    void earlier_reasoning_counts_as_the_template_renders_it() {
        // Qwen3's template drops the reasoning of replies before the last question, so the
        // whole conversation fits where a template that keeps it must leave exchanges out.
        const PromptFormat qwen3 = format_of(
            test::read_text(test::data_dir() / "templates" / "corpus" / "Qwen-Qwen3-0.6B.jinja"));
        QVERIFY(qwen3.chat_template);
        const auto messages = conversation();
        const size_t qwen3_length = length(qwen3, messages);
        QVERIFY(length(keeps_, messages) > qwen3_length + 50);
        const size_t n_ctx = qwen3_length + 1;
        auto in_qwen3 = fit_prompt(qwen3, *tokenizer_, messages, n_ctx, 1);
        QVERIFY(in_qwen3);
        QCOMPARE(in_qwen3->dropped_turns, size_t{0});
        QVERIFY(in_qwen3->text.find("Let me think") == std::string::npos);
        auto in_keeps = fit_prompt(keeps_, *tokenizer_, messages, n_ctx, 1);
        QVERIFY(in_keeps);
        QVERIFY(in_keeps->dropped_turns > 0);
        QVERIFY(in_keeps->text.find("Let me think") != std::string::npos);
    }

    void context_full_when_the_last_message_does_not_fit() {
        const auto messages = conversation();
        const size_t last = length(keeps_, without(messages, 5));
        // Room for the last message but not the reserve: the reply gets what is left.
        auto squeezed = fit_prompt(keeps_, *tokenizer_, messages, last + 1, 500);
        QVERIFY(squeezed);
        QCOMPARE(squeezed->dropped_turns, size_t{5});
        QCOMPARE(squeezed->tokens.size(), last);
        // No room for even one token of reply.
        auto full = fit_prompt(keeps_, *tokenizer_, messages, last, 1);
        QVERIFY(!full);
        QCOMPARE(full.error().code, ErrorCode::context_full);
        const QString message = QString::fromStdString(full.error().message);
        QVERIFY2(message.contains(QStringLiteral("the prompt has %1 tokens").arg(last)),
                 qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("the context holds %1").arg(last)),
                 qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("leaving out the 10 earlier messages")),
                 qPrintable(message));
        // A single message too long for the context: nothing to leave out.
        const std::vector<ChatMessage> alone{{"user", std::string(4000, 'x') + " y z", ""}};
        auto too_long = fit_prompt(keeps_, *tokenizer_, alone, 64, 1);
        QVERIFY(!too_long);
        QCOMPARE(too_long.error().code, ErrorCode::context_full);
        QVERIFY(!QString::fromStdString(too_long.error().message).contains("leaving out"));
    }

    void hostile_sizes() {
        const auto messages = conversation();
        auto zero = fit_prompt(keeps_, *tokenizer_, messages, 0, 1);
        QVERIFY(!zero);
        QCOMPARE(zero.error().code, ErrorCode::invalid_argument);
        auto one = fit_prompt(keeps_, *tokenizer_, messages, 1, 1);
        QVERIFY(!one);
        QCOMPARE(one.error().code, ErrorCode::context_full);
        // A reserve past the context (and one that would overflow a sum): every exchange but
        // the last is left out, and the last still runs.
        const size_t n_ctx = length(keeps_, messages);
        for (size_t reserve : {n_ctx + 1, std::numeric_limits<size_t>::max()}) {
            auto fitted = fit_prompt(keeps_, *tokenizer_, messages, n_ctx, reserve);
            QVERIFY(fitted);
            QCOMPARE(fitted->dropped_turns, size_t{5});
        }
        auto none = fit_prompt(keeps_, *tokenizer_, {}, 100, 1);
        QVERIFY(!none);
        QCOMPARE(none.error().code, ErrorCode::invalid_argument);
        // The largest context: a plain fit, nothing computed from it.
        auto huge = fit_prompt(keeps_, *tokenizer_, messages, std::numeric_limits<size_t>::max(),
                               std::numeric_limits<size_t>::max() / 2);
        QVERIFY(huge);
        QCOMPARE(huge->dropped_turns, size_t{0});
    }

    void reply_reserve_is_bounded_by_the_context() {
        QCOMPARE(reply_reserve(512, 4096), size_t{512});
        QCOMPARE(reply_reserve(512, 1024), size_t{256});
        QCOMPARE(reply_reserve(0, 4096), size_t{1});
        QCOMPARE(reply_reserve(-5, 4096), size_t{1});
        QCOMPARE(reply_reserve(512, 2), size_t{1});
        QCOMPARE(reply_reserve(512, 0), size_t{1});
    }
};

QTEST_GUILESS_MAIN(TestPromptFit)
#include "tst_prompt_fit.moc"
