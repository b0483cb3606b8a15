// Binding gemma4's tensors (llama.cpp's llama_model_gemma4::load_arch_tensors): each layer at
// its own sizes (ModelInfo::layer_shapes), a layer reading an earlier layer's cache without K
// and V of its own, V optional (K's projection then), the per-layer embeddings, the routed
// experts of the mixture-of-experts model. Generic over model.cpp's Binder, as bind_dense.h.
#pragma once

#include "model/bind_dense.h"

namespace hearth {

namespace gemma4_detail {

inline Result<void> assign_to(auto& target, auto&& result) {
    if (!result) {
        return std::unexpected(result.error());
    }
    target = std::move(*result);
    return {};
}

// Q, and K and V where the layer writes its own cache: fused attn_qkv or separate matrices,
// attn_v optional (V is then K's projection, Gemma 4's attention_k_eq_v).
inline Result<void> bind_attention(LayerWeights& layer, DenseBinder auto& bind,
                                   const std::string& p, const ModelInfo& info,
                                   const LayerShape& shape, bool owns_kv) {
    const uint64_t q_width = uint64_t{shape.n_head} * shape.head_dim;
    const uint64_t kv_width = shape.kv_width();
    if (bind.find(p + "attn_qkv.weight")) {
        return bind_qkv(layer, bind, p, false, info.n_embd, q_width, kv_width, kv_width);
    }
    if (auto q = assign_to(layer.wq, bind.matrix(p + "attn_q.weight", info.n_embd, q_width)); !q) {
        return q;
    }
    if (!owns_kv) {
        return {}; // attends to an earlier layer's cache: K and V, if stored, go unused
    }
    if (auto k = assign_to(layer.wk, bind.matrix(p + "attn_k.weight", info.n_embd, kv_width)); !k) {
        return k;
    }
    layer.v_from_k = !bind.find(p + "attn_v.weight");
    if (layer.v_from_k) {
        layer.wv = layer.wk;
        return {};
    }
    return assign_to(layer.wv, bind.matrix(p + "attn_v.weight", info.n_embd, kv_width));
}

// The routed experts beside the dense feed-forward (Gemma 4 26B-A4B), in every layer when
// the file counts experts (its enable_moe_block is the whole model's): the router, its input
// scale, the experts (gate and up fused or apart, the optional per-expert output scale) and
// the three extra norms. A router in a file without an expert count is refused, naming it.
inline Result<void> bind_experts_block(Model::Impl& m, DenseBinder auto& bind, const std::string& p,
                                       LayerWeights& layer) {
    const ModelInfo& info = m.info;
    if (info.n_expert == 0) {
        if (bind.find(p + "ffn_gate_inp.weight")) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}ffn_gate_inp.weight' routes to experts, but "
                                    "{}.expert_count is missing or 0",
                                    p, info.architecture));
        }
        return {};
    }
    Result<void> steps[] = {
        assign_to(layer.experts, bind_experts(m.file, info, p, false, false)),
        assign_to(layer.router_input_scale, bind.vector(p + "ffn_gate_inp.scale", info.n_embd)),
        assign_to(layer.ffn_post_norm_1, bind.vector(p + "post_ffw_norm_1.weight", info.n_embd)),
        assign_to(layer.ffn_pre_norm_2, bind.vector(p + "pre_ffw_norm_2.weight", info.n_embd)),
        assign_to(layer.ffn_post_norm_2, bind.vector(p + "post_ffw_norm_2.weight", info.n_embd)),
    };
    for (auto& step : steps) {
        if (!step) {
            return step;
        }
    }
    return {};
}

