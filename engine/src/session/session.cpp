// The generation loop of one sequence on the CPU backend.
#include "hearth/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "model/model_impl.h"

namespace hearth {

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
    case StopReason::end_of_generation: return "end of generation";
    case StopReason::stop_string: return "stop string";
    case StopReason::max_tokens: return "max tokens";
    case StopReason::context_full: return "context full";
    case StopReason::cancelled: return "cancelled";
    }
    return "?";
}

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions options;
    cpu::KvCache cache;
    cpu::Forward forward;
    std::vector<int32_t> tokens; // in the cache, positions 0..size-1
    std::vector<float> logits;
    uint64_t n_computed = 0;
    std::atomic<bool> cancel_requested{false};

    // Runs tokens[from, to) of `sequence` (already copied into `tokens`) in batches; keeps
    // the logits of the last one when `want_last_logits`.
    Result<void> prefill(std::span<const int32_t> sequence, size_t from, bool want_last_logits) {
        std::vector<cpu::BatchToken> batch;
        for (size_t start = from; start < sequence.size(); start += options.n_batch) {
            const size_t end = std::min(sequence.size(), start + options.n_batch);
            batch.clear();
            for (size_t i = start; i < end; ++i) {
                batch.push_back({.token = sequence[i],
                                 .pos = static_cast<uint32_t>(i),
                                 .cache = &cache,
                                 .want_logits = want_last_logits && i + 1 == sequence.size()});
            }
            if (auto ok = forward.run(batch, logits.data()); !ok) {
                return ok;
            }
            tokens.insert(tokens.end(), sequence.begin() + static_cast<std::ptrdiff_t>(start),
                          sequence.begin() + static_cast<std::ptrdiff_t>(end));
            n_computed += end - start;
        }
        return {};
    }
};

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string: text
// that must be held back because the next token may complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
    size_t hold = 0;
    for (const auto& stop : stops) {
        for (size_t n = std::min(text.size(), stop.size() - 1); n > hold; --n) {
            if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
                hold = n;
                break;
            }
        }
    }
    return hold;
}

} // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Result<Session> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
    if (!model) {
        return fail(ErrorCode::invalid_argument, "no model");
    }
    const ModelInfo& info = model->info();
    SessionOptions resolved = options;
    if (resolved.n_ctx == 0) {
        resolved.n_ctx = std::min<uint32_t>(info.n_ctx_train, 4096);
    }
    if (resolved.n_ctx > info.n_ctx_train) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a context of {} tokens is more than the {} the model was trained "
                                "for",
                                resolved.n_ctx, info.n_ctx_train));
    }
    resolved.n_batch = std::clamp<uint32_t>(resolved.n_batch, 1, 4096);
    const uint32_t k_width = info.n_head_kv * info.head_dim_k;
    const uint32_t v_width = info.n_head_kv * info.head_dim_v;
    auto impl = std::unique_ptr<Impl>(new Impl{
        .model = model,
        .options = resolved,
        .cache = cpu::KvCache(info.n_layer, resolved.n_ctx, k_width, v_width),
        .forward = cpu::Forward(model->impl()),
        .tokens = {},
        .logits = std::vector<float>(info.n_vocab),
        .n_computed = 0,
        .cancel_requested = {},
    });
    return Session(std::move(impl));
}

