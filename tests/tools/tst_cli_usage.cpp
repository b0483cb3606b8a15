// hearth-cli and hearth-bench as a user meets them: every command answers --help and -h with
// its own usage on stdout (exit 0); a wrong command line -- an unknown option, a missing value,
// a number that is not one or is out of range -- is a usage error naming the option (exit 2),
// found before any model is opened; and input that makes the code throw ends in a message and
// exit 1, never an abort.
#include "test_support.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <sys/stat.h>

using hearth::test::CliResult;
using hearth::test::run_cli;

namespace {

// hearth-cli's commands, as `hearth-cli --help` must list them.
const QStringList kCommands = {
    "info",       "tensor",        "tokenize",        "run", "compare", "chat",
    "perplexity", "template list", "template render", "pull"};

CliResult run_bench(const QStringList& args) {
    QProcess process;
    process.start(QStringLiteral(HEARTH_BENCH_PATH), args);
    CliResult result;
    if (!process.waitForFinished(60000)) {
        process.kill();
        process.waitForFinished();
        result.err = "hearth-bench timed out";
        return result;
    }
    result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    return result;
}

// A --help answer: exit 0, nothing on stderr, "usage: TITLE" first, then "options:" with one
// line per option ("  -c, --ctx N   what it does") and --help last.
void check_help(const CliResult& result, const QString& title) {
    QVERIFY2(result.exit_code == 0, result.err.constData());
    QVERIFY2(result.err.isEmpty(), result.err.constData());
    const QString out = QString::fromUtf8(result.out);
    QVERIFY2(out.startsWith("usage: " + title + " ") || out.startsWith("usage: " + title + "\n"),
             qPrintable(out));
    const qsizetype options = out.indexOf("\noptions:\n");
    QVERIFY2(options > 0, qPrintable(out));
    const QStringList lines = out.mid(options + 10).split('\n', Qt::SkipEmptyParts);
    static const QRegularExpression line("^  (-[a-zA-Z], |    )--[a-z0-9-]+( \\S+)? +\\S.*$");
    for (const QString& entry : lines) {
        QVERIFY2(line.match(entry).hasMatch(), qPrintable(title + ": " + entry));
    }
    QVERIFY(lines.last().startsWith("  -h, --help "));
}

} // namespace

class TestCliUsage : public QObject {
    Q_OBJECT

private slots:
    void the_command_list() {
        const CliResult result = run_cli({"--help"});
        QCOMPARE(result.exit_code, 0);
        for (const QString& command : kCommands) {
            QVERIFY2(QString::fromUtf8(result.out)
                         .contains(QRegularExpression("\n  " + command + "( |\n)")),
                     qPrintable(command));
        }
        QCOMPARE(run_cli({}).exit_code, 2);
        QCOMPARE(run_cli({"no-such-command"}).exit_code, 2);
        // A group without its subcommand lists them; with --help on stdout.
        CliResult group = run_cli({"template"});
        QCOMPARE(group.exit_code, 2);
        QVERIFY(group.err.contains("hearth-cli template render "));
        group = run_cli({"template", "--help"});
        QCOMPARE(group.exit_code, 0);
        QVERIFY(group.out.contains("hearth-cli template list"));
        QCOMPARE(run_cli({"template", "draw"}).exit_code, 2);
    }

