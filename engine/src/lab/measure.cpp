// The lab's measurement: the reference's distributions over the text's windows, kept
// compressed in a scratch file, then each candidate scored against them, its memory planned
// and its speed timed (hearth/quant_lab.h).
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/perplexity.h"
#include "hearth/quant_lab.h"
#include "hearth/session.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <unistd.h>

namespace hearth {
namespace {

// The scratch file of compressed reference rows, removed when done.
class ScratchFile {
public:
    static Result<ScratchFile> create(const std::filesystem::path& dir) {
        ScratchFile s;
        s.path_ = dir / fmt::format(".hearth-quant-lab-{}.tmp", ::getpid());
        s.file_ = std::fopen(s.path_.c_str(), "w+b");
        if (!s.file_) {
            return fail(ErrorCode::io, fmt::format("cannot write the lab's scratch file {}: {}",
                                                   s.path_.string(), std::strerror(errno)));
        }
        return s;
    }
    ScratchFile() = default;
    ScratchFile(ScratchFile&& other) noexcept
        : path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)) {}
    ScratchFile& operator=(ScratchFile&&) = delete;
    ~ScratchFile() {
        if (file_) {
            std::fclose(file_);
            std::error_code ignored;
            std::filesystem::remove(path_, ignored);
        }
    }
    Result<void> write(std::span<const uint16_t> rows) {
        if (std::fwrite(rows.data(), sizeof(uint16_t), rows.size(), file_) != rows.size()) {
            return fail(ErrorCode::io, fmt::format("cannot write the lab's scratch file {} (is "
                                                   "the disk full?)",
                                                   path_.string()));
        }
        return {};
    }
    Result<void> read(uint64_t offset_values, std::span<uint16_t> rows) {
        if (std::fseek(file_, static_cast<long>(offset_values * sizeof(uint16_t)), SEEK_SET) != 0 ||
            std::fread(rows.data(), sizeof(uint16_t), rows.size(), file_) != rows.size()) {
            return fail(ErrorCode::io,
                        fmt::format("cannot read back the lab's scratch file {}", path_.string()));
        }
        return {};
    }

private:
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
};

} // namespace

Result<void> check_same_vocabulary(const Model& reference, const Model& candidate) {
    const Tokenizer& a = reference.tokenizer();
    const Tokenizer& b = candidate.tokenizer();
    const auto ref_name = reference.file().path().filename().string();
    const auto name = candidate.file().path().filename().string();
    if (a.n_vocab() != b.n_vocab() || reference.info().n_vocab != candidate.info().n_vocab) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} has a vocabulary of {} tokens and the reference {} one of {}: "
                                "their token distributions cannot be compared",
                                name, b.n_vocab(), ref_name, a.n_vocab()));
    }
    for (int32_t id = 0; id < a.n_vocab(); ++id) {
        if (a.token_text(id) != b.token_text(id)) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} and the reference {} have different vocabularies (token "
                                    "{} is '{}' in one and '{}' in the other): their token "
                                    "distributions cannot be compared",
                                    name, ref_name, id, b.token_text(id), a.token_text(id)));
        }
    }
    return {};
}

namespace {

bool keep_going(const LabProgressFn& progress, const std::atomic<bool>* cancel, LabProgress state) {
    if (cancel && cancel->load()) {
        return false;
    }
    return !progress || progress(state);
}

// Prefill of `prefill` tokens in one pass, then `decode` tokens one at a time.
Result<std::pair<double, double>> measure_speed(const std::shared_ptr<const Model>& model,
                                                std::span<const int32_t> window,
                                                const LabMeasureOptions& options) {
    auto session = Session::create(model, {.n_ctx = options.n_ctx, .n_batch = options.n_batch});
    if (!session) {
        return std::unexpected(session.error());
    }
    const size_t decode = std::min<size_t>(options.speed_decode_tokens, window.size() / 2);
    const size_t prefill =
        std::clamp<size_t>(options.speed_prefill_tokens, 1, window.size() - decode - 1);
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    if (auto ok = session->append(window.first(prefill)); !ok) {
        return std::unexpected(ok.error());
    }
    const auto prefilled = Clock::now();
    for (size_t i = 0; i < decode; ++i) {
        if (auto ok = session->append(window.subspan(prefill + i, 1)); !ok) {
            return std::unexpected(ok.error());
        }
    }
    const auto decoded = Clock::now();
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    return std::pair{static_cast<double>(prefill) / seconds(prefilled - start),
                     decode > 0 ? static_cast<double>(decode) / seconds(decoded - prefilled) : 0.0};
}

LabEntry describe(const Model& model, const LabMeasureOptions& options) {
    LabEntry entry;
    entry.path = model.file().path();
    entry.file_bytes = model.file().file_size();
    const MemoryPlan plan =
        plan_memory(model.info(), {.n_ctx = options.n_ctx, .n_seq = 1, .n_batch = options.n_batch});
    entry.weights_bytes = plan.weights_bytes;
    entry.kv_bytes = plan.kv_bytes;
    return entry;
}

} // namespace

