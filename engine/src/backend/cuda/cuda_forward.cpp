// The CUDA backend's forward pass for llama-style models: weights uploaded once into a
// device arena, a KV cache of n_seq slots, and a step of up to 8 token rows built from the
// kernels of kernels/ (fused dequantize + matrix-vector, RMSNorm fused with the residual
// add, RoPE, KV append, flash-decoding attention, SwiGLU/GeGLU). The step reads its token
// ids, positions and slots from device memory and writes logits to pinned host memory, so
// it is captured once per row count as a CUDA graph and replayed with no host
// synchronisation inside; the host waits once, at the end of each step.
//
// Per step of n rows (x: residual stream, (n, n_embd); shapes in floats):
//   x = embd[tokens];  for each layer:  h = rmsnorm(x [+= o]) * attn_norm
//   q, k, v = Wq h, Wk h, Wv h;  rope(q, k, pos);  cache[slot][pos] = f16(k, v)
//   a = attention(q, cache[slot][0..pos]);  o = Wo a;  h = rmsnorm(x += o) * ffn_norm
//   o = W_down act(W_gate h) * (W_up h)
// logits = W_out (rmsnorm(x += o) * output_norm).
// Prefill runs the same step on 8 prompt tokens at a time (each row attends to its own
// position); tensor-core prefill through cuBLAS is the next step (docs/PERFORMANCE.md).
#include "hearth/cuda_forward.h"

#include "attention.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_arena.h"
#include "backend/cuda/rope_config.h"
#include "glu.cuh"
#include "hearth/memory_plan.h"
#include "matvec.cuh"
#include "model/model_impl.h"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "sampling.cuh"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <vector>

namespace hearth {
namespace {

using cuda_detail::align_up;
using cuda_detail::Arena;
using cuda_detail::check;
using cuda_detail::rope_config;

constexpr int kMaxRows = kernels::kMatvecMaxBatch;
// Device memory left free for the CUDA context's own needs (graphs, kernel stacks, the
// cuBLAS workspace of prefill): a plan that leaves less is refused.
constexpr uint64_t kHeadroom = 512ull << 20;

struct DeviceMatrix {
    int type = 0;
    const void* data = nullptr;
    size_t row_bytes = 0;
    int64_t n_rows = 0, n_cols = 0;
};

struct DeviceLayer {
    DeviceMatrix wq, wk, wv, wo, gate, up, down;
    const float* attn_norm = nullptr;
    const float* ffn_norm = nullptr;
    uint16_t* k_cache = nullptr; // (n_seq, n_ctx, n_head_kv * head_dim_k)
    uint16_t* v_cache = nullptr; // (n_seq, n_ctx, n_head_kv * head_dim_v)
};

size_t matrix_bytes(const cpu::WeightMatrix& w) {
    return align_up(size_t(w.n_rows) * w.row_bytes);
}

class CudaForwardImpl final : public CudaForward {
public:
    CudaForwardImpl(const Model::Impl& m, const CudaForwardOptions& o) : m_(m), options_(o) {}

    ~CudaForwardImpl() override {
        for (auto& by_rows : graphs_) {
            for (cudaGraphExec_t& g : by_rows) {
                if (g != nullptr) {
                    cudaGraphExecDestroy(g);
                }
            }
        }
        if (stream_ != nullptr) {
            cudaStreamDestroy(stream_);
        }
        if (host_ints_ != nullptr) {
            cudaFreeHost(host_ints_);
        }
        for (void* p : {static_cast<void*>(host_logits_), static_cast<void*>(host_history_),
                        static_cast<void*>(host_control_), static_cast<void*>(host_result_)}) {
            if (p != nullptr) {
                cudaFreeHost(p);
            }
        }
    }