    // `hearth-cli run --help` said "unknown option --help" (issue 16).
    void every_command_answers_help() {
        for (const QString& command : kCommands) {
            const QStringList words = command.split(' ');
            for (const char* help : {"--help", "-h"}) {
                check_help(run_cli(words + QStringList{help}), "hearth-cli " + command);
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
            // With other arguments, even wrong ones, help still wins.
            check_help(run_cli(words + QStringList{"model.gguf", "--bogus", "--help"}),
                       "hearth-cli " + command);
        }
        check_help(run_bench({"--help"}), "hearth-bench");
        check_help(run_bench({"-h"}), "hearth-bench");
    }

    // Each command line is wrong; the model does not exist, so the error must come from the
    // command line, before anything is opened.
    void usage_errors_exit_2() {
        QFETCH(QStringList, args);
        QFETCH(QString, needle);
        const bool bench = args.first() == "bench";
        const CliResult result = bench ? run_bench(args.mid(1)) : run_cli(args);
        QVERIFY2(
            result.exit_code == 2,
            qPrintable(
                QString("exit %1: %2").arg(result.exit_code).arg(QString::fromUtf8(result.err))));
        QVERIFY2(result.err.contains(needle.toUtf8()), result.err.constData());
        QVERIFY2(result.err.contains("--help lists the options"), result.err.constData());
        QVERIFY(result.out.isEmpty());
    }

    void usage_errors_exit_2_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("needle");
        const QString m = "/nonexistent/model.gguf";
        const QList<QStringList> generating = {
            {"run", m, "-p", "hi"},
            {"chat", m},
            {"compare", m, "-p", "hi", "--template", "chatml", "--template", "zephyr"}};
        for (const QStringList& command : generating) {
            const QString name = command.first();
            auto row = [&](const char* tag, const QStringList& extra, const char* needle) {
                QTest::addRow("%s %s", qPrintable(name), tag) << command + extra << needle;
            };
            row("-n -5", {"-n", "-5"}, "--n-predict must be between 1 and 16777216, got -5");
            row("--ctx 0", {"--ctx", "0"}, "--ctx must be between 1 and 16777216, got 0");
            row("--ctx 99999999999", {"--ctx", "99999999999"},
                "--ctx must be between 1 and 16777216, got 99999999999");
            row("--threads 0", {"--threads", "0"}, "--threads must be between 1 and 1024, got 0");
            row("--temp nan", {"--temp", "nan"}, "--temp expects a finite number, got 'nan'");
            row("--temp -1", {"--temp", "-1"}, "temperature must be 0 or more");
            row("--top-k x", {"--top-k", "x"}, "--top-k expects an integer, got 'x'");
            row("--seed -1", {"--seed", "-1"}, "--seed must be between 0");
            row("--kv-type q4", {"--kv-type", "q4"}, "--kv-type must be f16 or q8_0");
            row("unknown option", {"--bogus"}, "unknown option --bogus");
            row("missing value", {"--ctx"}, "--ctx needs a value");
            row("value is an option", {"--ctx", "--temp", "0"}, "--ctx needs a value");
            row("repeated", {"--seed", "1", "--seed", "2"}, "--seed given more than once");
        }
        QTest::newRow("run without a prompt") << QStringList{"run", m} << "-p PROMPT or -f FILE";
        QTest::newRow("run with -p and -f")
            << QStringList{"run", m, "-p", "a", "-f", "b"} << "-p PROMPT or -f FILE";
        QTest::newRow("compare with one column")
            << QStringList{"compare", m, "-p", "hi", "--template", "chatml"}
            << "compare needs 2 to 8 columns";
        const QString text = "/nonexistent/text.txt";
        QTest::newRow("perplexity --ctx 3")
            << QStringList{"perplexity", m, "--file", text, "--ctx", "3"}
            << "--ctx must be between 4 and 16777216, got 3";
        QTest::newRow("perplexity --chunks 0")
            << QStringList{"perplexity", m, "--file", text, "--chunks", "0"}
            << "--chunks must be between 1";
        QTest::newRow("perplexity --threads 0")
            << QStringList{"perplexity", m, "--file", text, "--threads", "0"}
            << "--threads must be between 1 and 1024";
        QTest::newRow("perplexity --batch 99999")
            << QStringList{"perplexity", m, "--file", text, "--batch", "99999"}
            << "--batch must be between 1 and 4096";
        QTest::newRow("perplexity without --file")
            << QStringList{"perplexity", m} << "expects one MODEL and --file TEXT";
        QTest::newRow("info --ctx 0") << QStringList{"info", m, "--ctx", "0"}
                                      << "--ctx must be between 1 and 16777216, got 0";
        QTest::newRow("info --gpu-free -1")
            << QStringList{"info", m, "--gpu-free", "-1"} << "--gpu-free: expected a size";
        QTest::newRow("info, two models") << QStringList{"info", m, m} << "expects one MODEL";
        QTest::newRow("tensor without --out")
            << QStringList{"tensor", m, "x"} << "expects MODEL NAME --out FILE.npy";
        QTest::newRow("tokenize without text") << QStringList{"tokenize", m} << "MODEL and TEXT";
        QTest::newRow("template render without messages")
            << QStringList{"template", "render", "--template", "chatml"} << "--messages FILE.json";
        QTest::newRow("template list with an argument")
            << QStringList{"template", "list", "x"} << "takes no arguments";
        QTest::newRow("pull --dir without a value")
            << QStringList{"pull", "--dir"} << "--dir needs a value";
        QTest::newRow("bench -n -5") << QStringList{"bench", m, "-n", "-5"}
                                     << "--n-gen must be between 0 and 1048576, got -5";
        QTest::newRow("bench -p x")
            << QStringList{"bench", m, "-p", "x"} << "--n-prompt expects an integer, got 'x'";
        QTest::newRow("bench -r 0") << QStringList{"bench", m, "-r", "0"}
                                    << "--repetitions must be between 1 and 1000, got 0";
        QTest::newRow("bench --threads 0")
            << QStringList{"bench", m, "--threads", "0"} << "--threads must be between 1 and 1024";
        QTest::newRow("bench --device tpu")
            << QStringList{"bench", m, "--device", "tpu"} << "--device must be cpu or cuda";
        QTest::newRow("bench --sequences 0,99")
            << QStringList{"bench", m, "--sequences", "0,99"} << "--sequences wants counts";
        QTest::newRow("bench without a model")
            << QStringList{"bench"} << "expects either one MODEL";
        QTest::newRow("bench unknown option")
            << QStringList{"bench", m, "--bogus"} << "unknown option --bogus";
    }

