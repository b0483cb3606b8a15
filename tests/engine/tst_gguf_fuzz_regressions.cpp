// Replays every input the GGUF fuzzer (tests/fuzz/, scripts/fuzz gguf) found, or that
// reproduces what it found, from tests/data/gguf/fuzz-regressions/, through the fuzz target's
// own entry function, and checks the exact outcome recorded next to it (FILE.expected: each
// step's error message or facts). Built with the normal compiler, so the fixes are checked
// without clang or sanitizers; a crash, abort or hang here fails the test run.
#include "gguf_fuzz_input.h"
#include "test_support.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <filesystem>
#include <vector>

namespace {

std::filesystem::path regressions_dir() {
    return hearth::test::data_dir() / "gguf" / "fuzz-regressions";
}

std::vector<std::filesystem::path> inputs() {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(regressions_dir(), ec)) {
        if (entry.path().extension() == ".input") {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

class TestGgufFuzzRegressions : public QObject {
    Q_OBJECT

private slots:
    void directory_has_the_known_inputs() {
        // Guards against a moved or emptied directory turning the test below into a no-op.
        QVERIFY2(inputs().size() >= 5, qPrintable(QString::fromStdString(regressions_dir())));
    }

    void replays_data() {
        QTest::addColumn<QString>("input");
        if (inputs().empty()) {
            QTest::newRow("no inputs") << QString(); // fails below rather than without rows
        }
        for (const auto& path : inputs()) {
            QTest::newRow(path.filename().string().c_str()) << QString::fromStdString(path);
        }
    }

    void replays() {
        QFETCH(QString, input);
        QVERIFY2(!input.isEmpty(), "no inputs to replay");
        const std::filesystem::path path = input.toStdString();
        std::filesystem::path expected_path = path;
        expected_path += ".expected";
        QVERIFY2(std::filesystem::exists(expected_path),
                 qPrintable("no recorded outcome: " + QString::fromStdString(expected_path)));
        const std::string outcome = hearth::fuzz::run_gguf_input(hearth::test::read_text(path));
        QCOMPARE(QString::fromStdString(outcome),
                 QString::fromStdString(hearth::test::read_text(expected_path)));
    }

    void a_valid_model_loads_and_runs() {
        // The entry reaches the forward pass: the outcomes above are worth checking only if a
        // good input goes all the way.
        const std::string seed = hearth::test::read_text(
            hearth::test::source_dir() / "tests" / "fuzz" / "gguf_seeds" / "small_llama.gguf");
        QVERIFY(!seed.empty());
        const std::string outcome = hearth::fuzz::run_gguf_input(seed);
        QVERIFY2(outcome.find("\nforward: ok, 268 logits\n") != std::string::npos, outcome.c_str());
        QVERIFY2(outcome.find("error") == std::string::npos, outcome.c_str());
    }

    void a_split_model_is_written_as_parts() {
        const std::string seed =
            hearth::test::read_text(hearth::test::source_dir() / "tests" / "fuzz" / "gguf_seeds" /
                                    "small_llama_split3.gguf");
        const std::string outcome = hearth::fuzz::run_gguf_input(seed);
        QVERIFY2(outcome.starts_with("parts: 3\n"), outcome.c_str());
        QVERIFY2(outcome.find("\nopen: ok, 3 parts,") != std::string::npos, outcome.c_str());
        QVERIFY2(outcome.find("\nforward: ok") != std::string::npos, outcome.c_str());
    }
};

QTEST_APPLESS_MAIN(TestGgufFuzzRegressions)
#include "tst_gguf_fuzz_regressions.moc"
