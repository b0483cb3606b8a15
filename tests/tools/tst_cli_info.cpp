// hearth-cli info and tensor, run as a user would: on the default model, and on
// corrupted files (one clear line on stderr, a non-zero exit status, no crash).
#include "gguf_builder.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;
using hearth::test::GgufBuilder;
using hearth::test::run_cli;

namespace {

QString str(const std::filesystem::path& path) {
    return QString::fromStdString(path.string());
}

nlohmann::json expected_model() {
    std::ifstream in(test::data_dir() / "gguf" / "smollm2.expected.json");
    return nlohmann::json::parse(in);
}

// Parses a .npy file written by hearth-cli: returns the shape text and the float data.
bool read_npy(const QString& path, QString& shape, QByteArray& data) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return false;
    }
    const QByteArray bytes = file.readAll();
    if (!bytes.startsWith("\x93NUMPY\x01\x00")) {
        return false;
    }
    const int header_length = uchar(bytes[8]) | (uchar(bytes[9]) << 8);
    const QByteArray header = bytes.mid(10, header_length);
    if ((10 + header_length) % 64 != 0 || !header.contains("'descr': '<f4'") ||
        !header.endsWith('\n')) {
        return false;
    }
    const int start = header.indexOf("'shape': (") + 10;
    shape = QString::fromLatin1(header.mid(start, header.indexOf(')', start) - start));
    data = bytes.mid(10 + header_length);
    return true;
}

// A small llama GGUF whose name and file name are not UTF-8: `info --json` aborted on it
// (nlohmann type_error 316) before it replaced invalid bytes with U+FFFD.
std::vector<uint8_t> model_with_bad_utf8() {
    return GgufBuilder()
        .str("general.architecture", "llama")
        .str("general.name", "caf\xe9 \xff\xfe model \xe2\x82")
        .u32("llama.block_count", 1)
        .u32("llama.context_length", 64)
        .u32("llama.embedding_length", 32)
        .u32("llama.feed_forward_length", 64)
        .u32("llama.attention.head_count", 4)
        .str_array("tokenizer.ggml.tokens", {"a", "\xff", "c"})
        .tensor("token_embd.weight", TensorType::F32, {32, 3}, std::vector<uint8_t>(384, 0))
        .build();
}

// Runs hearth-cli with arguments as raw bytes (QProcess would re-encode them as UTF-8): the
// shell's printf writes them.
test::CliResult run_cli_bytes(const QString& printf_format, const QStringList& printf_args,
                              const QStringList& after) {
    QProcess process;
    process.start("/bin/sh", QStringList{"-c",
                                         "cli=$1; shift; exec \"$cli\" info "
                                         "\"$(printf \"$@\")\" " +
                                             after.join(' '),
                                         "sh", QStringLiteral(HEARTH_CLI_PATH), printf_format} +
                                 printf_args);
    test::CliResult result;
    if (!process.waitForFinished(60000)) {
        process.kill();
        process.waitForFinished();
        return result;
    }
    result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    return result;
}

} // namespace

class TestCliInfo : public QObject {
    Q_OBJECT

private slots:
    void version() {
        auto result = run_cli({"--version"});
        QCOMPARE(result.exit_code, 0);
        QVERIFY(result.out.startsWith("hearth-cli "));
    }

