// The quantization lab (hearth/quant_lab.h, hearth-cli quant-lab): its perplexity, KL
// divergence and top-1 figures against numpy's from llama.cpp's logits on the same files
// (tests/data/quant_lab/, scripts/gen-quant-lab-reference.py), the KL arithmetic, windows and
// percentile on hand-made input, files found or remade in the out dir, and the refusals.
#include "hearth/imatrix.h"
#include "hearth/model.h"
#include "hearth/perplexity.h"
#include "hearth/quant_lab.h"
#include "hearth/tokenizer.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;
namespace fs = std::filesystem;

namespace {

nlohmann::json reference_json() {
    return nlohmann::json::parse(
        test::read_text(test::data_dir() / "quant_lab" / "llama_f16.json"));
}

fs::path tiny_model() {
    return test::data_dir() / "arch" / "llama_f16.gguf";
}

bool close(double ours, double theirs, double relative, double absolute = 0) {
    return std::abs(ours - theirs) <= relative * std::abs(theirs) + absolute;
}

// A text of plain words the tiny model's byte-level vocabulary encodes at about a token a byte.
std::string words(size_t n_bytes) {
    std::string text;
    for (size_t i = 0; text.size() < n_bytes; ++i) {
        text += (i % 7 == 0 ? "the " : i % 3 == 0 ? "lab " : "measures ");
    }
    return text;
}

// Options without the speed timing (tests count, they do not time).
LabMeasureOptions untimed(uint32_t n_ctx, size_t max_windows = 0) {
    LabMeasureOptions options;
    options.n_ctx = n_ctx;
    options.max_windows = max_windows;
    options.measure_speed = false;
    return options;
}

QuantLabOptions lab(std::string text, fs::path out_dir, std::vector<QuantFileType> types) {
    QuantLabOptions options;
    options.model = tiny_model();
    options.types = std::move(types);
    options.text = std::move(text);
    options.out_dir = std::move(out_dir);
    options.measure = untimed(64, 2);
    options.memory_budget_bytes = uint64_t{1} << 30;
    return options;
}

} // namespace

class TestQuantLab : public QObject {
    Q_OBJECT

private slots:
    void figures_match_numpy_on_llama_cpp_logits() {
        const auto ref = reference_json();
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto source = GgufFile::open(tiny_model());
        QVERIFY(source);
        std::vector<LabCandidate> candidates;
        for (const auto& [name, figures] : ref["types"].items()) {
            const auto type = parse_quant_file_type(name);
            QVERIFY(type);
            const fs::path path = fs::path(dir.path().toStdString()) / (name + ".gguf");
            QVERIFY(quantize_model(*source, path,
                                   {.type = *type, .keep_output_f16 = false, .threads = 1}));
            QCOMPARE(fs::file_size(path), figures["file_bytes"].get<uint64_t>());
            candidates.push_back({name, path, type});
        }
        const auto tokens = ref["tokens"].get<std::vector<int32_t>>();
        LabMeasureOptions options;
        options.n_ctx = ref["n_ctx"].get<uint32_t>();
        options.measure_speed = false;
        options.scratch_dir = dir.path().toStdString();
        auto entries = measure_quantizations(tiny_model(), candidates, tokens, options);
        QVERIFY2(entries, entries ? "" : entries.error().message.c_str());
        QCOMPARE(entries->size(), candidates.size() + 1);
        const LabEntry& reference = entries->front();
        QVERIFY(reference.is_reference);
        QVERIFY(close(reference.quality.perplexity, ref["reference_perplexity_exact"].get<double>(),
                      1e-5));
        QVERIFY(reference.quality.mean_kld < 1e-6); // only the 16-bit storage's floor
        QCOMPARE(reference.quality.same_top, 1.0);
        for (size_t c = 0; c < candidates.size(); ++c) {
            const LabEntry& e = (*entries)[c + 1];
            const auto& want = ref["types"][e.label];
            const KlDivergenceSummary& q = e.quality;
            qInfo("%s: ppl %.6f/%.6f kld %.7f/%.7f p99 %.7f/%.7f median %.7f/%.7f top %.4f/%.4f",
                  e.label.c_str(), q.perplexity, want["perplexity"].get<double>(), q.mean_kld,
                  want["mean_kld"].get<double>(), q.p99_kld, want["p99_kld"].get<double>(),
                  q.median_kld, want["median_kld"].get<double>(), q.same_top,
                  want["same_top"].get<double>());
            QCOMPARE(q.count, want["count"].get<size_t>());
            QVERIFY(close(q.perplexity, want["perplexity"].get<double>(), 1e-6));
            QVERIFY(
                close(q.reference_perplexity, want["reference_perplexity"].get<double>(), 1e-5));
            QVERIFY(close(q.mean_kld, want["mean_kld"].get<double>(), 1e-5, 1e-9));
            QVERIFY(close(q.median_kld, want["median_kld"].get<double>(), 1e-5, 1e-9));
            QVERIFY(close(q.p99_kld, want["p99_kld"].get<double>(), 1e-5, 1e-9));
            QVERIFY(close(q.max_kld, want["max_kld"].get<double>(), 1e-5, 1e-9));
            QCOMPARE(q.same_top, want["same_top"].get<double>());
            QCOMPARE(e.file_bytes, want["file_bytes"].get<uint64_t>());
            QVERIFY(e.weights_bytes > 0 && e.kv_bytes > 0);
        }
        // Fewer bits, more divergence (the JSON lists Q4_0, Q5_1, Q8_0).
        QVERIFY((*entries)[1].quality.mean_kld > (*entries)[2].quality.mean_kld);
        QVERIFY((*entries)[2].quality.mean_kld > (*entries)[3].quality.mean_kld);
    }

