// Importance matrices (hearth/imatrix.h, hearth-cli imatrix, quantize --imatrix) against
// llama.cpp's own tools (tests/data/imatrix/, scripts/gen-imatrix-reference.py): the matrix
// Hearth's forward pass collects equals llama-imatrix's within a stated tolerance, files
// quantized with llama-imatrix's matrix are byte-identical to llama-quantize --imatrix's, both
// file formats load to the same weights, and hostile matrix files are refused by name.
#include "gguf_builder.h"
#include "hearth/imatrix.h"
#include "hearth/model.h"
#include "hearth/quantize.h"
#include "hearth/tokenizer.h"
#include "quantize_inputs.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>

using namespace hearth;
namespace fs = std::filesystem;

namespace {

fs::path imatrix_dir() {
    return test::data_dir() / "imatrix";
}

// Hearth's squared activations differ from llama.cpp's in the last bits of each layer's
// output (its attention and softmax are not bit-identical), which compounds over 8 layers:
// the largest relative difference of a column's sum is 2.2e-3 (ffn_down of the last layer).
constexpr double kSumTolerance = 5e-3;

double relative(double a, double b) {
    return std::fabs(a - b) / std::max(std::fabs(b), 1e-30);
}

std::vector<uint8_t> float_bytes(std::vector<float> values) {
    std::vector<uint8_t> out(values.size() * sizeof(float));
    std::memcpy(out.data(), values.data(), out.size());
    return out;
}

// A GGUF imatrix with one entry, its parts as given, for the refusals.
std::vector<uint8_t> one_entry_gguf(std::vector<float> sums, std::vector<float> counts,
                                    TensorType counts_type = TensorType::F32,
                                    bool metadata = true) {
    test::GgufBuilder b;
    if (metadata) {
        b.str("general.type", "imatrix")
            .str_array("imatrix.datasets", {"t.txt"})
            .u32("imatrix.chunk_count", 1)
            .u32("imatrix.chunk_size", 16);
    }
    const uint64_t n = sums.size();
    if (!sums.empty())
        b.tensor("blk.0.attn_q.weight.in_sum2", TensorType::F32, {n}, float_bytes(sums));
    if (!counts.empty()) {
        std::vector<uint8_t> bytes = float_bytes(counts);
        if (counts_type == TensorType::F16)
            bytes.resize(bytes.size() / 2);
        b.tensor("blk.0.attn_q.weight.counts", counts_type, {1, uint64_t(counts.size())}, bytes);
    }
    return b.build();
}

} // namespace

class TstImatrix : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    nlohmann::json index_;
    std::map<std::string, fs::path> inputs_;

    fs::path tmp(const std::string& name) const {
        return fs::path(dir_.path().toStdString()) / name;
    }
    std::vector<int32_t> text_tokens(const Model& model) const;

private slots:
    void initTestCase();
    void quantized_files_are_llama_quantize_s_bytes_data();
    void quantized_files_are_llama_quantize_s_bytes();
    void computed_matrix_matches_llama_imatrix();
    void experts_are_collected_per_expert();
    void legacy_and_gguf_formats_give_the_same_weights();
    void the_imatrix_changes_what_is_written();
    void hostile_files_are_refused();
    void a_matrix_for_another_model_is_refused();
    void cli_computes_and_refuses_clearly();
};

void TstImatrix::initTestCase() {
    QVERIFY(dir_.isValid());
    index_ = nlohmann::json::parse(test::read_text(imatrix_dir() / "index.json"));
    const auto quantize_index =
        nlohmann::json::parse(test::read_text(test::quantize_dir() / "index.json"));
    for (const char* name : {"llama8.F16", "qwen3moe8.F16"}) {
        inputs_[name] = test::rebuild_input(quantize_index["inputs"][name], tmp(""), name);
    }
}

std::vector<int32_t> TstImatrix::text_tokens(const Model& model) const {
    std::string text = test::read_text(test::data_dir() / "generation" / "genesis.txt");
    text.resize(index_["text"]["bytes"].get<size_t>());
    auto tokens = model.tokenizer().encode(text, {.add_special = true, .parse_special = false});
    if (!tokens)
        qFatal("%s", tokens.error().message.c_str());
    return *tokens;
}

