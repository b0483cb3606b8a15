// The tokenizer on hostile input (docs/LIMITS.md, "Tokenizer input"): text past the size
// limit, long runs of one character or of combining marks, invalid UTF-8, NUL bytes and
// special-token look-alikes, on SentencePiece and byte-level vocabularies; hostile
// vocabularies in GGUF metadata; hostile Hugging Face folders (tokenizer.json,
// tokenizer.model, tokenizer_config.json). Every one gets a result or a clear error, in
// bounded time, never a crash.
#include "cpu_time.h"
#include "hearth/tokenizer.h"
#include "test_support.h"
#include "tokenizer_test_support.h"

#include <QObject>
#include <QTemporaryDir>
#include <QtTest>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

using hearth::EncodeOptions;
using hearth::ErrorCode;
using hearth::Tokenizer;
using namespace hearth::test;

namespace {

std::string repeat(std::string_view unit, size_t bytes) {
    std::string s;
    s.reserve(bytes + unit.size());
    while (s.size() < bytes) {
        s += unit;
    }
    return s;
}

const Tokenizer& vocab(const std::string& name) {
    static std::map<std::string, Tokenizer> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto tok = Tokenizer::from_gguf_file(tok_dir() / name);
        if (!tok) {
            qFatal("%s: %s", name.c_str(), tok.error().message.c_str());
        }
        it = cache.emplace(name, std::move(*tok)).first;
    }
    return it->second;
}

const char* const kVocabularies[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                                     "ggml-vocab-starcoder.gguf", "gemma3-vocab.gguf"};

void write(const std::filesystem::path& path, std::string_view bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
}

// A valid byte-level tokenizer.json with `replace` applied to it (a key's value swapped).
std::string tokenizer_json(const std::string& model = R"({"type": "BPE", "vocab": {"a": 0,
    "b": 1, "ab": 2}, "merges": ["a b"]})",
                           const std::string& pre = R"({"type": "ByteLevel"})",
                           const std::string& added = "[]") {
    return R"({"added_tokens": )" + added + R"(, "pre_tokenizer": )" + pre +
           R"(, "decoder": {"type": "ByteLevel"}, "model": )" + model + "}";
}

} // namespace

class TestTokenizerHostile : public QObject {
    Q_OBJECT

private slots:
    void text_past_the_limit_is_refused() {
        const std::string huge(hearth::kMaxEncodeBytes + 1, 'a');
        for (const char* name : kVocabularies) {
            const Tokenizer& tok = vocab(name);
            const hearth::test::CpuStopwatch cpu;
            auto ids = tok.encode(huge);
            QVERIFY(!ids.has_value());
            QCOMPARE(ids.error().code, ErrorCode::invalid_argument);
            const QString message = QString::fromStdString(ids.error().message);
            QVERIFY2(message.contains("16 MiB"), qPrintable(message));
            // Refused before any work.
            QVERIFY(cpu.seconds() < 1.0);
        }
    }

    void long_runs_encode_in_bounded_time_data() {
        QTest::addColumn<QString>("vocabulary");
        QTest::addColumn<QByteArray>("text");
        constexpr size_t n = size_t{1} << 18;
        const std::pair<const char*, std::string> texts[] = {
            {"one letter", repeat("a", n)},
            {"spaces", repeat(" ", n)},
            {"newlines", repeat("\n", n)},
            {"combining marks", repeat("e", 1) + repeat("\xCC\x81", n)},
            {"digits", repeat("7", n)},
            {"CJK", repeat("\xE4\xB8\xAD", n)},
            {"rare letters (byte fallback)", repeat("\xF0\x9D\x94\x98", n)},
            {"emoji ZWJ", repeat("\xF0\x9F\x91\xA8\xE2\x80\x8D", n)},
            {"NUL bytes", std::string(n, '\0')},
            {"special-token prefixes", repeat("<|im_start<s</s<start_of_turn", n)},
            {"apostrophes", repeat("'s'", n)},
        };
        for (const char* name : kVocabularies) {
            for (const auto& [what, text] : texts) {
                QTest::addRow("%s, %s", name, what)
                    << QString(name) << QByteArray(text.data(), qsizetype(text.size()));
            }
        }
    }