    void kl_divergence_of_known_distributions() {
        // Reference p = (1/2, 1/4, 1/4), candidate q = (1/4, 1/2, 1/4):
        // KL(p||q) = 1/2 ln 2 + 1/4 ln(1/2) = ln(2)/4; the top tokens differ.
        const std::vector<float> p{std::log(2.0f), 0.0f, 0.0f};
        const std::vector<float> q{0.0f, std::log(2.0f), 0.0f};
        std::vector<uint16_t> compressed(compressed_log_probs_size(3));
        compress_log_probs(p, compressed);
        KlDivergenceAccumulator acc;
        acc.add(q, compressed, 0);
        acc.add(p, compressed, 0); // itself: KL 0, same top
        const KlDivergenceSummary s = acc.summary();
        QCOMPARE(s.count, size_t{2});
        QVERIFY(close(s.max_kld, std::log(2.0) / 4, 1e-4));
        QVERIFY(close(s.mean_kld, std::log(2.0) / 8, 1e-4));
        QVERIFY(std::abs(s.median_kld - std::log(2.0) / 8) < 1e-4); // mean of the two
        QCOMPARE(s.same_top, 0.5);
        // Token 0 has probability 1/4 under q and 1/2 under p: perplexity sqrt(4 × 2).
        QVERIFY(close(s.perplexity, std::sqrt(8.0), 1e-6));
        QVERIFY(close(s.reference_perplexity, 2.0, 1e-4));
        // Tokens more than 16 nats below the reference's top are left out of the sum: one token
        // at 20 and 1000 at 0 against a flat candidate give ln(1001) alone (the 1000 would add
        // about -1e-3 if counted).
        std::vector<float> far(1001, 0.0f);
        far[0] = 20.0f;
        const std::vector<float> flat(1001, 0.0f);
        std::vector<uint16_t> far_compressed(compressed_log_probs_size(far.size()));
        compress_log_probs(far, far_compressed);
        KlDivergenceAccumulator cut;
        cut.add(flat, far_compressed, 0);
        QVERIFY(close(cut.summary().mean_kld, std::log(1001.0), 2e-5));
    }

    void percentile_interpolates_between_ranks() {
        std::vector<float> values(100);
        for (size_t i = 0; i < values.size(); ++i) {
            values[i] = static_cast<float>(i);
        }
        QVERIFY(close(sorted_percentile(values, 0.99), 98.01, 1e-5)); // 0.99 × 99
        QVERIFY(close(sorted_percentile(values, 0.5), 49.5, 1e-6));
        QCOMPARE(sorted_percentile(values, 1.0), 99.0);
        QCOMPARE(sorted_percentile(values, 0.0), 0.0);
    }