    Result<void> init();
    Result<void> run(std::span<const CudaBatchToken> batch, float* logits) override;
    Result<CudaSample> sample(const SamplingParams& params, std::span<const int32_t> history,
                              double u, int n_top) override;
    Result<void> copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                            uint32_t to) override;
    CudaMemoryReport memory() const override { return report_; }
    uint32_t n_ctx() const override { return options_.n_ctx; }
    std::string graph_status() const override {
        return options_.use_graphs ? "graphs" : "graphs off: " + graph_note_;
    }

private:
    Result<void> upload(const cpu::WeightMatrix& w, DeviceMatrix& out, std::string_view name);
    Result<const float*> upload_vector(const std::vector<float>& v, std::string_view name);
    Result<void> enqueue_step(int n, bool copy_logits);
    Result<void> run_step(int n, bool copy_logits);

    const Model::Impl& m_;
    CudaForwardOptions options_;
    CudaMemoryReport report_;
    Arena weights_, kv_, scratch_;
    cudaStream_t stream_ = nullptr;
    // One graph per (row count, whether the logits come back to the host).
    std::array<std::array<cudaGraphExec_t, kMaxRows + 1>, 2> graphs_{};
    std::string graph_note_ = "disabled by the caller";

    DeviceMatrix token_embd_, output_;
    const float* output_norm_ = nullptr;
    std::vector<DeviceLayer> layers_;
    kernels::RopeConfig rope_;
    kernels::KvLayout kv_layout_;
    float embd_scale_ = 1.0f, q_scale_ = 1.0f, score_scale_ = 1.0f;
    kernels::GluKind glu_ = kernels::GluKind::swiglu;

    // Scratch, (kMaxRows, width) each.
    int32_t* d_ints_ = nullptr; // tokens, positions, slots: kMaxRows each
    float *x_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr;
    float *attn_ = nullptr, *o_ = nullptr, *gate_ = nullptr, *up_ = nullptr, *logits_ = nullptr;
    float* workspace_ = nullptr;
    int32_t* host_ints_ = nullptr; // pinned mirror of d_ints_
    float* host_logits_ = nullptr; // pinned (kMaxRows, n_vocab)
    int last_rows_ = 0;            // rows of the last step (0: none yet)

    // Sampling: the penalty window, the per-call control and the result, device and pinned.
    static constexpr size_t kMaxHistory = 4096;
    int32_t* d_history_ = nullptr;
    kernels::SampleControl* d_control_ = nullptr;
    kernels::SampleResult* d_result_ = nullptr;
    float* d_sample_work_ = nullptr; // n_vocab
    int32_t* host_history_ = nullptr;
    kernels::SampleControl* host_control_ = nullptr;
    kernels::SampleResult* host_result_ = nullptr;
};

Result<void> CudaForwardImpl::upload(const cpu::WeightMatrix& w, DeviceMatrix& out,
                                     std::string_view name) {
    if (!kernels::can_launch_matvec(int(w.type))) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA backend has no matrix kernel for {} ({})",
                                tensor_type_name(w.type), name));
    }
    const size_t bytes = size_t(w.n_rows) * w.row_bytes;
    void* dst = weights_.take<uint8_t>(bytes);
    HEARTH_CUDA_TRY(cudaMemcpy(dst, w.data, bytes, cudaMemcpyHostToDevice),
                    fmt::format("uploading {} ({} bytes)", name, bytes));
    out = DeviceMatrix{int(w.type), dst, w.row_bytes, w.n_rows, w.n_cols};
    return {};
}

Result<const float*> CudaForwardImpl::upload_vector(const std::vector<float>& v,
                                                    std::string_view name) {
    float* dst = weights_.take<float>(v.size());
    HEARTH_CUDA_TRY(cudaMemcpy(dst, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice),
                    fmt::format("uploading {}", name));
    return dst;
}

