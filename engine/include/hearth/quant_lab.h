// The quantization lab: make each quantization of a model (or find it on disk), then measure
// on one text and this machine what each costs against the highest-precision file: size on
// disk and in memory, perplexity, the KL divergence of its token distributions from the
// reference's and top-1 agreement (llama-perplexity --kl-divergence's definitions), prefill
// and decode speed, and which type to pick for a memory budget. Qt-free: `hearth-cli
// quant-lab` and the app use it.
#pragma once

#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/quantize.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hearth {

class Model;

// One scored position's reference distribution as llama-perplexity --kl-divergence-base
// stores it: the log-probabilities within 16 nats of the top quantized to 16 bits (two
// floats, scale and minimum, in the first 4 entries, then n_vocab values).
size_t compressed_log_probs_size(size_t n_vocab);
void compress_log_probs(std::span<const float> logits, std::span<uint16_t> out);

struct KlDivergenceSummary {
    size_t count = 0;                // positions scored
    double perplexity = 0;           // the candidate's, from its own logits
    double reference_perplexity = 0; // from the compressed reference
    double mean_kld = 0;             // mean over the positions of KL(reference || candidate)
    double mean_kld_uncertainty = 0; // its standard error
    double median_kld = 0;
    double p99_kld = 0; // 99th percentile, interpolated between ranks as llama-perplexity
    double max_kld = 0;
    double same_top = 0; // fraction of positions whose most likely token is the reference's
};

// The running figures of a candidate against the compressed reference, position by position.
class KlDivergenceAccumulator {
public:
    // `reference` is compress_log_probs' output for the position; `next_token` the text's
    // next token.
    // Returns the position's KL divergence.
    double add(std::span<const float> logits, std::span<const uint16_t> reference,
               int32_t next_token);
    KlDivergenceSummary summary() const;

private:
    double sum_nll_ = 0, sum_nll_base_ = 0, sum_kld_ = 0, sum_kld2_ = 0;
    size_t same_top_ = 0;
    std::vector<float> kld_values_;
};

// llama-perplexity's percentile of sorted values: linear between the ranks around
// fraction × (n - 1).
double sorted_percentile(std::span<const float> sorted, double fraction);

// Fails with `bad_format` when the two models' vocabularies differ (their sizes, or the first
// token whose text differs), naming both files: their distributions cannot be compared.
Result<void> check_same_vocabulary(const Model& reference, const Model& candidate);

// A model file measured against the reference.
struct LabCandidate {
    std::string label; // "Q4_K_M"
    std::filesystem::path path;
    std::optional<QuantFileType> type; // for the rule of thumb; unset for a foreign file
};

struct LabMeasureOptions {
    uint32_t n_ctx = 512;   // tokens per window, and the context the memory is planned for
    size_t max_windows = 0; // 0: every whole window of the text
    uint32_t n_batch = 512;
    int n_threads = 0; // 0: the machine's physical cores
    // Prefill and decode speed: `speed_prefill_tokens` in one pass, then
    // `speed_decode_tokens` one at a time. Off in tests (timing is the benchmark's).
    bool measure_speed = true;
    uint32_t speed_prefill_tokens = 128;
    uint32_t speed_decode_tokens = 32;
    // Where the compressed reference distributions are kept while the candidates run
    // (n_windows × scored positions × (n_vocab + 4) × 2 bytes); removed afterwards.
    std::filesystem::path scratch_dir;
};

struct LabEntry {
    std::string label;
    std::filesystem::path path;
    std::optional<QuantFileType> type;
    bool is_reference = false;
    uint64_t file_bytes = 0;
    uint64_t weights_bytes = 0; // the memory plan's, at n_ctx
    uint64_t kv_bytes = 0;
    uint64_t memory_bytes() const { return weights_bytes + kv_bytes; }
    KlDivergenceSummary quality; // the reference's own: its perplexity, KL 0, same top 1
    double prefill_tokens_per_second = 0;
    double decode_tokens_per_second = 0;
};