    void windows_score_the_second_half() {
        std::vector<int32_t> tokens(2 * 8 + 5);
        for (size_t i = 0; i < tokens.size(); ++i) {
            tokens[i] = static_cast<int32_t>(i + 10);
        }
        auto windows = perplexity_windows(tokens, 8, 0, 1);
        QVERIFY(windows);
        QCOMPARE(windows->size(), size_t{2}); // the 5-token tail is dropped
        QCOMPARE((*windows)[1][0], 1);        // BOS replaces each window's first token
        QCOMPARE((*windows)[1][1], 19);
        QCOMPARE(first_scored_position(8), size_t{4});
        QCOMPARE(scored_per_window(8), size_t{3}); // positions 4, 5, 6 predict 5, 6, 7
        auto one = perplexity_windows(tokens, 8, 1, std::nullopt);
        QVERIFY(one);
        QCOMPARE(one->size(), size_t{1});
        QCOMPARE((*one)[0][0], 10);
    }

    void a_text_shorter_than_a_window_is_refused() {
        const std::vector<int32_t> tokens(63, 5);
        auto entries = measure_quantizations(tiny_model(), {}, tokens, untimed(64));
        QVERIFY(!entries);
        QCOMPARE(entries.error().code, ErrorCode::invalid_argument);
        QVERIFY2(entries.error().message.find("63 tokens, fewer than one window of 64") !=
                     std::string::npos,
                 entries.error().message.c_str());
        std::vector<int32_t> outside(64, 5);
        outside[9] = 268; // the tiny vocabulary has 268 tokens
        auto refused = measure_quantizations(tiny_model(), {}, outside, untimed(64));
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.find("token 268 at position 9") != std::string::npos,
                 refused.error().message.c_str());
        QTemporaryDir dir;
        auto report =
            run_quant_lab(lab("too short", dir.path().toStdString(), {QuantFileType::Q8_0}));
        QVERIFY(!report);
        QVERIFY2(report.error().message.find("fewer than one window") != std::string::npos,
                 report.error().message.c_str());
        QVERIFY(fs::is_empty(dir.path().toStdString())); // nothing made for nothing to score
    }

    void a_context_that_cannot_run_is_refused_before_quantizing() {
        // The tiny model was trained for 256 tokens: a context of 512 is refused on the
        // reference, before the out dir is made or any file written.
        QTemporaryDir dir;
        const fs::path out = fs::path(dir.path().toStdString()) / "lab";
        QuantLabOptions options = lab(words(2000), out, {QuantFileType::Q8_0, QuantFileType::Q4_0});
        options.measure = untimed(512, 1);
        auto report = run_quant_lab(options);
        QVERIFY(!report);
        QVERIFY2(report.error().message.find("a context of 512 tokens cannot be measured") !=
                         std::string::npos &&
                     report.error().message.find("256") != std::string::npos,
                 report.error().message.c_str());
        QVERIFY(!fs::exists(out));
    }

    void an_importance_matrix_is_used_and_kept_apart() {
        QTemporaryDir dir;
        const fs::path out = dir.path().toStdString();
        auto model = Model::load(tiny_model(), {.n_threads = 2, .on_progress = {}});
        QVERIFY(model);
        auto tokens =
            (*model)->tokenizer().encode(words(400), {.add_special = true, .parse_special = false});
        QVERIFY(tokens);
        auto matrix = compute_imatrix(*model, *tokens, {.n_ctx = 64, .max_chunks = 4});
        QVERIFY2(matrix, matrix ? "" : matrix.error().message.c_str());
        const fs::path imatrix = out / "tiny.imatrix.gguf";
        QVERIFY(save_imatrix(imatrix, matrix->matrix));
        QuantLabOptions options = lab(words(400), out, {QuantFileType::Q4_0});
        options.imatrix = imatrix;
        auto first = run_quant_lab(options);
        QVERIFY2(first, first ? "" : first.error().message.c_str());
        const fs::path made = quantization_path(tiny_model(), out, QuantFileType::Q4_0, true);
        QCOMPARE(made.filename().string(), std::string("llama_f16.Q4_0.imatrix.gguf"));
        auto file = GgufFile::open(made);
        QVERIFY(file);
        QCOMPARE(file->header().get_string("quantize.imatrix.file"), imatrix.string());
        auto again = run_quant_lab(options);
        QVERIFY(again);
        QCOMPARE(again->reused, std::vector<std::string>{"Q4_0"});
        // Another matrix file: the file is made again, not reused.
        const fs::path other = out / "other.imatrix.gguf";
        fs::copy_file(imatrix, other);
        options.imatrix = other;
        auto third = run_quant_lab(options);
        QVERIFY(third);
        QVERIFY(third->reused.empty());
        // A matrix that cannot be read: refused before anything is made.
        options.imatrix = out / "missing.imatrix";
        QVERIFY(!run_quant_lab(options));
    }

    void different_vocabularies_are_refused() {
        const std::vector<int32_t> tokens(128, 5);
        const std::vector<LabCandidate> other{
            {"other", test::data_dir() / "tokenizer" / "spm-tiny-model.gguf", std::nullopt}};
        auto entries = measure_quantizations(tiny_model(), other, tokens, untimed(64));
        QVERIFY(!entries);
        QCOMPARE(entries.error().code, ErrorCode::bad_format);
        QVERIFY2(entries.error().message.find("spm-tiny-model.gguf has a vocabulary of 32000") !=
                     std::string::npos,
                 entries.error().message.c_str());
    }

    void an_out_dir_that_cannot_be_written_is_refused() {
        QTemporaryDir dir;
        const fs::path file = fs::path(dir.path().toStdString()) / "a-file";
        std::ofstream(file) << "x";
        auto report = run_quant_lab(lab(words(400), file / "sub", {QuantFileType::Q8_0}));
        QVERIFY(!report);
        QCOMPARE(report.error().code, ErrorCode::io);
        QVERIFY2(report.error().message.find("a-file/sub") != std::string::npos,
                 report.error().message.c_str());
    }

    void files_in_the_out_dir_are_reused_only_when_they_match() {
        QTemporaryDir dir;
        const fs::path out = dir.path().toStdString();
        const QuantLabOptions options =
            lab(words(400), out, {QuantFileType::Q8_0, QuantFileType::Q4_0});
        auto first = run_quant_lab(options);
        QVERIFY2(first, first ? "" : first.error().message.c_str());
        QVERIFY(first->reused.empty());
        QCOMPARE(first->entries.size(), size_t{3});
        QCOMPARE(first->reference_type, std::string("F16"));
        QVERIFY(first->reference_quantized_from.empty());
        // The best quantization that fits, not the reference (which fits too and is said so).
        QVERIFY2(first->verdict.find("pick Q8_0") != std::string::npos &&
                     first->verdict.find("The reference, F16 (reference)") != std::string::npos,
                 first->verdict.c_str());
        auto second = run_quant_lab(options);
        QVERIFY(second);
        QCOMPARE(second->reused, (std::vector<std::string>{"Q8_0", "Q4_0"}));
        QCOMPARE(second->entries[2].quality.mean_kld, first->entries[2].quality.mean_kld);
        // A file of the right name but another type, and one cut short: both remade.
        const fs::path q8 = quantization_path(tiny_model(), out, QuantFileType::Q8_0);
        const fs::path q4 = quantization_path(tiny_model(), out, QuantFileType::Q4_0);
        QCOMPARE(q8.filename().string(), std::string("llama_f16.Q8_0.gguf"));
        fs::copy_file(q4, q8, fs::copy_options::overwrite_existing);
        fs::resize_file(q4, fs::file_size(q4) - 1);
        auto source = GgufFile::open(tiny_model());
        QVERIFY(source);
        const auto why = quantization_mismatch(*source, q8, {.type = QuantFileType::Q8_0});
        QVERIFY(why);
        QVERIFY2(why->find("general.file_type is 2, not 7") != std::string::npos, why->c_str());
        auto third = run_quant_lab(options);
        QVERIFY2(third, third ? "" : third.error().message.c_str());
        QVERIFY(third->reused.empty());
        QCOMPARE(third->entries[1].quality.mean_kld, first->entries[1].quality.mean_kld);
        QCOMPARE(third->entries[2].quality.mean_kld, first->entries[2].quality.mean_kld);
    }

    void verdict_picks_the_smallest_divergence_that_fits() {
        std::vector<LabEntry> entries(3);
        entries[0].label = "F16 (reference)";
        entries[0].is_reference = true;
        entries[0].weights_bytes = 1000;
        entries[1].label = "Q8_0";
        entries[1].weights_bytes = 600;
        entries[1].quality.mean_kld = 0.01;
        entries[2].label = "Q4_K_M";
        entries[2].weights_bytes = 400;
        entries[2].quality.mean_kld = 0.1;
        // The reference fits 1100 and has KL 0: the verdict still names a quantization.
        QVERIFY(quant_lab_verdict(entries, 1100).find("pick Q8_0") != std::string::npos);
        QVERIFY(quant_lab_verdict(entries, 1100).find("fits too") != std::string::npos);
        QVERIFY(quant_lab_verdict(entries, 700).find("pick Q8_0") != std::string::npos);
        QVERIFY(quant_lab_verdict(entries, 700).find("fits too") == std::string::npos);
        QVERIFY(quant_lab_verdict(entries, 500).find("pick Q4_K_M") != std::string::npos);
        QVERIFY(quant_lab_verdict(entries, 300).find("Nothing measured fits") != std::string::npos);
        // A quantized reference smaller than the quantizations: only it may fit.
        entries[0].weights_bytes = 350;
        QVERIFY2(quant_lab_verdict(entries, 380).find("only the reference fits: F16 (reference)") !=
                     std::string::npos,
                 quant_lab_verdict(entries, 380).c_str());
        QCOMPARE(rule_of_thumb(QuantFileType::Q8_0), std::string("INT8: ~1% quality loss"));
        QCOMPARE(rule_of_thumb(QuantFileType::Q4_K_M), std::string("INT4: 3-5% quality loss"));
        QCOMPARE(rule_of_thumb(QuantFileType::Q2_K), std::string("INT2: 10%+ quality loss"));
        QCOMPARE(rule_of_thumb(QuantFileType::Q6_K),
                 std::string("INT5-6: between INT8's ~1% and INT4's 3-5%"));
    }

    void cli_runs_and_refuses_bad_input() {
        QTemporaryDir dir;
        const QString out = dir.path();
        const QString text = out + "/text.txt";
        std::ofstream(text.toStdString()) << words(400);
        const QString model = QString::fromStdString(tiny_model().string());
        auto result =
            test::run_cli({"quant-lab", model, "--types", "Q8_0", "--text", text, "--ctx", "64",
                           "--out-dir", out, "--no-speed", "--json", "--memory-budget", "1024"});
        QVERIFY2(result.exit_code == 0, result.err.constData());
        const auto json = nlohmann::json::parse(result.out.toStdString());
        QCOMPARE(json["entries"].size(), size_t{2});
        QCOMPARE(json["entries"][1]["label"].get<std::string>(), std::string("Q8_0"));
        QCOMPARE(json["entries"][1]["rule_of_thumb"].get<std::string>(),
                 std::string("INT8: ~1% quality loss"));
        QVERIFY(json["entries"][1]["mean_kld"].get<double>() > 0);
        QCOMPARE(json["memory_budget_bytes"].get<uint64_t>(), uint64_t{1024} << 20);
        test::expect_cli_usage_error(
            {"quant-lab", model, "--types", "Q8_0,Q7_X", "--text", text, "--out-dir", out},
            "unknown type 'Q7_X'");
        test::expect_cli_usage_error({"quant-lab", model, "--text", text}, "--types");
        test::expect_cli_error(
            {"quant-lab", model, "--types", "Q8_0", "--text", text, "--ctx", "4096", "--out-dir",
             out},
            "a context of 4096 tokens is more than the 256 the model was trained for");
    }
};

QTEST_GUILESS_MAIN(TestQuantLab)
#include "tst_quant_lab.moc"