void TstImatrix::quantized_files_are_llama_quantize_s_bytes_data() {
    QTest::addColumn<int>("case_index");
    for (size_t i = 0; i < index_["cases"].size(); ++i) {
        const auto& c = index_["cases"][i];
        const std::string tag =
            fmt::format("{}.{}.{}", c["model"].get<std::string>(), c["type"].get<std::string>(),
                        c["imatrix"].get<std::string>());
        QTest::newRow(tag.c_str()) << static_cast<int>(i);
    }
}

void TstImatrix::quantized_files_are_llama_quantize_s_bytes() {
    QFETCH(int, case_index);
    const auto& c = index_["cases"][static_cast<size_t>(case_index)];
    const std::string matrix_name = c["imatrix"].get<std::string>();
    auto matrix = load_imatrix(imatrix_dir() / matrix_name);
    QVERIFY2(matrix, matrix ? "" : matrix.error().message.c_str());
    auto input = GgufFile::open(inputs_.at(c["model"].get<std::string>() + ".F16"));
    QVERIFY(input);
    const fs::path out = tmp("out.gguf");
    // llama-quantize recorded the bare name it was given in quantize.imatrix.file.
    auto done =
        quantize_model(*input, out,
                       {.type = *parse_quant_file_type(c["type"].get<std::string>()),
                        .threads = 2,
                        .imatrix = std::make_shared<const ImportanceMatrix>(std::move(*matrix)),
                        .imatrix_file = matrix_name});
    QVERIFY2(done, done ? "" : done.error().message.c_str());
    auto output = GgufFile::open(out);
    QVERIFY(output);
    const auto& expected = c["tensors"];
    QCOMPARE(output->tensors().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const GgufTensorInfo& t = output->tensors()[i];
        QCOMPARE(t.name, expected[i][0].get<std::string>());
        QCOMPARE(std::string(tensor_type_name(t.type)), expected[i][1].get<std::string>());
        QVERIFY2(test::sha256(output->tensor_data(t)).substr(0, 16) == expected[i][2],
                 ("tensor " + t.name + " differs from llama-quantize --imatrix's").c_str());
    }
    // The whole file, metadata included (quantize.imatrix.* as llama-quantize writes them).
    const std::vector<uint8_t> bytes = test::read_bytes(out);
    QCOMPARE(bytes.size(), c["size"].get<size_t>());
    QCOMPARE(test::sha256(bytes), c["sha256"].get<std::string>());
}

void TstImatrix::computed_matrix_matches_llama_imatrix() {
    auto model = Model::load(inputs_.at("llama8.F16"), {.n_threads = 2, .on_progress = {}});
    QVERIFY(model);
    const auto tokens = text_tokens(**model);
    auto result = compute_imatrix(*model, tokens,
                                  {.n_ctx = index_["ctx"].get<uint32_t>(),
                                   .max_chunks = index_["chunks"].get<size_t>(),
                                   .n_threads = 2,
                                   .dataset = "text.txt"});
    QVERIFY2(result, result ? "" : result.error().message.c_str());
    QVERIFY(result->unseen.empty());
    auto reference = load_imatrix(imatrix_dir() / "llama8.imatrix.gguf");
    QVERIFY(reference);
    QCOMPARE(result->matrix.chunk_count, reference->chunk_count);
    QCOMPARE(result->matrix.chunk_size, reference->chunk_size);
    QCOMPARE(result->matrix.entries.size(), reference->entries.size()); // 56: 7 x 8 layers
    double worst = 0;
    for (const auto& [name, expected] : reference->entries) {
        QVERIFY2(result->matrix.entries.contains(name), name.c_str());
        const ImatrixEntry& mine = result->matrix.entries.at(name);
        QCOMPARE(mine.counts, expected.counts);
        QCOMPARE(mine.sums.size(), expected.sums.size());
        for (size_t i = 0; i < mine.sums.size(); ++i)
            worst = std::max(worst, relative(mine.sums[i], expected.sums[i]));
    }
    QVERIFY2(worst < kSumTolerance, fmt::format("worst relative difference {}", worst).c_str());
    // Written as llama-imatrix writes it: the same header (names, shapes, order, metadata).
    const fs::path out = tmp("mine.imatrix.gguf");
    QVERIFY(save_imatrix(out, result->matrix));
    auto mine_file = GgufFile::open(out);
    auto ref_file = GgufFile::open(imatrix_dir() / "llama8.imatrix.gguf");
    QVERIFY(mine_file && ref_file);
    const auto header = [](const GgufFile& f) {
        const auto bytes = f.parts().front().bytes;
        return std::vector<uint8_t>(bytes.begin(), bytes.begin() + f.header().data_offset);
    };
    QVERIFY(header(*mine_file) == header(*ref_file));
    QCOMPARE(mine_file->file_size(), ref_file->file_size());
}

