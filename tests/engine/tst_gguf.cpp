// GGUF reader: against the reference reader (gguf.GGUFReader) on a file written by the
// reference writer and on the default model, and on corrupted copies of a valid file.
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;
using hearth::test::GgufBuilder;

namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

using test::read_bytes;

// The value as the reference's contents() shows it (nested arrays flattened).
nlohmann::json to_reference_json(const GgufValue& value) {
    if (const auto* array = value.as_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (size_t i = 0; i < array->size(); ++i) {
            const GgufValue item = array->at(i);
            auto converted = to_reference_json(item);
            if (item.as_array()) {
                for (auto& inner : converted) {
                    out.push_back(inner);
                }
            } else {
                out.push_back(converted);
            }
        }
        return out;
    }
    if (const auto* text = value.as_string()) {
        return *text;
    }
    if (auto b = value.as_bool()) {
        return *b;
    }
    if (value.type == GgufType::float32 || value.type == GgufType::float64) {
        return *value.as_float();
    }
    if (value.type == GgufType::uint64) {
        return *value.as_uint();
    }
    return *value.as_int();
}

// The value's type as the reference names it: ["array", "array", "int32"].
nlohmann::json reference_type_path(const GgufValue& value) {
    static const char* names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                  "int32",  "float32", "bool",   "string", "array",
                                  "uint64", "int64",   "float64"};
    nlohmann::json path = nlohmann::json::array({names[static_cast<int>(value.type)]});
    if (const auto* array = value.as_array()) {
        if (array->empty()) {
            path.push_back(names[static_cast<int>(array->element_type())]);
        } else {
            for (const auto& inner : reference_type_path(array->at(0))) {
                path.push_back(inner);
            }
        }
    }
    return path;
}

// A small valid file whose every field position is known, for corruption tests.
std::vector<uint8_t> small_file(GgufBuilder::Layout* layout) {
    std::vector<uint8_t> weights(4 * 32 * 4);
    for (size_t i = 0; i < weights.size(); ++i) {
        weights[i] = static_cast<uint8_t>(i * 7);
    }
    return GgufBuilder()
        .str("general.architecture", "llama")
        .u32("llama.block_count", 1)
        .str_array("tokenizer.ggml.tokens", {"a", "b", "c"})
        .tensor("w", TensorType::F32, {32, 4}, weights)
        .tensor("v", TensorType::F32, {8}, std::vector<uint8_t>(32, 0))
        .build(layout);
}

void expect_failure(const std::vector<uint8_t>& bytes, ErrorCode code, const char* needle) {
    auto header = parse_gguf_header(bytes, bytes.size());
    QVERIFY2(!header, needle);
    const std::string& message = header.error().message;
    QVERIFY2(header.error().code == code, message.c_str());
    QVERIFY2(message.find(needle) != std::string::npos, message.c_str());
    QVERIFY2(message.find('\n') == std::string::npos, message.c_str());
}

} // namespace

class TestGguf : public QObject {
    Q_OBJECT

private slots:
    void matches_reference_reader_on_every_value_type() {
        const auto expected = read_json(test::data_dir() / "gguf" / "tiny.expected.json");
        auto file = GgufFile::open(test::data_dir() / "gguf" / "tiny.gguf");
        QVERIFY2(file, file ? "" : file.error().message.c_str());
        QCOMPARE(file->version(), expected["version"].get<uint32_t>());
        QCOMPARE(file->header().alignment, expected["alignment"].get<uint64_t>());
        QCOMPARE(file->header().data_offset, expected["data_offset"].get<uint64_t>());
        QCOMPARE(file->file_size(), expected["file_size"].get<uint64_t>());

        QCOMPARE(file->metadata().size(), expected["metadata"].size());
        for (size_t i = 0; i < file->metadata().size(); ++i) {
            const auto& kv = file->metadata()[i];
            const auto& want = expected["metadata"][i];
            QCOMPARE(QString::fromStdString(kv.key), QString::fromStdString(want["key"]));
            QCOMPARE(QString::fromStdString(reference_type_path(kv.value).dump()),
                     QString::fromStdString(want["types"].dump()));
            const auto got = to_reference_json(kv.value);
            QVERIFY2(
                got == want["value"],
                (kv.key + ": got " + got.dump() + ", expected " + want["value"].dump()).c_str());
        }
        const GgufArray* nested = file->find("test.arr_nested")->as_array();
        QVERIFY(nested);
        QCOMPARE(nested->element_type(), GgufType::array);
        QCOMPARE(nested->size(), size_t{3});
        QCOMPARE(nested->array_at(2)->size(), size_t{3});

        QCOMPARE(file->tensors().size(), expected["tensors"].size());
        for (size_t i = 0; i < file->tensors().size(); ++i) {
            const auto& tensor = file->tensors()[i];
            const auto& want = expected["tensors"][i];
            QCOMPARE(QString::fromStdString(tensor.name), QString::fromStdString(want["name"]));
            QCOMPARE(QString::fromStdString(std::string(tensor_type_name(tensor.type))),
                     QString::fromStdString(want["type"]));
            QCOMPARE(tensor.dims, want["dims"].get<std::vector<uint64_t>>());
            QCOMPARE(tensor.n_elements, want["n_elements"].get<uint64_t>());
            QCOMPARE(tensor.n_bytes, want["n_bytes"].get<uint64_t>());
            QCOMPARE(tensor.file_offset, want["file_offset"].get<uint64_t>());
            auto values = file->read_tensor_f32(tensor);
            QVERIFY2(values, values ? "" : values.error().message.c_str());
            const auto want_values = want["values"].get<std::vector<float>>();
            QCOMPARE(values->size(), want_values.size());
            for (size_t j = 0; j < want_values.size(); ++j) {
                QCOMPARE((*values)[j], want_values[j]);
            }
        }
    }

