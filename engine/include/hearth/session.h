// One conversation's KV cache and its generation loop: prefill the new tokens (reusing
// the cached prefix), decode token by token, stop on end-of-generation tokens, stop
// strings, max tokens, a full context or cancel, and stream each piece with its timing.
//
// A Session is used from one thread at a time (the engine's worker); cancel() may be
// called from any thread. It shares its Model with other sessions.
#pragma once

#include "hearth/error.h"
#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/sampling.h"
#include "hearth/speculation.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

enum class StopReason {
    end_of_generation, // the model emitted EOS / EOT / <|im_end|>
    stop_string,       // a stop string appeared in the text (it is not included)
    max_tokens,
    context_full, // the KV cache has no room for another token
    cancelled,
};
const char* stop_reason_name(StopReason reason);

// "f16" / "q8_0", and back (nullopt for anything else).
const char* kv_cache_type_name(KvCacheType type);
std::optional<KvCacheType> parse_kv_cache_type(std::string_view name);

struct SessionOptions {
    uint32_t n_ctx = 0;     // 0: the trained context, capped at 4096
    uint32_t n_batch = 512; // prompt tokens per forward pass
    // F16, or Q8_0 blocks (about half the memory; attention then runs as llama.cpp's flash
    // attention over a Q8_0 cache). Q8_0 needs head sizes that are multiples of 32.
    KvCacheType kv_type = KvCacheType::f16;
    // Where the forward passes run: the CPU, or CUDA device `cuda_device` (runtime ordinal).
    // A CUDA session keeps its KV cache (F16) in GPU memory, brings each step's last logits
    // back and samples them on the host with the same Sampler as the CPU.
    DeviceKind device = DeviceKind::cpu;
    int cuda_device = 0;
    // On CUDA: the layers on the GPU (hearth/gpu_layers.h): all (refused when the model does
    // not fit), auto (all when they fit, else the first that fit and the rest on the CPU,
    // whose steps then sample on the host as the CPU's do) or a count.
    int32_t gpu_layers = kAutoGpuLayers;
};

// GPU memory of a CUDA session's forward pass, by arena, and the device's total. Sessions made
// by one Session::create_group share the weights and scratch; `kv_bytes` counts every slot.
struct GpuMemory {
    int cuda_device = 0;
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0;
    uint64_t scratch_bytes = 0;
    uint64_t device_total_bytes = 0;
    // Partial offload: fewer layers on the GPU than the model has; the rest's KV cache is in
    // host memory.
    uint32_t gpu_layers = 0;
    uint32_t n_layers = 0;
    uint64_t host_kv_bytes = 0;
};

struct GenerateOptions {
    int32_t max_tokens = 512;
    std::vector<std::string> stop_strings;
    SpeculationOptions speculation = {}; // off unless asked (hearth/speculation.h)
};

// One generated token. `text` is what became printable with it: possibly empty (part of a
// UTF-8 character, or held back because it may start a stop string), possibly several
// tokens' worth.
struct TokenEvent {
    int32_t token = -1;
    std::string text;
    double ms = 0;                        // since generate() started
    const SamplingTrace* trace = nullptr; // when the sampling parameters ask for it
};

struct GenerationStats {
    int32_t n_prompt = 0;    // tokens in the prompt
    int32_t n_reused = 0;    // of which found in the cache
    int32_t n_shared = 0;    // of which copied from another sequence's cache (batched)
    int32_t n_prefilled = 0; // of which computed now
    int32_t n_generated = 0;
    int32_t n_drafted = 0;        // speculation: draft tokens proposed and run
    int32_t n_draft_accepted = 0; // of which it accepted
    double prefill_ms = 0;
    double decode_ms = 0;
    double ttft_ms = 0; // start to first token sampled
    StopReason stop = StopReason::max_tokens;
    std::string text; // the completion, without the stop string

    double prefill_tokens_per_second() const {
        return prefill_ms > 0 ? n_prefilled * 1000.0 / prefill_ms : 0;
    }
    double draft_acceptance_rate() const {
        return n_drafted > 0 ? static_cast<double>(n_draft_accepted) / n_drafted : 0;
    }
    double decode_tokens_per_second() const {
        return decode_ms > 0 && n_generated > 1 ? (n_generated - 1) * 1000.0 / decode_ms : 0;
    }
};

class Session {
public:
    // Fails with `invalid_argument` for a context past the trained one, `unsupported` for a
    // Q8_0 cache the model's heads cannot take (or any Q8_0 cache on CUDA). On CUDA: `device`
    // when the build has no CUDA backend, there is no such device or the runtime fails
    // (the message says which), `out_of_memory` when the model does not fit (with the
    // arithmetic), `unsupported` for an architecture the CUDA backend does not run.
    static Result<Session> create(std::shared_ptr<const Model> model,
                                  const SessionOptions& options = {});
    // `n` sessions that generate together (generate_together): on CUDA they share one upload
    // of the weights, each with its own KV slot, and must be used from one thread; on the CPU
    // they are `n` independent sessions. Fails as create() does.
    static Result<std::vector<Session>> create_group(std::shared_ptr<const Model> model,
                                                     const SessionOptions& options, size_t n);
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    ~Session();

    // Continues `prompt` (the whole conversation so far, as tokens). Fails with
    // `context_full` when the prompt does not fit the context, `invalid_argument` for an
    // empty prompt or bad sampling parameters. `on_token` returning false stops
    // generation (StopReason::cancelled).
    Result<GenerationStats> generate(std::span<const int32_t> prompt,
                                     const SamplingParams& sampling, const GenerateOptions& options,
                                     const std::function<bool(const TokenEvent&)>& on_token = {});

    // Runs `tokens` from position 0 and hands the logits of every position to `on_logits`
    // (perplexity). Replaces the cache's contents.
    Result<void>
    evaluate(std::span<const int32_t> tokens,
             const std::function<void(size_t position, std::span<const float> logits)>& on_logits);

    // Runs `tokens` after the cached ones (as llama_decode does) and returns the logits of
    // the last one; the view is valid until the next call. For benchmarks and scoring.
    Result<std::span<const float>> append(std::span<const int32_t> tokens);

    // Asks a running generate() to stop after the current token. Thread-safe.
    void cancel();

    // Forgets the cached tokens (the next generate() prefills everything).
    void clear();
    // Keeps the first `n` cached tokens (all when there are fewer) and forgets the rest, so
    // that the next append() continues after them; returns how many are kept. A model with
    // recurrent layers keeps only what its state can go back to (its checkpoint, or none).
    size_t truncate(size_t n);

    uint32_t n_ctx() const;
    const Model& model() const;
    // The tokens whose keys and values are in the cache.
    const std::vector<int32_t>& cached_tokens() const;
    // Tokens run through the model since creation: a test of prefix reuse reads it.
    uint64_t n_tokens_computed() const;
    // On CUDA, this session's slot of the shared cache.
    uint64_t kv_cache_bytes() const;
    DeviceKind device() const;
    int cuda_device() const; // -1 on the CPU
    // nullopt on the CPU.
    std::optional<GpuMemory> gpu_memory() const;

    struct Impl;

private:
    friend struct SessionAccess;
    explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace hearth
