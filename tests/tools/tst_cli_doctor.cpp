// hearth-cli doctor run as a user would: the default model's checklist (green, as text and
// JSON), a memory budget it does not fit (red, exit 0, the fixes computed), a mismatched
// template's format check, usage errors, and a file that is not a model.
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

using hearth::test::run_cli;

namespace {

nlohmann::json doctor_json(const QStringList& extra) {
    const auto result =
        run_cli(QStringList{"doctor", hearth::test::default_model_arg(), "--json"} + extra);
    if (result.exit_code != 0) {
        qWarning("%s", result.err.constData());
        return {};
    }
    return nlohmann::json::parse(result.out.toStdString(), nullptr, false);
}

const nlohmann::json& item(const nlohmann::json& out, const std::string& id) {
    for (const auto& each : out["checklist"]["items"]) {
        if (each["id"] == id) {
            return each;
        }
    }
    static const nlohmann::json none;
    return none;
}

} // namespace

class TestCliDoctor : public QObject {
    Q_OBJECT

private slots:
    void defaultModelIsGreen() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto text =
            run_cli({"doctor", hearth::test::default_model_arg(), "--memory-budget", "16GiB"});
        QCOMPARE(text.exit_code, 0);
        QVERIFY(text.out.contains("[ ok ] Memory"));
        QVERIFY(text.out.contains("chat-tuned model, model template"));
        QVERIFY(text.out.contains("overall: green"));
        const auto out = doctor_json({"--memory-budget", "16GiB"});
        QCOMPARE(out["checklist"]["overall"], "green");
        QCOMPARE(out["n_ctx"], 4096);
        QCOMPARE(out["context_cost"][1]["kv_bytes"], 8192ull * 23040);
    }

    void tooBigForTheBudgetIsRed() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto out = doctor_json({"--ctx", "8192", "--memory-budget", "150MiB"});
        QCOMPARE(out["checklist"]["overall"], "red");
        const auto& memory = item(out, "memory");
        QCOMPARE(memory["status"], "red");
        QVERIFY(memory["fixes"].size() >= 2);
        const auto& fix = memory["fixes"][0];
        QVERIFY(fix["change"]["context"].get<uint32_t>() < 8192);
        QVERIFY(fix["needed_bytes"].get<uint64_t>() <= 150ull << 20);
        // Two slots need two caches: the fix offers fewer.
        const auto two_slots =
            doctor_json({"--ctx", "4096", "--slots", "2", "--memory-budget", "200MiB"});
        bool fewer = false;
        for (const auto& each : item(two_slots, "memory")["fixes"]) {
            fewer = fewer || each["change"].contains("slots");
        }
        QVERIFY(fewer);
    }

    void mismatchedTemplateIsRed() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto out = doctor_json({"--template", "llama2", "--temp", "2", "--top-k", "0",
                                      "--top-p", "1", "--repeat-penalty", "1"});
        const auto& format = item(out, "format");
        QCOMPARE(format["status"], "red");
        QCOMPARE(format["fixes"][0]["change"]["template"], "model"); // its own, embedded
        const auto& sampling = item(out, "sampling");
        QCOMPARE(sampling["status"], "amber");
        QCOMPARE(sampling["fixes"].size(), size_t{3});
    }

    void usageErrorsAndBadFiles() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        hearth::test::expect_cli_usage_error(
            {"doctor", hearth::test::default_model_arg(), "--memory-budget", "lots"},
            "--memory-budget");
        hearth::test::expect_cli_usage_error(
            {"doctor", hearth::test::default_model_arg(), "--slots", "0"}, "--slots");
        QTemporaryDir dir;
        const QString junk = dir.filePath("junk.gguf");
        std::ofstream(junk.toStdString()) << "not a model";
        hearth::test::expect_cli_error({"doctor", junk}, "junk.gguf");
    }
};

QTEST_GUILESS_MAIN(TestCliDoctor)
#include "tst_cli_doctor.moc"
