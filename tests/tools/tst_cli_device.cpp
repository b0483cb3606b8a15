// hearth-cli's --device on run, chat and perplexity: "auto" says on stderr which device it
// chose, "cpu" runs on the CPU, a CUDA device that is not there and an unknown name are clear
// errors (exit status 1). On a machine with a GPU, "auto" may run on it: the figures are not
// checked here, only that generation completes.
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

using hearth::test::default_model_arg;
using hearth::test::expect_cli_error;
using hearth::test::run_cli;

class TestCliDevice : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { HEARTH_REQUIRE_DEFAULT_MODEL(path); }

    void auto_says_which_device() {
        auto result = run_cli({"run", default_model_arg(), "-p", "Hello", "-n", "2", "--temp", "0",
                               "--raw", "--device", "auto"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(result.err.contains("device: CPU: ") || result.err.contains("device: CUDA device"),
                 result.err.constData());
        QVERIFY2(result.err.contains("generated: 2 tokens"), result.err.constData());
    }

    void cpu_is_quiet_about_it() {
        auto result = run_cli({"run", default_model_arg(), "-p", "Hello", "-n", "2", "--temp", "0",
                               "--raw", "--device", "cpu"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY2(!result.err.contains("device:"), result.err.constData());
    }

    // A malformed --device or --gpu-layers is a usage error (exit 2); a device that is not
    // there fails when the sessions are made (exit 1).
    void bad_devices_are_clear_errors() {
        using hearth::test::expect_cli_usage_error;
        const QString m = default_model_arg();
        expect_cli_usage_error({"run", m, "-p", "hi", "--device", "tpu"},
                               "--device: unknown device 'tpu'");
        expect_cli_usage_error({"chat", m, "--device", "cuda:x"}, "use cpu, cuda, cuda:N");
        expect_cli_error({"run", m, "-p", "hi", "-n", "2", "--device", "cuda:4096"}, "CUDA");
        QTemporaryDir dir;
        const QString text = dir.filePath("text.txt");
        std::ofstream(text.toStdString()) << "Some text to score. ";
        expect_cli_usage_error({"perplexity", m, "--file", text, "--device", "gpu0"},
                               "unknown device 'gpu0'");
        expect_cli_usage_error({"run", m, "-p", "hi", "--gpu-layers", "0"},
                               "--gpu-layers: GPU layers '0': use all, auto or a number");
        expect_cli_usage_error({"perplexity", m, "--file", text, "--gpu-layers", "most"},
                               "GPU layers 'most'");
    }
};

QTEST_APPLESS_MAIN(TestCliDevice)
#include "tst_cli_device.moc"
