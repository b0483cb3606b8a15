// compute_imatrix (hearth/imatrix.h): an activation observer on the CPU matrix products that
// sums, as llama-imatrix's collect_imatrix does, each input column's squared activations per
// weight matrix (per expert for a mixture-of-experts one), while the text runs through the
// same windows and session as `hearth-cli perplexity`.
#include "cpu/activation_observer.h"
#include "hearth/imatrix.h"
#include "hearth/model.h"
#include "hearth/perplexity.h"
#include "hearth/session.h"
#include "hearth/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <mutex>
#include <set>

namespace hearth {

namespace {

// llama-imatrix skips plain products of fewer tokens ("why are small batches ignored?").
constexpr int64_t kMinTokensPerProduct = 16;

// Where a weight matrix lives in the mapped file, to name the matrix a product reads.
struct WeightRange {
    const uint8_t* begin = nullptr;
    uint64_t bytes = 0;
    uint64_t expert_bytes = 0; // bytes per expert (all of them for a 2-D matrix)
    uint64_t experts = 1;
    uint64_t columns = 0;
    const std::string* name = nullptr;
};

class ImatrixCollector final : public cpu::ActivationObserver {
public:
    explicit ImatrixCollector(const GgufFile& file) {
        for (const GgufTensorInfo& tensor : file.tensors()) {
            if (!tensor.name.starts_with("blk.") || tensor.dims.size() < 2)
                continue;
            const std::span<const uint8_t> data = file.tensor_data(tensor);
            const uint64_t experts = tensor.dims.size() > 2 ? tensor.dims[2] : 1;
            if (experts == 0 || data.size() % experts != 0)
                continue;
            ranges_.push_back({.begin = data.data(),
                               .bytes = data.size(),
                               .expert_bytes = data.size() / experts,
                               .experts = experts,
                               .columns = tensor.dims[0],
                               .name = &tensor.name});
        }
        std::ranges::sort(ranges_, {}, &WeightRange::begin);
    }

    void observe(const cpu::WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 cpu::MatmulOp op) override {
        if (op == cpu::MatmulOp::mul_mat && n_tokens < kMinTokensPerProduct)
            return;
        const auto* p = static_cast<const uint8_t*>(w.data);
        auto it = std::ranges::upper_bound(ranges_, p, {}, &WeightRange::begin);
        if (it == ranges_.begin())
            return;
        const WeightRange& range = *--it;
        const auto offset = static_cast<uint64_t>(p - range.begin);
        // Past the matrix, or a view of later rows of a fused one (phi3's Q/K/V, a fused
        // gate/up): the product with its first rows counts the shared input once.
        if (offset >= range.bytes || offset % range.expert_bytes != 0 ||
            static_cast<uint64_t>(w.n_cols) != range.columns) {
            return;
        }
        const uint64_t expert = offset / range.expert_bytes;
        const auto ne0 = static_cast<size_t>(range.columns);
        std::lock_guard lock(mutex_);
        ImatrixEntry& e = matrix_.entries[*range.name];
        if (e.sums.empty()) {
            e.sums.assign(ne0 * range.experts, 0.0f);
            e.counts.assign(range.experts, 0);
        }
        float* acc = e.sums.data() + expert * ne0;
        for (int64_t t = 0; t < n_tokens; ++t) {
            const float* row = x + t * x_stride;
            for (size_t j = 0; j < ne0; ++j)
                acc[j] += row[j] * row[j];
        }
        e.counts[expert] += n_tokens;
    }

    ImportanceMatrix take() { return std::move(matrix_); }

    std::vector<std::string> unseen() const {
        std::vector<std::string> names;
        for (const WeightRange& r : ranges_) {
            if (!matrix_.entries.contains(*r.name))
                names.push_back(*r.name);
        }
        std::ranges::sort(names);
        return names;
    }

private:
    std::vector<WeightRange> ranges_;
    std::mutex mutex_;
    ImportanceMatrix matrix_;
};

// Installs the collector for one run and removes it on every path out.
class ObserverScope {
public:
    explicit ObserverScope(cpu::ActivationObserver* observer) {
        cpu::set_activation_observer(observer);
    }
    ~ObserverScope() { cpu::set_activation_observer(nullptr); }
    ObserverScope(const ObserverScope&) = delete;
    ObserverScope& operator=(const ObserverScope&) = delete;
};

} // namespace

Result<ImatrixComputeResult> compute_imatrix(const std::shared_ptr<const Model>& model,
                                             std::span<const int32_t> tokens,
                                             const ImatrixComputeOptions& options,
                                             const ImatrixProgressFn& progress) {
    if (options.n_ctx < kMinTokensPerProduct) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a chunk of {} tokens is too short: llama-imatrix collects only "
                                "products of {} or more tokens",
                                options.n_ctx, kMinTokensPerProduct));
    }
    if (tokens.size() < 2 * size_t{options.n_ctx}) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the text is {} tokens: an importance matrix needs at least {} "
                                "(two chunks of {}), as llama-imatrix does",
                                tokens.size(), 2 * size_t{options.n_ctx}, options.n_ctx));
    }
    const Tokenizer& tokenizer = model->tokenizer();
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= tokenizer.n_vocab()) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token {} at position {} is not in the vocabulary of {}",
                                    tokens[i], i, tokenizer.n_vocab()));
        }
    }
    auto windows =
        perplexity_windows(tokens, options.n_ctx, options.max_chunks,
                           tokenizer.add_bos() ? tokenizer.bos_id() : std::optional<int32_t>{});
    if (!windows)
        return std::unexpected(windows.error());
    // llama-imatrix's micro-batches are 512 tokens: a longer chunk is run in pieces of 512.
    auto session = Session::create(
        model, {.n_ctx = options.n_ctx, .n_batch = std::min<uint32_t>(options.n_ctx, 512)});
    if (!session)
        return std::unexpected(session.error());
    ImatrixCollector collector(model->file());
    double perplexity = 0;
    {
        ObserverScope scope(&collector);
        auto ppl = measure_perplexity(*session, *windows, [&](size_t done, size_t total, double) {
            return !progress || progress(done, total);
        });
        if (!ppl) {
            if (ppl.error().code == ErrorCode::cancelled)
                return fail(ErrorCode::cancelled, "importance matrix cancelled");
            return std::unexpected(ppl.error());
        }
        perplexity = *ppl;
    }
    ImatrixComputeResult result;
    result.unseen = collector.unseen();
    result.matrix = collector.take();
    for (const auto& [name, entry] : result.matrix.entries) {
        for (const float v : entry.sums) {
            if (!std::isfinite(v)) {
                return fail(ErrorCode::bad_format,
                            fmt::format("the activations into {} are not finite: the model's "
                                        "weights overflow on this text",
                                        gguf_printable(name)));
            }
        }
    }
    result.matrix.chunk_count = static_cast<uint32_t>(windows->size());
    result.matrix.chunk_size = options.n_ctx;
    if (!options.dataset.empty())
        result.matrix.datasets.push_back(options.dataset);
    result.perplexity = perplexity;
    result.chunks = windows->size();
    return result;
}

} // namespace hearth
