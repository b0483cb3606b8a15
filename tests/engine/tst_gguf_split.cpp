// Split models (llama.cpp's gguf-split layout). Parts written here from a single-file model,
// and parts written by gguf-py (tests/data/split/, from scripts/gen-split-reference.py),
// must load as that model: the same tensor bytes, model facts and logits, bit for bit.
// Broken splits (a part missing, truncated, from another split, a tensor in two parts, a
// wrong tensor count, a later part opened, a renamed first part) fail with an error that
// names the part and the problem.
#include "gguf_builder.h"
#include "hearth/gguf.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/model_info.h"
#include "hearth/session.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;
using hearth::test::erase_key;
using hearth::test::set_key;

namespace {

// ---- A gguf-split writer for the tests ----------------------------------------------------

// What one part holds; the tests edit these to make broken splits.
struct PartSpec {
    std::vector<GgufKeyValue> metadata;
    std::vector<const GgufTensorInfo*> tensors;
};

GgufValue u16(uint64_t value) {
    return {.type = GgufType::uint16, .data = value};
}
GgufValue i32(int64_t value) {
    return {.type = GgufType::int32, .data = value};
}

// gguf-split's layout: the tensors dealt out in order, in runs of about equal count; the
// model's metadata in the first part; split.no / split.count / split.tensors.count in each.
std::vector<PartSpec> plan_split(const GgufFile& file, uint32_t n_parts) {
    const auto& tensors = file.tensors();
    std::vector<PartSpec> parts(n_parts);
    for (size_t i = 0; i < tensors.size(); ++i) {
        parts[i * n_parts / tensors.size()].tensors.push_back(&tensors[i]);
    }
    parts[0].metadata = file.metadata();
    for (uint32_t p = 0; p < n_parts; ++p) {
        set_key(parts[p].metadata, "split.no", u16(p));
        set_key(parts[p].metadata, "split.count", u16(n_parts));
        set_key(parts[p].metadata, "split.tensors.count", i32(int64_t(tensors.size())));
    }
    return parts;
}

// Writes one part as GGUF v3 with 32-byte alignment, copying the tensor bytes from `file`.
void write_part(const GgufFile& file, const PartSpec& spec, const std::filesystem::path& path) {
    std::vector<test::TensorRecord> tensors;
    for (const GgufTensorInfo* tensor : spec.tensors) {
        tensors.push_back({tensor->name, tensor->type, tensor->dims, file.tensor_data(*tensor)});
    }
    test::write_file(path, test::serialize_gguf(spec.metadata, tensors));
}

std::filesystem::path part_path(const std::filesystem::path& prefix, uint32_t index,
                                uint32_t count) {
    return gguf_split_path(prefix, index, count);
}

// Writes `parts` as PREFIX-0000i-of-0000n.gguf and returns the first part's path.
std::filesystem::path write_split(const GgufFile& file, const std::vector<PartSpec>& parts,
                                  const std::filesystem::path& prefix) {
    const auto n_parts = static_cast<uint32_t>(parts.size());
    for (uint32_t p = 0; p < n_parts; ++p) {
        write_part(file, parts[p], part_path(prefix, p, n_parts));
    }
    return part_path(prefix, 0, n_parts);
}

// ---- Comparing models -----------------------------------------------------------------

std::filesystem::path arch_dir() {
    return test::data_dir() / "arch";
}

std::vector<int32_t> arch_tokens() {
    std::ifstream in(arch_dir() / "index.json");
    return nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
}

// The logits of every position of `tokens`, run as one batch, then of `n_greedy` more
// tokens chosen greedily one at a time, with the tokens chosen.
struct Run {
    std::vector<float> logits;
    std::vector<int32_t> greedy;
};

Result<Run> run_model(const std::filesystem::path& path, std::span<const int32_t> tokens,
                      int n_greedy) {
    auto model = Model::load(path, {.n_threads = 2, .on_progress = {}});
    if (!model) {
        return std::unexpected(model.error());
    }
    auto session = Session::create(*model, {.n_ctx = 128});
    if (!session) {
        return std::unexpected(session.error());
    }
    Run run;
    auto evaluated = session->evaluate(tokens, [&](size_t, std::span<const float> logits) {
        run.logits.insert(run.logits.end(), logits.begin(), logits.end());
    });
    if (!evaluated) {
        return std::unexpected(evaluated.error());
    }
    std::vector<float> last(run.logits.end() - (*model)->info().n_vocab, run.logits.end());
    for (int i = 0; i < n_greedy; ++i) {
        const auto next = static_cast<int32_t>(std::ranges::max_element(last) - last.begin());
        run.greedy.push_back(next);
        auto logits = session->append(std::span(&next, 1));
        if (!logits) {
            return std::unexpected(logits.error());
        }
        last.assign(logits->begin(), logits->end());
        run.logits.insert(run.logits.end(), last.begin(), last.end());
    }
    return run;
}

bool same_bytes(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

// The split model presents exactly the single file's tensors and facts.
void check_same_model(const GgufFile& whole, const GgufFile& split, size_t n_parts) {
    QCOMPARE(split.parts().size(), n_parts);
    uint64_t total = 0;
    for (const GgufPart& part : split.parts()) {
        total += std::filesystem::file_size(part.path);
    }
    QCOMPARE(split.file_size(), total);
    QCOMPARE(split.tensors().size(), whole.tensors().size());
    std::vector<size_t> per_part(n_parts);
    for (const GgufTensorInfo& tensor : whole.tensors()) {
        const GgufTensorInfo* other = split.find_tensor(tensor.name);
        QVERIFY2(other, tensor.name.c_str());
        QCOMPARE(other->type, tensor.type);
        QCOMPARE(other->dims, tensor.dims);
        const auto a = whole.tensor_data(tensor);
        const auto b = split.tensor_data(*other);
        QVERIFY2(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0,
                 tensor.name.c_str());
        QVERIFY(other->part < n_parts);
        per_part[other->part] += 1;
    }
    for (size_t count : per_part) {
        QVERIFY2(count > 0, "every part holds tensors");
    }
    auto whole_info = read_model_info(whole.header(), whole.file_size());
    auto split_info = read_model_info(split.header(), split.file_size());
    QVERIFY(whole_info && split_info);
    QCOMPARE(split_info->n_params, whole_info->n_params);
    QCOMPARE(split_info->weights_bytes, whole_info->weights_bytes);
    QCOMPARE(split_info->file_size, total);
    QCOMPARE(plan_memory(*split_info, {}).weights_bytes,
             plan_memory(*whole_info, {}).weights_bytes);
}

void check_same_run(const std::filesystem::path& whole, const std::filesystem::path& split,
                    std::span<const int32_t> tokens, int n_greedy) {
    auto a = run_model(whole, tokens, n_greedy);
    QVERIFY2(a, a ? "" : a.error().message.c_str());
    auto b = run_model(split, tokens, n_greedy);
    QVERIFY2(b, b ? "" : b.error().message.c_str());
    QCOMPARE(b->greedy, a->greedy);
    QVERIFY2(same_bytes(b->logits, a->logits), "the split model's logits differ from the file's");
}

void expect_error(const Result<GgufFile>& opened, ErrorCode code, const std::string& needle) {
    QVERIFY2(!opened, "the broken split opened");
    QVERIFY2(opened.error().message.find(needle) != std::string::npos,
             qPrintable(QString("message \"%1\" lacks \"%2\"")
                            .arg(QString::fromStdString(opened.error().message),
                                 QString::fromStdString(needle))));
    QCOMPARE(opened.error().code, code);
}

} // namespace

class TestGgufSplit : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::filesystem::path m_prefix; // of the broken splits, rewritten by each test
    std::optional<GgufFile> m_llama;

