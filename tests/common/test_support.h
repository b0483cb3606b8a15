// Helpers shared by the Qt Test executables: where test data and the default model are,
// and running hearth-cli as a user would.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QtTest>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace hearth::test {

inline std::filesystem::path data_dir() {
    return HEARTH_TEST_DATA_DIR;
}
inline std::filesystem::path source_dir() {
    return HEARTH_SOURCE_DIR;
}

// A whole file's bytes (empty when it cannot be read). Read with one read() call rather
// than istreambuf_iterator, which GCC 12 flags with -Wnull-dereference.
inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        return {};
    }
    std::string text(static_cast<size_t>(in.tellg()), '\0');
    in.seekg(0);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    return text;
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
    const std::string text = read_text(path);
    return {text.begin(), text.end()};
}

// The default model (SmolLM2-135M-Instruct Q4_1): $HEARTH_TEST_MODEL, as scripts/test
// sets it, else the models directory that scripts/fetch-default-model fills.
inline std::filesystem::path default_model_path() {
    if (const char* env = std::getenv("HEARTH_TEST_MODEL"); env && *env) {
        return env;
    }
    std::filesystem::path models;
    if (const char* dir = std::getenv("HEARTH_MODELS_DIR"); dir && *dir) {
        models = dir;
    } else if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
        models = std::filesystem::path(xdg) / "hearth" / "models";
    } else if (const char* home = std::getenv("HOME")) {
        models = std::filesystem::path(home) / ".local" / "share" / "hearth" / "models";
    }
    return models / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Skips the current test when the default model is absent (scripts/test always fetches
// it, and sets HEARTH_REQUIRE_MODEL=1 so that a missing model fails instead).
#define HEARTH_REQUIRE_DEFAULT_MODEL(path_var)                                                     \
    const std::filesystem::path path_var = hearth::test::default_model_path();                     \
    if (!std::filesystem::exists(path_var)) {                                                      \
        if (std::getenv("HEARTH_REQUIRE_MODEL")) {                                                 \
            QFAIL(qPrintable(QString("default model missing: %1")                                  \
                                 .arg(QString::fromStdString(path_var.string()))));                \
        }                                                                                          \
        QSKIP("default model not found; run scripts/fetch-default-model");                         \
    }

struct CliResult {
    int exit_code = -1;
    QByteArray out;
    QByteArray err;
};

// Runs hearth-cli with `args`, optionally feeding `input` on stdin. No time limit of its own
// by default (a slow, shared machine is not a failure; ctest's TIMEOUT catches a hang); the
// tests that check that hostile input cannot hang the tool give one (`timeout_ms`).
inline CliResult run_cli(const QStringList& args, const QByteArray& input = {},
                         int timeout_ms = -1) {
    QProcess process;
    process.start(QStringLiteral(HEARTH_CLI_PATH), args);
    CliResult result;
    if (!process.waitForStarted(10000)) {
        result.err = "failed to start hearth-cli";
        return result;
    }
    if (!input.isEmpty()) {
        process.write(input);
    }
    process.closeWriteChannel();
    if (!process.waitForFinished(timeout_ms)) {
        process.kill();
        process.waitForFinished();
        result.err = "hearth-cli timed out";
        return result;
    }
    result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    return result;
}

// The default model's path, as a hearth-cli argument.
inline QString default_model_arg() {
    return QString::fromStdString(default_model_path().string());
}

// Runs hearth-cli and requires a failure (exit 1) whose stderr contains `needle`.
inline void expect_cli_error(const QStringList& args, const char* needle) {
    const CliResult result = run_cli(args);
    QVERIFY2(result.exit_code == 1,
             qPrintable(
                 QString("exit %1: %2").arg(result.exit_code).arg(QString::fromUtf8(result.err))));
    QVERIFY2(result.err.contains(needle), result.err.constData());
}

// Runs hearth-cli and requires a usage error (exit 2: an unknown option, a missing or malformed
// value, a number out of range) whose stderr contains `needle`.
inline void expect_cli_usage_error(const QStringList& args, const char* needle) {
    const CliResult result = run_cli(args);
    QVERIFY2(result.exit_code == 2,
             qPrintable(
                 QString("exit %1: %2").arg(result.exit_code).arg(QString::fromUtf8(result.err))));
    QVERIFY2(result.err.contains(needle), result.err.constData());
}

// A loopback port nothing listens on now: bound to port 0, read back and released (0 if the
// system gave none). Another process may take it before the caller does; tests accept that.
inline int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0;
    close(fd);
    return bound ? ntohs(addr.sin_port) : 0;
}

} // namespace hearth::test