Result<std::vector<LabEntry>> measure_quantizations(const std::filesystem::path& reference,
                                                    std::span<const LabCandidate> candidates,
                                                    std::span<const int32_t> tokens,
                                                    const LabMeasureOptions& options,
                                                    const LabProgressFn& progress,
                                                    const std::atomic<bool>* cancel) {
    auto ref_model = Model::load(reference, {.n_threads = options.n_threads, .on_progress = {}});
    if (!ref_model) {
        return std::unexpected(ref_model.error());
    }
    const Tokenizer& tokenizer = (*ref_model)->tokenizer();
    // Token ids index the logits: each checked before any is run.
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= tokenizer.n_vocab()) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token {} at position {} is not in the reference's vocabulary "
                                    "of {}",
                                    tokens[i], i, tokenizer.n_vocab()));
        }
    }
    auto windows =
        perplexity_windows(tokens, options.n_ctx, options.max_windows,
                           tokenizer.add_bos() ? tokenizer.bos_id() : std::optional<int32_t>{});
    if (!windows) {
        return std::unexpected(windows.error());
    }
    // Every candidate checked before anything is measured.
    std::vector<std::shared_ptr<const Model>> models;
    for (const LabCandidate& candidate : candidates) {
        auto model =
            Model::load(candidate.path, {.n_threads = options.n_threads, .on_progress = {}});
        if (!model) {
            return std::unexpected(model.error());
        }
        if (auto same = check_same_vocabulary(**ref_model, **model); !same) {
            return std::unexpected(same.error());
        }
        models.push_back(std::move(*model));
    }
    const size_t n_vocab = static_cast<size_t>(tokenizer.n_vocab());
    const size_t row = compressed_log_probs_size(n_vocab);
    const size_t first = first_scored_position(options.n_ctx);
    const size_t per_window = scored_per_window(options.n_ctx);
    auto scratch = ScratchFile::create(
        options.scratch_dir.empty() ? std::filesystem::temp_directory_path() : options.scratch_dir);
    if (!scratch) {
        return std::unexpected(scratch.error());
    }
    std::vector<uint16_t> rows(per_window * row);
    const auto session_options = SessionOptions{.n_ctx = options.n_ctx, .n_batch = options.n_batch};

    // The reference: its perplexity, and its distributions kept for the candidates.
    std::vector<LabEntry> entries;
    LabEntry& ref = entries.emplace_back(describe(**ref_model, options));
    ref.label = "reference";
    ref.is_reference = true;
    {
        auto session = Session::create(*ref_model, session_options);
        if (!session) {
            return std::unexpected(session.error());
        }
        KlDivergenceAccumulator self;
        for (size_t w = 0; w < windows->size(); ++w) {
            if (!keep_going(progress, cancel, {"reference", w, windows->size()})) {
                return fail(ErrorCode::cancelled, "the quantization lab was cancelled");
            }
            const auto& window = (*windows)[w];
            auto ok = session->evaluate(window, [&](size_t i, std::span<const float> logits) {
                if (i >= first && i + 1 < window.size()) {
                    std::span<uint16_t> out(rows.data() + (i - first) * row, row);
                    compress_log_probs(logits, out);
                    self.add(logits, out, window[i + 1]);
                }
            });
            if (!ok) {
                return std::unexpected(ok.error());
            }
            if (auto written = scratch->write(rows); !written) {
                return std::unexpected(written.error());
            }
        }
        // Its perplexity from its exact logits; its KL against its own compressed
        // distributions is the floor the 16-bit storage sets.
        ref.quality = self.summary();
        if (!keep_going(progress, cancel, {"reference", windows->size(), windows->size()})) {
            return fail(ErrorCode::cancelled, "the quantization lab was cancelled");
        }
    }

    for (size_t c = 0; c < candidates.size(); ++c) {
        const std::string& label = candidates[c].label;
        LabEntry& entry = entries.emplace_back(describe(*models[c], options));
        entry.label = label;
        entry.type = candidates[c].type;
        auto session = Session::create(models[c], session_options);
        if (!session) {
            return std::unexpected(session.error());
        }
        KlDivergenceAccumulator accumulator;
        for (size_t w = 0; w < windows->size(); ++w) {
            if (!keep_going(progress, cancel, {label + ": scoring", w, windows->size()})) {
                return fail(ErrorCode::cancelled, "the quantization lab was cancelled");
            }
            if (auto read = scratch->read(w * rows.size(), rows); !read) {
                return std::unexpected(read.error());
            }
            const auto& window = (*windows)[w];
            auto ok = session->evaluate(window, [&](size_t i, std::span<const float> logits) {
                if (i >= first && i + 1 < window.size()) {
                    accumulator.add(logits, std::span(rows.data() + (i - first) * row, row),
                                    window[i + 1]);
                }
            });
            if (!ok) {
                return std::unexpected(ok.error());
            }
        }
        entry.quality = accumulator.summary();
        if (!keep_going(progress, cancel,
                        {label + ": scoring", windows->size(), windows->size()})) {
            return fail(ErrorCode::cancelled, "the quantization lab was cancelled");
        }
    }

    if (options.measure_speed) {
        for (size_t e = 0; e < entries.size(); ++e) {
            if (!keep_going(progress, cancel, {"speed", e, entries.size()})) {
                return fail(ErrorCode::cancelled, "the quantization lab was cancelled");
            }
            auto speed =
                measure_speed(e == 0 ? *ref_model : models[e - 1], windows->front(), options);
            if (!speed) {
                return std::unexpected(speed.error());
            }
            entries[e].prefill_tokens_per_second = speed->first;
            entries[e].decode_tokens_per_second = speed->second;
        }
        if (progress) {
            progress({"speed", entries.size(), entries.size()});
        }
    }
    return entries;
}

} // namespace hearth