Result<GenerationStats> Session::generate(std::span<const int32_t> prompt,
                                          const SamplingParams& sampling,
                                          const GenerateOptions& options,
                                          const std::function<bool(const TokenEvent&)>& on_token) {
    Impl& s = *impl_;
    s.cancel_requested = false;
    if (prompt.empty()) {
        return fail(ErrorCode::invalid_argument, "the prompt is empty");
    }
    if (auto valid = sampling.validate(); !valid) {
        return std::unexpected(valid.error());
    }
    if (options.max_tokens < 0) {
        return fail(ErrorCode::invalid_argument, "max tokens must be 0 or more");
    }
    if (prompt.size() >= s.options.n_ctx) {
        return fail(ErrorCode::context_full,
                    fmt::format("the prompt has {} tokens but the context holds {}: shorten the "
                                "conversation or raise the context length",
                                prompt.size(), s.options.n_ctx));
    }
    const auto start = Clock::now();
    GenerationStats stats;
    stats.n_prompt = static_cast<int32_t>(prompt.size());

    // Reuse the cached prefix; at least the last prompt token is run again for its logits.
    size_t common = 0;
    while (common < s.tokens.size() && common < prompt.size() && s.tokens[common] == prompt[common]) {
        ++common;
    }
    common = std::min(common, prompt.size() - 1);
    s.tokens.resize(common);
    stats.n_reused = static_cast<int32_t>(common);
    stats.n_prefilled = static_cast<int32_t>(prompt.size() - common);
    if (auto ok = s.prefill(prompt, common, true); !ok) {
        s.tokens.resize(common);
        return std::unexpected(ok.error());
    }
    stats.prefill_ms = ms_since(start);

    const Tokenizer& tokenizer = s.model->tokenizer();
    Sampler sampler(sampling);
    StreamingDetokenizer detokenizer(tokenizer, {.skip_special = true});
    std::vector<int32_t> history(prompt.begin(), prompt.end());
    std::string text;    // complete characters generated so far
    size_t emitted = 0;  // bytes of `text` handed to on_token
    Clock::time_point decode_start;
    stats.stop = StopReason::max_tokens;

    for (int32_t n = 0; n < options.max_tokens; ++n) {
        if (s.cancel_requested.load(std::memory_order_relaxed)) {
            stats.stop = StopReason::cancelled;
            break;
        }
        const int32_t token = sampler.sample(s.logits, history);
        if (n == 0) {
            stats.ttft_ms = ms_since(start);
            decode_start = Clock::now();
        }
        stats.n_generated += 1;
        history.push_back(token);
        const bool end = tokenizer.is_end_of_generation(token);
        if (!end) {
            text += detokenizer.push(token);
        }
        // Stop strings may span tokens: search the text not yet handed out.
        size_t stop_at = std::string::npos;
        for (const auto& stop : options.stop_strings) {
            const size_t from = emitted > stop.size() ? emitted - stop.size() : 0;
            const size_t found = stop.empty() ? std::string::npos : text.find(stop, from);
            stop_at = std::min(stop_at, found);
        }
        if (stop_at != std::string::npos) {
            text.resize(stop_at);
        }
        const bool finished = end || stop_at != std::string::npos;
        if (end) {
            text += detokenizer.flush();
        }
        const size_t safe = finished ? text.size() : text.size() - held_back(text, options.stop_strings);
        TokenEvent event{.token = token,
                         .text = safe > emitted ? text.substr(emitted, safe - emitted) : std::string(),
                         .ms = ms_since(start),
                         .trace = sampler.last_trace() ? &*sampler.last_trace() : nullptr};
        emitted = std::max(emitted, safe);
        if (on_token && !on_token(event)) {
            stats.stop = StopReason::cancelled;
            break;
        }
        if (end) {
            stats.stop = StopReason::end_of_generation;
            break;
        }
        if (stop_at != std::string::npos) {
            stats.stop = StopReason::stop_string;
            break;
        }
        if (n + 1 == options.max_tokens) {
            break;
        }
        if (s.tokens.size() + 1 >= s.options.n_ctx) {
            stats.stop = StopReason::context_full;
            break;
        }
        const cpu::BatchToken step{.token = token,
                                   .pos = static_cast<uint32_t>(s.tokens.size()),
                                   .cache = &s.cache,
                                   .want_logits = true};
        if (auto ok = s.forward.run({&step, 1}, s.logits.data()); !ok) {
            return std::unexpected(ok.error());
        }
        s.tokens.push_back(token);
        s.n_computed += 1;
    }
    if (stats.stop != StopReason::end_of_generation && stats.stop != StopReason::stop_string) {
        text += detokenizer.flush();
        if (text.size() > emitted && on_token) {
            on_token(TokenEvent{.token = -1, .text = text.substr(emitted), .ms = ms_since(start),
                                .trace = nullptr});
        }
    }
    if (stats.n_generated > 0) {
        stats.decode_ms = ms_since(decode_start);
    }
    stats.text = std::move(text);
    return stats;
}

Result<void> Session::evaluate(
    std::span<const int32_t> tokens,
    const std::function<void(size_t position, std::span<const float> logits)>& on_logits) {
    Impl& s = *impl_;
    if (tokens.size() > s.options.n_ctx) {
        return fail(ErrorCode::context_full,
                    fmt::format("{} tokens do not fit a context of {}", tokens.size(),
                                s.options.n_ctx));
    }
    s.tokens.clear();
    const size_t n_vocab = s.model->info().n_vocab;
    std::vector<float> logits(size_t{s.options.n_batch} * n_vocab);
    std::vector<cpu::BatchToken> batch;
    for (size_t start = 0; start < tokens.size(); start += s.options.n_batch) {
        const size_t end = std::min(tokens.size(), start + s.options.n_batch);
        batch.clear();
        for (size_t i = start; i < end; ++i) {
            batch.push_back({.token = tokens[i],
                             .pos = static_cast<uint32_t>(i),
                             .cache = &s.cache,
                             .want_logits = true});
        }
        if (auto ok = s.forward.run(batch, logits.data()); !ok) {
            s.tokens.clear();
            return ok;
        }
        s.tokens.insert(s.tokens.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start),
                        tokens.begin() + static_cast<std::ptrdiff_t>(end));
        s.n_computed += end - start;
        for (size_t i = start; i < end; ++i) {
            on_logits(i, std::span<const float>(logits.data() + (i - start) * n_vocab, n_vocab));
        }
    }
    return {};
}

Result<std::span<const float>> Session::append(std::span<const int32_t> tokens) {
    Impl& s = *impl_;
    if (tokens.empty()) {
        return fail(ErrorCode::invalid_argument, "no tokens to append");
    }
    if (s.tokens.size() + tokens.size() > s.options.n_ctx) {
        return fail(ErrorCode::context_full,
                    fmt::format("{} more tokens do not fit: {} of {} positions are in use",
                                tokens.size(), s.tokens.size(), s.options.n_ctx));
    }
    std::vector<int32_t> sequence = s.tokens;
    sequence.insert(sequence.end(), tokens.begin(), tokens.end());
    const size_t from = s.tokens.size();
    if (auto ok = s.prefill(sequence, from, true); !ok) {
        s.tokens.resize(from);
        return std::unexpected(ok.error());
    }
    return std::span<const float>(s.logits);
}

void Session::cancel() { impl_->cancel_requested = true; }
void Session::clear() { impl_->tokens.clear(); }
uint32_t Session::n_ctx() const { return impl_->options.n_ctx; }
const Model& Session::model() const { return *impl_->model; }
const std::vector<int32_t>& Session::cached_tokens() const { return impl_->tokens; }
uint64_t Session::n_tokens_computed() const { return impl_->n_computed; }
uint64_t Session::kv_cache_bytes() const { return impl_->cache.bytes(); }

} // namespace hearth
