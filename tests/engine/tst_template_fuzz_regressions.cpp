// Replays every input the chat-template and messages fuzzers (tests/fuzz/) found or that
// reproduced what they found, from tests/data/templates/fuzz-regressions/ and
// messages-fuzz-regressions/, through each fuzz target's own entry function, and checks the
// exact outcome recorded next to it (FILE.expected: each step's error message, or the
// rendered text's length and hash). Built with the normal compiler, so the fixes are checked
// without clang or sanitizers; a crash here fails the test run.
#include "hearth/chat_template.h"
#include "messages_fuzz_input.h"
#include "template_fuzz_input.h"
#include "test_support.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <filesystem>
#include <vector>

namespace {

std::filesystem::path regressions_dir() {
    return hearth::test::data_dir() / "templates" / "fuzz-regressions";
}

std::filesystem::path messages_regressions_dir() {
    return hearth::test::data_dir() / "templates" / "messages-fuzz-regressions";
}

std::vector<std::filesystem::path> inputs(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".input") {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

class TestTemplateFuzzRegressions : public QObject {
    Q_OBJECT

private slots:
    void directory_has_the_known_inputs() {
        // Guards against a moved or emptied directory turning the test below into a no-op.
        QVERIFY2(inputs(regressions_dir()).size() >= 10,
                 qPrintable(QString::fromStdString(regressions_dir())));
    }

    void replays_data() {
        QTest::addColumn<QString>("input");
        QTest::addColumn<bool>("messages");
        for (const auto& path : inputs(regressions_dir())) {
            QTest::newRow(path.filename().string().c_str())
                << QString::fromStdString(path) << false;
        }
        for (const auto& path : inputs(messages_regressions_dir())) {
            QTest::newRow(("messages/" + path.filename().string()).c_str())
                << QString::fromStdString(path) << true;
        }
    }

    void replays() {
        QFETCH(QString, input);
        QFETCH(bool, messages);
        const std::filesystem::path path = input.toStdString();
        std::filesystem::path expected_path = path;
        expected_path += ".expected";
        QVERIFY2(std::filesystem::exists(expected_path),
                 qPrintable("no recorded outcome: " + QString::fromStdString(expected_path)));
        const std::string data = hearth::test::read_text(path);
        const std::string outcome = messages ? hearth::fuzz::run_messages_input(data)
                                             : hearth::fuzz::run_template_input(data);
        QCOMPARE(QString::fromStdString(outcome),
                 QString::fromStdString(hearth::test::read_text(expected_path)));
    }

    void nested_list_is_destroyed_without_recursion() {
        // The fuzz limits stop this loop early; the app's allow a list nested 200,000 deep,
        // whose recursive destruction overflowed the stack (see the deeply-nested-list input).
        auto parsed = hearth::ChatTemplate::parse(
            "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
            "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | length }}");
        QVERIFY(parsed.has_value());
        auto out = parsed->render(nlohmann::ordered_json::object());
        QVERIFY2(out.has_value(), out ? "" : out.error().message.c_str());
        QCOMPARE(*out, std::string("1"));
    }

    void outcome_depends_on_the_input() {
        // The recorded outcomes are worth checking only if they tell inputs apart.
        std::string parsed_ok = hearth::fuzz::run_template_input("{{ 1 + 1 }}");
        std::string failed = hearth::fuzz::run_template_input("{{ 1 + }}");
        static constexpr char kWithVars[] = "{{ x }}\0{\"x\": 7}";
        std::string with_vars =
            hearth::fuzz::run_template_input(std::string_view(kWithVars, sizeof kWithVars - 1));
        QVERIFY(parsed_ok.find("parse: ok") != std::string::npos);
        QVERIFY(failed.find("parse: error (bad format): template syntax error at line 1") !=
                std::string::npos);
        QVERIFY(with_vars.find("render context: ok, 1 bytes") != std::string::npos);
        QVERIFY(parsed_ok != with_vars);
    }

    void messages_outcome_depends_on_the_input() {
        const std::string one =
            hearth::fuzz::run_messages_input(R"([{"role": "user", "content": "hi"}])");
        const std::string two =
            hearth::fuzz::run_messages_input(R"([{"role": "user", "content": "hello"}])");
        const std::string invalid = hearth::fuzz::run_messages_input("[{");
        // Every template was found and parsed, and renders the conversation.
        QVERIFY2(one.find("chatml with prompt: ok, ") != std::string::npos, one.c_str());
        QVERIFY2(one.find("Qwen3-Coder with prompt: ok, ") != std::string::npos, one.c_str());
        QVERIFY2(one.find("Llama-3.2 with prompt: ok, ") != std::string::npos, one.c_str());
        QVERIFY(one != two);
        QVERIFY2(invalid.find("messages: error (bad format): the messages file is not valid "
                              "JSON") == 0,
                 invalid.c_str());
    }
};

QTEST_APPLESS_MAIN(TestTemplateFuzzRegressions)
#include "tst_template_fuzz_regressions.moc"