Result<void> CudaForwardImpl::init() {
    const ModelInfo& info = m_.info;
    const ArchTraits& arch = m_.arch;
    // What the CUDA step does not do yet is refused by name, not computed wrongly.
    if (arch.qkv_bias || arch.qk_norm || arch.post_norms || arch.scale_query) {
        return fail(
            ErrorCode::unsupported,
            fmt::format("the CUDA backend runs llama-style models; {} needs {} (use the CPU)",
                        info.architecture,
                        arch.qkv_bias  ? "Q/K/V biases"
                        : arch.qk_norm ? "Q/K norms"
                                       : "post-norms"));
    }
    for (const LayerWeights& L : m_.layers) {
        if (L.sliding) {
            return fail(ErrorCode::unsupported,
                        "the CUDA backend has no sliding-window layers yet");
        }
    }
    if (info.n_rot % 2 != 0 || info.n_rot > info.head_dim_k ||
        info.head_dim_k > uint32_t(kernels::kAttentionMaxHeadDim) ||
        info.head_dim_v > uint32_t(kernels::kAttentionMaxHeadDim)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA attention takes heads of at most {} values (this model: "
                                "{} / {}, {} rotated)",
                                kernels::kAttentionMaxHeadDim, info.head_dim_k, info.head_dim_v,
                                info.n_rot));
    }
    if (options_.n_ctx == 0) {
        options_.n_ctx = info.n_ctx_train;
    }
    if (options_.n_seq == 0 || options_.n_ctx == 0 || options_.n_ctx > (1u << 31) - 1 ||
        options_.n_seq > 65535) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the CUDA forward needs 0 < n_ctx < 2^31 and 0 < n_seq < 65536, "
                                "got {} and {}",
                                options_.n_ctx, options_.n_seq));
    }

    // The plan, before any allocation.
    const size_t k_width = size_t(info.n_head_kv) * info.head_dim_k;
    const size_t v_width = size_t(info.n_head_kv) * info.head_dim_v;
    const size_t q_width = size_t(info.n_head) * info.head_dim_k;
    const size_t o_width = size_t(info.n_head) * info.head_dim_v;
    size_t weights_bytes = matrix_bytes(m_.token_embd) + align_up(info.n_embd * sizeof(float));
    if (m_.output.data != m_.token_embd.data) {
        weights_bytes += matrix_bytes(m_.output);
    }
    for (const LayerWeights& L : m_.layers) {
        for (const auto* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
            weights_bytes += matrix_bytes(*w);
        }
        weights_bytes += 2 * align_up(info.n_embd * sizeof(float));
    }
    if (!m_.rope_freq_factors.empty()) {
        weights_bytes += align_up(m_.rope_freq_factors.size() * sizeof(float));
    }
    const uint64_t kv_per_token = uint64_t(info.n_layer) * (k_width + v_width) * sizeof(uint16_t);
    const size_t kv_bytes =
        size_t(info.n_layer) * (align_up(size_t(options_.n_seq) * options_.n_ctx * k_width * 2) +
                                align_up(size_t(options_.n_seq) * options_.n_ctx * v_width * 2));
    kv_layout_ = kernels::KvLayout{int(info.n_head),     int(info.n_head_kv), int(info.head_dim_k),
                                   int(info.head_dim_v), int(options_.n_ctx), int(options_.n_seq)};
    const size_t ws_floats = kernels::attention_workspace_floats(kv_layout_, kMaxRows);
    const size_t R = kMaxRows;
    const size_t scratch_bytes =
        align_up(3 * R * sizeof(int32_t)) + align_up(R * info.n_embd * 4) * 2 +
        align_up(R * std::max<size_t>(info.n_embd, o_width) * 4) + align_up(R * q_width * 4) +
        align_up(R * k_width * 4) + align_up(R * v_width * 4) + align_up(R * o_width * 4) +
        2 * align_up(R * info.n_ff * 4) + align_up(R * info.n_vocab * 4) + align_up(ws_floats * 4) +
        // sample(): the penalty window, the control, the result and the working logits
        align_up(kMaxHistory * sizeof(int32_t)) + align_up(sizeof(kernels::SampleControl)) +
        align_up(sizeof(kernels::SampleResult)) + align_up(info.n_vocab * 4);

    HEARTH_CUDA_TRY(cudaSetDevice(options_.device),
                    fmt::format("cudaSetDevice({})", options_.device));
    size_t free_bytes = 0, total_bytes = 0;
    HEARTH_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const uint64_t untied_embd = m_.output.data != m_.token_embd.data
                                     ? uint64_t(m_.token_embd.n_rows) * m_.token_embd.row_bytes
                                     : 0;
    report_ = CudaMemoryReport{weights_bytes, kv_bytes,   scratch_bytes,
                               total_bytes,   free_bytes, weights_bytes - untied_embd};
    const uint64_t need = uint64_t(weights_bytes) + kv_bytes + scratch_bytes + kHeadroom;
    if (need > free_bytes) {
        const uint64_t fixed = uint64_t(weights_bytes) + scratch_bytes + kHeadroom;
        const uint64_t fit_ctx =
            fixed < free_bytes ? (free_bytes - fixed) / (kv_per_token * options_.n_seq) : 0;
        return fail(
            ErrorCode::out_of_memory,
            fmt::format("the model does not fit GPU {}: weights {} + KV cache {} ({} tokens x "
                        "{} sequences x {} per token) + scratch {} + headroom {} = {}, but "
                        "{} of {} is free; {}",
                        options_.device, format_bytes(double(weights_bytes)),
                        format_bytes(double(kv_bytes)), options_.n_ctx, options_.n_seq,
                        format_bytes(double(kv_per_token)), format_bytes(double(scratch_bytes)),
                        format_bytes(double(kHeadroom)), format_bytes(double(need)),
                        format_bytes(double(free_bytes)), format_bytes(double(total_bytes)),
                        fit_ctx > 0
                            ? fmt::format("a context of at most {} tokens would fit", fit_ctx)
                            : std::string("the weights alone do not fit")));
    }

    if (auto ok = weights_.reserve(weights_bytes, "weights"); !ok)
        return ok;
    if (auto ok = kv_.reserve(kv_bytes, "KV cache"); !ok)
        return ok;
    if (auto ok = scratch_.reserve(scratch_bytes, "scratch"); !ok)
        return ok;
    HEARTH_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    HEARTH_CUDA_TRY(cudaMallocHost(reinterpret_cast<void**>(&host_ints_), 3 * R * sizeof(int32_t)),
                    "cudaMallocHost(step inputs)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_logits_), R * info.n_vocab * sizeof(float)),
        "cudaMallocHost(logits)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_history_), kMaxHistory * sizeof(int32_t)),
        "cudaMallocHost(penalty window)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_control_), sizeof(kernels::SampleControl)),
        "cudaMallocHost(sampling control)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_result_), sizeof(kernels::SampleResult)),
        "cudaMallocHost(sampling result)");

    if (auto ok = upload(m_.token_embd, token_embd_, "token_embd.weight"); !ok)
        return ok;
    if (m_.output.data == m_.token_embd.data) {
        output_ = token_embd_;
    } else if (auto ok = upload(m_.output, output_, "output.weight"); !ok) {
        return ok;
    }
    auto norm = upload_vector(m_.output_norm, "output_norm.weight");
    if (!norm)
        return std::unexpected(norm.error());
    output_norm_ = *norm;
    if (!m_.rope_freq_factors.empty()) {
        auto factors = upload_vector(m_.rope_freq_factors, "rope_freqs.weight");
        if (!factors)
            return std::unexpected(factors.error());
        rope_ = rope_config(m_);
        rope_.freq_factors = *factors;
    } else {
        rope_ = rope_config(m_);
    }
    layers_.resize(m_.layers.size());
    for (size_t il = 0; il < m_.layers.size(); ++il) {
        const LayerWeights& L = m_.layers[il];
        DeviceLayer& D = layers_[il];
        const std::string blk = fmt::format("blk.{}.", il);
        if (auto ok = upload(L.wq, D.wq, blk + "attn_q"); !ok)
            return ok;
        if (auto ok = upload(L.wk, D.wk, blk + "attn_k"); !ok)
            return ok;
        if (auto ok = upload(L.wv, D.wv, blk + "attn_v"); !ok)
            return ok;
        if (auto ok = upload(L.wo, D.wo, blk + "attn_output"); !ok)
            return ok;
        if (auto ok = upload(L.w_gate, D.gate, blk + "ffn_gate"); !ok)
            return ok;
        if (auto ok = upload(L.w_up, D.up, blk + "ffn_up"); !ok)
            return ok;
        if (auto ok = upload(L.w_down, D.down, blk + "ffn_down"); !ok)
            return ok;
        auto an = upload_vector(L.attn_norm, blk + "attn_norm");
        if (!an)
            return std::unexpected(an.error());
        auto fn = upload_vector(L.ffn_norm, blk + "ffn_norm");
        if (!fn)
            return std::unexpected(fn.error());
        D.attn_norm = *an;
        D.ffn_norm = *fn;
        D.k_cache = kv_.take<uint16_t>(size_t(options_.n_seq) * options_.n_ctx * k_width);
        D.v_cache = kv_.take<uint16_t>(size_t(options_.n_seq) * options_.n_ctx * v_width);
    }

    d_ints_ = scratch_.take<int32_t>(3 * R);
    x_ = scratch_.take<float>(R * info.n_embd);
    o_ = scratch_.take<float>(R * info.n_embd);
    h_ = scratch_.take<float>(R * std::max<size_t>(info.n_embd, o_width));
    q_ = scratch_.take<float>(R * q_width);
    k_ = scratch_.take<float>(R * k_width);
    v_ = scratch_.take<float>(R * v_width);
    attn_ = scratch_.take<float>(R * o_width);
    gate_ = scratch_.take<float>(R * info.n_ff);
    up_ = scratch_.take<float>(R * info.n_ff);
    logits_ = scratch_.take<float>(R * info.n_vocab);
    workspace_ = scratch_.take<float>(ws_floats);
    d_history_ = scratch_.take<int32_t>(kMaxHistory);
    d_control_ = scratch_.take<kernels::SampleControl>(1);
    d_result_ = scratch_.take<kernels::SampleResult>(1);
    d_sample_work_ = scratch_.take<float>(info.n_vocab);

    embd_scale_ = arch.embed_scale ? std::sqrt(static_cast<float>(info.n_embd)) : 1.0f;
    q_scale_ = 1.0f;
    score_scale_ = m_.attn_scale;
    glu_ = arch.activation == FfnActivation::gelu_tanh ? kernels::GluKind::geglu
                                                       : kernels::GluKind::swiglu;
    return {};
}

