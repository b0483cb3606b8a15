// What hearth-cli and hearth-bench share (tools/cli/cli_args.h, top_level.h): the parser with
// its ranges, usage errors and --help, and the catch at the top that turns any exception -- in
// the command or in a worker thread -- into a message and exit status 1 instead of an abort.
#include "cli_args.h"
#include "top_level.h"

#include <QProcess>
#include <QTemporaryFile>
#include <QtTest>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <vector>

using hearth::Result;
using namespace hearth::cli;

namespace {

const CommandSpec& spec() {
    static const CommandSpec s{
        .program = "prog",
        .name = "cmd",
        .synopsis = "MODEL [OPTIONS]",
        .summary = "A command for the tests.",
        .options = {option("--ctx", "N", "context (default 7)").alias("-c").within({1, 100}),
                    option("--temp", "T", "temperature (default 0.7)"),
                    option("--prompt", "TEXT", "the prompt").alias("-p"),
                    option("--var", "NAME=JSON", "a variable (repeatable)").repeated(),
                    flag("--json", "print JSON")}};
    return s;
}

Result<Args> parse(std::vector<std::string> words) {
    std::vector<char*> argv;
    for (auto& word : words) {
        argv.push_back(word.data());
    }
    return parse_args(static_cast<int>(argv.size()), argv.data(), spec());
}

QString error_of(const std::vector<std::string>& words) {
    auto args = parse(words);
    return args ? QString() : QString::fromStdString(args.error().message);
}

// What `call` writes on stderr (file descriptor 2), and its result.
template <class F>
std::pair<int, QByteArray> capture_stderr(F call) {
    QTemporaryFile file;
    if (!file.open()) {
        return {-1, {}};
    }
    std::fflush(stderr);
    const int saved = dup(2);
    dup2(file.handle(), 2);
    const int status = call();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    file.seek(0);
    return {status, file.readAll()};
}

// The test executable runs itself in these modes to check the terminate handler.
constexpr const char* kThrowInThread = "--child-throws-in-a-thread";
constexpr const char* kThrowInNoexcept = "--child-throws-in-noexcept";

// An exception leaving a noexcept function: std::terminate.
int throws_in_noexcept() noexcept {
    return std::optional<int>().value();
}

int child(std::string_view mode) {
    install_terminate_handler("child");
    if (mode == kThrowInThread) {
        std::thread worker([] { throw std::runtime_error("boom in a worker thread"); });
        worker.join();
        return 0;
    }
    return throws_in_noexcept(); // does not return
}

} // namespace

class TestToolSupport : public QObject {
    Q_OBJECT

private slots:
    void options_flags_and_positionals() {
        auto args = parse({"model.gguf", "-c", "12", "--temp=0.5", "--json", "--var", "a=1",
                           "--var", "b=2", "--", "--not-an-option"});
        QVERIFY(args);
        QCOMPARE(args->positionals, (std::vector<std::string>{"model.gguf", "--not-an-option"}));
        QCOMPARE(args->get_int("--ctx").value(), std::optional<long long>(12));
        QCOMPARE(args->get_float("--temp").value(), std::optional<double>(0.5));
        QVERIFY(args->has("--json"));
        QCOMPARE(args->all("--var"), (std::vector<std::string>{"a=1", "b=2"}));
        QVERIFY(!args->help);
        // Absent options are empty, not errors.
        QCOMPARE(args->get("--prompt"), std::optional<std::string>());
        // Negative numbers and "-" are values and positionals, not options.
        args = parse({"-", "-p", "-5"});
        QVERIFY(args);
        QCOMPARE(args->positionals, (std::vector<std::string>{"-"}));
        QCOMPARE(*args->get("--prompt"), std::string("-5"));
    }

    void usage_errors_name_the_option() {
        QCOMPARE(error_of({"m", "--bogus"}), QString("unknown option --bogus"));
        QCOMPARE(error_of({"m", "-z"}), QString("unknown option -z"));
        QCOMPARE(error_of({"m", "--ctx"}), QString("--ctx needs a value (N)"));
        // The next word is one of the command's options: the value is missing.
        QCOMPARE(error_of({"m", "--prompt", "--json"}), QString("--prompt needs a value (TEXT)"));
        QCOMPARE(error_of({"m", "--json=1"}), QString("--json takes no value"));
        QCOMPARE(error_of({"m", "-c", "1", "-c", "2"}), QString("--ctx given more than once"));
    }

    void help_wins_over_errors() {
        for (const auto& words : std::vector<std::vector<std::string>>{
                 {"--help"}, {"-h"}, {"m", "--bogus", "--help"}, {"--ctx", "-h"}}) {
            auto args = parse(words);
            QVERIFY(args);
            QVERIFY(args->help);
        }
        // A word that only starts like an option is a value.
        auto args = parse({"m", "-p", "-hello"});
        QVERIFY(args && !args->help);
        QCOMPARE(*args->get("--prompt"), std::string("-hello"));
    }

