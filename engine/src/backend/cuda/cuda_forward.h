// The transformer forward pass on an NVIDIA GPU: the CUDA backend's counterpart of the CPU
// forward (engine/src/cpu/forward.h). Weights are uploaded once from a loaded Model; the KV
// cache of n_seq sequences and the scratch buffers live in the backend's own device arenas.
// Private to the engine (sessions create it; hearth-bench and the kernel tests measure it):
// the app and tools reach the GPU through hearth::Session and hearth/cuda_device.h.
// This header names no CUDA type and is the same in every build: CudaForward::create is the
// real one in hearth_cuda (cuda_forward.cpp) or fails with "built without CUDA" in
// hearth_cuda_stub (engine/src/backend/cuda_stub/).
#pragma once

#include "hearth/error.h"
#include "hearth/gpu_layers.h"
#include "hearth/model.h"
#include "hearth/sampling.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hearth {

struct CudaForwardOptions {
    uint32_t n_ctx = 0;     // tokens per sequence; 0: the model's trained context
    uint32_t n_seq = 1;     // sequences (KV slots) decoded together
    int device = 0;         // CUDA runtime ordinal
    bool use_graphs = true; // capture each step shape once as a CUDA graph and replay it
    // kAllGpuLayers, kAutoGpuLayers (hearth/gpu_layers.h), or N >= 1: partial offload, the first N
    // layers (and their KV cache) on the GPU; the embeddings, the other layers and the output head
    // on the CPU, whose forward pass takes over the residual stream after layer N - 1. N at or
    // above the model's layer count puts every layer on the GPU and the head on the CPU.
    int32_t gpu_layers = kAllGpuLayers;
    // Use at most this many bytes of the device's free memory (0: all of it), e.g. to leave
    // room for other programs; plans and refusals count against it.
    uint64_t memory_budget = 0;
    // A prompt (at least 16 tokens of one sequence at consecutive positions in one run())
    // goes through the layers in chunks of up to this many rows, the matrix products on the
    // tensor cores through cuBLAS (loaded on first use) and a tiled attention, instead of
    // 8-row steps that each read all the weights. 0: 8-row steps only. Costs scratch memory
    // proportional to it and cuBLAS's buffers (64 MiB and up), counted in the plan. Partial
    // offload runs its GPU layers in 8-row steps.
    uint32_t prefill_rows = 512;
};

// Device memory of one CudaForward, by arena, and the device's at creation.
struct CudaMemoryReport {
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0;
    uint64_t recurrent_bytes = 0; // qwen35: the recurrent state of every sequence
    uint64_t scratch_bytes = 0;
    uint64_t device_total_bytes = 0;
    uint64_t device_free_bytes = 0; // before this forward allocated anything
    // Weight bytes one decode step reads: every matrix and norm, but of the embedding table
    // only one row (the whole table when it doubles as the output matrix). With the KV cache
    // read per token, the numerator of the bandwidth roofline.
    uint64_t decode_weight_bytes = 0;
    // The weights were already on the device, uploaded by another live forward of the same
    // model (the chat's session and a comparison's group share one upload); weights_bytes
    // then counts memory this forward did not allocate.
    bool weights_shared = false;
    // Layers on the GPU and in the model; fewer on the GPU under partial offload, whose CPU
    // part keeps the other layers' KV cache in host memory (host_kv_bytes).
    uint32_t gpu_layers = 0;
    uint32_t n_layers = 0;
    bool head_on_gpu = true; // the embeddings and the output head
    uint64_t host_kv_bytes = 0;
};

// A token drawn on the GPU, and the top candidates of the chain's last stage when asked.
struct CudaSample {
    int32_t token = -1;
    // The kept set was longer than the GPU sorts (top-k > 1024 with top-p, or a top-p / min-p
    // cut past 1024 candidates): no token was drawn; sample on the CPU from the logits.
    bool needs_host = false;
    std::vector<SamplingStage::Candidate> top; // logit after penalties, final probability
};

// The most tokens CudaForward::sample penalises (the repeat_last_n window it accepts).
inline constexpr size_t kCudaSampleMaxHistory = 4096;