struct LabProgress {
    // "Q4_K_M: quantizing" (tensors), "reference" and "Q4_K_M: scoring" (windows), "speed"
    // (files)
    std::string stage;
    size_t done = 0; // items of the stage finished
    size_t total = 0;
};
// Return false to cancel.
using LabProgressFn = std::function<bool(const LabProgress&)>;

// Measures each candidate against `reference` on `tokens` (the reference's tokenization of
// the text). Fails with `invalid_argument` when the tokens fill no window or one is not in the
// vocabulary, `bad_format` when a candidate's vocabulary differs from the reference's (naming
// both files and the first difference), `io` when the scratch file cannot be written,
// `cancelled`. The first entry is the reference.
Result<std::vector<LabEntry>> measure_quantizations(const std::filesystem::path& reference,
                                                    std::span<const LabCandidate> candidates,
                                                    std::span<const int32_t> tokens,
                                                    const LabMeasureOptions& options,
                                                    const LabProgressFn& progress = {},
                                                    const std::atomic<bool>* cancel = nullptr);

// Where the lab keeps `type`'s file: OUT_DIR/STEM.TYPE.gguf ("SmolLM2.Q4_K_M.gguf"), or
// STEM.TYPE.imatrix.gguf when quantized with an importance matrix.
std::filesystem::path quantization_path(const std::filesystem::path& model,
                                        const std::filesystem::path& out_dir, QuantFileType type,
                                        bool with_imatrix = false);

// Why an existing file is not `source` quantized to `options.type` (its size, file type or a
// tensor's name, type or shape differs from the plan's), or nullopt when it is.
std::optional<std::string> quantization_mismatch(const GgufFile& source,
                                                 const std::filesystem::path& existing,
                                                 const QuantizeOptions& options);

// The seed's rule of thumb for a type's class: "INT8: ~1% quality loss" (Q8_0), "INT4: 3-5%"
// (the 4-bit types), "INT2: 10%+" (Q3_K, Q2_K); the 5- and 6-bit types lie between INT8 and
// INT4.
std::string rule_of_thumb(QuantFileType type);

// The quantization to pick for `budget_bytes` of memory: of the quantizations (not the
// reference) whose weights and KV cache fit, the one with the smallest mean KL; a sentence
// naming it, or saying that only the reference fits, or that nothing does.
std::string quant_lab_verdict(std::span<const LabEntry> entries, uint64_t budget_bytes);

struct QuantLabOptions {
    std::filesystem::path model; // the reference: the highest-precision file
    std::vector<QuantFileType> types;
    std::string text;
    std::filesystem::path out_dir; // where the quantizations are made or found
    LabMeasureOptions measure;
    unsigned quantize_threads = 0;
    // The memory the verdict picks for; unset: this machine's available memory.
    std::optional<uint64_t> memory_budget_bytes;
    // An importance matrix (hearth/imatrix.h) every type is quantized with, as quantize
    // --imatrix; the files are then STEM.TYPE.imatrix.gguf and reused only when made with a
    // matrix of the same file name.
    std::filesystem::path imatrix;
};

struct QuantLabReport {
    std::string reference_type; // "F16", "Q4_1"
    // The reference is itself quantized (these types): every figure is then measured
    // against it, and the quantizations made from it are bounded by its quality.
    std::vector<TensorType> reference_quantized_from;
    size_t n_tokens = 0;
    size_t n_windows = 0;
    uint32_t n_ctx = 0;
    std::vector<LabEntry> entries;   // the reference first
    std::vector<std::string> reused; // labels of files found already made in out_dir
    uint64_t memory_budget_bytes = 0;
    std::string verdict;
};

// The whole lab: checks the types, the importance matrix, the text (at least one window), the
// context (a session of n_ctx on the reference: within its trained context, its KV cache
// allocated) and the out dir (`io`, naming it, when it cannot be written), all before any file
// is written; then makes each missing or mismatched quantization and measures.
Result<QuantLabReport> run_quant_lab(const QuantLabOptions& options,
                                     const LabProgressFn& progress = {},
                                     const std::atomic<bool>* cancel = nullptr);

} // namespace hearth