inline Result<void> bind_layer(Model::Impl& m, DenseBinder auto& bind, uint32_t il) {
    const ModelInfo& info = m.info;
    const LayerShape& shape = info.layer_shapes[il];
    LayerWeights& layer = m.layers[il];
    const std::string p = fmt::format("blk.{}.", il);
    const bool owns_kv = shape.kv_layer == il;
    const uint64_t n_epl = info.n_embd_per_layer;
    Result<void> steps[] = {
        assign_to(layer.attn_norm, bind.vector(p + "attn_norm.weight", info.n_embd)),
        bind_attention(layer, bind, p, info, shape, owns_kv),
        assign_to(layer.wo, bind.matrix(p + "attn_output.weight",
                                        uint64_t{shape.n_head} * shape.head_dim, info.n_embd)),
        assign_to(layer.q_norm, bind.vector(p + "attn_q_norm.weight", shape.head_dim)),
        owns_kv ? assign_to(layer.k_norm, bind.vector(p + "attn_k_norm.weight", shape.head_dim))
                : Result<void>{},
        assign_to(layer.post_attn_norm, bind.vector(p + "post_attention_norm.weight", info.n_embd)),
        assign_to(layer.ffn_norm, bind.vector(p + "ffn_norm.weight", info.n_embd)),
        bind_gate_up(layer, bind, p, false, info.n_embd, shape.n_ff),
        assign_to(layer.w_down, bind.matrix(p + "ffn_down.weight", shape.n_ff, info.n_embd)),
        assign_to(layer.post_ffn_norm, bind.vector(p + "post_ffw_norm.weight", info.n_embd)),
        n_epl ? assign_to(layer.ple_gate, bind.matrix(p + "inp_gate.weight", info.n_embd, n_epl))
              : Result<void>{},
        n_epl ? assign_to(layer.ple_proj, bind.matrix(p + "proj.weight", n_epl, info.n_embd))
              : Result<void>{},
        n_epl ? assign_to(layer.ple_post_norm, bind.vector(p + "post_norm.weight", info.n_embd))
              : Result<void>{},
        bind_experts_block(m, bind, p, layer),
    };
    for (auto& step : steps) {
        if (!step) {
            return step;
        }
    }
    if (bind.find(p + "layer_output_scale.weight")) {
        auto scale = bind.vector(p + "layer_output_scale.weight", 1);
        if (!scale) {
            return std::unexpected(scale.error());
        }
        if (!std::isfinite(scale->front())) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}layer_output_scale.weight' is not finite", p));
        }
        layer.out_scale = scale->front();
    }
    return {};
}

} // namespace gemma4_detail

// Every layer, the per-layer embedding tables and the global layers' RoPE factors.
inline Result<void> bind_gemma4(Model::Impl& m, DenseBinder auto& bind) {
    const ModelInfo& info = m.info;
    m.layers.resize(info.n_layer);
    for (uint32_t il = 0; il < info.n_layer; ++il) {
        if (auto layer = gemma4_detail::bind_layer(m, bind, il); !layer) {
            return layer;
        }
        m.layers[il].sliding = info.layer_shapes[il].sliding;
    }
    Gemma4Weights& g = m.gemma4;
    if (const uint64_t n_epl = info.n_embd_per_layer) {
        const uint64_t width = n_epl * info.n_layer;
        Result<void> steps[] = {
            gemma4_detail::assign_to(
                g.token_embd, bind.matrix("per_layer_token_embd.weight", width, info.n_vocab)),
            gemma4_detail::assign_to(
                g.model_proj, bind.matrix("per_layer_model_proj.weight", info.n_embd, width)),
            gemma4_detail::assign_to(g.proj_norm, bind.vector("per_layer_proj_norm.weight", n_epl)),
        };
        for (auto& step : steps) {
            if (!step) {
                return step;
            }
        }
    }
    // llama.cpp requires rope_freqs with the first global layer, (its head size / 2).
    const auto global = std::ranges::find(info.layer_shapes, false, &LayerShape::sliding);
    if (global != info.layer_shapes.end()) {
        auto factors = bind.vector("rope_freqs.weight", global->head_dim / 2);
        if (!factors) {
            return std::unexpected(factors.error());
        }
        if (!std::ranges::all_of(*factors, [](float f) { return !std::isnan(f) && f > 0; })) {
            return fail(ErrorCode::bad_format,
                        "tensor 'rope_freqs.weight' must hold factors above 0");
        }
        g.rope_freqs = std::move(*factors);
    }
    return {};
}

} // namespace hearth
