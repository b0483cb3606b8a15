// From a conversation to prompt tokens: the template chosen for a model, rendered, then
// tokenized with special tokens parsed and BOS never doubled.
#include "hearth/model.h"
#include "hearth/prompt.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>

using namespace hearth;

class TestPrompt : public QObject {
    Q_OBJECT

private slots:
    void bos_is_never_doubled() {
        // Gemma 3 adds BOS, and its template writes "<bos>" itself.
        auto tokenizer =
            Tokenizer::from_gguf_file(test::data_dir() / "tokenizer" / "gemma3-vocab.gguf");
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
        QCOMPARE(
            QString::fromStdString(*text),
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
        const bool warned = std::any_of(
            llama3->warnings.begin(), llama3->warnings.end(), [](const TemplateWarning& w) {
                return w.kind == TemplateWarningKind::missing_special_tokens;
            });
        QVERIFY(warned);
        auto missing = resolve_prompt_format(**model, "no-such-template");
        QVERIFY(!missing);
    }

    // Issue 16, item 11: a template name read from a saved conversation ("template":
    // "/etc/passwd") put that file into the prompt. Names only: a path is refused, and the
    // file's text never reaches the message or the prompt.
    void names_never_read_files() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY(model);
        QTemporaryDir dir;
        const QString file = dir.filePath("secret.jinja");
        QFile out(file);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write("SECRET {{ messages[0].content }}");
        out.close();
        for (const QString& name : {file, QStringLiteral("/etc/passwd"), QStringLiteral("../x"),
                                    QStringLiteral("chatml.jinja")}) {
            QVERIFY(!is_template_name(name.toStdString()));
            auto format = resolve_prompt_format(**model, name.toStdString());
            QVERIFY2(!format, qPrintable(name));
            const QString message = QString::fromStdString(format.error().message);
            QVERIFY2(message.contains("not a chat template name"), qPrintable(message));
            QVERIFY2(message.contains("chatml"), qPrintable(message)); // the names it takes
            QVERIFY(!message.contains("SECRET") && !message.contains("root:"));
        }
        for (const char* name : {"", "model", "raw", "chatml", "llama3"}) {
            QVERIFY2(is_template_name(name), name);
            QVERIFY2(resolve_prompt_format(**model, name), name);
        }

        // Text given by the caller (hearth-cli's --template FILE reads it): labelled, parsed,
        // without a built-in's stop strings even when the label is a built-in's name.
        auto custom =
            resolve_prompt_format_source(**model, "chatml", "[{{ messages[0].content }}]");
        QVERIFY2(custom, custom ? "" : custom.error().message.c_str());
        QCOMPARE(QString::fromStdString(custom->choice.name), QStringLiteral("chatml"));
        QVERIFY(custom->stop_strings.empty());
        const std::vector<ChatMessage> messages{{"user", "Hi"}};
        QCOMPARE(QString::fromStdString(*render_prompt(*custom, messages, true)),
                 QStringLiteral("[Hi]"));
        auto broken = resolve_prompt_format_source(**model, "mine.jinja", "{% if %}");
        QVERIFY(!broken);
        QVERIFY2(broken.error().message.find("mine.jinja") != std::string::npos,
                 broken.error().message.c_str());
    }
};

QTEST_APPLESS_MAIN(TestPrompt)
#include "tst_prompt.moc"
