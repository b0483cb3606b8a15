// gemma4 on the CUDA backend: the operations of cpu/gemma4_layer.cpp and cpu/gemma4_experts.cpp,
// one for one, enqueued by CudaForwardImpl::enqueue_layers (cuda_step.cpp) for a decode step and
// a prefill chunk alike, with the matrix products and the attention the caller supplies.
//
// Per step of n rows (shapes in floats; E = n_embd_per_layer, each layer at its own sizes):
//   before layer 0:  sel = per_layer_token_embd[tokens] · sqrt(E)          (n, n_layer · E)
//                    p = rmsnorm(per_layer_model_proj · x / sqrt(n_embd)) · per_layer_proj_norm
//                    in[l] = (p[:, l] + sel[:, l]) / sqrt(2)                 (n_layer, n, E)
//   attention:       q = rmsnorm_head(Wq h) · q_norm;  rope(q) (the global layers' with
//                    rope_freqs); unless the layer reads an earlier layer's cache:
//                    k = Wk h, v = Wv h (K's projection where attn_v is absent),
//                    k = rmsnorm_head(k) · k_norm, v = rmsnorm_head(v), rope(k), cache = k, v;
//                    o = Wo attention(q, the cache of kv_layer) (scale 1)
//   experts layers:  o = rmsnorm(FFN(h)) · post_ffw_norm_1
//                      + rmsnorm(MoE(rmsnorm(x) · pre_ffw_norm_2, routed by
//                                    rmsnorm(x) · ffn_gate_inp.scale / sqrt(n_embd))) ·
//                                    post_ffw_norm_2
//   after the FFN:   x += o;  o = rmsnorm(proj · (gelu(inp_gate · x) · in[l])) · post_norm;
//                    x, o *= layer_output_scale  (the next layer's add makes x + o)
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "elementwise.cuh"
#include "per_layer_embd.cuh"
#include "rms_norm.cuh"

#include <cmath>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace hearth::cuda_detail {

#define HEARTH_LAUNCH(call, what) HEARTH_CUDA_TRY((call), (what))

uint64_t gemma4_scratch_bytes(const Model::Impl& m, size_t rows) {
    const ModelInfo& info = m.info;
    if (!m.arch.gemma4_layers) {
        return 0;
    }
    const size_t n_epl = info.n_embd_per_layer;
    const size_t width = n_epl * info.n_layer;
    uint64_t bytes = 0;
    if (n_epl > 0) { // selected, projected, inputs; the gate
        bytes +=
            3 * align_up(rows * width * sizeof(float)) + align_up(rows * n_epl * sizeof(float));
    }
    if (info.n_expert > 0) { // the experts' input, the router's input, the experts' output
        bytes += 3 * align_up(rows * info.n_embd * sizeof(float));
    }
    return bytes;
}

Gemma4Buffers take_gemma4_buffers(Arena& arena, const Model::Impl& m, size_t rows,
                                  const int32_t* tokens) {
    const ModelInfo& info = m.info;
    Gemma4Buffers g;
    if (!m.arch.gemma4_layers) {
        return g;
    }
    g.tokens = tokens;
    const size_t n_epl = info.n_embd_per_layer;
    const size_t width = n_epl * info.n_layer;
    if (n_epl > 0) {
        g.selected = arena.take<float>(rows * width);
        g.projected = arena.take<float>(rows * width);
        g.inputs = arena.take<float>(rows * width);
        g.gate = arena.take<float>(rows * n_epl);
    }
    if (info.n_expert > 0) {
        g.experts_in = arena.take<float>(rows * info.n_embd);
        g.router_in = arena.take<float>(rows * info.n_embd);
        g.experts_out = arena.take<float>(rows * info.n_embd);
    }
    return g;
}

Result<void> CudaForwardImpl::check_gemma4() const {
    const ModelInfo& info = m_.info;
    if (!selection_.head && !info.kv_cut_allowed(selection_.n_layers)) {
        uint32_t most = 0; // the most layers below n_layer after which the CPU can take over
        for (uint32_t n = 1; n < info.n_layer; ++n) {
            most = info.kv_cut_allowed(n) ? n : most;
        }
        return fail(ErrorCode::unsupported,
                    fmt::format("{} layers of this {} model cannot run on the GPU with the rest on "
                                "the CPU: a layer past them reads the KV cache of a layer among "
                                "them; {}",
                                selection_.n_layers, info.architecture,
                                most == 0 ? std::string("it runs whole on the GPU or on the CPU")
                                          : fmt::format("at most {} can", most)));
    }
    for (uint32_t il = 0; il < info.n_layer; ++il) {
        const LayerShape& shape = info.layer_shapes[il];
        if (shape.head_dim > uint32_t(kernels::kAttentionMaxHeadDim) || shape.n_rot % 2 != 0 ||
            shape.n_rot > shape.head_dim) {
            return fail(ErrorCode::unsupported,
                        fmt::format("the CUDA attention takes heads of at most {} values (this "
                                    "model's layer {}: {}, {} rotated)",
                                    kernels::kAttentionMaxHeadDim, il, shape.head_dim,
                                    shape.n_rot));
        }
        const LayerShape& owner = info.layer_shapes[shape.kv_layer];
        if (shape.kv_layer > il || owner.head_dim != shape.head_dim ||
            owner.n_head_kv != shape.n_head_kv) {
            return fail(ErrorCode::unsupported,
                        fmt::format("layer {} reads the KV cache of layer {}, whose heads differ "
                                    "from its own",
                                    il, shape.kv_layer));
        }
    }
    return {};
}