struct CudaBatchToken {
    int32_t token = 0;
    uint32_t pos = 0; // position in its sequence
    uint32_t seq = 0; // KV slot, < n_seq
    bool want_logits = false;
};

class CudaForward {
public:
    // Uploads the model's weights to GPU `options.device`, unless a live forward of the same
    // model on that device already holds them (then shared), and allocates the KV cache and
    // scratch. Fails before allocating anything with `out_of_memory` when the model (or the
    // requested layers) does not fit the device's free memory (the message gives the arithmetic,
    // the largest context and the most GPU layers that would fit), `invalid_argument` for
    // gpu_layers below 1 other than the two constants, `unsupported` for an architecture feature
    // the CUDA step lacks (named), `device` for any CUDA error (no device, driver, launch). The
    // Model must outlive the CudaForward.
    static Result<std::unique_ptr<CudaForward>> create(const Model& model,
                                                       const CudaForwardOptions& options);

    virtual ~CudaForward() = default;

    // Runs the batch (tokens of one sequence in position order; a sequence's earlier positions
    // already cached) in steps of up to 8 tokens, a prompt run in chunks of prefill_rows, and
    // writes n_vocab logits per token with want_logits, in batch order, into `logits` (host
    // memory). Fails with `invalid_argument` for a token id out of range or a bad slot,
    // `context_full` for a position past n_ctx, `device` for a CUDA error. Not thread-safe:
    // one thread drives one CudaForward.
    virtual Result<void> run(std::span<const CudaBatchToken> batch, float* logits) = 0;

    // Runs the sampling chain of hearth::Sampler on the GPU over the logits of the last row
    // of the last run() (computed whether or not that row asked for them), and brings back
    // only the token and `n_top` (<= 64) candidates. `history`: the sequence so far, of which
    // the last params.repeat_last_n tokens are penalised. `u`: the uniform draw in [0, 1);
    // kernels/sampling.cuh's sample_uniform of two outputs of the sequence's std::mt19937
    // gives the CPU sampler's draw (Sampler::peek_uniform, then Sampler::consume_draw). Fails
    // with `invalid_argument` before any run(), for invalid params or a penalty window past
    // kCudaSampleMaxHistory, `device` for a CUDA error. Under partial offload the logits are
    // the CPU's: the answer is always needs_host.
    virtual Result<CudaSample> sample(const SamplingParams& params,
                                      std::span<const int32_t> history, double u,
                                      int n_top = 0) = 0;

    // Copies the logits sample() reads (the last row of the last run()) into `out`: n_vocab
    // floats of host memory, for the host's chain where sample() answers needs_host. Fails
    // with `invalid_argument` before any run(), `unsupported` under partial offload (the
    // logits are the CPU's: ask run() for them), `device` for a CUDA error.
    virtual Result<void> last_logits(float* out) = 0;

    // Copies the keys and values of positions [from, to) of slot `from_seq` into slot `to_seq`
    // (the prompt prefix sequences share, computed once). Fails with `invalid_argument` for a
    // bad slot or range, `device` for a CUDA error.
    virtual Result<void> copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                                    uint32_t to) = 0;

    // qwen35: the position slot `seq`'s recurrent state stands at (its next token's; 0 after a
    // failed run, when only position 0 may follow); nullopt for a model without one. A session
    // keeps its cached tokens only up to there: the device state cannot be rewound.
    virtual std::optional<uint32_t> recurrent_position(uint32_t /*seq*/) const {
        return std::nullopt;
    }
    virtual CudaMemoryReport memory() const = 0;
    virtual uint32_t n_ctx() const = 0;
    // "graphs" or why graphs are off ("graphs off: <reason>"), for logs and hearth-bench.
    virtual std::string graph_status() const = 0;
    // "cuBLAS prefill" (loaded), "cuBLAS prefill (not loaded yet)", or why prompts run in
    // 8-row steps ("prefill off: <reason>", e.g. cuBLAS not found), for logs and hearth-bench.
    virtual std::string prefill_status() const { return "prefill off: not supported here"; }
};

} // namespace hearth
