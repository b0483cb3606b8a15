// From a conversation to prompt tokens: the template chosen for a model, rendered, then
// tokenized with special tokens parsed and BOS never doubled.
#include <QtTest>

#include <algorithm>

#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

using namespace hearth;

class TestPrompt : public QObject {
    Q_OBJECT

private slots:
    void bos_is_never_doubled() {
        // Gemma 3 adds BOS, and its template writes "<bos>" itself.
        auto tokenizer = Tokenizer::from_gguf_file(test::data_dir() / "tokenizer" / "gemma3-vocab.gguf");
        QVERIFY2(tokenizer, tokenizer ? "" : tokenizer.error().message.c_str());
        QVERIFY(tokenizer->add_bos());
        const int32_t bos = *tokenizer->bos_id();
        auto written = tokenize_prompt(*tokenizer, "<bos><start_of_turn>user\nHi<end_of_turn>\n");
        QVERIFY(written);
        QCOMPARE(std::count(written->begin(), written->end(), bos), 1);
        QCOMPARE(written->front(), bos);
        // The template's special tokens are single tokens, not text.
        QCOMPARE((*written)[1], *tokenizer->find_token("<start_of_turn>"));
        auto added = tokenize_prompt(*tokenizer, "<start_of_turn>user\nHi<end_of_turn>\n");
        QVERIFY(added);
        QCOMPARE(added->front(), bos);
        QCOMPARE(std::count(added->begin(), added->end(), bos), 1);
    }

    void default_model_renders_its_own_template() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY(model);
        auto format = resolve_prompt_format(**model, "");
        QVERIFY2(format, format ? "" : format.error().message.c_str());
        QCOMPARE(format->choice.origin, TemplateOrigin::embedded);
        QVERIFY(format->warnings.empty());
        const std::vector<ChatMessage> messages{{"user", "Hi"}};
        auto text = render_prompt(*format, messages, true);
        QVERIFY(text);
        QCOMPARE(QString::fromStdString(*text),
                 QStringLiteral("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                                "trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                                "<|im_start|>assistant\n"));
        auto tokens = tokenize_prompt((*model)->tokenizer(), *text);
        QVERIFY(tokens);
        const int32_t im_start = *(*model)->tokenizer().find_token("<|im_start|>");
        QCOMPARE(tokens->front(), im_start);
        QCOMPARE(std::count(tokens->begin(), tokens->end(), im_start), 3);
    }

    void raw_and_builtin_formats() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY(model);
        auto raw = resolve_prompt_format(**model, "raw");
        QVERIFY(raw);
        const std::vector<ChatMessage> messages{{"user", "Once upon a time"}};
        QCOMPARE(QString::fromStdString(*render_prompt(*raw, messages, true)),
                 QStringLiteral("Once upon a time"));
        // A chat model used raw is warned about.
        QVERIFY(!raw->warnings.empty());
        auto llama3 = resolve_prompt_format(**model, "llama3");
        QVERIFY(llama3);
        QVERIFY(!llama3->stop_strings.empty());
        // SmolLM2's vocabulary has no <|start_header_id|>: the panel must say so.
        const bool warned = std::any_of(llama3->warnings.begin(), llama3->warnings.end(),
                                        [](const TemplateWarning& w) {
                                            return w.kind == TemplateWarningKind::missing_special_tokens;
                                        });
        QVERIFY(warned);
        auto missing = resolve_prompt_format(**model, "no-such-template");
        QVERIFY(!missing);
    }
};

QTEST_APPLESS_MAIN(TestPrompt)
#include "tst_prompt.moc"