Result<void> CudaForwardImpl::enqueue_gemma4_inputs(const StepBuffers& b, int n,
                                                    const MatmulFn& matmul) {
    const ModelInfo& info = m_.info;
    const int n_epl = int(info.n_embd_per_layer);
    if (n_epl == 0) {
        return {};
    }
    const int64_t n_embd = info.n_embd;
    const int n_layer = int(info.n_layer);
    const int64_t width = int64_t(n_epl) * n_layer;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const Gemma4Buffers& g = *b.gemma4;
    const DeviceGemma4Weights& G = weights_->gemma4;
    cudaStream_t s = stream_;
    const float embd_scale = std::sqrt(static_cast<float>(n_epl));
    HEARTH_LAUNCH(kernels::launch_get_rows(G.token_embd.type, G.token_embd.data,
                                           G.token_embd.row_bytes, G.token_embd.n_rows, width,
                                           g.tokens, n, embd_scale, g.selected, width, s),
                  "get_rows(per_layer_token_embd)");
    if (auto ok = matmul(G.model_proj, b.x, n_embd, g.projected, width, "per_layer_model_proj");
        !ok) {
        return ok;
    }
    const float proj_scale = 1.0f / std::sqrt(static_cast<float>(n_embd));
    HEARTH_LAUNCH(kernels::launch_scale(g.projected, proj_scale, int64_t(n) * width, s),
                  "scale(per_layer_model_proj)");
    // Rows of E values back to back: n x n_layer of them.
    HEARTH_LAUNCH(kernels::launch_rms_norm(g.projected, G.proj_norm, g.projected, n_epl,
                                           n * n_layer, n_epl, eps, s),
                  "rms_norm(per_layer_proj_norm)");
    const float input_scale = 1.0f / std::sqrt(2.0f);
    HEARTH_LAUNCH(kernels::launch_per_layer_inputs(g.projected, g.selected, input_scale, n, n_layer,
                                                   n_epl, g.inputs, s),
                  "per_layer_inputs");
    return {};
}

Result<void> CudaForwardImpl::enqueue_gemma4_attention(size_t il, const StepBuffers& b, int n,
                                                       const MatmulFn& matmul,
                                                       const AttentionFn& attention) {
    const ModelInfo& info = m_.info;
    const LayerShape& shape = info.layer_shapes[il];
    const DeviceLayerWeights& L = weights_->layers[il];
    const DeviceLayerCache& C = caches_[il];
    const int64_t n_embd = info.n_embd;
    const int n_head = int(shape.n_head), n_head_kv = int(shape.n_head_kv);
    const int head_dim = int(shape.head_dim);
    const int64_t q_width = int64_t(n_head) * head_dim;
    const int64_t kv_width = int64_t(n_head_kv) * head_dim;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const kernels::RopeConfig& rope = layer_rope_[il];
    cudaStream_t s = stream_;

    if (auto ok = matmul(L.wq, b.h, n_embd, b.q, q_width, "attn_q"); !ok) {
        return ok;
    }
    if (!C.shared) {
        if (auto ok = matmul(L.wk, b.h, n_embd, b.k, kv_width, "attn_k"); !ok) {
            return ok;
        }
        if (L.v_from_k) { // before K's norm and RoPE
            HEARTH_LAUNCH(cudaMemcpyAsync(b.v, b.k, size_t(n) * kv_width * sizeof(float),
                                          cudaMemcpyDeviceToDevice, s),
                          "copying K's projection as V");
        } else {
            if (auto ok = matmul(L.wv, b.h, n_embd, b.v, kv_width, "attn_v"); !ok) {
                return ok;
            }
        }
    }
    // Rows of q, k and v are whole heads back to back.
    HEARTH_LAUNCH(
        kernels::launch_rms_norm(b.q, L.q_norm, b.q, head_dim, n * n_head, head_dim, eps, s),
        "rms_norm(attn_q_norm)");
    HEARTH_LAUNCH(kernels::launch_rope(b.q, n, n_head, head_dim, q_width, b.positions, rope, s),
                  "rope(q)");
    if (!C.shared) {
        HEARTH_LAUNCH(
            kernels::launch_rms_norm(b.k, L.k_norm, b.k, head_dim, n * n_head_kv, head_dim, eps, s),
            "rms_norm(attn_k_norm)");
        HEARTH_LAUNCH(
            kernels::launch_rms_norm(b.v, nullptr, b.v, head_dim, n * n_head_kv, head_dim, eps, s),
            "rms_norm(v)");
        HEARTH_LAUNCH(
            kernels::launch_rope(b.k, n, n_head_kv, head_dim, kv_width, b.positions, rope, s),
            "rope(k)");
        HEARTH_LAUNCH(kernels::launch_kv_append(b.k, kv_width, b.v, kv_width, n, C.k, C.v, C.layout,
                                                b.slots, b.positions, s),
                      "kv_append");
    }
    const int window = L.sliding ? int(info.sliding_window) : 0;
    if (auto ok = attention(C, window, nullptr, b.q, q_width); !ok) {
        return ok;
    }
    if (auto ok = matmul(L.wo, b.attn, q_width, b.o, n_embd, "attn_output"); !ok) {
        return ok;
    }
    return {};
}