void TstImatrix::experts_are_collected_per_expert() {
    auto model = Model::load(inputs_.at("qwen3moe8.F16"), {.n_threads = 2, .on_progress = {}});
    QVERIFY(model);
    auto result = compute_imatrix(*model, text_tokens(**model),
                                  {.n_ctx = index_["ctx"].get<uint32_t>(),
                                   .max_chunks = index_["chunks"].get<size_t>(),
                                   .n_threads = 2,
                                   .dataset = "text.txt"});
    QVERIFY2(result, result ? "" : result.error().message.c_str());
    auto reference = load_imatrix(imatrix_dir() / "qwen3moe8.imatrix.gguf");
    QVERIFY(reference);
    QCOMPARE(result->matrix.entries.size(), reference->entries.size());
    size_t experts_compared = 0;
    for (const auto& [name, expected] : reference->entries) {
        QVERIFY2(result->matrix.entries.contains(name), name.c_str());
        const ImatrixEntry& mine = result->matrix.entries.at(name);
        QCOMPARE(mine.counts.size(), expected.counts.size()); // 8 for the _exps, else 1
        QCOMPARE(mine.sums.size(), expected.sums.size());
        int64_t mine_total = 0;
        int64_t expected_total = 0;
        const size_t columns = expected.columns();
        for (size_t e = 0; e < expected.counts.size(); ++e) {
            mine_total += mine.counts[e];
            expected_total += expected.counts[e];
            // A random router has near ties: a token may pick another expert in one layer
            // (it does once in layer 1 on this text); every expert whose count agrees must
            // agree on its sums.
            if (mine.counts[e] != expected.counts[e])
                continue;
            ++experts_compared;
            for (size_t i = 0; i < columns; ++i) {
                const size_t k = e * columns + i;
                QVERIFY2(relative(mine.sums[k], expected.sums[k]) < kSumTolerance,
                         fmt::format("{} expert {} column {}", name, e, i).c_str());
            }
        }
        QCOMPARE(mine_total, expected_total);
    }
    QVERIFY(experts_compared >= 40); // of 6 x 8 expert blocks and 10 dense entries
}

void TstImatrix::legacy_and_gguf_formats_give_the_same_weights() {
    auto gguf = load_imatrix(imatrix_dir() / "llama8.imatrix.gguf");
    auto legacy = load_imatrix(imatrix_dir() / "llama8.imatrix.dat");
    QVERIFY(gguf && legacy);
    QVERIFY(!gguf->legacy && legacy->legacy);
    QCOMPARE(legacy->chunk_count, 4u);
    QCOMPARE(legacy->datasets, std::vector<std::string>{"text.txt"});
    const auto a = imatrix_weights(*gguf);
    const auto b = imatrix_weights(*legacy);
    QCOMPARE(a.size(), b.size());
    for (const auto& [name, weights] : a) {
        QVERIFY(b.contains(name));
        QCOMPARE(weights.size(), b.at(name).size());
        for (size_t i = 0; i < weights.size(); ++i)
            QVERIFY(relative(b.at(name)[i], weights[i]) < 1e-6);
    }
}

