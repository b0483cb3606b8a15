// A Session: creation (KV cache sized for the context, on the CPU or in a CUDA forward's
// slot), generation (through the batched loop with one sequence), evaluation for perplexity
// and scoring.
#include "hearth/session.h"

#include "hearth/batch_generation.h"
#include "model/model_impl.h"
#include "session/cuda_session.h"
#include "session/session_impl.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <new>

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

// Runs sequence[start, end) at positions start..end-1 through the session's forward pass
// (the CPU's, or its CUDA slot), writing the logits of every token (`all_logits`) or of the
// sequence's last token only, when it is in the range.
Result<void> run_range(Session::Impl& s, std::span<const int32_t> sequence, size_t start,
                       size_t end, bool all_logits, float* logits) {
    if (s.cuda) {
        return cuda_session::run(s, sequence, start, end, all_logits, logits);
    }
    std::vector<cpu::BatchToken> batch;
    for (size_t i = start; i < end; ++i) {
        batch.push_back({.token = sequence[i],
                         .pos = static_cast<uint32_t>(i),
                         .cache = &s.cache,
                         .want_logits = all_logits || i + 1 == sequence.size(),
                         .state = s.state.empty() ? nullptr : &s.state});
    }
    return s.forward.run(batch, logits);
}

// Runs tokens[from, end) after the cached ones in batches of n_batch (a batch's tokens
// attend with the prompt kernels when it holds two or more); keeps the last logits.
Result<void> prefill(Session::Impl& s, std::span<const int32_t> sequence, size_t from) {
    for (size_t start = from; start < sequence.size(); start += s.options.n_batch) {
        const size_t end = std::min(sequence.size(), start + s.options.n_batch);
        if (auto ok = run_range(s, sequence, start, end, false, s.logits.data()); !ok) {
            return ok;
        }
        s.tokens.insert(s.tokens.end(), sequence.begin() + static_cast<std::ptrdiff_t>(start),
                        sequence.begin() + static_cast<std::ptrdiff_t>(end));
        s.n_computed += end - start;
    }
    return {};
}

// The options with the defaults filled in, or why they cannot be used.
Result<SessionOptions> resolve(const ModelInfo& info, const SessionOptions& options) {
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
    const bool heads_of_32 = std::ranges::all_of(info.layer_shapes, [](const LayerShape& l) {
        return l.head_dim % 32 == 0; // gemma4's sliding and global head sizes
    });
    if (resolved.kv_type == KvCacheType::q8_0 &&
        (info.head_dim_k % 32 != 0 || info.head_dim_v % 32 != 0 || !heads_of_32)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("a Q8_0 KV cache needs head sizes that are multiples of 32; this "
                                "model's are {} and {}: use an F16 cache",
                                info.head_dim_k, info.head_dim_v));
    }
    return resolved;
}

// The CPU KV cache one session of these options holds, in GiB (for messages).
double cpu_cache_gib(const ModelInfo& info, const SessionOptions& resolved) {
    // Q8_0 stores 32 values in 34 bytes (the widths are then multiples of 32), F16 two bytes.
    const double bytes_per_element = resolved.kv_type == KvCacheType::q8_0 ? 34.0 / 32.0 : 2.0;
    return (static_cast<double>(info.kv_elements_per_token()) * bytes_per_element * resolved.n_ctx +
            2.0 * static_cast<double>(info.recurrent_state_bytes())) /
           double(1u << 30);
}

std::unique_ptr<Session::Impl> make_impl(std::shared_ptr<const Model> model,
                                         const SessionOptions& resolved,
                                         std::optional<CudaSlot> cuda) {
    const ModelInfo& info = model->info();
    // A CUDA session's cache is its slot in GPU memory: the CPU cache gets no positions.
    const uint32_t cpu_positions = cuda ? 0 : resolved.n_ctx;
    return std::unique_ptr<Session::Impl>(new Session::Impl{
        .model = model,
        .options = resolved,
        .cache = cpu::KvCache(info, cpu_positions, resolved.kv_type),
        .state = cuda ? cpu::RecurrentState() : cpu::RecurrentState(info),
        .forward = cpu::Forward(model->impl()),
        .tokens = {},
        .logits = std::vector<float>(info.n_vocab),
        .n_computed = 0,
        .cancel_requested = {},
        .cuda = std::move(cuda),
        .draft = {},
    });
}

} // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Result<Session> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
    auto group = create_group(std::move(model), options, 1);
    if (!group) {
        return std::unexpected(group.error());
    }
    return std::move(group->front());
}

