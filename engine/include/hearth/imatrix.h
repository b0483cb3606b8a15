// Importance matrices (llama.cpp's "imatrix"): per weight matrix, the sum over a text of each
// input column's squared activation and how many activations were summed. llama-quantize
// --imatrix weights each weight's rounding error by its column's mean squared activation;
// hearth-cli imatrix computes one with Hearth's forward pass. Both of llama.cpp's file formats
// are read (the GGUF one with NAME.in_sum2 / NAME.counts tensors, and the legacy .dat), with
// every size, count, name and value checked; the GGUF one is written.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hearth {

// Limits on an importance-matrix file (docs/LIMITS.md, "Importance matrices").
inline constexpr size_t kMaxImatrixEntries = 65536;              // weight matrices in one file
inline constexpr size_t kMaxImatrixNameBytes = 256;              // one matrix's name
inline constexpr uint64_t kMaxImatrixExperts = 512;              // llama.cpp's LLAMA_MAX_EXPERTS
inline constexpr uint64_t kMaxImatrixValues = uint64_t{1} << 28; // one entry's sums (1 GiB)
inline constexpr uint64_t kMaxImatrixFileBytes = uint64_t{4} << 30;

// One weight matrix's statistics: `sums` holds `counts.size()` blocks (one per expert of a
// mixture-of-experts matrix, else one) of `columns()` values each.
struct ImatrixEntry {
    std::vector<float> sums;     // sum of squared activations per input column
    std::vector<int64_t> counts; // activations summed, per block
    size_t columns() const { return counts.empty() ? 0 : sums.size() / counts.size(); }
};

struct ImportanceMatrix {
    std::map<std::string, ImatrixEntry> entries; // by weight name ("blk.0.attn_q.weight")
    std::vector<std::string> datasets;           // the texts it was computed on
    uint32_t chunk_count = 0;
    uint32_t chunk_size = 0; // tokens per chunk; 0 in the legacy format
    // The legacy .dat stores sums already divided by the count and multiplied by ncall, with
    // ncall as the one count.
    bool legacy = false;
};

// Reads either format (GGUF when the file starts with the GGUF magic). Fails with `io` when
// it cannot be read and `bad_format` naming the entry or tensor for anything malformed: a
// size past the file or a limit, a sums tensor without its counts (or the reverse), a type
// other than F32, a NaN, infinite or negative value, a count that is not a whole number.
Result<ImportanceMatrix> load_imatrix(const std::filesystem::path& path);

// Writes `matrix` in llama.cpp's GGUF imatrix format (as llama-imatrix's save_imatrix:
// general.type "imatrix", imatrix.datasets / chunk_count / chunk_size, the tensors sorted by
// name), to a temporary file renamed over `path` at the end.
Result<void> save_imatrix(const std::filesystem::path& path, const ImportanceMatrix& matrix);

// The per-column weights llama-quantize gives each matrix: the sums divided by their block's
// count (1 for a block never reached; the legacy format's sums divided by ncall), `columns`
// values per block.
std::map<std::string, std::vector<float>> imatrix_weights(const ImportanceMatrix& matrix);

class Model;

struct ImatrixComputeOptions {
    uint32_t n_ctx = 512;   // tokens per chunk (llama-imatrix -c); at least 16
    size_t max_chunks = 0;  // 0: every whole chunk of the text
    unsigned n_threads = 0; // unused by the computation itself: the model's pool runs it
    std::string dataset{};  // recorded in imatrix.datasets (llama-imatrix: the -f path)
};

struct ImatrixComputeResult {
    ImportanceMatrix matrix;
    double perplexity = 0; // over the chunks, as llama-imatrix prints it (second halves)
    size_t chunks = 0;
    // Matrices of the model (blk.*.weight) that no product of 16 or more tokens read: their
    // entries are absent, and a quantization with this matrix quantizes them without.
    std::vector<std::string> unseen;
};

// Called after each chunk; returning false cancels (the result is then `cancelled`).
using ImatrixProgressFn = std::function<bool(size_t done, size_t total)>;

// Computes an importance matrix with Hearth's CPU forward pass, as llama-imatrix collects one
// (tools/imatrix): `tokens` (the text with BOS as the tokenizer adds it) cut into chunks of
// n_ctx, each run from an empty cache with BOS as its first token when the model adds one;
// for every product of a blk.* weight with 16 or more tokens (every expert product of a
// mixture-of-experts layer, per expert) the squares of its input rows are summed per column
// and the rows counted. The output matrix is not collected (llama-imatrix's default). Fails
// with `invalid_argument` when the text holds fewer than two chunks (llama-imatrix's minimum)
// and for n_ctx below 16.
Result<ImatrixComputeResult> compute_imatrix(const std::shared_ptr<const Model>& model,
                                             std::span<const int32_t> tokens,
                                             const ImatrixComputeOptions& options,
                                             const ImatrixProgressFn& progress = {});

} // namespace hearth