void TstImatrix::the_imatrix_changes_what_is_written() {
    // Without the weighted routines the bytes would be the reference quantizers': the cases
    // above would then fail; here the plan's side: the mix and the tensors marked.
    auto input = GgufFile::open(inputs_.at("llama8.F16"));
    QVERIFY(input);
    auto matrix = load_imatrix(imatrix_dir() / "llama8.imatrix.gguf");
    QVERIFY(matrix);
    auto shared = std::make_shared<const ImportanceMatrix>(std::move(*matrix));
    const auto type_of = [](const QuantizePlan& plan, const std::string& name) {
        for (const auto& t : plan.tensors) {
            if (t.name == name)
                return t.to;
        }
        return TensorType::F32;
    };
    auto plain = plan_quantization(*input, {.type = QuantFileType::Q4_0});
    auto weighted = plan_quantization(*input, {.type = QuantFileType::Q4_0, .imatrix = shared});
    QVERIFY(plain && weighted);
    // llama.cpp's guard for the first eighth of ffn_down, only with an imatrix.
    QCOMPARE(type_of(*plain, "blk.0.ffn_down.weight"), TensorType::Q4_0);
    QCOMPARE(type_of(*weighted, "blk.0.ffn_down.weight"), TensorType::Q4_1);
    auto iq4 = plan_quantization(*input, {.type = QuantFileType::IQ4_XS});
    auto iq4_weighted =
        plan_quantization(*input, {.type = QuantFileType::IQ4_XS, .imatrix = shared});
    QVERIFY(iq4 && iq4_weighted);
    QCOMPARE(type_of(*iq4, "blk.0.ffn_down.weight"), TensorType::Q5_K);
    QCOMPARE(type_of(*iq4_weighted, "blk.0.ffn_down.weight"), TensorType::IQ4_XS);
    size_t marked = 0;
    for (const auto& t : weighted->tensors)
        marked += t.weighted ? 1 : 0;
    QCOMPARE(marked, size_t{56}); // every blk matrix; output and token_embd have no entry
    QCOMPARE(weighted->missing_importance,
             (std::vector<std::string>{"output.weight", "token_embd.weight"}));
    QVERIFY(weighted->output_bytes > plain->output_bytes); // the quantize.imatrix.* keys
}