#define HEARTH_LAUNCH(call, what) HEARTH_CUDA_TRY((call), (what))

Result<void> CudaForwardImpl::enqueue_step(int n, bool copy_logits) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd, n_ff = info.n_ff, n_vocab = info.n_vocab;
    const int64_t q_width = int64_t(info.n_head) * info.head_dim_k;
    const int64_t k_width = int64_t(info.n_head_kv) * info.head_dim_k;
    const int64_t v_width = int64_t(info.n_head_kv) * info.head_dim_v;
    const int64_t o_width = int64_t(info.n_head) * info.head_dim_v;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const int32_t* tokens = d_ints_;
    const int32_t* positions = d_ints_ + kMaxRows;
    const int32_t* slots = d_ints_ + 2 * kMaxRows;
    cudaStream_t s = stream_;
    auto matvec = [&](const DeviceMatrix& w, const float* x, int64_t x_stride, float* y,
                      int64_t y_stride) {
        return kernels::launch_matvec(w.type, w.data, w.row_bytes, w.n_rows, w.n_cols, x, x_stride,
                                      y, y_stride, n, s);
    };

    HEARTH_LAUNCH(cudaMemcpyAsync(d_ints_, host_ints_, 3 * kMaxRows * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, s),
                  "copying the step's tokens");
    HEARTH_LAUNCH(kernels::launch_get_rows(token_embd_.type, token_embd_.data,
                                           token_embd_.row_bytes, token_embd_.n_rows, n_embd,
                                           tokens, n, embd_scale_, x_, n_embd, s),
                  "get_rows(token_embd)");
    for (size_t il = 0; il < layers_.size(); ++il) {
        const DeviceLayer& L = layers_[il];
        if (il == 0) {
            HEARTH_LAUNCH(
                kernels::launch_rms_norm(x_, L.attn_norm, h_, int(n_embd), n, n_embd, eps, s),
                "rms_norm");
        } else {
            HEARTH_LAUNCH(kernels::launch_add_rms_norm(x_, o_, L.attn_norm, h_, int(n_embd), n,
                                                       n_embd, eps, s),
                          "add_rms_norm");
        }
        HEARTH_LAUNCH(matvec(L.wq, h_, n_embd, q_, q_width), "matvec(attn_q)");
        HEARTH_LAUNCH(matvec(L.wk, h_, n_embd, k_, k_width), "matvec(attn_k)");
        HEARTH_LAUNCH(matvec(L.wv, h_, n_embd, v_, v_width), "matvec(attn_v)");
        HEARTH_LAUNCH(kernels::launch_rope(q_, n, int(info.n_head), int(info.head_dim_k), q_width,
                                           positions, rope_, s),
                      "rope(q)");
        HEARTH_LAUNCH(kernels::launch_rope(k_, n, int(info.n_head_kv), int(info.head_dim_k),
                                           k_width, positions, rope_, s),
                      "rope(k)");
        HEARTH_LAUNCH(kernels::launch_kv_append(k_, k_width, v_, v_width, n, L.k_cache, L.v_cache,
                                                kv_layout_, slots, positions, s),
                      "kv_append");
        HEARTH_LAUNCH(kernels::launch_attention(q_, q_width, L.k_cache, L.v_cache, kv_layout_,
                                                slots, positions, n, 0, q_scale_, score_scale_,
                                                workspace_, attn_, o_width, s),
                      "attention");
        HEARTH_LAUNCH(matvec(L.wo, attn_, o_width, o_, n_embd), "matvec(attn_output)");
        HEARTH_LAUNCH(
            kernels::launch_add_rms_norm(x_, o_, L.ffn_norm, h_, int(n_embd), n, n_embd, eps, s),
            "add_rms_norm");
        HEARTH_LAUNCH(matvec(L.gate, h_, n_embd, gate_, n_ff), "matvec(ffn_gate)");
        HEARTH_LAUNCH(matvec(L.up, h_, n_embd, up_, n_ff), "matvec(ffn_up)");
        HEARTH_LAUNCH(kernels::launch_glu(glu_, gate_, up_, gate_, int64_t(n) * n_ff, s), "glu");
        HEARTH_LAUNCH(matvec(L.down, gate_, n_ff, o_, n_embd), "matvec(ffn_down)");
    }
    HEARTH_LAUNCH(
        kernels::launch_add_rms_norm(x_, o_, output_norm_, h_, int(n_embd), n, n_embd, eps, s),
        "add_rms_norm(output)");
    HEARTH_LAUNCH(matvec(output_, h_, n_embd, logits_, n_vocab), "matvec(output)");
    if (copy_logits) { // else they stay on the device for sample()
        HEARTH_LAUNCH(cudaMemcpyAsync(host_logits_, logits_, size_t(n) * n_vocab * sizeof(float),
                                      cudaMemcpyDeviceToHost, s),
                      "copying logits");
    }
    return {};
}