    void info_text_on_the_default_model() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        auto result = run_cli({"info", str(model)});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const QString out = QString::fromUtf8(result.out);
        QVERIFY2(out.contains(QRegularExpression("architecture\\s+llama\\n")), qPrintable(out));
        QVERIFY(out.contains(QRegularExpression("parameters\\s+134.52 M \\(134515008\\)")));
        QVERIFY(out.contains(QRegularExpression("attention heads\\s+9 \\(KV heads 3\\)")));
        QVERIFY(out.contains(QRegularExpression("trained context\\s+8192")));
        QVERIFY(out.contains(QRegularExpression("Q4_1\\s+210 tensors")));
        QVERIFY(out.contains(QRegularExpression("KV cache per token\\s+22.50 KiB")));
        QVERIFY(out.contains(QRegularExpression("chat template\\s+embedded")));
        // A GPU line either way: the device and its fit, or why there is none.
        QVERIFY2(out.contains(QRegularExpression(
                     "GPU( \\d+)?\\s+(none usable \\(.+\\): Hearth runs on the CPU|.+free of)")),
                 qPrintable(out));
    }

    void info_and_run_on_mixture_of_experts_models() {
        // qwen3moe.gguf (tests/data/arch): 2 layers of 8 experts, 3 routed, 32 wide, F16.
        const auto model = hearth::test::data_dir() / "arch" / "qwen3moe.gguf";
        auto text = run_cli({"info", str(model)});
        QVERIFY2(text.exit_code == 0, text.err.constData());
        const QString out = QString::fromUtf8(text.out);
        QVERIFY2(out.contains(QRegularExpression(
                     "experts\\s+8 per layer, 3 routed per token, 32 wide; 192.00 KiB of weights "
                     "\\(72.00 KiB a token\\)")),
                 qPrintable(out));
        QVERIFY2(out.contains(QRegularExpression("weights read per token \\S+ KiB\\s+\\(the "
                                                 "experts at 3 of 8\\)")),
                 qPrintable(out));
        auto json = run_cli({"info", str(model), "--json"});
        QVERIFY2(json.exit_code == 0, json.err.constData());
        const auto info = nlohmann::json::parse(json.out.toStdString());
        const auto& experts = info["experts"];
        QCOMPARE(experts["n_expert"].get<int>(), 8);
        QCOMPARE(experts["n_expert_used"].get<int>(), 3);
        QCOMPARE(experts["n_ff_exp"].get<int>(), 32);
        // gate, up and down of 8 experts in 2 layers, 32 × 64 F16 values each
        QCOMPARE(experts["bytes"].get<uint64_t>(), uint64_t{2 * 3 * 8 * 32 * 64 * 2});
        QCOMPARE(experts["params"].get<uint64_t>(), uint64_t{2 * 3 * 8 * 32 * 64});
        QCOMPARE(info["n_active_params"].get<uint64_t>(),
                 info["n_params"].get<uint64_t>() - uint64_t{2 * 3 * 5 * 32 * 64});

        // `run` on each random-weight MoE file: greedy, eight tokens, timings on stderr.
        for (const char* name : {"qwen3moe", "qwen3moe_q8_0", "llama_moe", "gpt_oss"}) {
            const auto path = hearth::test::data_dir() / "arch" / (std::string(name) + ".gguf");
            auto run = run_cli(
                {"run", str(path), "-p", "the cat", "--raw", "-n", "8", "--temp", "0", "-t", "2"});
            QVERIFY2(run.exit_code == 0, run.err.constData());
            QVERIFY2(run.err.contains("generated: 8 tokens"), run.err.constData());
        }
    }

    void info_json_and_context() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        auto result = run_cli({"info", str(model), "--ctx", "1024", "--json"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const auto info = nlohmann::json::parse(result.out.toStdString());
        QCOMPARE(info["architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(info["hparams"]["n_layer"].get<int>(), 30);
        QCOMPARE(info["hparams"]["n_embd"].get<int>(), 576);
        QCOMPARE(info["hparams"]["n_head_kv"].get<int>(), 3);
        QCOMPARE(info["hparams"]["n_vocab"].get<int>(), 49152);
        QCOMPARE(info["hparams"]["rope_freq_base"].get<double>(), 100000.0);
        QCOMPARE(info["n_params"].get<uint64_t>(), uint64_t{134515008});
        // 2 × 30 layers × 3 KV heads × 64 × 2 bytes = 23040 bytes per token.
        QCOMPARE(info["memory"]["kv_bytes_per_token"].get<double>(), 23040.0);
        QCOMPARE(info["memory"]["kv_bytes"].get<uint64_t>(), uint64_t{23040} * 1024);
        QCOMPARE(info["memory"]["n_ctx"].get<int>(), 1024);
        uint64_t mix_bytes = 0;
        for (const auto& share : info["quant_mix"]) {
            mix_bytes += share["bytes"].get<uint64_t>();
        }
        QCOMPARE(mix_bytes, info["memory"]["weights_bytes"].get<uint64_t>());
        QVERIFY(info["chat_template"].get<bool>());
    }

    void info_json_is_valid_for_any_bytes() {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        test::write_file(folder + "/plain.gguf", model_with_bad_utf8());
        test::write_file(folder + "/model-\xff.gguf", model_with_bad_utf8());
        // The metadata's invalid bytes, in a file with a plain name.
        auto result = run_cli({"info", QString::fromStdString(folder + "/plain.gguf"), "--json"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        auto info = nlohmann::json::parse(result.out.toStdString()); // throws if not valid
        QCOMPARE(info["name"].get<std::string>(),
                 std::string("caf\uFFFD \uFFFD\uFFFD model \uFFFD"));
        QCOMPARE(info["architecture"].get<std::string>(), std::string("llama"));
        // A file name with byte 0xFF, passed as raw bytes.
        result = run_cli_bytes("%s/model-\\377.gguf", {dir.path()}, {"--json"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        info = nlohmann::json::parse(result.out.toStdString());
        QCOMPARE(info["path"].get<std::string>(), folder + "/model-\uFFFD.gguf");
        // The text output keeps the bytes as they are.
        result = run_cli_bytes("%s/model-\\377.gguf", {dir.path()}, {});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        QVERIFY(result.out.contains("model-\xff.gguf"));
    }

    void usage_errors() {
        QCOMPARE(run_cli({"info"}).exit_code, 2);
        QCOMPARE(run_cli({"info", "a.gguf", "--bogus"}).exit_code, 2);
        QCOMPARE(run_cli({"no-such-command"}).exit_code, 2);
        auto result = run_cli({"info", "a.gguf", "--ctx", "zero"});
        QCOMPARE(result.exit_code, 2);
        QVERIFY(result.err.contains("--ctx expects an integer"));
        result = run_cli({"info", "/nonexistent.gguf"});
        QCOMPARE(result.exit_code, 1);
        QVERIFY(result.err.contains("cannot open"));
    }

    void tensor_writes_the_dequantized_values() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model);
        const auto expected = expected_model();
        QTemporaryDir dir;
        for (const char* name :
             {"blk.0.attn_q.weight", "output_norm.weight", "token_embd.weight"}) {
            const QString out = dir.filePath(QString(name) + ".npy");
            auto result = run_cli({"tensor", str(model), name, "--out", out});
            QVERIFY2(result.exit_code == 0, result.err.constData());
            QString shape;
            QByteArray data;
            QVERIFY2(read_npy(out, shape, data), name);
            QVERIFY(!QFile::exists(out + ".part"));
            for (const auto& tensor : expected["tensors"]) {
                if (tensor["name"] != name) {
                    continue;
                }
                auto dims = tensor["dims"].get<std::vector<uint64_t>>();
                QString want = dims.size() == 1 ? QString("%1,").arg(dims[0])
                                                : QString("%1, %2").arg(dims[1]).arg(dims[0]);
                QCOMPARE(shape, want);
                QCOMPARE(QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex(),
                         QByteArray::fromStdString(tensor["f32_sha256"].get<std::string>()));
            }
        }
        auto missing =
            run_cli({"tensor", str(model), "no.such.tensor", "--out", dir.filePath("x")});
        QCOMPARE(missing.exit_code, 1);
        QVERIFY(missing.err.contains("no tensor named 'no.such.tensor'"));
        QVERIFY(!QFile::exists(dir.filePath("x")));
    }

    void corrupted_files_give_one_clear_line() {
        QFETCH(QString, corruption);
        QFETCH(QString, needle);
        GgufBuilder::Layout layout;
        auto bytes = GgufBuilder()
                         .str("general.architecture", "llama")
                         .u32("llama.block_count", 1)
                         .str_array("tokenizer.ggml.tokens", {"a", "b", "c"})
                         .tensor("w", TensorType::F32, {32, 4}, std::vector<uint8_t>(512, 1))
                         .build(&layout);
        const uint64_t w = layout.tensor_info_at["w"];
        if (corruption == "magic") {
            bytes[1] = 'X';
        } else if (corruption == "header") {
            bytes.resize(30);
        } else if (corruption == "data") {
            bytes.resize(bytes.size() - 100);
        } else if (corruption == "offset") {
            test::patch<uint64_t>(bytes, w + 9 + 4 + 16 + 4, 1 << 20);
        } else if (corruption == "dimension") {
            test::patch<uint64_t>(bytes, w + 9 + 4 + 8, 1 << 20);
        } else if (corruption == "type") {
            test::patch<uint32_t>(bytes, w + 9 + 4 + 16, 1234);
        } else if (corruption == "string") {
            test::patch<uint64_t>(bytes, layout.key_at["general.architecture"] + 32, 1ull << 40);
        } else if (corruption == "array") {
            test::patch<uint64_t>(bytes, layout.key_at["tokenizer.ggml.tokens"] + 8 + 21 + 8,
                                  1ull << 50);
        }
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / "bad.gguf";
        test::write_file(path, bytes);
        auto result = run_cli({"info", str(path)});
        QCOMPARE(result.exit_code, 1);
        const QString err = QString::fromUtf8(result.err);
        QVERIFY2(err.count('\n') == 1 && err.endsWith('\n'), qPrintable(err));
        QVERIFY2(err.contains("byte offset"), qPrintable(err));
        QVERIFY2(err.contains(needle), qPrintable(err));
    }

    void corrupted_files_give_one_clear_line_data() {
        QTest::addColumn<QString>("corruption");
        QTest::addColumn<QString>("needle");
        QTest::newRow("wrong magic") << "magic"
                                     << "not a GGUF file";
        QTest::newRow("truncated header") << "header"
                                          << "file truncated";
        QTest::newRow("truncated tensor data") << "data"
                                               << "runs past the end of the file";
        QTest::newRow("offset past the end") << "offset"
                                             << "runs past the end of the file";
        QTest::newRow("dimension past the end") << "dimension"
                                                << "runs past the end of the file";
        QTest::newRow("unknown tensor type") << "type"
                                             << "unknown tensor type 1234";
        QTest::newRow("string longer than the file") << "string"
                                                     << "claims a length";
        QTest::newRow("huge array count") << "array"
                                          << "items";
    }
};

QTEST_MAIN(TestCliInfo)
#include "tst_cli_info.moc"
