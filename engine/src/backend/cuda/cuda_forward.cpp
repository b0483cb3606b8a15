// The CUDA backend's forward pass for llama-style models and their variants (qwen2's Q/K/V
// biases, qwen3's and gemma3's per-head Q/K norms, gemma3's post-norms, query scaling,
// sliding-window layers and GeGLU; gemma4's layers of their own sizes, gemma4_step.cpp):
// weights uploaded once and shared by every forward of the model on the device
// (cuda_weights.h), a KV cache of n_seq slots (each layer's at its own widths), and a step of
// up to 8 token rows built from the kernels of kernels/ (cuda_step.cpp).
//
// This file plans the device memory before allocating any of it, refuses a plan that does not
// fit with the arithmetic, then allocates the arenas and pinned host buffers.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "backend/cuda/hybrid_forward.h"
#include "backend/cuda/rope_config.h"
#include "hearth/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace hearth::cuda_detail {

CudaForwardImpl::~CudaForwardImpl() {
    for (auto& by_rows : graphs_) {
        for (cudaGraphExec_t& g : by_rows) {
            if (g != nullptr) {
                cudaGraphExecDestroy(g);
            }
        }
    }
    cublas_.reset(); // its handle is bound to the stream
    if (stream_ != nullptr) {
        cudaStreamDestroy(stream_);
    }
    for (void* p : {static_cast<void*>(host_ints_), static_cast<void*>(host_prefill_ints_),
                    static_cast<void*>(host_logits_), static_cast<void*>(host_x_),
                    static_cast<void*>(host_history_), static_cast<void*>(host_control_),
                    static_cast<void*>(host_result_)}) {
        if (p != nullptr) {
            cudaFreeHost(p);
        }
    }
}