Result<void> CudaForwardImpl::run_step(int n, bool copy_logits) {
    bool launched = false;
    if (options_.use_graphs) {
        if (graphs_[copy_logits][size_t(n)] == nullptr) {
            // Capture once per row count; on any failure, fall back to plain launches for good
            // and say why in graph_status().
            auto begin = check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                               "cudaStreamBeginCapture");
            if (begin) {
                auto enqueued = enqueue_step(n, copy_logits);
                cudaGraph_t graph = nullptr;
                auto ended = check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
                cudaGraphExec_t exec = nullptr;
                auto made = enqueued && ended ? check(cudaGraphInstantiate(&exec, graph, 0),
                                                      "cudaGraphInstantiate")
                                              : Result<void>{};
                if (graph != nullptr) {
                    cudaGraphDestroy(graph);
                }
                if (!enqueued || !ended || !made) {
                    options_.use_graphs = false;
                    graph_note_ = !enqueued ? enqueued.error().message
                                  : !ended  ? ended.error().message
                                            : made.error().message;
                } else {
                    graphs_[copy_logits][size_t(n)] = exec;
                }
            } else {
                options_.use_graphs = false;
                graph_note_ = begin.error().message;
            }
        }
        if (graphs_[copy_logits][size_t(n)] != nullptr) {
            HEARTH_CUDA_TRY(cudaGraphLaunch(graphs_[copy_logits][size_t(n)], stream_),
                            "cudaGraphLaunch");
            launched = true;
        }
    }
    if (!launched) {
        if (auto ok = enqueue_step(n, copy_logits); !ok) {
            return ok;
        }
    }
    // The one host synchronisation of a step; kernel faults surface here.
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "decode step");
    return {};
}

