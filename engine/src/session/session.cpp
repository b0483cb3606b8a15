// A Session: creation (KV cache sized for the context), generation (through the batched
// loop with one sequence), evaluation for perplexity and scoring.
#include "hearth/session.h"

#include "hearth/batch_generation.h"
#include "model/model_impl.h"
#include "session/session_impl.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

namespace hearth {

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
    case StopReason::end_of_generation:
        return "end of generation";
    case StopReason::stop_string:
        return "stop string";
    case StopReason::max_tokens:
        return "max tokens";
    case StopReason::context_full:
        return "context full";
    case StopReason::cancelled:
        return "cancelled";
    }
    return "?";
}

const char* kv_cache_type_name(KvCacheType type) {
    return type == KvCacheType::q8_0 ? "q8_0" : "f16";
}

std::optional<KvCacheType> parse_kv_cache_type(std::string_view name) {
    if (name == "f16") {
        return KvCacheType::f16;
    }
    if (name == "q8_0") {
        return KvCacheType::q8_0;
    }
    return std::nullopt;
}

namespace {

// Runs tokens[from, end) after the cached ones in batches of n_batch (a batch's tokens
// attend with the prompt kernels when it holds two or more); keeps the last logits.
Result<void> prefill(Session::Impl& s, std::span<const int32_t> sequence, size_t from) {
    std::vector<cpu::BatchToken> batch;
    for (size_t start = from; start < sequence.size(); start += s.options.n_batch) {
        const size_t end = std::min(sequence.size(), start + s.options.n_batch);
        batch.clear();
        for (size_t i = start; i < end; ++i) {
            batch.push_back({.token = sequence[i],
                             .pos = static_cast<uint32_t>(i),
                             .cache = &s.cache,
                             .want_logits = i + 1 == sequence.size()});
        }
        if (auto ok = s.forward.run(batch, s.logits.data()); !ok) {
            return ok;
        }
        s.tokens.insert(s.tokens.end(), sequence.begin() + static_cast<std::ptrdiff_t>(start),
                        sequence.begin() + static_cast<std::ptrdiff_t>(end));
        s.n_computed += end - start;
    }
    return {};
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
    if (resolved.kv_type == KvCacheType::q8_0 &&
        (info.head_dim_k % 32 != 0 || info.head_dim_v % 32 != 0)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("a Q8_0 KV cache needs head sizes that are multiples of 32; this "
                                "model's are {} and {}: use an F16 cache",
                                info.head_dim_k, info.head_dim_v));
    }
    const uint32_t k_width = info.n_head_kv * info.head_dim_k;
    const uint32_t v_width = info.n_head_kv * info.head_dim_v;
    auto impl = std::unique_ptr<Impl>(new Impl{
        .model = model,
        .options = resolved,
        .cache = cpu::KvCache(info.n_layer, resolved.n_ctx, k_width, v_width, resolved.kv_type),
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
    // One sequence is the batched loop with a batch of one: a single code path to trust.
    const SequenceRequest request{.session = this,
                                  .prompt = prompt,
                                  .sampling = sampling,
                                  .options = options,
                                  .on_token = on_token};
    auto result = generate_together({&request, 1});
    if (!result) {
        return std::unexpected(result.error());
    }
    return std::move(result->sequences.front());
}

Result<void> Session::evaluate(
    std::span<const int32_t> tokens,
    const std::function<void(size_t position, std::span<const float> logits)>& on_logits) {
    Impl& s = *impl_;
    if (tokens.size() > s.options.n_ctx) {
        return fail(ErrorCode::context_full, fmt::format("{} tokens do not fit a context of {}",
                                                         tokens.size(), s.options.n_ctx));
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
    if (auto ok = prefill(s, sequence, from); !ok) {
        s.tokens.resize(from);
        return std::unexpected(ok.error());
    }
    return std::span<const float>(s.logits);
}

void Session::cancel() {
    impl_->cancel_requested = true;
}
void Session::clear() {
    impl_->tokens.clear();
}
uint32_t Session::n_ctx() const {
    return impl_->options.n_ctx;
}
const Model& Session::model() const {
    return *impl_->model;
}
const std::vector<int32_t>& Session::cached_tokens() const {
    return impl_->tokens;
}
uint64_t Session::n_tokens_computed() const {
    return impl_->n_computed;
}
uint64_t Session::kv_cache_bytes() const {
    return impl_->cache.bytes();
}

} // namespace hearth