    void version_2_reads_like_version_3() {
        auto bytes = read_bytes(test::data_dir() / "gguf" / "tiny.gguf");
        test::patch<uint32_t>(bytes, 4, 2);
        auto header = parse_gguf_header(bytes, bytes.size());
        QVERIFY2(header, header ? "" : header.error().message.c_str());
        QCOMPARE(header->version, 2u);
        QCOMPARE(header->tensors.size(), size_t{5});
    }

    void default_model_matches_reference_reader() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model_path);
        const auto expected = read_json(test::data_dir() / "gguf" / "smollm2.expected.json");
        auto file = GgufFile::open(model_path);
        QVERIFY2(file, file ? "" : file.error().message.c_str());
        QCOMPARE(file->file_size(), expected["file_size"].get<uint64_t>());
        QCOMPARE(file->header().data_offset, expected["data_offset"].get<uint64_t>());
        QCOMPARE(file->metadata().size(), expected["metadata"].size());
        for (const auto& kv : file->metadata()) {
            QVERIFY2(expected["metadata"].contains(kv.key), kv.key.c_str());
            const auto& want = expected["metadata"][kv.key];
            if (want.contains("array_length")) {
                QVERIFY2(kv.value.as_array(), kv.key.c_str());
                QCOMPARE(kv.value.as_array()->size(), want["array_length"].get<size_t>());
            } else {
                QVERIFY2(to_reference_json(kv.value) == want["value"], kv.key.c_str());
            }
        }
        // Every tensor dequantized bit for bit as gguf.quants.dequantize does.
        QCOMPARE(file->tensors().size(), expected["tensors"].size());
        for (size_t i = 0; i < file->tensors().size(); ++i) {
            const auto& tensor = file->tensors()[i];
            const auto& want = expected["tensors"][i];
            QCOMPARE(QString::fromStdString(tensor.name), QString::fromStdString(want["name"]));
            QCOMPARE(tensor.dims, want["dims"].get<std::vector<uint64_t>>());
            QCOMPARE(tensor.file_offset, want["file_offset"].get<uint64_t>());
            auto values = file->read_tensor_f32(tensor);
            QVERIFY2(values, values ? "" : values.error().message.c_str());
            const QByteArray digest =
                QCryptographicHash::hash(
                    QByteArrayView(reinterpret_cast<const char*>(values->data()),
                                   qsizetype(values->size() * sizeof(float))),
                    QCryptographicHash::Sha256)
                    .toHex();
            QVERIFY2(digest.toStdString() == want["f32_sha256"].get<std::string>(),
                     ("dequantized " + tensor.name + " differs from the reference").c_str());
        }
    }

    void model_info_and_memory_arithmetic() {
        auto file = GgufFile::open(test::data_dir() / "gguf" / "tiny.gguf");
        QVERIFY(file);
        auto info = read_model_info(file->header(), file->file_size());
        QVERIFY2(info, info ? "" : info.error().message.c_str());
        QCOMPARE(QString::fromStdString(info->architecture), QStringLiteral("llama"));
        QCOMPARE(info->n_layer, 2u);
        QCOMPARE(info->n_embd, 64u);
        QCOMPARE(info->n_head, 4u);
        QCOMPARE(info->n_head_kv, 2u);
        QCOMPARE(info->head_dim_k, 16u);
        QCOMPARE(info->n_ctx_train, 256u);
        QCOMPARE(info->n_params, uint64_t{64 + 192 + 128 + 128 + 192});
        // 2 (K, V) × 2 layers × 2 KV heads × 16 × 2 bytes = 256 bytes per token.
        MemoryPlan plan = plan_memory(*info, {.n_ctx = 100});
        QCOMPARE(plan.kv_bytes_per_token, 256.0);
        QCOMPARE(plan.kv_bytes, uint64_t{25600});
        QCOMPARE(plan.weights_bytes, uint64_t{256 + 768 + 256 + 136 + 108});
        QCOMPARE(plan.total_bytes, plan.weights_bytes + plan.kv_bytes + plan.scratch_bytes);
        MemoryPlan q8 =
            plan_memory(*info, {.n_ctx = 100, .n_seq = 2, .kv_type = KvCacheType::q8_0});
        QCOMPARE(q8.kv_bytes, uint64_t{2 * 2 * 2 * 16 * 34 / 32 * 100 * 2});
        QCOMPARE(assess_fit(50, 100), Fit::fits);
        QCOMPARE(assess_fit(90, 100), Fit::tight);
        QCOMPARE(assess_fit(101, 100), Fit::wont_fit);
    }

    void model_info_names_a_missing_key() {
        auto bytes = GgufBuilder().str("general.architecture", "llama").build();
        auto header = parse_gguf_header(bytes, bytes.size());
        QVERIFY(header);
        auto info = read_model_info(*header, bytes.size());
        QVERIFY(!info);
        QVERIFY2(info.error().message.find("llama.block_count") != std::string::npos,
                 info.error().message.c_str());
    }

    void header_prefix_parses_without_the_data() {
        // What a download reads first: the header alone, without tensor data or file size.
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + layout.data_offset);
        auto header = parse_gguf_header(prefix);
        QVERIFY2(header, header ? "" : header.error().message.c_str());
        QCOMPARE(header->tensors.size(), size_t{2});
        QCOMPARE(header->data_offset, layout.data_offset);
    }

    void every_truncation_is_reported() {
        auto bytes = read_bytes(test::data_dir() / "gguf" / "tiny.gguf");
        // The file ends with alignment padding; everything before the end of the last
        // tensor's data is needed.
        const auto expected = read_json(test::data_dir() / "gguf" / "tiny.expected.json");
        size_t data_end = 0;
        for (const auto& tensor : expected["tensors"]) {
            data_end = std::max<size_t>(data_end, tensor["file_offset"].get<size_t>() +
                                                      tensor["n_bytes"].get<size_t>());
        }
        QVERIFY(data_end > 0 && data_end <= bytes.size());
        auto whole = parse_gguf_header({bytes.data(), data_end}, data_end);
        QVERIFY2(whole, whole ? "" : whole.error().message.c_str());
        for (size_t size = 0; size < data_end; ++size) {
            std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
            auto header = parse_gguf_header(prefix, prefix.size());
            QVERIFY2(!header, qPrintable(QString("prefix of %1 bytes accepted").arg(size)));
            QVERIFY2(header.error().message.find("offset") != std::string::npos,
                     header.error().message.c_str());
        }
    }

    void wrong_magic() {
        auto bytes = small_file(nullptr);
        bytes[0] = 'X';
        expect_failure(bytes, ErrorCode::bad_format, "not a GGUF file");
    }

    void big_endian_file() {
        auto bytes = small_file(nullptr);
        test::patch<uint32_t>(bytes, 4, 0x03000000);
        expect_failure(bytes, ErrorCode::unsupported, "big-endian");
    }

    void unsupported_version() {
        auto bytes = small_file(nullptr);
        test::patch<uint32_t>(bytes, 4, 1);
        expect_failure(bytes, ErrorCode::unsupported, "version 1");
    }

    void huge_counts() {
        auto bytes = small_file(nullptr);
        test::patch<uint64_t>(bytes, 8, uint64_t{1} << 40);
        expect_failure(bytes, ErrorCode::bad_format, "tensor count");
        bytes = small_file(nullptr);
        test::patch<uint64_t>(bytes, 16, uint64_t{1} << 40);
        expect_failure(bytes, ErrorCode::bad_format, "metadata count");
    }

    void string_longer_than_the_file() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        // The value of general.architecture: key length + key + type, then its length.
        const uint64_t at = layout.key_at["general.architecture"] + 8 + 20 + 4;
        test::patch<uint64_t>(bytes, at, uint64_t{1} << 33);
        expect_failure(bytes, ErrorCode::bad_format, "length");
        test::patch<uint64_t>(bytes, at, 4000);
        expect_failure(bytes, ErrorCode::bad_format, "cannot fit");
    }

    void array_count_larger_than_the_file() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        const uint64_t at = layout.key_at["tokenizer.ggml.tokens"] + 8 + 21 + 4 + 4;
        test::patch<uint64_t>(bytes, at, uint64_t{1} << 24);
        expect_failure(bytes, ErrorCode::bad_format, "cannot fit");
        test::patch<uint64_t>(bytes, at, ~uint64_t{0});
        expect_failure(bytes, ErrorCode::bad_format, "over the limit");
    }

    void unknown_value_type() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        test::patch<uint32_t>(bytes, layout.key_at["llama.block_count"] + 8 + 17, 99);
        expect_failure(bytes, ErrorCode::bad_format, "unknown value type 99");
    }

    void unknown_tensor_type() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        // name (8 + 1), n_dims (4), dims (2 × 8), then the type.
        test::patch<uint32_t>(bytes, layout.tensor_info_at["w"] + 9 + 4 + 16, 77);
        expect_failure(bytes, ErrorCode::unsupported, "unknown tensor type 77");
    }

    void dimension_past_the_end() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        test::patch<uint64_t>(bytes, layout.tensor_info_at["w"] + 9 + 4 + 8, 4000);
        expect_failure(bytes, ErrorCode::bad_format, "runs past the end");
        test::patch<uint64_t>(bytes, layout.tensor_info_at["w"] + 9 + 4 + 8, uint64_t{1} << 62);
        expect_failure(bytes, ErrorCode::bad_format, "impossible dimension");
        test::patch<uint64_t>(bytes, layout.tensor_info_at["w"] + 9 + 4 + 8, 0);
        expect_failure(bytes, ErrorCode::bad_format, "impossible dimension");
    }

    void offset_past_the_end() {
        GgufBuilder::Layout layout;
        auto bytes = small_file(&layout);
        const uint64_t at = layout.tensor_info_at["v"] + 9 + 4 + 8 + 4;
        test::patch<uint64_t>(bytes, at, 1 << 20);
        expect_failure(bytes, ErrorCode::bad_format, "runs past the end");
        test::patch<uint64_t>(bytes, at, ~uint64_t{0} - 31);
        expect_failure(bytes, ErrorCode::bad_format, "runs past the end");
        test::patch<uint64_t>(bytes, at, 3);
        expect_failure(bytes, ErrorCode::bad_format, "alignment");
    }

    void truncated_tensor_data() {
        auto bytes = small_file(nullptr);
        bytes.pop_back(); // (resize(size() - 1) trips a -Wstringop-overflow false positive at -O1)
        expect_failure(bytes, ErrorCode::bad_format, "truncated");
    }

    void duplicates_and_bad_alignment() {
        auto duplicate_key = GgufBuilder().u32("a", 1).u32("a", 2).build();
        expect_failure(duplicate_key, ErrorCode::bad_format, "appears twice");
        auto duplicate_tensor = GgufBuilder()
                                    .tensor("t", TensorType::F32, {1}, {0, 0, 0, 0})
                                    .tensor("t", TensorType::F32, {1}, {0, 0, 0, 0})
                                    .build();
        expect_failure(duplicate_tensor, ErrorCode::bad_format, "appears twice");
        auto bad_alignment = GgufBuilder().u32("general.alignment", 48).build();
        auto header = parse_gguf_header(bad_alignment, bad_alignment.size());
        QVERIFY(!header);
        QVERIFY(header.error().message.find("general.alignment") != std::string::npos);
    }

    void row_not_a_whole_number_of_blocks() {
        auto bytes =
            GgufBuilder().tensor("q", TensorType::Q4_0, {48}, std::vector<uint8_t>(27)).build();
        expect_failure(bytes, ErrorCode::bad_format, "block size 32");
    }

    void deep_nesting_is_bounded() {
        // An array of arrays nested 20 deep, each with one item.
        std::vector<uint8_t> value;
        for (int depth = 0; depth < 20; ++depth) {
            GgufBuilder::put(value, static_cast<uint32_t>(GgufType::array));
            GgufBuilder::put(value, uint64_t{1});
        }
        GgufBuilder::put(value, static_cast<uint32_t>(GgufType::uint8));
        GgufBuilder::put(value, uint64_t{1});
        value.push_back(7);
        std::vector<uint8_t> outer(value.begin() + 12, value.end());
        auto bytes = GgufBuilder().raw("deep", GgufType::array, outer).build();
        expect_failure(bytes, ErrorCode::bad_format, "nested deeper");
    }

    void bool_must_be_zero_or_one() {
        GgufBuilder::Layout layout;
        auto bytes = GgufBuilder().boolean("b", true).build(&layout);
        bytes[layout.key_at["b"] + 8 + 1 + 4] = 2;
        expect_failure(bytes, ErrorCode::bad_format, "neither 0 nor 1");

        // In an array (read in one pass, not item by item): the message names the bad byte.
        GgufBuilder::Layout array_layout;
        const auto flags = GgufBuilder()
                               .num_array<uint8_t>("flags", GgufType::boolean, {1, 0, 3, 1})
                               .build(&array_layout);
        const uint64_t third = array_layout.key_at["flags"] + 8 + 5 + 4 + 4 + 8 + 2;
        expect_failure(
            flags, ErrorCode::bad_format,
            ("bool value 3 is neither 0 nor 1 (at byte offset " + std::to_string(third) + ")")
                .c_str());
        auto good = parse_gguf_header(
            GgufBuilder().num_array<uint8_t>("flags", GgufType::boolean, {1, 0, 1}).build());
        QVERIFY(good);
        QCOMPARE(good->find("flags")->as_array()->flags(), std::vector<bool>({true, false, true}));
    }

    // Arrays keep their items in flat storage: each read back as the file holds it, whatever
    // its type, through the typed accessors and as a value of its own.
    void array_items_decode_as_single_values() {
        const auto bytes = GgufBuilder()
                               .num_array<int16_t>("i16", GgufType::int16, {-3, 0, 32767})
                               .num_array<uint64_t>("u64", GgufType::uint64, {~0ull, 5})
                               .num_array<float>("f32", GgufType::float32, {0.5f, -1e30f})
                               .str_array("s", {"", "a b", std::string("\0x", 3)})
                               .build();
        auto header = parse_gguf_header(bytes, bytes.size());
        QVERIFY2(header, header ? "" : header.error().message.c_str());
        const GgufArray& i16 = *header->find("i16")->as_array();
        QCOMPARE(i16.size(), size_t{3});
        QCOMPARE(i16.int_at(0), std::optional<int64_t>(-3));
        QCOMPARE(i16.uint_at(0), std::optional<uint64_t>());
        QCOMPARE(i16.at(2).as_int(), std::optional<int64_t>(32767));
        QCOMPARE(i16.float_at(2), std::optional<double>(32767.0));
        QVERIFY(!i16.string_at(0));
        const GgufArray& u64 = *header->find("u64")->as_array();
        QCOMPARE(u64.uint_at(0), std::optional<uint64_t>(~0ull));
        QCOMPARE(u64.int_at(0), std::optional<int64_t>()); // does not fit
        QCOMPARE(u64.at(1).type, GgufType::uint64);
        const GgufArray& f32 = *header->find("f32")->as_array();
        QCOMPARE(f32.float_at(1), std::optional<double>(double{-1e30f}));
        QCOMPARE(f32.int_at(0), std::optional<int64_t>());
        const GgufArray& s = *header->find("s")->as_array();
        QCOMPARE(s.size(), size_t{3});
        QCOMPARE(s.string_at(0), std::optional<std::string_view>(""));
        QCOMPARE(s.string_at(1), std::optional<std::string_view>("a b"));
        QCOMPARE(s.string_at(2), std::optional<std::string_view>(std::string_view("\0x", 3)));
        QCOMPARE(*s.at(1).as_string(), std::string("a b"));
        QVERIFY(!s.float_at(0));
        QVERIFY(!s.flags());
    }

    void missing_and_empty_files() {
        auto missing = GgufFile::open("/nonexistent/model.gguf");
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ErrorCode::io);
        QVERIFY(missing.error().message.find("/nonexistent/model.gguf") != std::string::npos);
        QTemporaryDir dir;
        const auto empty = std::filesystem::path(dir.path().toStdString()) / "empty.gguf";
        test::write_file(empty, {});
        auto opened = GgufFile::open(empty);
        QVERIFY(!opened);
        QVERIFY(opened.error().message.find("empty") != std::string::npos);
        auto directory = GgufFile::open(dir.path().toStdString());
        QVERIFY(!directory);
    }
};

QTEST_APPLESS_MAIN(TestGguf)
#include "tst_gguf.moc"