void TstImatrix::hostile_files_are_refused() {
    const auto refused = [&](const std::vector<uint8_t>& bytes, const std::string& expected) {
        const fs::path path = tmp("hostile.imatrix");
        test::write_file(path, bytes);
        auto loaded = load_imatrix(path);
        if (loaded) {
            qWarning("accepted, expected: %s", expected.c_str());
            return false;
        }
        if (loaded.error().message.find(expected) == std::string::npos) {
            qWarning("%s (expected: %s)", loaded.error().message.c_str(), expected.c_str());
            return false;
        }
        return true;
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    QVERIFY(refused(one_entry_gguf({1, 2, 3, nan}, {4}), "blk.0.attn_q.weight: value 3 is nan"));
    QVERIFY(refused(one_entry_gguf({1, -2, 3, 4}, {4}), "value 1 is -2"));
    QVERIFY(refused(one_entry_gguf({1, 2, 3, 4}, {}), "has .in_sum2 but no .counts"));
    QVERIFY(refused(one_entry_gguf({}, {4}), "has .counts but no .in_sum2"));
    QVERIFY(refused(one_entry_gguf({1, 2, 3, 4}, {4, 0}, TensorType::F16), "is F16, not F32"));
    QVERIFY(refused(one_entry_gguf({1, 2, 3, 4}, {2.5f}), "count 2.5 is not a whole number"));
    QVERIFY(refused(one_entry_gguf({1, 2, 3}, {1, 1}), "3 sums do not divide into 2 blocks"));
    QVERIFY(refused(one_entry_gguf({1, 2, 3, 4}, {4}, TensorType::F32, false),
                    "imatrix.datasets, imatrix.chunk_count or imatrix.chunk_size is missing"));
    QVERIFY(refused(one_entry_gguf(std::vector<float>(4, 1.f), std::vector<float>(600, 1.f)),
                    "600 counts (1 to 512 allowed)"));

    // The legacy format: i32 entries, then per entry i32 name length, name, i32 ncall,
    // i32 values, the values.
    const auto legacy = [](int32_t entries, int32_t name_length, const std::string& name,
                           int32_t ncall, int32_t n_values, std::vector<float> values) {
        std::vector<uint8_t> out;
        const auto put = [&](const void* p, size_t n) {
            out.insert(out.end(), static_cast<const uint8_t*>(p),
                       static_cast<const uint8_t*>(p) + n);
        };
        put(&entries, 4);
        put(&name_length, 4);
        put(name.data(), name.size());
        put(&ncall, 4);
        put(&n_values, 4);
        put(values.data(), values.size() * sizeof(float));
        return out;
    };
    const std::string q = "blk.0.attn_q.weight";
    const auto q_length = static_cast<int32_t>(q.size());
    QVERIFY(refused(legacy(0, q_length, q, 1, 2, {1, 2}), "0 entries (1 to 65536 allowed)"));
    QVERIFY(refused(legacy(1 << 30, q_length, q, 1, 2, {1, 2}), "entries (1 to 65536 allowed)"));
    QVERIFY(refused(legacy(1, -5, q, 1, 2, {1, 2}), "name length -5"));
    QVERIFY(refused(legacy(1, 1 << 20, q, 1, 2, {1, 2}), "name length 1048576"));
    QVERIFY(refused(legacy(1, q_length, q, 1, 1 << 29, {1, 2}), "536870912 values"));
    QVERIFY(refused(legacy(1, q_length, q, 1, 4, {1, 2}), "file truncated"));
    QVERIFY(refused(legacy(1, q_length, q, -3, 2, {1, 2}), "negative count -3"));
    QVERIFY(refused(legacy(1, q_length, q, 1, 2, {1, nan}), "value 1 is nan"));
    QVERIFY(refused(legacy(2, q_length, q, 1, 2, {1, 2}), "entry 1: file truncated"));
    QVERIFY(refused(legacy(1, 3, std::string("a\0b", 3), 1, 2, {1, 2}), "holds a NUL byte"));
    QVERIFY(refused({1, 0}, "too short to be an importance matrix"));
    auto missing = load_imatrix(tmp("no-such.imatrix"));
    QVERIFY(!missing && missing.error().code == ErrorCode::io);
}

void TstImatrix::a_matrix_for_another_model_is_refused() {
    // An entry whose size is not the tensor's columns x experts: llama-quantize aborts, and
    // so does Hearth, before writing anything.
    ImportanceMatrix matrix;
    matrix.entries["blk.0.attn_q.weight"] = {std::vector<float>(128, 1.f), {1}};
    matrix.chunk_count = 1;
    matrix.chunk_size = 16;
    auto input = GgufFile::open(inputs_.at("llama8.F16"));
    QVERIFY(input);
    const fs::path out = tmp("wrong.gguf");
    auto done =
        quantize_model(*input, out,
                       {.type = QuantFileType::Q4_K_M,
                        .imatrix = std::make_shared<const ImportanceMatrix>(std::move(matrix))});
    QVERIFY(!done);
    QVERIFY2(done.error().message.find(
                 "blk.0.attn_q.weight has 128 values, the tensor needs 256") != std::string::npos,
             done.error().message.c_str());
    QVERIFY(!fs::exists(out));
}

void TstImatrix::cli_computes_and_refuses_clearly() {
    std::string text = test::read_text(test::data_dir() / "generation" / "genesis.txt");
    text.resize(index_["text"]["bytes"].get<size_t>());
    const fs::path text_path = tmp("text.txt");
    test::write_file(text_path, std::vector<uint8_t>(text.begin(), text.end()));
    const QString model = QString::fromStdString(inputs_.at("llama8.F16").string());
    const QString out = QString::fromStdString(tmp("cli.imatrix.gguf").string());
    auto result = test::run_cli({"imatrix", model, "--text", QString::fromStdString(text_path),
                                 "-o", out, "--ctx", "128", "--chunks", "4", "-t", "2"});
    QCOMPARE(result.exit_code, 0);
    QVERIFY2(result.err.contains("56 entries, 4 chunks of 128"), result.err.constData());
    auto matrix = load_imatrix(out.toStdString());
    QVERIFY(matrix);
    QCOMPARE(matrix->entries.size(), size_t{56});
    // ... and quantize reads it.
    const QString quantized = QString::fromStdString(tmp("cli.Q4_K_M.gguf").string());
    result = test::run_cli({"quantize", model, quantized, "Q4_K_M", "--imatrix", out});
    QCOMPARE(result.exit_code, 0);
    QVERIFY2(result.err.contains("(imatrix)") && result.err.contains("no entry for output.weight"),
             result.err.constData());
    // Too short a text: llama-imatrix's minimum of two chunks, said with both counts.
    result = test::run_cli({"imatrix", model, "--text", QString::fromStdString(text_path), "-o",
                            out, "--ctx", "4096"});
    QCOMPARE(result.exit_code, 1);
    QVERIFY2(result.err.contains("needs at least 8192 (two chunks of 4096)"),
             result.err.constData());
    result = test::run_cli({"imatrix", model, "--text", QString::fromStdString(text_path)});
    QCOMPARE(result.exit_code, 2);
    result = test::run_cli(
        {"imatrix", model, "--text", QString::fromStdString(text_path), "-o", out, "--ctx", "8"});
    QCOMPARE(result.exit_code, 2);
}

QTEST_GUILESS_MAIN(TstImatrix)
#include "tst_imatrix.moc"