Result<void> CudaForwardImpl::run(std::span<const CudaBatchToken> batch, float* logits) {
    const ModelInfo& info = m_.info;
    for (const CudaBatchToken& t : batch) {
        if (t.token < 0 || uint32_t(t.token) >= info.n_vocab) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token id {} is outside the vocabulary (0..{})", t.token,
                                    info.n_vocab - 1));
        }
        if (t.seq >= options_.n_seq) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("sequence slot {} does not exist (the CUDA forward has {})",
                                    t.seq, options_.n_seq));
        }
        if (t.pos >= options_.n_ctx) {
            return fail(
                ErrorCode::context_full,
                fmt::format("position {} is past the context of {} tokens", t.pos, options_.n_ctx));
        }
        if (t.want_logits && logits == nullptr) {
            return fail(ErrorCode::invalid_argument, "logits requested without an output buffer");
        }
    }
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    size_t out_row = 0;
    for (size_t first = 0; first < batch.size(); first += kMaxRows) {
        const int n = int(std::min<size_t>(kMaxRows, batch.size() - first));
        for (int r = 0; r < kMaxRows; ++r) {
            const CudaBatchToken& t = batch[first + size_t(std::min(r, n - 1))];
            host_ints_[r] = t.token;
            host_ints_[kMaxRows + r] = int32_t(t.pos);
            host_ints_[2 * kMaxRows + r] = int32_t(t.seq);
        }
        bool copy_logits = false;
        for (int r = 0; r < n; ++r) {
            copy_logits = copy_logits || batch[first + size_t(r)].want_logits;
        }
        if (auto ok = run_step(n, copy_logits); !ok) {
            return ok;
        }
        last_rows_ = n;
        for (int r = 0; r < n; ++r) {
            if (batch[first + size_t(r)].want_logits) {
                std::copy_n(host_logits_ + size_t(r) * info.n_vocab, info.n_vocab,
                            logits + out_row * info.n_vocab);
                ++out_row;
            }
        }
    }
    return {};
}