Result<std::vector<Session>> Session::create_group(std::shared_ptr<const Model> model,
                                                   const SessionOptions& options, size_t n) {
    if (!model) {
        return fail(ErrorCode::invalid_argument, "no model");
    }
    if (n == 0 || n > kMaxSequencesTogether) {
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("a group holds 1 to {} sessions, not {}", kMaxSequencesTogether, n));
    }
    auto resolved = resolve(model->info(), options);
    if (!resolved) {
        return std::unexpected(resolved.error());
    }
    std::shared_ptr<CudaForward> gpu;
    if (resolved->device == DeviceKind::cuda) {
        auto created = cuda_session::create_forward(*model, *resolved, static_cast<uint32_t>(n));
        if (!created) {
            return std::unexpected(created.error());
        }
        gpu = std::move(*created);
    }
    std::vector<Session> sessions;
    sessions.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        std::optional<CudaSlot> slot;
        if (gpu) {
            slot = CudaSlot{.forward = gpu,
                            .seq = static_cast<uint32_t>(i),
                            .n_seq = static_cast<uint32_t>(n),
                            .device = resolved->cuda_device};
        }
        // A file's sizes can be valid and still imply a cache larger than this machine's
        // memory: that is an error for the caller to show, not an abort.
        try {
            sessions.push_back(Session(make_impl(model, *resolved, std::move(slot))));
        } catch (const std::bad_alloc&) {
            const std::string sequences = n == 1 ? "" : fmt::format(" for each of {} sequences", n);
            return fail(
                ErrorCode::out_of_memory,
                fmt::format("not enough memory for the KV cache of {} tokens ({:.2f} GiB){}: "
                            "use a shorter context",
                            resolved->n_ctx, cpu_cache_gib(model->info(), *resolved), sequences));
        }
    }
    return sessions;
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
    for (size_t start = 0; start < tokens.size(); start += s.options.n_batch) {
        const size_t end = std::min(tokens.size(), start + s.options.n_batch);
        if (auto ok = run_range(s, tokens, start, end, true, logits.data()); !ok) {
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
        // A recurrent state that took in part of the tokens goes back to where it can.
        s.tokens.resize(cuda_session::rewind_recurrent_state(s, static_cast<uint32_t>(from)));
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
size_t Session::truncate(size_t n) {
    Impl& s = *impl_;
    if (n < s.tokens.size()) {
        s.tokens.resize(cuda_session::rewind_recurrent_state(s, static_cast<uint32_t>(n)));
    }
    return s.tokens.size();
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
    if (const auto& cuda = impl_->cuda) {
        const CudaMemoryReport report = cuda->forward->memory();
        return (report.kv_bytes + report.host_kv_bytes) / cuda->n_seq;
    }
    return impl_->cache.bytes() + impl_->state.bytes();
}
DeviceKind Session::device() const {
    return impl_->options.device;
}
int Session::cuda_device() const {
    return impl_->cuda ? impl_->cuda->device : -1;
}
std::optional<GpuMemory> Session::gpu_memory() const {
    if (!impl_->cuda) {
        return std::nullopt;
    }
    const CudaMemoryReport report = impl_->cuda->forward->memory();
    return GpuMemory{.cuda_device = impl_->cuda->device,
                     .weights_bytes = report.weights_bytes,
                     .kv_bytes = report.kv_bytes,
                     .scratch_bytes = report.scratch_bytes,
                     .device_total_bytes = report.device_total_bytes,
                     .gpu_layers = report.gpu_layers,
                     .n_layers = report.n_layers,
                     .host_kv_bytes = report.host_kv_bytes};
}

} // namespace hearth