    // 256 KiB runs: encoded in linear or n log n time (the sentencepiece library's BPE on one
    // very long word is the slowest, about 0.3 s here) and decoded back exactly.
    void long_runs_encode_in_bounded_time() {
        QFETCH(QString, vocabulary);
        QFETCH(QByteArray, text);
        const Tokenizer& tok = vocab(vocabulary.toStdString());
        const std::string s(text.constData(), static_cast<size_t>(text.size()));
        const hearth::test::CpuStopwatch cpu;
        auto ids = tok.encode(s, {.add_special = false, .parse_special = false});
        const double took = cpu.seconds();
        QVERIFY2(ids.has_value(), ids ? "" : ids.error().message.c_str());
        QVERIFY2(took < 10.0, qPrintable(QString("%1 s").arg(took)));
        QVERIFY2(tok.decode(*ids) == s, "no exact round trip");
        for (const int32_t id : *ids) {
            QVERIFY(!tok.is_control(id)); // look-alikes never become special tokens
        }
    }

    void invalid_utf8_is_refused_with_its_offset() {
        for (const char* name : kVocabularies) {
            for (const auto& [text, offset] :
                 std::vector<std::pair<std::string, int>>{{"abc\xff", 3},
                                                          {std::string("a\0b\xc3", 4), 3},
                                                          {"ok \xed\xa0\x80", 3},
                                                          {"\xc0\xaf", 0},
                                                          {"\xf4\x90\x80\x80", 0},
                                                          {repeat("x", 100000) + "\x80", 100000}}) {
                auto ids = vocab(name).encode(text);
                QVERIFY(!ids.has_value());
                QCOMPARE(ids.error().code, ErrorCode::invalid_argument);
                const QString message = QString::fromStdString(ids.error().message);
                QVERIFY2(message.contains(QString("at byte %1").arg(offset)), qPrintable(message));
            }
        }
    }

    void nul_bytes_and_look_alikes_are_text() {
        const std::string text("a\0b\0\0c <s> <|endoftext|> <start_of_turn>", 40);
        for (const char* name : kVocabularies) {
            const Tokenizer& tok = vocab(name);
            auto ids = tok.encode(text, {.add_special = false, .parse_special = false});
            QVERIFY(ids.has_value());
            QCOMPARE(tok.decode(*ids), text);
            for (const int32_t id : *ids) {
                QVERIFY2(!tok.is_control(id), name);
            }
        }
    }