Result<void> CudaForwardImpl::copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                                         uint32_t to) {
    if (from_seq >= options_.n_seq || to_seq >= options_.n_seq || from > to ||
        to > options_.n_ctx) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("copy_cells: slots {} -> {} and positions [{}, {}) do not fit {} "
                                "slots of {} positions",
                                from_seq, to_seq, from, to, options_.n_seq, options_.n_ctx));
    }
    if (from_seq == to_seq || from == to) {
        return {};
    }
    const ModelInfo& info = m_.info;
    const size_t k_width = size_t(info.n_head_kv) * info.head_dim_k;
    const size_t v_width = size_t(info.n_head_kv) * info.head_dim_v;
    // A slot's cells are contiguous: (n_seq, n_ctx, width) per layer.
    auto cell = [&](uint32_t seq, uint32_t pos, size_t width) {
        return (size_t(seq) * options_.n_ctx + pos) * width;
    };
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    for (const DeviceLayer& L : layers_) {
        HEARTH_CUDA_TRY(cudaMemcpyAsync(L.k_cache + cell(to_seq, from, k_width),
                                        L.k_cache + cell(from_seq, from, k_width),
                                        size_t(to - from) * k_width * sizeof(uint16_t),
                                        cudaMemcpyDeviceToDevice, stream_),
                        "copying keys between slots");
        HEARTH_CUDA_TRY(cudaMemcpyAsync(L.v_cache + cell(to_seq, from, v_width),
                                        L.v_cache + cell(from_seq, from, v_width),
                                        size_t(to - from) * v_width * sizeof(uint16_t),
                                        cudaMemcpyDeviceToDevice, stream_),
                        "copying values between slots");
    }
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "copying cells between slots");
    return {};
}