Result<void> CudaForwardImpl::check_architecture() const {
    const ModelInfo& info = m_.info;
    if (m_.arch.hybrid_delta_net) {
        if (auto ok = check_delta_net(); !ok) {
            return ok;
        }
    }
    if (m_.arch.gemma4_layers) {
        if (auto ok = check_gemma4(); !ok) {
            return ok;
        }
    }
    if (auto ok = check_cuda_experts(m_); !ok) {
        return ok;
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
    // gpt-oss's clamped SwiGLU runs in the experts' activation (launch_moe_glu); every gpt-oss
    // layer routes, so no model has it in a dense feed-forward, which has no kernel for it:
    // refused, so that `--device auto` would run such a model on the CPU rather than wrongly here.
    const bool dense_swiglu_oai =
        m_.arch.activation == FfnActivation::swiglu_oai &&
        std::ranges::any_of(m_.layers, [](const LayerWeights& L) { return L.experts.empty(); });
    if (dense_swiglu_oai) {
        return fail(ErrorCode::unsupported,
                    "the CUDA backend does not run the clamped SwiGLU (gpt-oss) in a dense "
                    "feed-forward yet");
    }
    if (m_.arch.qkv_bias) {
        for (const LayerWeights& L : m_.layers) {
            if (L.bq.empty() || L.bk.empty() || L.bv.empty()) {
                return fail(ErrorCode::unsupported,
                            "the model's architecture has Q/K/V biases but a layer lacks them");
            }
        }
    }
    return {};
}

std::vector<kernels::KvLayout> layer_kv_layouts(const ModelInfo& info, uint32_t n_layers,
                                                uint32_t n_ctx, uint32_t n_seq) {
    std::vector<kernels::KvLayout> layouts(n_layers);
    for (uint32_t il = 0; il < n_layers; ++il) {
        const AttentionDims d = info.attention_dims(il); // gemma4's differ by layer
        layouts[il] = kernels::KvLayout{int(d.n_head),     int(d.n_head_kv), int(d.head_dim_k),
                                        int(d.head_dim_v), int(n_ctx),       int(n_seq)};
    }
    return layouts;
}

namespace {

// Whether layer `il` has a KV cache of its own: not qwen35's recurrent layers (a fixed state
// per sequence instead), not gemma4's layers that read an earlier layer's.
bool owns_kv_cache(const ModelInfo& info, uint32_t il) {
    return !info.is_recurrent(il) && info.kv_layer(il) == il;
}

// Floats of attention workspace for kMaxRows rows: the most any layer needs.
size_t workspace_floats(const std::vector<kernels::KvLayout>& layouts) {
    size_t floats = 0;
    for (const kernels::KvLayout& layout : layouts) {
        floats = std::max(floats, kernels::attention_workspace_floats(layout, kMaxRows));
    }
    return floats;
}

} // namespace

ForwardPlan plan_forward(const Model::Impl& m, const CudaForwardOptions& options,
                         const WeightSelection& selection) {
    const ModelInfo& info = m.info;
    const size_t k_width = size_t(info.n_head_kv) * info.head_dim_k;
    const size_t v_width = size_t(info.n_head_kv) * info.head_dim_v;
    const size_t o_width = size_t(info.n_head) * info.head_dim_v;
    const size_t cells = size_t(options.n_seq) * options.n_ctx;
    ForwardPlan plan;
    plan.weights_bytes = plan_weight_bytes(m, selection);
    const auto layouts = layer_kv_layouts(info, selection.n_layers, options.n_ctx, options.n_seq);
    for (uint32_t il = 0; il < selection.n_layers; ++il) {
        if (!owns_kv_cache(info, il)) {
            continue;
        }
        const kernels::KvLayout& l = layouts[il];
        const size_t layer_k = size_t(l.n_head_kv) * l.head_dim_k;
        const size_t layer_v = size_t(l.n_head_kv) * l.head_dim_v;
        plan.kv_per_token += (layer_k + layer_v) * sizeof(uint16_t);
        plan.kv_bytes += align_up(cells * layer_k * sizeof(uint16_t)) +
                         align_up(cells * layer_v * sizeof(uint16_t));
    }
    plan.recurrent_bytes = device_recurrent_bytes(info, selection.n_layers, options.n_seq);
    const size_t ws_floats = workspace_floats(layouts);
    const size_t R = kMaxRows;
    plan.scratch_bytes =
        align_up(3 * R * sizeof(int32_t)) + align_up(R * info.n_embd * 4) * 2 +
        align_up(R * std::max<size_t>(info.n_embd, o_width) * 4) +
        align_up(R * q_buffer_width(m) * 4) + align_up(R * k_width * 4) +
        align_up(R * v_width * 4) + align_up(R * o_width * 4) + 2 * align_up(R * info.n_ff * 4) +
        align_up(R * info.n_vocab * 4) + align_up(ws_floats * 4) +
        // sample(): the penalty window, the control, the result and the working logits
        align_up(kMaxHistory * sizeof(int32_t)) + align_up(sizeof(kernels::SampleControl)) +
        align_up(sizeof(kernels::SampleResult)) + align_up(info.n_vocab * 4) +
        moe_scratch_bytes(info, R) + delta_net_scratch_bytes(info, R) + gemma4_scratch_bytes(m, R);
    if (selection.head) { // prompts in chunks (cuda_prefill_step.cpp); not under partial offload
        plan.scratch_bytes += prefill_scratch_bytes(m, options.prefill_rows);
        plan.prefill_cublas_bytes = prefill_cublas_bytes(info, options.prefill_rows);
    }
    return plan;
}

uint64_t usable_bytes(uint64_t free_bytes, const CudaForwardOptions& options) {
    return options.memory_budget > 0 ? std::min<uint64_t>(free_bytes, options.memory_budget)
                                     : free_bytes;
}

uint32_t most_gpu_layers(const Model::Impl& m, const CudaForwardOptions& options,
                         uint64_t free_bytes) {
    for (uint32_t n = m.info.n_layer; n > 0; --n) {
        if (!m.info.kv_cut_allowed(n)) {
            continue; // gemma4: the CPU's layers would read a cache on the GPU
        }
        const WeightSelection selection{n, false};
        const ForwardPlan plan = plan_forward(m, options, selection);
        const bool shared = find_shared_weights(m, options.device, selection) != nullptr;
        if ((shared ? 0 : plan.weights_bytes) + plan.kv_bytes + plan.recurrent_bytes +
                plan.scratch_bytes + kHeadroom <=
            free_bytes) {
            return n;
        }
    }
    return 0;
}

Result<void> CudaForwardImpl::init() {
    const ModelInfo& info = m_.info;
    const ArchTraits& arch = m_.arch;
    if (auto ok = check_architecture(); !ok) {
        return ok;
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

    if (options_.prefill_rows > kMaxPrefillRows) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("prefill chunks of {} rows: at most {}", options_.prefill_rows,
                                kMaxPrefillRows));
    }

    // The plan, before any allocation.
    const size_t k_width = size_t(info.n_head_kv) * info.head_dim_k;
    const size_t v_width = size_t(info.n_head_kv) * info.head_dim_v;
    const size_t o_width = size_t(info.n_head) * info.head_dim_v;
    const ForwardPlan plan = plan_forward(m_, options_, selection_);
    const uint64_t weights_bytes = plan.weights_bytes;
    const uint64_t kv_per_token = plan.kv_per_token;
    const size_t kv_bytes = plan.kv_bytes;
    const size_t scratch_bytes = plan.scratch_bytes;
    const auto layouts =
        layer_kv_layouts(info, selection_.n_layers, options_.n_ctx, options_.n_seq);
    const size_t ws_floats = workspace_floats(layouts);
    const size_t R = kMaxRows;
    const WeightSelection selection = selection_;

    HEARTH_CUDA_TRY(cudaSetDevice(options_.device),
                    fmt::format("cudaSetDevice({})", options_.device));
    size_t free_bytes = 0, total_bytes = 0;
    HEARTH_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    free_bytes = usable_bytes(free_bytes, options_);
    // Weights another forward of this model already holds on the device cost nothing more.
    const bool weights_shared = find_shared_weights(m_, options_.device, selection) != nullptr;
    const uint64_t new_weights = weights_shared ? 0 : weights_bytes;
    // (CublasPrefill allocates its buffers on the first prompt: counted as scratch here.)
    const uint64_t need = new_weights + kv_bytes + plan.recurrent_bytes + scratch_bytes +
                          plan.prefill_cublas_bytes + kHeadroom;
    if (need > free_bytes) {
        const uint64_t fixed = new_weights + plan.recurrent_bytes + scratch_bytes +
                               plan.prefill_cublas_bytes + kHeadroom;
        // (qwen35's first layers may all be recurrent: no KV cache to shrink.)
        const uint64_t fit_ctx = fixed < free_bytes && kv_per_token > 0
                                     ? (free_bytes - fixed) / (kv_per_token * options_.n_seq)
                                     : 0;
        const uint32_t fit_layers = most_gpu_layers(m_, options_, free_bytes);
        const std::string layers_hint =
            fit_layers == 0
                ? std::string("not one layer fits")
                : fmt::format("{} of {} layers would fit (partial offload: --gpu-layers {})",
                              fit_layers, info.n_layer, fit_layers);
        return fail(
            ErrorCode::out_of_memory,
            fmt::format(
                "{} do{} not fit GPU {}: weights {}{} + KV cache {} ({} tokens x "
                "{} sequences x {} per token){} + scratch {} + headroom {} = {}, but "
                "{} of {} is free; {}; {}",
                selection_.head ? "the model" : fmt::format("{} layers", selection_.n_layers),
                selection_.head ? "es" : "", options_.device, format_bytes(double(new_weights)),
                weights_shared ? " (already on the device)" : "", format_bytes(double(kv_bytes)),
                options_.n_ctx, options_.n_seq, format_bytes(double(kv_per_token)),
                plan.recurrent_bytes == 0
                    ? std::string()
                    : fmt::format(" + recurrent state {} ({} sequences)",
                                  format_bytes(double(plan.recurrent_bytes)), options_.n_seq),
                format_bytes(double(scratch_bytes + plan.prefill_cublas_bytes)),
                format_bytes(double(kHeadroom)), format_bytes(double(need)),
                format_bytes(double(free_bytes)), format_bytes(double(total_bytes)),
                fit_ctx > 0 ? fmt::format("a context of at most {} tokens would fit", fit_ctx)
                : kv_per_token == 0 ? std::string("a shorter context would not help")
                                    : std::string("the weights alone do not fit"),
                layers_hint));
    }

    bool uploaded = false;
    auto weights = shared_weights(m_, options_.device, selection, &uploaded);
    if (!weights) {
        return std::unexpected(weights.error());
    }
    weights_ = std::move(*weights);
    report_ = CudaMemoryReport{.weights_bytes = weights_->bytes,
                               .kv_bytes = kv_bytes,
                               .recurrent_bytes = plan.recurrent_bytes,
                               .scratch_bytes = scratch_bytes,
                               .device_total_bytes = total_bytes,
                               .device_free_bytes = free_bytes,
                               .decode_weight_bytes = weights_->decode_bytes,
                               .weights_shared = !uploaded,
                               .gpu_layers = selection_.n_layers,
                               .n_layers = info.n_layer,
                               .head_on_gpu = selection_.head};
    if (auto ok = kv_.reserve(kv_bytes + plan.recurrent_bytes, "KV cache"); !ok)
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
        cudaMallocHost(reinterpret_cast<void**>(&host_x_), R * info.n_embd * sizeof(float)),
        "cudaMallocHost(residual rows)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_history_), kMaxHistory * sizeof(int32_t)),
        "cudaMallocHost(penalty window)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_control_), sizeof(kernels::SampleControl)),
        "cudaMallocHost(sampling control)");
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_result_), sizeof(kernels::SampleResult)),
        "cudaMallocHost(sampling result)");

    rope_ = rope_config(m_);
    rope_sliding_ = rope_config(m_, true);
    const float* freq_factors = weights_->rope_freq_factors;
    if (const std::vector<float>* set = cpu::longrope_factor_set(m_, options_.n_ctx)) {
        // LongRoPE: the set of this forward's context, as the CPU picks it for its cache's.
        freq_factors = set == &m_.rope_factors_long ? weights_->rope_factors_long
                                                    : weights_->rope_factors_short;
    }
    rope_.freq_factors = rope_sliding_.freq_factors = freq_factors;
    rope_.at_position_zero = rope_sliding_.at_position_zero = weights_->rope_at_position_zero;
    caches_.resize(selection_.n_layers);
    for (uint32_t il = 0; il < selection_.n_layers; ++il) {
        DeviceLayerCache& C = caches_[il];
        C.layout = layouts[il];
        if (info.is_recurrent(il)) {
            continue; // its state instead (take_recurrent_state)
        }
        if (!owns_kv_cache(info, il)) { // gemma4: an earlier layer's (check_gemma4)
            C.k = caches_[info.kv_layer(il)].k;
            C.v = caches_[info.kv_layer(il)].v;
            C.shared = true;
            continue;
        }
        const size_t cells = size_t(options_.n_seq) * options_.n_ctx;
        C.k = kv_.take<uint16_t>(cells * size_t(C.layout.n_head_kv) * C.layout.head_dim_k);
        C.v = kv_.take<uint16_t>(cells * size_t(C.layout.n_head_kv) * C.layout.head_dim_v);
    }
    layer_rope_ = gemma4_rope_configs(m_, weights_->gemma4.rope_freqs);
    if (auto ok = take_recurrent_state(); !ok) {
        return ok;
    }

    d_ints_ = scratch_.take<int32_t>(3 * R);
    x_ = scratch_.take<float>(R * info.n_embd);
    o_ = scratch_.take<float>(R * info.n_embd);
    h_ = scratch_.take<float>(R * std::max<size_t>(info.n_embd, o_width));
    q_ = scratch_.take<float>(R * q_buffer_width(m_)); // q | k | v rows after a fused product
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
    moe_ = take_moe_buffers(scratch_, info, R);
    delta_step_ = take_delta_net_scratch(scratch_, info, R);
    gemma4_step_ = take_gemma4_buffers(scratch_, m_, R, d_ints_);
    if (auto ok = take_prefill_scratch(); !ok) {
        return ok;
    }

    embd_scale_ = arch.embed_scale ? std::sqrt(static_cast<float>(info.n_embd)) : 1.0f;
    // gemma3 scales the query before it meets the cache, the others the scores (the CPU
    // forward's attention does the same).
    q_scale_ = arch.scale_query ? m_.attn_scale : 1.0f;
    score_scale_ = arch.scale_query ? 1.0f : m_.attn_scale;
    glu_ = arch.activation == FfnActivation::gelu_tanh ? kernels::GluKind::geglu
                                                       : kernels::GluKind::swiglu;
    // As the CPU's ScoreSoftCap and output head: the caps in float.
    attn_soft_cap_ = static_cast<float>(info.attn_logit_softcap);
    final_soft_cap_ = static_cast<float>(info.final_logit_softcap);
    temperature_floor_ = static_cast<float>(
        info.rope_scaling.n_ctx_orig ? info.rope_scaling.n_ctx_orig : info.n_ctx_train);
    return {};
}

} // namespace hearth::cuda_detail