    void hostile_vocabularies_are_refused_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("message");
        const auto row = [](const char* name, const GgufBuilder& b, const QString& message) {
            const auto bytes = b.bytes();
            QTest::newRow(name) << QByteArray(reinterpret_cast<const char*>(bytes.data()),
                                              qsizetype(bytes.size()))
                                << message;
        };
        // A special token is matched at every position of a text where it could start: one
        // longer than the limit would make that quadratic.
        GgufBuilder long_special;
        long_special.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", "gpt-2")
            .strings("tokenizer.ggml.tokens", {"a", std::string("<").append(300, 'x').append(">")})
            .ints("tokenizer.ggml.token_type", {1, 3})
            .strings("tokenizer.ggml.merges", {});
        row("special token too long", long_special,
            QString("token 1 is a special token of 302 bytes; at most %1")
                .arg(hearth::kMaxSpecialTokenBytes));
        GgufBuilder bad_merge;
        bad_merge.str("tokenizer.ggml.model", "gpt2")
            .strings("tokenizer.ggml.tokens", {"a"})
            .strings("tokenizer.ggml.merges", {std::string("a \xff\xfe").append(500, 'z')});
        row("merge with invalid UTF-8", bad_merge, "names unknown token");
        GgufBuilder bad_pre;
        bad_pre.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", std::string("\xff").append(5000, 'q'))
            .strings("tokenizer.ggml.tokens", {"a"})
            .strings("tokenizer.ggml.merges", {});
        row("pre-tokenizer name of garbage", bad_pre, "unknown pre-tokenizer");
    }

    void hostile_vocabularies_are_refused() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, message);
        auto tok = from_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()));
        QVERIFY(!tok.has_value());
        const std::string got = tok.error().message;
        QVERIFY2(QString::fromStdString(got).contains(message), got.c_str());
        QVERIFY2(valid_utf8(got), "the message is not valid UTF-8");
        QVERIFY2(got.size() < 500, "the message quotes too much");
    }

    // A SentencePiece piece that is not UTF-8 can never come out of encode(); decoding it
    // gives U+FFFD, as llama.cpp and the sentencepiece library accept such a vocabulary.
    void pieces_of_invalid_utf8_decode_to_replacements() {
        GgufBuilder b;
        b.str("tokenizer.ggml.model", "llama")
            .strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xff\xfe", "a"})
            .floats("tokenizer.ggml.scores", {0, 0, 0, -1, -2})
            .ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
        auto tok = from_bytes(b.bytes());
        QVERIFY2(tok.has_value(), tok ? "" : tok.error().message.c_str());
        QCOMPARE(tok->decode(std::vector<int32_t>{4, 3, 4}), std::string("a\xEF\xBF\xBD\xEF\xBF\xBD"
                                                                         "a"));
        auto ids = tok->encode("a\xC3\xBF", {.add_special = false, .parse_special = false});
        QVERIFY(ids.has_value());
        for (const int32_t id : *ids) {
            QVERIFY(id != 3);
        }
    }

    void every_special_token_at_the_limit_loads() {
        GgufBuilder b;
        b.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", "gpt-2")
            .strings("tokenizer.ggml.tokens",
                     {"a", std::string(hearth::kMaxSpecialTokenBytes, 'x')})
            .ints("tokenizer.ggml.token_type", {1, 3})
            .strings("tokenizer.ggml.merges", {});
        auto tok = from_bytes(b.bytes());
        QVERIFY2(tok.has_value(), tok ? "" : tok.error().message.c_str());
        const std::string text =
            repeat(std::string(hearth::kMaxSpecialTokenBytes - 1, 'x') + "a", size_t{1} << 20);
        const hearth::test::CpuStopwatch cpu;
        QVERIFY(tok->encode(text, {.add_special = false, .parse_special = true}).has_value());
        QVERIFY(cpu.seconds() < 10.0);
    }

    void hostile_hf_folders_are_refused_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("message");
        const auto row = [](const char* name, const char* file, const std::string& content,
                            const char* message) {
            QTest::newRow(name) << file << QByteArray(content.data(), qsizetype(content.size()))
                                << message;
        };
        row("nested 100000 deep", "tokenizer.json",
            std::string(100000, '[') + "1" + std::string(100000, ']'),
            "nests arrays and objects 100000 deep");
        row("not an object", "tokenizer.json", "[1, 2]", "not a tokenizers file");
        row("vocab id a string", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": "zero"}, "merges": []})"),
            "tokenizer.json");
        row("vocab id negative", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": -1}, "merges": []})"),
            "tokenizer.json");
        row("added token id huge", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})",
                           R"({"type": "ByteLevel"})",
                           R"([{"id": 1000000000000000000, "content": "<x>"}])"),
            "id");
        row("added token without content", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})",
                           R"({"type": "ByteLevel"})", R"([{"id": 1}])"),
            "tokenizer.json");
        row("merge not a pair", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [[]]})"),
            "tokenizer.json");
        row("merges not an array", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": 7})"), "tokenizer.json");
        row("pre-tokenizer a number", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})", "5"),
            "pre_tokenizer");
        row("hostile regex", "tokenizer.json",
            tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})",
                           R"({"type": "Split", "behavior": "Isolated", "pattern": {"Regex": ")" +
                               std::string(40, '(') + "a" + std::string(40, ')') + R"("}})"),
            "nested");
        row("tokenizer.model of garbage", "tokenizer.model", repeat("\x0a\xff", 5000),
            "sentencepiece");
        row("config not an object", "tokenizer_config.json", "\"x\"", "tokenizer_config.json");
    }

    void hostile_hf_folders_are_refused() {
        QFETCH(QString, file);
        QFETCH(QByteArray, content);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        if (file != "tokenizer.json" && file != "tokenizer.model") {
            write(folder / "tokenizer.json", tokenizer_json());
        }
        write(folder / file.toStdString(),
              std::string_view(content.constData(), size_t(content.size())));
        auto tok = Tokenizer::from_hf_folder(folder);
        QVERIFY(!tok.has_value());
        const QString got = QString::fromStdString(tok.error().message);
        QVERIFY2(got.contains(message), qPrintable(got));
        QVERIFY2(got.size() < 600, qPrintable(got));
    }

    // tokenizer_config.json values of the wrong type are ignored as Hugging Face does with
    // null ones, not a crash.
    void config_values_of_another_type_are_ignored() {
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        write(folder / "tokenizer.json", tokenizer_json());
        write(folder / "tokenizer_config.json",
              R"({"add_bos_token": null, "add_eos_token": "yes", "bos_token": 5,
                  "eos_token": {"content": 7}, "unk_token": null})");
        auto tok = Tokenizer::from_hf_folder(folder);
        QVERIFY2(tok.has_value(), tok ? "" : tok.error().message.c_str());
        QVERIFY(!tok->add_bos());
        QVERIFY(!tok->eos_id());
        QCOMPARE(*tok->encode("ab"), std::vector<int32_t>{2});
    }

    // A FIFO, a directory or an oversized file where a tokenizer file should be: refused at
    // once (a FIFO used to block the reader forever).
    void odd_files_in_an_hf_folder_are_refused() {
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        QCOMPARE(::mkfifo((folder / "tokenizer.json").c_str(), 0600), 0);
        auto fifo = Tokenizer::from_hf_folder(folder);
        QVERIFY(!fifo.has_value());
        QVERIFY2(QString::fromStdString(fifo.error().message).contains("FIFO"),
                 fifo.error().message.c_str());
        std::filesystem::remove(folder / "tokenizer.json");
        std::filesystem::create_directory(folder / "tokenizer.json");
        QVERIFY(!Tokenizer::from_hf_folder(folder).has_value());
        std::filesystem::remove(folder / "tokenizer.json");
        // Oversized files (sparse: nothing is written), each refused before it is read.
        const std::pair<const char*, size_t> limits[] = {
            {"tokenizer_config.json", hearth::kMaxTokenizerConfigBytes},
            {"tokenizer.json", hearth::kMaxTokenizerJsonBytes},
            {"tokenizer.model", hearth::kMaxTokenizerModelBytes},
        };
        for (const auto& [file, limit] : limits) {
            write(folder / "tokenizer.json", tokenizer_json());
            write(folder / file, "{}");
            std::filesystem::resize_file(folder / file, limit + 1);
            auto big = Tokenizer::from_hf_folder(folder);
            QVERIFY(!big.has_value());
            const QString message = QString::fromStdString(big.error().message);
            QVERIFY2(message.contains(file) && message.contains("over the limit"),
                     qPrintable(message));
            std::filesystem::remove(folder / file);
        }
    }

    // Random corruptions of a real tokenizer.model: an error or a working tokenizer, never a
    // crash (the sentencepiece library parses it).
    void corrupted_tokenizer_models_never_crash() {
        const std::string model = read_text(tok_dir() / "spm-folder" / "tokenizer.model");
        QVERIFY(model.size() > 1000);
        std::mt19937 rng(16);
        int loaded = 0;
        for (int trial = 0; trial < 300; ++trial) {
            std::string bytes = model;
            const int edits = 1 + static_cast<int>(rng() % 8);
            for (int e = 0; e < edits; ++e) {
                const size_t at = rng() % bytes.size();
                switch (rng() % 3) {
                case 0:
                    bytes[at] = static_cast<char>(rng());
                    break;
                case 1:
                    bytes.erase(at, 1 + rng() % 16);
                    break;
                default:
                    bytes.resize(at);
                    break;
                }
                if (bytes.empty()) {
                    bytes.assign(1, 'x');
                }
            }
            QTemporaryDir dir;
            const std::filesystem::path folder = dir.path().toStdString();
            write(folder / "tokenizer.model", bytes);
            auto tok = Tokenizer::from_hf_folder(folder);
            if (tok) {
                ++loaded;
                auto ids = tok->encode("Hello, world! 123 \xF0\x9F\x99\x82");
                if (ids) {
                    (void)tok->decode(*ids);
                }
            }
        }
        qInfo("%d of 300 corrupted models still loaded", loaded);
    }
};

QTEST_APPLESS_MAIN(TestTokenizerHostile)
#include "tst_tokenizer_hostile.moc"