Result<CudaSample> CudaForwardImpl::sample(const SamplingParams& params,
                                           std::span<const int32_t> history, double u, int n_top) {
    if (last_rows_ == 0) {
        return fail(ErrorCode::invalid_argument, "sample() before any run(): there are no logits");
    }
    if (auto ok = params.validate(); !ok) {
        return std::unexpected(ok.error());
    }
    if (n_top < 0 || n_top > kernels::kSampleMaxTop || !(u >= 0.0 && u < 1.0)) {
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("sample(): n_top must be 0..{} and u in [0, 1)", kernels::kSampleMaxTop));
    }
    const size_t window = params.repeat_last_n == 0 ? 0
                          : params.repeat_last_n < 0
                              ? history.size()
                              : std::min(history.size(), size_t(params.repeat_last_n));
    if (window > kMaxHistory) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the GPU sampler penalises at most the last {} tokens, not {}",
                                kMaxHistory, window));
    }
    std::copy(history.end() - std::ptrdiff_t(window), history.end(), host_history_);
    host_control_->u = u;
    host_control_->n_history = int32_t(window);
    kernels::SampleConfig config;
    config.temperature = params.temperature;
    config.top_k = params.top_k;
    config.top_p = params.top_p;
    config.min_p = params.min_p;
    config.repeat_penalty = params.repeat_penalty;
    config.presence_penalty = params.presence_penalty;
    config.frequency_penalty = params.frequency_penalty;
    config.n_top = n_top;
    const size_t n_vocab = m_.info.n_vocab;
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(d_history_, host_history_,
                                    std::max<size_t>(window, 1) * sizeof(int32_t),
                                    cudaMemcpyHostToDevice, stream_),
                    "copying the penalty window");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(d_control_, host_control_, sizeof(kernels::SampleControl),
                                    cudaMemcpyHostToDevice, stream_),
                    "copying the draw");
    HEARTH_CUDA_TRY(kernels::launch_sample(logits_ + size_t(last_rows_ - 1) * n_vocab, int(n_vocab),
                                           d_history_, d_control_, config, d_sample_work_,
                                           d_result_, stream_),
                    "launch_sample");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(host_result_, d_result_, sizeof(kernels::SampleResult),
                                    cudaMemcpyDeviceToHost, stream_),
                    "copying the token");
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "sampling");
    CudaSample out;
    out.needs_host = host_result_->status == kernels::kSampleNeedsHost;
    out.token = out.needs_host ? -1 : host_result_->token;
    for (int i = 0; i < host_result_->n_top && !out.needs_host; ++i) {
        out.top.push_back(
            {host_result_->top_tokens[i], host_result_->top_logits[i], host_result_->top_probs[i]});
    }
    return out;
}

} // namespace

Result<std::unique_ptr<CudaForward>> CudaForward::create(const Model& model,
                                                         const CudaForwardOptions& options) {
    auto forward = std::make_unique<CudaForwardImpl>(model.impl(), options);
    if (auto ok = forward->init(); !ok) {
        return std::unexpected(ok.error());
    }
    return std::unique_ptr<CudaForward>(std::move(forward));
}

} // namespace hearth
