// hearth-cli run and chat with a reasoning template, end to end on the default model: the
// reasoning printed between <think> lines when stdout is not a terminal, run --json carrying
// reasoning and answer apart with their token counts, --think setting the template's switch,
// earlier turns' reasoning passed back to the template, and compare's --think and --json.
#include "test_support.h"

#include <QtTest>
#include <nlohmann/json.hpp>

using hearth::test::default_model_arg;
using hearth::test::expect_cli_usage_error;
using hearth::test::run_cli;

namespace {

// ChatML with Qwen3's enable_thinking and DeepSeek-R1's generation prompt ("<think>\n").
QString think_template() {
    return QString::fromStdString(
        (hearth::test::data_dir() / "reasoning" / "think-switch.jinja").string());
}

QStringList run_args(const QStringList& more) {
    return QStringList{
               "run",        default_model_arg(), "-p", "Say hello.", "-n", "10", "--temp", "0",
               "--template", think_template()} +
           more;
}

std::string trimmed(std::string text) {
    text.erase(0, text.find_first_not_of(" \n"));
    text.erase(text.find_last_not_of(" \n") + 1);
    return text;
}

} // namespace

class TestCliReasoning : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { HEARTH_REQUIRE_DEFAULT_MODEL(path); }

    void run_prints_the_reasoning_between_markers() {
        // The prompt opens the reasoning and SmolLM2 never closes it: the reply, cut by -n, is
        // all reasoning, printed as such.
        auto result = run_cli(run_args({}));
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(result.out.startsWith("<think>\n"), result.out.constData());
        QVERIFY2(result.out.trimmed().endsWith("\n</think>"), result.out.constData());
        QVERIFY2(result.err.contains("thinking: 10 tokens in"), result.err.constData());
        QVERIFY(result.err.contains("answer: 0 tokens"));
    }

    void run_json_carries_reasoning_and_answer_apart() {
        auto result = run_cli(run_args({"--json"}));
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const auto reply = nlohmann::json::parse(result.out.toStdString());
        const std::string text = reply["text"];
        QVERIFY(!trimmed(text).empty());
        QCOMPARE(reply["reasoning"].get<std::string>(), trimmed(text));
        QCOMPARE(reply["answer"].get<std::string>(), std::string());
        QCOMPARE(reply["reasoning_closed"].get<bool>(), false);
        QCOMPARE(reply["generated_tokens"].get<int>(), 10);
        QCOMPARE(reply["reasoning_tokens"].get<int>(), 10);
        QCOMPARE(reply["answer_tokens"].get<int>(), 0);
        QVERIFY(reply["reasoning_tokens_per_second"].get<double>() > 0);
        // Without a reasoning template the whole reply is the answer.
        auto plain = run_cli(
            {"run", default_model_arg(), "-p", "Say hello.", "-n", "6", "--temp", "0", "--json"});
        QVERIFY2(plain.exit_code == 0, plain.err.constData());
        const auto answer = nlohmann::json::parse(plain.out.toStdString());
        QCOMPARE(answer["reasoning"].get<std::string>(), std::string());
        QCOMPARE(answer["answer"].get<std::string>(),
                 answer["text"].get<std::string>().substr(
                     answer["text"].get<std::string>().find_first_not_of(" \n")));
        QCOMPARE(answer["reasoning_tokens"].get<int>(), 0);
    }

    void think_off_sets_the_template_switch() {
        auto result = run_cli(run_args({"--think", "off", "--json", "--show-prompt"}));
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(result.err.contains("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
                 result.err.constData());
        const auto reply = nlohmann::json::parse(result.out.toStdString());
        QCOMPARE(reply["reasoning"].get<std::string>(), std::string());
        QCOMPARE(reply["reasoning_tokens"].get<int>(), 0);
        QVERIFY(!reply["answer"].get<std::string>().empty());
        auto on = run_cli(run_args({"--think", "on", "--show-prompt"}));
        QVERIFY2(on.exit_code == 0, on.err.constData());
        QVERIFY(on.err.contains("<|im_start|>assistant\n<think>\n"));
        QVERIFY(!on.err.contains("</think>"));
    }

    void think_needs_a_template_switch() {
        // SmolLM2's own template has no switch; this one takes on or off; --raw has no template.
        expect_cli_usage_error({"run", default_model_arg(), "-p", "Hi", "--think", "off"},
                               "this chat template has no thinking switch");
        expect_cli_usage_error(run_args({"--think", "high"}), "enable_thinking takes on, off");
        expect_cli_usage_error({"run", default_model_arg(), "-p", "Hi", "--raw", "--think", "on"},
                               "not with --raw");
        expect_cli_usage_error({"chat", default_model_arg(), "--think", "maybe"},
                               "no thinking switch");
    }

    void chat_prints_each_turns_reasoning() {
        auto result = run_cli(
            {"chat", default_model_arg(), "-n", "6", "--temp", "0", "--template", think_template()},
            "Hi\nAnd again\n");
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QCOMPARE(result.out.count("<think>\n"), 2);
        QCOMPARE(result.out.count("\n</think>"), 2);
        QCOMPARE(result.err.count("thinking: 6 tokens"), 2);
    }

    // compare --think and think=: thinking on beside thinking off on the same template, the
    // reasoning printed apart from the answer and kept apart in --json; a column whose template
    // has no switch keeps its default under the shared --think.
    void compare_sets_each_columns_thinking() {
        const QString on = "template=" + think_template() + ",think=on";
        const QString off = "template=" + think_template() + ",think=off";
        const QStringList args{
            "compare", default_model_arg(), "-p", "Say hello.", "-n", "6", "--temp",
            "0",       "--column",          on,   "--column",   off};
        auto text = run_cli(args);
        QVERIFY2(text.exit_code == 0, text.err.constData());
        const QString out = QString::fromUtf8(text.out);
        QCOMPARE(out.count("--- thinking: 6 tokens"), 1);
        QVERIFY2(out.contains("(thinking on)") && out.contains("(thinking off)"), qPrintable(out));
        // Column 1 thought all 6 tokens: its answer is empty.
        QVERIFY2(out.contains(", not closed ---\n") && out.contains("--- output ---\n\n--- prompt"),
                 qPrintable(out));

        auto json = run_cli(args + QStringList{"--json"});
        QVERIFY2(json.exit_code == 0, json.err.constData());
        const auto doc = nlohmann::json::parse(json.out.toStdString());
        const auto& columns = doc.at("columns");
        QCOMPARE(columns.size(), size_t{2});
        QCOMPARE(columns[0].at("think").get<std::string>(), std::string("on"));
        QVERIFY(!columns[0].at("reasoning").get<std::string>().empty());
        QCOMPARE(columns[0].at("answer").get<std::string>(), std::string());
        QCOMPARE(columns[0].at("reasoning_tokens").get<int>(), 6);
        QCOMPARE(columns[1].at("reasoning").get<std::string>(), std::string());
        QVERIFY(!columns[1].at("answer").get<std::string>().empty());
        QCOMPARE(columns[1].at("reasoning_tokens").get<int>(), 0);
        // The reply as printed is the reply as generated: reasoning marked, answer apart.
        QCOMPARE(trimmed(columns[1].at("text").get<std::string>()),
                 trimmed(columns[1].at("answer").get<std::string>()));
        QCOMPARE(doc.at("together").at("generated_tokens").get<int>(), 12);

        // The shared --think on a template with a switch and one without.
        auto shared = run_cli({"compare", default_model_arg(), "-p", "Say hello.", "-n", "4",
                               "--temp", "0", "--think", "off", "--json", "--template",
                               think_template(), "--template", "model"});
        QVERIFY2(shared.exit_code == 0, shared.err.constData());
        const auto both = nlohmann::json::parse(shared.out.toStdString()).at("columns");
        QCOMPARE(both[0].at("think").get<std::string>(), std::string("off"));
        QVERIFY(both[1].at("think").is_null());

        expect_cli_usage_error({"compare", default_model_arg(), "-p", "Hi", "-n", "2", "--think",
                                "on", "--template", "chatml", "--template", "model"},
                               "no column's template has a thinking switch");
        expect_cli_usage_error({"compare", default_model_arg(), "-p", "Hi", "-n", "2", "--template",
                                think_template(), "--column", "template=model,think=on"},
                               "column 2: thinking 'on'");
        expect_cli_usage_error({"compare", default_model_arg(), "-p", "Hi", "-n", "2", "--column",
                                "template=" + think_template() + ",think=maybe", "--template",
                                "model"},
                               "column 2: thinking 'maybe'");
    }
};

QTEST_GUILESS_MAIN(TestCliReasoning)
#include "tst_cli_reasoning.moc"
