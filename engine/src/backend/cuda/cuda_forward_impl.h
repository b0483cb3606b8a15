// The inside of the CUDA forward pass (hearth/cuda_forward.h): the shared weights, the KV
// cache of n_seq slots and the scratch in the backend's own arenas, the stream and the captured
// step graphs. Split by concern: cuda_forward.cpp plans and allocates, cuda_step.cpp runs the
// 8-row step, cuda_prefill_step.cpp runs prompts in chunks through cuBLAS, cuda_sample.cpp
// samples on the device.
#pragma once

#include "attention.cuh"
#include "backend/cuda/cublas_prefill.h"
#include "backend/cuda/cuda_forward.h"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/delta_net_step.h"
#include "backend/cuda/device_arena.h"
#include "glu.cuh"
#include "matvec.cuh"
#include "rope.cuh"
#include "sampling.cuh"

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hearth::cuda_detail {

inline constexpr int kMaxRows = kernels::kMatvecMaxBatch;
// Device memory left free for the CUDA context's own needs (graphs, kernel stacks, the
// cuBLAS workspace of prefill): a plan that leaves less is refused.
inline constexpr uint64_t kHeadroom = kOffloadGpuHeadroom; // hearth/memory_plan.h
// Tokens the GPU sampler's repetition penalty looks back over, at most.
inline constexpr size_t kMaxHistory = kCudaSampleMaxHistory;

// The device memory of a forward, planned before anything is allocated.
struct ForwardPlan {
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0;
    uint64_t scratch_bytes = 0;
    uint64_t kv_per_token = 0;    // of one sequence, over the layers on the device
    uint64_t recurrent_bytes = 0; // qwen35: every sequence's recurrent state (delta_net_step.h)
    // CublasPrefill's own allocations (weight tile, F16 activations), made on the first
    // prompt outside the arenas but counted against the device's memory up front.
    uint64_t prefill_cublas_bytes = 0;
};

// Prefill (cuda_prefill_step.cpp): runs of at least this many tokens of one sequence at
// consecutive positions go through the chunked cuBLAS path; shorter ones through 8-row steps.
inline constexpr int kPrefillMinRows = 16;
// CublasPrefill's weight tile.
inline constexpr size_t kPrefillTileBytes = size_t{64} << 20;
// Largest CudaForwardOptions::prefill_rows (the kernels' grid limit on rows).
inline constexpr uint32_t kMaxPrefillRows = 65535;
// Scratch-arena bytes of the prefill buffers for chunks of `rows` rows (0 for 0 rows).
uint64_t prefill_scratch_bytes(const Model::Impl& m, uint32_t rows);
// CublasPrefill's own bytes for chunks of `rows` rows (0 for 0 rows).
uint64_t prefill_cublas_bytes(const ModelInfo& info, uint32_t rows);

// The plan of the forward `options` describes with the layers of `selection` on the device;
// options.n_ctx must be resolved (non-zero).
ForwardPlan plan_forward(const Model::Impl& m, const CudaForwardOptions& options,
                         const WeightSelection& selection);

// The device's free bytes as the options let the forward use them (memory_budget).
uint64_t usable_bytes(uint64_t free_bytes, const CudaForwardOptions& options);

// The most layers [0, N) whose weights (unless already shared), KV cache and scratch fit
// `free_bytes` with the headroom, the head on the CPU; 0 when not one does.
uint32_t most_gpu_layers(const Model::Impl& m, const CudaForwardOptions& options,
                         uint64_t free_bytes);

// gemma4's scratch for up to `rows` rows (gemma4_step.cpp); all null for other models.
struct Gemma4Buffers {
    const int32_t* tokens = nullptr; // the rows' tokens (the step's or the chunk's inputs)
    float* selected = nullptr;       // (rows, n_layer * n_embd_per_layer) looked-up rows
    float* projected = nullptr;      // (rows, n_layer * n_embd_per_layer) their projection
    float* inputs = nullptr;         // (n_layer, n, n_embd_per_layer) each layer's inputs
    float* gate = nullptr;           // (rows, n_embd_per_layer)
    // The mixture-of-experts layers: the experts' input, the router's input and the experts'
    // output, (rows, n_embd) each.
    float *experts_in = nullptr, *router_in = nullptr, *experts_out = nullptr;
};

// gemma4's scratch bytes for `rows` rows (0 for other models), and their carving (planned
// with gemma4_scratch_bytes).
uint64_t gemma4_scratch_bytes(const Model::Impl& m, size_t rows);
Gemma4Buffers take_gemma4_buffers(Arena& arena, const Model::Impl& m, size_t rows,
                                  const int32_t* tokens);

// The activations of a step's rows, (rows, width) each, and the rows' positions and slots
// (device memory).
struct StepBuffers {
    float *x, *o, *h, *q, *k, *v, *attn, *gate, *up;
    const int32_t* positions;
    const int32_t* slots;
    MoeBuffers moe;                         // mixture-of-experts models only (cuda_experts.h)
    const DeltaNetBuffers* delta = nullptr; // qwen35's layers (delta_net_step.h)
    const Gemma4Buffers* gemma4 = nullptr;  // gemma4 only
};

// A layer's KV cache: (n_seq, n_ctx, n_head_kv * head_dim) F16 values each, at the layer's
// own sizes (gemma4's differ by layer). A gemma4 layer that reads an earlier layer's cache
// holds that layer's pointers and is `shared`.
struct DeviceLayerCache {
    uint16_t* k = nullptr;
    uint16_t* v = nullptr;
    kernels::KvLayout layout;
    bool shared = false;
};

// Floats between the attention's output rows for a layer with cache `C`: its heads' values
// back to back (gemma4's widths differ by layer, and prefill's products read them packed).
inline int64_t attention_out_stride(const DeviceLayerCache& C) {
    return int64_t(C.layout.n_head) * C.layout.head_dim_v;
}

// Each layer's cache layout (its attention_dims) and the KV bytes of the layers [0, n_layers)
// that own a cache (not the recurrent ones, not gemma4's shared ones), for n_seq x n_ctx cells.
std::vector<kernels::KvLayout> layer_kv_layouts(const ModelInfo& info, uint32_t n_layers,
                                                uint32_t n_ctx, uint32_t n_seq);

class CudaForwardImpl final : public CudaForward {
public:
    // `selection`: every layer and the head (a whole model), or the first layers only (the GPU
    // part of a partial offload, driven through run_layers()).
    CudaForwardImpl(const Model::Impl& m, const CudaForwardOptions& o,
                    const WeightSelection& selection)
        : m_(m), options_(o), selection_(selection) {}
    ~CudaForwardImpl() override;

    Result<void> init();
    // Layers-only forwards: runs the device's layers on the batch's residual stream
    // (batch.size() rows of n_embd floats, host memory, entering layer 0) and writes the
    // stream entering the first layer not on the device to `residual_out` (may equal
    // residual_in). Fails as run() does.
    Result<void> run_layers(std::span<const CudaBatchToken> batch, const float* residual_in,
                            float* residual_out);
    // Checks a batch as run() does: token ids, slots, positions.
    Result<void> check_batch(std::span<const CudaBatchToken> batch) const;
    Result<void> run(std::span<const CudaBatchToken> batch, float* logits) override;
    Result<CudaSample> sample(const SamplingParams& params, std::span<const int32_t> history,
                              double u, int n_top) override;
    Result<void> last_logits(float* out) override;
    Result<void> copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                            uint32_t to) override;
    CudaMemoryReport memory() const override { return report_; }
    std::optional<uint32_t> recurrent_position(uint32_t seq) const override;
    uint32_t n_ctx() const override { return options_.n_ctx; }
    std::string prefill_status() const override;
    std::string graph_status() const override {
        return options_.use_graphs ? "graphs" : "graphs off: " + graph_note_;
    }

private:
    Result<void> check_architecture() const;
    // qwen35's part of check_architecture (delta_net_step.cpp).
    Result<void> check_delta_net() const;
    // gemma4's part (gemma4_step.cpp): each layer's heads, the layers that share a cache, and
    // no partial offload.
    Result<void> check_gemma4() const;
    // Copies the rows' tokens, positions and slots into the pinned step inputs.
    void stage_rows(std::span<const CudaBatchToken> rows);
    // y = W x for the step's rows (x and y rows x_stride and y_stride floats apart); `what`
    // names the matrix for error messages.
    using MatmulFn =
        std::function<Result<void>(const DeviceMatrix& w, const float* x, int64_t x_stride,
                                   float* y, int64_t y_stride, const char* what)>;
    // The attention of the step's rows over `cache` (the rows' keys and values appended),
    // into StepBuffers::attn.
    // sinks: the layer's attention sinks (device, n_head floats) or null; q: the rows' queries,
    // q_stride floats apart (wider than the heads after a fused QKV product).
    using AttentionFn =
        std::function<Result<void>(const DeviceLayerCache& cache, int window, const float* sinks,
                                   const float* q, int64_t q_stride)>;
    Result<void> enqueue_layers(const StepBuffers& buffers, int n, const MatmulFn& matmul,
                                const AttentionFn& attention);
    // A layer's q, k and v rows: the StepBuffers' own, or views of the q buffer (rows
    // q | k | v) after a fused QKV product.
    struct QkvRows {
        float *q, *k, *v;
        int64_t q_stride, k_stride, v_stride;
    };
    Result<QkvRows> enqueue_qkv(const DeviceLayerWeights& L, const StepBuffers& buffers, int n,
                                const MatmulFn& matmul);
    // o = W_down act(W_gate h) * (W_up h), at the layer's own n_ff.
    Result<void> enqueue_dense_ffn(const DeviceLayerWeights& L, const StepBuffers& b, int n,
                                   const MatmulFn& matmul);
    // gemma4 (gemma4_step.cpp), as cpu/gemma4_layer.cpp and cpu/gemma4_experts.cpp: the rows'
    // per-layer inputs (before the first layer), a layer's attention into b.o, its experts
    // beside the dense feed-forward into b.o, and what follows its feed-forward.
    Result<void> enqueue_gemma4_inputs(const StepBuffers& b, int n, const MatmulFn& matmul);
    Result<void> enqueue_gemma4_attention(size_t il, const StepBuffers& b, int n,
                                          const MatmulFn& matmul, const AttentionFn& attention);
    Result<void> enqueue_gemma4_experts(size_t il, const StepBuffers& b, int n,
                                        const MatmulFn& matmul);
    Result<void> enqueue_gemma4_layer_output(size_t il, const StepBuffers& b, int n,
                                             const MatmulFn& matmul);
    // A gated delta-net layer's token mixer on b.h into b.o (delta_net_step.cpp).
    Result<void> enqueue_delta_net(size_t il, const StepBuffers& b, int n, const MatmulFn& matmul);
    // qwen35moe: out += the shared expert of b.h, scaled by its sigmoid gate
    // (shared_expert_step.cpp); e.has_shared_expert() must hold.
    Result<void> enqueue_shared_expert(const DeviceExperts& e, const StepBuffers& b, int n,
                                       float* out, const MatmulFn& matmul);
    // Carves the recurrent layers' states out of the KV arena and zeroes them (init()).
    Result<void> take_recurrent_state();
    // qwen35: each sequence's tokens must start where its device state stands (or at 0, which
    // starts it over) and follow one another, as cpu::check_recurrent_batch demands of the CPU's.
    Result<void> check_recurrent_positions(std::span<const CudaBatchToken> batch) const;
    // Around a run: the batch's states count as lost until it has run (a failed run leaves
    // them half-advanced: only position 0 may follow), then stand after their last tokens.
    void begin_recurrent_run(std::span<const CudaBatchToken> batch);
    void end_recurrent_run(std::span<const CudaBatchToken> batch);
    Result<void> enqueue_step(int n, bool copy_logits);
    Result<void> run_step(int n, bool copy_logits);
    // One 8-row step over `rows` (at most kMaxRows), their logits appended at `out_row`.
    Result<void> run_step_rows(std::span<const CudaBatchToken> rows, float* logits,
                               size_t& out_row);

    // Prefill (cuda_prefill_step.cpp).
    bool prefill_enabled() const; // by the options, whether or not cuBLAS loads
    // Carves the prefill buffers out of the scratch arena (init(), after the step's).
    Result<void> take_prefill_scratch();
    // Length of the prefill run starting at batch[first]; 0 when it goes through steps.
    size_t prefill_run_length(std::span<const CudaBatchToken> batch, size_t first) const;
    // Loads cuBLAS on first use; false (and prefill_note_ says why) when prefill is off.
    bool ensure_prefill();
    Result<void> run_prefill(std::span<const CudaBatchToken> rows, float* logits, size_t& out_row);
    Result<void> enqueue_prefill_chunk(std::span<const CudaBatchToken> rows);
    Result<void> prefill_logits(std::span<const CudaBatchToken> rows, float* logits,
                                size_t& out_row);

    const Model::Impl& m_;
    CudaForwardOptions options_;
    WeightSelection selection_;
    CudaMemoryReport report_;
    std::shared_ptr<const CudaWeights> weights_;
    Arena kv_, scratch_;
    cudaStream_t stream_ = nullptr;
    // One graph per (row count, whether the logits come back to the host).
    std::array<std::array<cudaGraphExec_t, kMaxRows + 1>, 2> graphs_{};
    std::string graph_note_ = "disabled by the caller";

    std::vector<DeviceLayerCache> caches_;
    std::vector<DeviceRecurrentLayer> recurrent_; // by layer; null for the attention layers
    std::vector<uint32_t> state_positions_;       // by slot: the next position its state takes
    DeltaNetBuffers delta_step_, delta_prefill_;  // (kMaxRows / prefill_rows, width) each
    kernels::RopeConfig rope_, rope_sliding_;
    std::vector<kernels::RopeConfig> layer_rope_; // gemma4: each layer's (its own n_rot)
    float embd_scale_ = 1.0f, q_scale_ = 1.0f, score_scale_ = 1.0f;
    // gemma2's soft caps of the attention scores and of the logits (0: none); mistral3's
    // attention temperature's floor scale (the original context).
    float attn_soft_cap_ = 0.0f, final_soft_cap_ = 0.0f, temperature_floor_ = 1.0f;
    kernels::GluKind glu_ = kernels::GluKind::swiglu;

    // Scratch, (kMaxRows, width) each.
    int32_t* d_ints_ = nullptr; // tokens, positions, slots: kMaxRows each
    float *x_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr;
    float *attn_ = nullptr, *o_ = nullptr, *gate_ = nullptr, *up_ = nullptr, *logits_ = nullptr;
    float* workspace_ = nullptr;
    MoeBuffers moe_;
    Gemma4Buffers gemma4_step_, gemma4_prefill_;
    int32_t* host_ints_ = nullptr; // pinned mirror of d_ints_
    float* host_logits_ = nullptr; // pinned (kMaxRows, n_vocab)
    float* host_x_ = nullptr;      // pinned (kMaxRows, n_embd): residual rows in and out
    int last_rows_ = 0;            // rows of the last step (0: none yet)

    // Prefill scratch, (prefill_rows, width) each; ints: tokens, positions, slots.
    struct PrefillScratch {
        int32_t* ints = nullptr;
        float *x = nullptr, *o = nullptr, *h = nullptr, *q = nullptr, *k = nullptr, *v = nullptr;
        float *attn = nullptr, *gate = nullptr, *up = nullptr;
        MoeBuffers moe;
    } prefill_;
    int32_t* host_prefill_ints_ = nullptr;  // pinned mirror of prefill_.ints
    std::unique_ptr<CublasPrefill> cublas_; // created on the first prompt
    std::string prefill_note_;              // why prefill is off after a failed start

    // Sampling: the penalty window, the per-call control and the result, device and pinned.
    int32_t* d_history_ = nullptr;
    kernels::SampleControl* d_control_ = nullptr;
    kernels::SampleResult* d_result_ = nullptr;
    float* d_sample_work_ = nullptr; // n_vocab
    int32_t* host_history_ = nullptr;
    kernels::SampleControl* host_control_ = nullptr;
    kernels::SampleResult* host_result_ = nullptr;
};

} // namespace hearth::cuda_detail