namespace hearth {

Result<std::unique_ptr<CudaForward>> CudaForward::create(const Model& model,
                                                         const CudaForwardOptions& options) {
    using namespace cuda_detail;
    const Model::Impl& m = model.impl();
    const uint32_t n_layer = m.info.n_layer;
    auto whole = [&]() -> Result<std::unique_ptr<CudaForward>> {
        auto forward =
            std::make_unique<CudaForwardImpl>(m, options, WeightSelection{n_layer, true});
        if (auto ok = forward->init(); !ok) {
            return std::unexpected(ok.error());
        }
        return std::unique_ptr<CudaForward>(std::move(forward));
    };
    if (options.gpu_layers == kAllGpuLayers) {
        return whole();
    }
    if (options.gpu_layers != kAutoGpuLayers) {
        if (options.gpu_layers < 1) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("GPU layers must be at least 1 (or all / auto), not {}: with "
                                    "none, run on the CPU",
                                    options.gpu_layers));
        }
        return create_hybrid_forward(m, options,
                                     std::min<uint32_t>(uint32_t(options.gpu_layers), n_layer));
    }
    // Auto: the whole model when it fits, else as many layers as fit.
    CudaForwardOptions resolved = options;
    if (resolved.n_ctx == 0) {
        resolved.n_ctx = m.info.n_ctx_train;
    }
    HEARTH_CUDA_TRY(cudaSetDevice(resolved.device),
                    fmt::format("cudaSetDevice({})", resolved.device));
    size_t free_bytes = 0, total_bytes = 0;
    HEARTH_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    free_bytes = usable_bytes(free_bytes, resolved);
    const WeightSelection all{n_layer, true};
    const ForwardPlan plan = plan_forward(m, resolved, all);
    const bool shared = find_shared_weights(m, resolved.device, all) != nullptr;
    const uint32_t fit = most_gpu_layers(m, resolved, free_bytes);
    if ((shared ? 0 : plan.weights_bytes) + plan.kv_bytes + plan.recurrent_bytes +
                plan.scratch_bytes + plan.prefill_cublas_bytes + kHeadroom <=
            free_bytes ||
        fit == 0) {
        return whole(); // fits, or not even one layer does: then its refusal has the arithmetic
    }
    return create_hybrid_forward(m, resolved, fit);
}

} // namespace hearth