Result<void> CudaForwardImpl::enqueue_gemma4_experts(size_t il, const StepBuffers& b, int n,
                                                     const MatmulFn& matmul) {
    const ModelInfo& info = m_.info;
    const DeviceLayerWeights& L = weights_->layers[il];
    const Gemma4Buffers& g = *b.gemma4;
    const int64_t n_embd = info.n_embd;
    const int64_t rows_floats = int64_t(n) * n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    cudaStream_t s = stream_;
    if (auto ok = enqueue_dense_ffn(L, b, n, matmul); !ok) {
        return ok;
    }
    HEARTH_LAUNCH(
        kernels::launch_rms_norm(b.o, L.ffn_post_norm_1, b.o, int(n_embd), n, n_embd, eps, s),
        "rms_norm(post_ffw_norm_1)");
    // b.x is the residual after attention (enqueue_layers added it before ffn_norm).
    HEARTH_LAUNCH(kernels::launch_rms_norm(b.x, L.ffn_pre_norm_2, g.experts_in, int(n_embd), n,
                                           n_embd, eps, s),
                  "rms_norm(pre_ffw_norm_2)");
    // The router's input: the CPU multiplies by 1/sqrt(n_embd), then by the scale; here the
    // scale comes with the norm's pass (one rounding apart, far below the routing margin).
    HEARTH_LAUNCH(kernels::launch_rms_norm(b.x, L.router_input_scale, g.router_in, int(n_embd), n,
                                           n_embd, eps, s),
                  "rms_norm(ffn_gate_inp.scale)");
    const float router_scale = 1.0f / std::sqrt(static_cast<float>(n_embd));
    HEARTH_LAUNCH(kernels::launch_scale(g.router_in, router_scale, rows_floats, s),
                  "scale(router input)");
    if (auto ok = enqueue_moe_ffn(L.experts, info, m_.arch, b.moe, g.experts_in, n, g.experts_out,
                                  s, g.router_in);
        !ok) {
        return ok;
    }
    HEARTH_LAUNCH(kernels::launch_rms_norm(g.experts_out, L.ffn_post_norm_2, g.experts_out,
                                           int(n_embd), n, n_embd, eps, s),
                  "rms_norm(post_ffw_norm_2)");
    HEARTH_LAUNCH(kernels::launch_add(b.o, g.experts_out, rows_floats, s), "add(experts)");
    return {};
}

Result<void> CudaForwardImpl::enqueue_gemma4_layer_output(size_t il, const StepBuffers& b, int n,
                                                          const MatmulFn& matmul) {
    const ModelInfo& info = m_.info;
    const DeviceLayerWeights& L = weights_->layers[il];
    const int64_t n_embd = info.n_embd;
    const int64_t n_epl = info.n_embd_per_layer;
    const int64_t rows_floats = int64_t(n) * n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    cudaStream_t s = stream_;
    if (n_epl > 0) {
        const Gemma4Buffers& g = *b.gemma4;
        HEARTH_LAUNCH(kernels::launch_add(b.x, b.o, rows_floats, s), "add(feed-forward)");
        if (auto ok = matmul(L.ple_gate, b.x, n_embd, g.gate, n_epl, "inp_gate"); !ok) {
            return ok;
        }
        // gelu(gate) · input: ggml_gelu then ggml_mul, as the GeGLU computes it.
        const float* inputs = g.inputs + int64_t(il) * n * n_epl;
        HEARTH_LAUNCH(kernels::launch_glu(kernels::GluKind::geglu, g.gate, inputs, g.gate,
                                          int64_t(n) * n_epl, s),
                      "glu(inp_gate)");
        if (auto ok = matmul(L.ple_proj, g.gate, n_epl, b.o, n_embd, "proj"); !ok) {
            return ok;
        }
        HEARTH_LAUNCH(
            kernels::launch_rms_norm(b.o, L.ple_post_norm, b.o, int(n_embd), n, n_embd, eps, s),
            "rms_norm(post_norm)");
    }
    if (L.out_scale != 1.0f) { // (x + o) · scale, as x · scale + o · scale
        HEARTH_LAUNCH(kernels::launch_scale(b.x, L.out_scale, rows_floats, s), "scale(x)");
        HEARTH_LAUNCH(kernels::launch_scale(b.o, L.out_scale, rows_floats, s), "scale(o)");
    }
    return {};
}

#undef HEARTH_LAUNCH

} // namespace hearth::cuda_detail