    std::filesystem::path dir() const { return m_dir.path().toStdString(); }

private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        auto llama = GgufFile::open(arch_dir() / "llama.gguf");
        QVERIFY2(llama, llama ? "" : llama.error().message.c_str());
        m_llama = std::move(*llama);
        m_prefix = dir() / "broken";
    }

    void split_path_names() {
        QCOMPARE(gguf_split_path("/m/Qwen-Q4_K_M", 0, 3).string(),
                 std::string("/m/Qwen-Q4_K_M-00001-of-00003.gguf"));
        QCOMPARE(gguf_split_path("x", 11, 12).string(), std::string("x-00012-of-00012.gguf"));
    }

    // Parts written here from the tiny llama model: the same tensors, facts and logits.
    void split_written_here_is_the_same_model() {
        const auto first = write_split(*m_llama, plan_split(*m_llama, 3), dir() / "llama");
        auto split = GgufFile::open(first);
        QVERIFY2(split, split ? "" : split.error().message.c_str());
        QCOMPARE(split->path(), first);
        check_same_model(*m_llama, *split, 3);
        check_same_run(arch_dir() / "llama.gguf", first, arch_tokens(), 8);
    }

    // Parts written by gguf-py's GGUFWriter (split_max_tensors), as llama.cpp's tools do.
    void split_written_by_gguf_py_is_the_same_model() {
        const auto first = test::data_dir() / "split" / "llama-00001-of-00003.gguf";
        auto split = GgufFile::open(first);
        QVERIFY2(split, split ? "" : split.error().message.c_str());
        check_same_model(*m_llama, *split, 3);
        check_same_run(arch_dir() / "llama.gguf", first, arch_tokens(), 8);
    }

    // The default model in three parts generates exactly what the single file does.
    void default_model_split_generates_the_same_tokens() {
        HEARTH_REQUIRE_DEFAULT_MODEL(model_path);
        auto whole = GgufFile::open(model_path);
        QVERIFY2(whole, whole ? "" : whole.error().message.c_str());
        QTemporaryDir dir;
        const auto first = write_split(*whole, plan_split(*whole, 3),
                                       std::filesystem::path(dir.path().toStdString()) / "smol");
        auto split = GgufFile::open(first);
        QVERIFY2(split, split ? "" : split.error().message.c_str());
        check_same_model(*whole, *split, 3);
        auto tokenizer = Tokenizer::from_gguf(whole->header());
        QVERIFY(tokenizer);
        auto prompt = tokenizer->encode("The capital of France is");
        QVERIFY(prompt && !prompt->empty());
        check_same_run(model_path, first, *prompt, 16);
    }

    // Paging the weights in goes over every part: progress rises to 1, and cancels.
    void load_progress_covers_every_part() {
        const auto first = test::data_dir() / "split" / "llama-00001-of-00003.gguf";
        std::vector<double> fractions;
        auto model = Model::load(first, {.n_threads = 1, .on_progress = [&](double fraction) {
                                             fractions.push_back(fraction);
                                             return true;
                                         }});
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        QVERIFY(fractions.size() >= 2);
        QCOMPARE(fractions.front(), 0.0);
        QCOMPARE(fractions.back(), 1.0);
        QVERIFY(std::ranges::is_sorted(fractions));
        auto cancelled =
            Model::load(first, {.n_threads = 1, .on_progress = [](double) { return false; }});
        QVERIFY(!cancelled);
        QCOMPARE(cancelled.error().code, ErrorCode::cancelled);
    }

    // `hearth-cli info` on the first part describes the whole model.
    void cli_info_on_the_first_part() {
        const auto first = test::data_dir() / "split" / "llama-00001-of-00003.gguf";
        const auto result = test::run_cli({"info", "--json", QString::fromStdString(first)});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const auto json = nlohmann::json::parse(result.out.toStdString());
        auto info = read_model_info(m_llama->header(), m_llama->file_size());
        QVERIFY(info);
        uint64_t total = 0;
        for (int i = 1; i <= 3; ++i) {
            total += std::filesystem::file_size(
                test::data_dir() / "split" / ("llama-0000" + std::to_string(i) + "-of-00003.gguf"));
        }
        QCOMPARE(json["file_size"].get<uint64_t>(), total);
        QCOMPARE(json["n_tensors"].get<size_t>(), m_llama->tensors().size());
        QCOMPARE(json["n_params"].get<uint64_t>(), info->n_params);
        QCOMPARE(json["path"].get<std::string>(), first.string());
    }

    // A file named like a part but without the split keys is an ordinary file.
    void part_name_without_split_keys_is_one_file() {
        const auto path = dir() / "plain-00001-of-00002.gguf";
        std::filesystem::copy_file(arch_dir() / "llama.gguf", path);
        auto file = GgufFile::open(path);
        QVERIFY2(file, file ? "" : file.error().message.c_str());
        QCOMPARE(file->parts().size(), size_t{1});
        QCOMPARE(file->tensors().size(), m_llama->tensors().size());
    }

    void missing_part() {
        const auto first = write_split(*m_llama, plan_split(*m_llama, 3), m_prefix);
        std::filesystem::remove(part_path(m_prefix, 1, 3));
        const std::string expected =
            "model part 2 of 3 is missing: " + part_path(m_prefix, 1, 3).string();
        auto opened = GgufFile::open(first);
        expect_error(opened, ErrorCode::io, expected);
        QCOMPARE(opened.error().message, expected);
        // Loading the model reports the same, without a crash.
        auto model = Model::load(first);
        QVERIFY(!model);
        QCOMPARE(model.error().message, expected);
    }

    void truncated_part() {
        const auto first = write_split(*m_llama, plan_split(*m_llama, 3), m_prefix);
        const auto last = part_path(m_prefix, 2, 3);
        std::filesystem::resize_file(last, std::filesystem::file_size(last) - 100);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "model part 3 of 3: " + last.string() + ": tensor");
        expect_error(GgufFile::open(first), ErrorCode::bad_format, "truncated");
    }

    void part_of_another_split() {
        auto parts = plan_split(*m_llama, 3);
        set_key(parts[1].metadata, "split.count", u16(4));
        const auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "model part 2 of 3: " + part_path(m_prefix, 1, 3).string() +
                         ": it says it is one of 4 parts");
        expect_error(GgufFile::open(first), ErrorCode::bad_format, "belongs to another split");
    }

    void part_with_the_wrong_number() {
        auto parts = plan_split(*m_llama, 3);
        set_key(parts[1].metadata, "split.no", u16(2));
        const auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "model part 2 of 3: " + part_path(m_prefix, 1, 3).string() +
                         ": it says it is part 3 (split.no 2), not part 2");
    }

    void part_without_split_keys() {
        auto parts = plan_split(*m_llama, 3);
        parts[2].metadata.clear();
        const auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "model part 3 of 3: " + part_path(m_prefix, 2, 3).string() +
                         ": it has no split.count / split.no");
    }

    void tensor_in_two_parts() {
        auto parts = plan_split(*m_llama, 3);
        const GgufTensorInfo* first_tensor = parts[0].tensors.front();
        parts[2].tensors.push_back(first_tensor);
        for (PartSpec& part : parts) {
            set_key(part.metadata, "split.tensors.count",
                    i32(int64_t(m_llama->tensors().size() + 1)));
        }
        const auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "model part 3 of 3: " + part_path(m_prefix, 2, 3).string() + ": tensor '" +
                         first_tensor->name + "' is also in part 1");
    }

    void wrong_tensor_count() {
        const size_t n = m_llama->tensors().size();
        auto parts = plan_split(*m_llama, 3);
        for (PartSpec& part : parts) {
            set_key(part.metadata, "split.tensors.count", i32(int64_t(n + 1)));
        }
        const auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     first.string() + ": split.tensors.count says the model has " +
                         std::to_string(n + 1) + " tensors but its 3 parts hold " +
                         std::to_string(n));
        // A tensor left out of every part is caught the same way.
        parts = plan_split(*m_llama, 3);
        parts[1].tensors.pop_back();
        write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "tensors but its 3 parts hold " + std::to_string(n - 1));
        // The count is required.
        parts = plan_split(*m_llama, 3);
        erase_key(parts[0].metadata, "split.tensors.count");
        write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "split.tensors.count, the number of tensors over all the parts");
    }

    void later_part_opened() {
        const auto first = write_split(*m_llama, plan_split(*m_llama, 3), m_prefix);
        const auto second = part_path(m_prefix, 1, 3);
        expect_error(GgufFile::open(second), ErrorCode::invalid_argument,
                     second.string() +
                         ": this is part 2 of 3 of a split model: open its first "
                         "part (" +
                         first.string() + ") instead");
        auto model = Model::load(second);
        QVERIFY(!model);
        QCOMPARE(model.error().code, ErrorCode::invalid_argument);
    }

    void first_part_renamed() {
        const auto first = write_split(*m_llama, plan_split(*m_llama, 3), m_prefix);
        const auto renamed = dir() / "renamed.gguf";
        std::filesystem::copy_file(first, renamed,
                                   std::filesystem::copy_options::overwrite_existing);
        expect_error(GgufFile::open(renamed), ErrorCode::bad_format,
                     "its name does not end in -00001-of-00003.gguf");
    }

    void bad_split_keys() {
        auto parts = plan_split(*m_llama, 3);
        set_key(parts[0].metadata, "split.count",
                GgufValue{.type = GgufType::string, .data = std::string("three")});
        auto first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format,
                     "split.count is \"three\", not a count");
        parts = plan_split(*m_llama, 3);
        erase_key(parts[0].metadata, "split.no");
        first = write_split(*m_llama, parts, m_prefix);
        expect_error(GgufFile::open(first), ErrorCode::bad_format, "split.no, which of them");
    }
};

QTEST_APPLESS_MAIN(TestGgufSplit)
#include "tst_gguf_split.moc"
