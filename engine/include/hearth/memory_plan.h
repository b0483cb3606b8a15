// The memory arithmetic of running a model, computed before loading: weights, KV cache,
// scratch and runtime overhead, and whether that fits the memory this machine has.
#pragma once

#include "hearth/error.h"
#include "hearth/model_info.h"

#include <cstdint>
#include <optional>
#include <string>

namespace hearth {

enum class KvCacheType { f16, q8_0 };
enum class DeviceKind { cpu, cuda };

struct MemoryPlanOptions {
    uint32_t n_ctx = 0;     // tokens per sequence; 0 means the trained context
    uint32_t n_seq = 1;     // sequences decoded together (compare mode, server)
    uint32_t n_batch = 512; // prompt tokens processed per forward pass
    KvCacheType kv_type = KvCacheType::f16;
    DeviceKind device = DeviceKind::cpu;
};

struct MemoryPlan {
    uint32_t n_ctx = 0;
    uint32_t n_seq = 1;
    uint64_t weights_bytes = 0;
    // 2 (K and V) × attention layers × KV heads × head size × bytes per element (a hybrid
    // model's recurrent layers have no KV cache)
    double kv_bytes_per_token = 0;
    uint64_t kv_bytes = 0; // kv_bytes_per_token × n_ctx × n_seq
    uint32_t n_attention_layers = 0;
    // Hybrid models: the recurrent state of one sequence (float32 conv and delta-rule states
    // of each recurrent layer), fixed whatever the context, held twice: the live state and
    // the checkpoint a rewound conversation resumes from. 0 for other models.
    uint64_t recurrent_bytes_per_seq = 0;
    uint64_t recurrent_bytes = 0; // recurrent_bytes_per_seq × n_seq
    // Hybrid models: what a sequence holds besides while it speculates, at most (a verify
    // pass of 1 + kMaxDraftTokens tokens: ModelInfo::recurrent_verify_bytes), allocated by
    // its first speculative step. Not in total_bytes, which plans plain decoding: speculation
    // is a per-request choice. 0 for other models.
    uint64_t speculation_bytes_per_seq = 0;
    uint64_t scratch_bytes = 0;  // activations of one batch and the logits
    uint64_t overhead_bytes = 0; // runtime: CUDA context and cuBLAS workspace on a GPU
    uint64_t total_bytes = 0;
};

MemoryPlan plan_memory(const ModelInfo& info, const MemoryPlanOptions& options);

enum class Fit { fits, tight, wont_fit };

// Compares a need with what is available: `tight` above 85% of it.
Fit assess_fit(uint64_t needed_bytes, uint64_t available_bytes);
const char* fit_name(Fit fit);

// Physical memory: total and currently available (MemAvailable), from /proc/meminfo.
struct HostMemory {
    uint64_t total_bytes = 0;
    uint64_t available_bytes = 0;
};
std::optional<HostMemory> read_host_memory();

// Partial offload: layers [0, n_gpu_layers) on the GPU, the rest on the CPU, for a model
// whose whole does not fit the GPU. The embeddings are looked up and the output norm and head
// run on the CPU, so the GPU holds only its layers' matrices and norms, their F16 KV cache
// and a scratch:
//   weights  = sum of layer_weight_bytes[0, N)   (file bytes; the device copy's alignment,
//              at most 256 bytes a tensor, and the RoPE factors are left to the headroom)
//   kv       = N × (align(n_seq·n_ctx·k_width·2) + align(n_seq·n_ctx·v_width·2)),
//              k_width = n_head_kv·head_dim_k, v_width = n_head_kv·head_dim_v
//   scratch  = for R = kOffloadGpuRows rows (the CUDA matrix-vector batch), each buffer
//              aligned to 256 bytes: 3R int32 (tokens, positions, slots); float32 rows of
//              R × n_embd twice (the residual stream in and out), R × max(n_embd, o_width)
//              (the normed input), R × q_width, R × k_width, R × v_width, R × o_width,
//              R × n_ff twice (gate, up); and the split attention's partial results,
//              R × n_head × ceil(n_ctx / 256) × (2 + head_dim_v) floats.
//   (q_width = n_head·head_dim_k, o_width = n_head·head_dim_v; all zero when N = 0.)
// A hybrid model (qwen35): a recurrent layer's kv is its state, align(n_seq·conv_state·4) +
// align(n_seq·ssm_state·4), and the scratch adds the delta-net's buffers of R rows
// (conv_channels, d_inner twice, n_v_heads twice, 2·q_width, q_width floats each).
// It fits when weights + kv + scratch + headroom <= the GPU's free bytes. The CPU keeps the
// other layers' weights, the non-layer weights, the other layers' F16 KV cache
// ((n_layer - N) × n_seq × n_ctx × (k_width + v_width) × 2; with a hybrid model's recurrent
// states, n_seq × 2 × recurrent_state_bytes) and plan_memory's CPU scratch.
inline constexpr uint32_t kOffloadGpuRows = 8;
inline constexpr uint64_t kOffloadGpuHeadroom = 512ull << 20; // CUDA context, cuBLAS, slack

struct OffloadOptions {
    uint32_t n_ctx = 0;     // tokens per sequence; 0 means the trained context
    uint32_t n_seq = 1;     // sequences decoded together
    uint32_t n_batch = 512; // prompt tokens per CPU forward pass (the CPU scratch)
    uint64_t gpu_free_bytes = 0;
    uint64_t gpu_headroom_bytes = kOffloadGpuHeadroom; // kept free on the GPU
    // Host memory the CPU part may use; 0: not checked (the weights are memory-mapped).
    uint64_t host_available_bytes = 0;
    // The user's choice of GPU layers, clamped to n_layer; unset: the most that fit.
    std::optional<uint32_t> n_gpu_layers = std::nullopt;
};

// Bytes of one side of the split, by kind.
struct OffloadBytes {
    uint64_t weights = 0;
    uint64_t kv = 0;
    uint64_t scratch = 0;
    uint64_t total() const { return weights + kv + scratch; }
};

struct OffloadPlan {
    uint32_t n_layer = 0;
    uint32_t n_gpu_layers = 0; // layers [0, n_gpu_layers) run on the GPU
    uint32_t n_ctx = 0;
    uint32_t n_seq = 1;
    OffloadBytes gpu; // without the headroom
    OffloadBytes cpu;
    uint64_t gpu_headroom_bytes = 0;
    uint64_t gpu_free_bytes = 0;
    uint32_t max_gpu_layers = 0; // the most layers that fit the GPU
    // "22 of 32 layers on the GPU (5.10 GiB), 10 on the CPU (2.30 GiB)"
    std::string summary;
};

// The split for a model, a context and the GPU's free memory; pure arithmetic, no device
// call. Fails, with the arithmetic and what would fit in the message, with `out_of_memory`
// when the requested layers do not fit the GPU (naming the most that would, and the largest
// context at which the requested number would) or the CPU part does not fit
// host_available_bytes (naming the fewest GPU layers that would make it fit), and with
// `invalid_argument` when the info lacks per-layer weight sizes.
Result<OffloadPlan> plan_offload(const ModelInfo& info, const OffloadOptions& options);

// "1.23 GiB", "512.0 MiB", "900 B".
std::string format_bytes(double bytes);

} // namespace hearth
