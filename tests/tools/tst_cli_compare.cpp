// hearth-cli compare on the default model: columns generated together and printed one after
// the other; identical settings give identical columns ("same seed"); --show-prompts prints
// each rendered prompt and its diff against the first; bad column specs are clear errors.
#include "test_support.h"

#include <QRegularExpression>
#include <QtTest>

using namespace hearth;
using hearth::test::default_model_arg;
using hearth::test::expect_cli_error;
using hearth::test::run_cli;

namespace {

// The text between "--- output ---" and the stats line of each column.
QStringList outputs(const QString& out) {
    QStringList found;
    static const QRegularExpression re("--- output ---\\n(.*?)\\n--- prompt ",
                                       QRegularExpression::DotMatchesEverythingOption);
    for (auto it = re.globalMatch(out); it.hasNext();) {
        found << it.next().captured(1);
    }
    return found;
}

// `hearth-cli compare` on the default model with `args` must fail with `needle`: with exit
// status 2 when the command line itself is wrong, 1 when it fails while running.
void expect_error(const QStringList& args, const char* needle) {
    expect_cli_error(QStringList{"compare", default_model_arg(), "-p", "Hi", "-n", "2"} + args,
                     needle);
}
void expect_usage_error(const QStringList& args, const char* needle) {
    hearth::test::expect_cli_usage_error(
        QStringList{"compare", default_model_arg(), "-p", "Hi", "-n", "2"} + args, needle);
}

} // namespace

class TestCliCompare : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { HEARTH_REQUIRE_DEFAULT_MODEL(path); }

    // Same template, same seed, sampled: the two columns agree; a third with another seed
    // runs alongside. All three share the prompt, so its prefix is computed once.
    void same_seed_columns_agree() {
        auto result = run_cli({"compare", default_model_arg(), "-p", "Tell me a story.", "-n", "12",
                               "--temp", "0.9", "--seed", "11", "--column", "template=model",
                               "--column", "template=model", "--column", "template=model,seed=5"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const QString out = QString::fromUtf8(result.out);
        const QStringList texts = outputs(out);
        QCOMPARE(texts.size(), 3);
        QVERIFY(!texts[0].isEmpty());
        QCOMPARE(texts[1], texts[0]);
        QVERIFY(out.contains("=== column 3: template=model,seed=5 ==="));
        QVERIFY(out.contains("seed 11"));
        QVERIFY(out.contains("seed 5"));
        static const QRegularExpression shared("shared prompt prefix (\\d+) tokens computed once");
        const auto match = shared.match(out);
        QVERIFY2(match.hasMatch(), qPrintable(out));
        QVERIFY(match.captured(1).toInt() > 10);
        QVERIFY(out.contains("tokens/s in all"));
    }

    // Two templates with --show-prompts: both prompts printed, the second with its diff.
    void templates_with_prompts_and_diff() {
        auto result =
            run_cli({"compare", default_model_arg(), "-p", "What is 2+2?", "-n", "6", "--temp", "0",
                     "--template", "model", "--template", "chatml", "--show-prompts"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const QString out = QString::fromUtf8(result.out);
        QCOMPARE(outputs(out).size(), 2);
        QCOMPARE(out.count("--- rendered prompt ("), 2);
        QVERIFY(out.contains("--- against column 1: "));
        // The model's template adds a system message that ChatML does not: a removal.
        QVERIFY2(out.contains("[-system\nYou are a helpful AI assistant"), qPrintable(out));
        // Special tokens whole, inside the change they belong to.
        QVERIFY2(out.contains("Hugging Face<|im_end|>\n<|im_start|>-]user\n"), qPrintable(out));
        QVERIFY(out.contains("stopped: "));
        QVERIFY(out.contains("first token after"));
    }

    void bad_columns() {
        expect_usage_error({"--template", "model"}, "compare needs 2 to 8 columns");
        expect_usage_error({"--template", "model", "--column", "temp"}, "is not key=value");
        expect_usage_error({"--template", "model", "--column", "colour=blue"},
                           "unknown column option 'colour'");
        expect_usage_error({"--template", "model", "--column", "temp=warm"}, "temp needs a number");
        expect_usage_error({"--template", "model", "--column", "seed=-1"},
                           "seed needs a whole number");
        expect_usage_error({"--template", "model", "--column", "top_p=0"}, "top_p");
        expect_error({"--template", "model", "--template", "no-such-template"}, "column 2:");
        expect_usage_error(
            {"--template", "model", "--column", "template=chatml", "--kv-type", "q4"},
            "--kv-type must be f16 or q8_0");
    }
};

QTEST_GUILESS_MAIN(TestCliCompare)
#include "tst_cli_compare.moc"