    void integers_within_their_range() {
        auto int_error = [](const std::string& value) {
            auto args = parse({"m", "--ctx", value});
            auto number = args->get_int("--ctx");
            return number ? QString() : QString::fromStdString(number.error().message);
        };
        QCOMPARE(int_error("100"), QString());
        QCOMPARE(int_error("0"), QString("--ctx must be between 1 and 100, got 0"));
        QCOMPARE(int_error("-5"), QString("--ctx must be between 1 and 100, got -5"));
        QCOMPARE(int_error("99999999999999999999"),
                 QString("--ctx must be between 1 and 100, got 99999999999999999999"));
        for (const char* bad : {"", "zero", "1e3", "0x10", " 5", "5 ", "+5", "1.0"}) {
            QCOMPARE(int_error(bad), QString("--ctx expects an integer, got '%1'").arg(bad));
        }
    }

    void numbers_are_finite() {
        auto float_error = [](const std::string& value) {
            auto args = parse({"m", "--temp", value});
            auto number = args->get_float("--temp");
            return number ? QString() : QString::fromStdString(number.error().message);
        };
        QCOMPARE(float_error("0"), QString());
        QCOMPARE(float_error("-0.5"), QString()); // the range is the engine's to check
        QCOMPARE(float_error("1e-3"), QString());
        for (const char* bad : {"nan", "NaN", "inf", "-inf", "1e999", "", "warm", "0.7x"}) {
            QCOMPARE(float_error(bad),
                     QString("--temp expects a finite number, got '%1'").arg(bad));
        }
    }

    void help_lists_every_option_on_one_line() {
        const QString help = QString::fromStdString(format_help(spec()));
        QVERIFY2(help.startsWith("usage: prog cmd MODEL [OPTIONS]\nA command for the tests.\n"),
                 qPrintable(help));
        for (const char* line :
             {"^  -c, --ctx N +context \\(default 7\\)$", "^      --json +print JSON$",
              "^      --var NAME=JSON a variable \\(repeatable\\)$",
              "^  -h, --help +show this help and exit$"}) {
            QVERIFY2(help.contains(QRegularExpression(line, QRegularExpression::MultilineOption)),
                     qPrintable(QString("%1 in\n%2").arg(line, help)));
        }
        // The usage and the summary, a blank line and "options:", 5 options and --help.
        QCOMPARE(help.count(QChar(10)), 2 + 2 + 6);
        const auto [status, err] =
            capture_stderr([] { return usage_error(spec(), "unknown option --x"); });
        QCOMPARE(status, kUsageExitStatus);
        QCOMPARE(err, QByteArray("prog cmd: unknown option --x\n(prog cmd --help lists the "
                                 "options)\n"));
    }

    // Each exception a command could let out: real ones, thrown by the library calls that throw
    // them, and one that is not a std::exception.
    void the_catch_at_the_top_names_the_cause() {
        QFETCH(int, kind);
        QFETCH(QString, description);
        auto body = [kind]() -> int {
            switch (kind) {
            case 0:
                return static_cast<int>(std::vector<char>(size_t{1} << 62).size());
            case 1: {
                std::string text;
                text.reserve(text.max_size() + 1);
                return static_cast<int>(text.size());
            }
            case 2:
                return nlohmann::json("text").get<int>();
            case 3:
                return std::optional<int>().value();
            case 4:
                throw 42;
            default:
                return 7;
            }
        };
        const auto [status, err] = capture_stderr([&] { return run_guarded("prog cmd", body); });
        QCOMPARE(status, kind == 5 ? 7 : kFailureExitStatus);
        QVERIFY2(err.startsWith(kind == 5 ? "" : "prog cmd: "), err.constData());
        QVERIFY2(err.contains(description.toUtf8()), err.constData());
        QCOMPARE(err.count('\n'), kind == 5 ? 0 : 1);
    }

    void the_catch_at_the_top_names_the_cause_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("description");
        QTest::newRow("bad_alloc") << 0 << "out of memory (std::bad_alloc)\n";
        QTest::newRow("length_error") << 1 << "internal error: std::length_error: basic_string";
        QTest::newRow("nlohmann type_error")
            << 2
            << "internal error: nlohmann::json_abi_v3_11_2::detail::type_error: "
               "[json.exception.type_error.302] type must be number, but is string";
        QTest::newRow("bad_optional_access")
            << 3 << "internal error: std::bad_optional_access: bad optional access";
        QTest::newRow("not a std::exception") << 4 << "internal error: an exception of type int";
        QTest::newRow("no exception") << 5 << "";
    }

    void exceptions_past_the_catch_exit_with_status_1() {
        const QString self =
            QString::fromStdString(std::filesystem::read_symlink("/proc/self/exe"));
        for (const auto& [mode, message] :
             {std::pair{kThrowInThread, "child: internal error: std::runtime_error: boom in a "
                                        "worker thread"},
              std::pair{kThrowInNoexcept,
                        "child: internal error: std::bad_optional_access: bad optional access"}}) {
            QProcess process;
            process.start(self, {mode});
            QVERIFY(process.waitForFinished(30000));
            QCOMPARE(process.exitStatus(), QProcess::NormalExit); // not SIGABRT
            QCOMPARE(process.exitCode(), kFailureExitStatus);
            const QByteArray err = process.readAllStandardError();
            QVERIFY2(err.contains(message), err.constData());
        }
    }
};

int main(int argc, char** argv) {
    if (argc == 2 && (std::string_view(argv[1]) == kThrowInThread ||
                      std::string_view(argv[1]) == kThrowInNoexcept)) {
        return child(argv[1]);
    }
    TestToolSupport test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_tool_support.moc"