    // A context whose KV cache does not fit in the memory the process may use (here an
    // address-space limit of ~290 MiB; the model maps 94 MiB, the 8192-token cache needs 180
    // MiB more). std::bad_alloc escaped to std::terminate and hearth-cli aborted; now the
    // session returns an out-of-memory error that names the KV cache, and hearth-cli exits 1.
    void running_out_of_memory_ends_in_a_message() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        QProcess process;
        process.start("/bin/sh",
                      {"-c",
                       "ulimit -v 300000; exec \"$0\" run \"$1\" -p hi -n 2 "
                       "--ctx 8192 --threads 1 --raw",
                       QStringLiteral(HEARTH_CLI_PATH), hearth::test::default_model_arg()});
        QVERIFY(process.waitForFinished(120000));
        const QByteArray err = process.readAllStandardError();
        QCOMPARE(process.exitStatus(), QProcess::NormalExit); // not SIGABRT
        QVERIFY2(process.exitCode() == 1, err.constData());
        QVERIFY2(err.contains("hearth-cli") && err.contains("not enough memory for the KV cache"),
                 err.constData());
    }

    // Text read whole (a prompt, a perplexity text, a tokenizer input, a messages file) comes
    // from a regular file of at most kMaxTextInputBytes (1 GiB): a FIFO is refused at once
    // instead of blocking the read, and a larger file before a byte of it is read.
    void text_inputs_are_bounded_regular_files() {
        QTemporaryDir dir;
        const QString fifo = dir.filePath("fifo");
        QCOMPARE(mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
        const QString big = dir.filePath("big.txt");
        {
            QFile file(big);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QVERIFY(file.resize((qint64{1} << 30) + 1)); // sparse: no disk, no memory
        }
        const QString m = "/nonexistent/model.gguf";
        for (const QString& path : {fifo, big}) {
            const bool is_fifo = path == fifo;
            for (const QStringList& args :
                 {QStringList{"run", m, "-f", path}, QStringList{"perplexity", m, "--file", path},
                  QStringList{"tokenize", m, "--file", path},
                  QStringList{"template", "render", "--template", "chatml", "--messages", path}}) {
                const CliResult result = run_cli(args, {}, 20000);
                QVERIFY2(result.exit_code == 1,
                         qPrintable(args.join(' ') + ": " + QString::fromUtf8(result.err)));
                QVERIFY2(result.err.contains(is_fifo ? "FIFO" : "over the limit of"),
                         result.err.constData());
                if (!is_fifo && args.first() != "template") {
                    QVERIFY2(result.err.contains("1073741824 bytes"), result.err.constData());
                }
            }
        }
    }

    // std::filesystem::is_directory threw on a name longer than the system allows
    // (ENAMETOOLONG): tokenize aborted.
    void a_file_name_too_long_is_an_error() {
        const QString name = QString("x").repeated(5000) + ".gguf";
        for (const QStringList& args :
             {QStringList{"tokenize", name, "hi"}, QStringList{"info", name},
              QStringList{"info", name, "--json"}, QStringList{"tensor", name, "t", "--out", name},
              QStringList{"run", name, "-p", "hi"}}) {
            const CliResult result = run_cli(args);
            QVERIFY2(result.exit_code == 1,
                     qPrintable(args.first() + ": " + QString::fromUtf8(result.err.left(300))));
            QVERIFY(result.err.contains("File name too long"));
        }
    }
};

QTEST_GUILESS_MAIN(TestCliUsage)
#include "tst_cli_usage.moc"
