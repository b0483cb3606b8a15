// Binding the tensors of issue 17's dense architectures that the others do not have: fused
// Q/K/V and gate/up matrices (phi3), LongRoPE factors, biases Hearth refuses (mistral3).
// Generic over model.cpp's Binder, which finds tensors and checks their shapes and types.
#pragma once

#include "model/model_impl.h"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <fmt/format.h>
#include <string>
#include <tuple>

namespace hearth {

template <class B>
concept DenseBinder = requires(B& b, const std::string& name, uint64_t n) {
    { b.find(name) } -> std::convertible_to<const GgufTensorInfo*>;
    { b.matrix(name, n, n) } -> std::same_as<Result<cpu::WeightMatrix>>;
    { b.vector(name, n) } -> std::same_as<Result<std::vector<float>>>;
};

// Rows [first, first + n_rows) of a matrix, read in place: the parts of a fused matrix.
inline cpu::WeightMatrix row_view(const cpu::WeightMatrix& w, int64_t first, int64_t n_rows) {
    cpu::WeightMatrix view = w;
    view.data = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(first) * w.row_bytes;
    view.n_rows = n_rows;
    return view;
}

// Q, K and V: three matrices, or one fused `attn_qkv.weight` (phi3) whose rows are Q's, K's,
// then V's, as llama.cpp's create_tensor_qkv accepts either. Each product row is the same dot
// product either way, so the views compute what llama.cpp's fused product does.
// fused_by_default: the architecture's files have the fused one (phi3), so name it if missing.
inline Result<void> bind_qkv(LayerWeights& layer, DenseBinder auto& bind, const std::string& p,
                             bool fused_by_default, uint64_t n_embd, uint64_t q_width,
                             uint64_t k_width, uint64_t v_width) {
    if (bind.find(p + "attn_qkv.weight")) {
        auto qkv = bind.matrix(p + "attn_qkv.weight", n_embd, q_width + k_width + v_width);
        if (!qkv) {
            return std::unexpected(qkv.error());
        }
        layer.wq = row_view(*qkv, 0, static_cast<int64_t>(q_width));
        layer.wk = row_view(*qkv, static_cast<int64_t>(q_width), static_cast<int64_t>(k_width));
        layer.wv =
            row_view(*qkv, static_cast<int64_t>(q_width + k_width), static_cast<int64_t>(v_width));
        return {};
    }
    if (fused_by_default && !bind.find(p + "attn_q.weight")) {
        return fail(ErrorCode::bad_format,
                    fmt::format("tensor '{}attn_qkv.weight' is missing (and so are the separate "
                                "attn_q, attn_k and attn_v)",
                                p));
    }
    for (auto [target, name, width] : {std::tuple{&layer.wq, "attn_q.weight", q_width},
                                       std::tuple{&layer.wk, "attn_k.weight", k_width},
                                       std::tuple{&layer.wv, "attn_v.weight", v_width}}) {
        auto w = bind.matrix(p + name, n_embd, width);
        if (!w) {
            return std::unexpected(w.error());
        }
        *target = *w;
    }
    return {};
}

// Gate and up: two matrices, or (phi3) one `ffn_up.weight` of 2 × n_ff rows, the gate's
// first, which llama.cpp splits in halves for its SwiGLU exactly as two products would.
inline Result<void> bind_gate_up(LayerWeights& layer, DenseBinder auto& bind, const std::string& p,
                                 bool fused, uint64_t n_embd, uint64_t n_ff) {
    if (fused) {
        auto up = bind.matrix(p + "ffn_up.weight", n_embd, 2 * n_ff);
        if (!up) {
            return std::unexpected(up.error());
        }
        layer.w_gate = row_view(*up, 0, static_cast<int64_t>(n_ff));
        layer.w_up = row_view(*up, static_cast<int64_t>(n_ff), static_cast<int64_t>(n_ff));
        return {};
    }
    auto gate = bind.matrix(p + "ffn_gate.weight", n_embd, n_ff);
    if (!gate) {
        return std::unexpected(gate.error());
    }
    auto up = bind.matrix(p + "ffn_up.weight", n_embd, n_ff);
    if (!up) {
        return std::unexpected(up.error());
    }
    layer.w_gate = *gate;
    layer.w_up = *up;
    return {};
}

// Tensors llama.cpp binds for an architecture but Hearth does not compute with yet
// (mistral3's optional output and feed-forward biases): refused, not ignored.
inline Result<void> refuse_unsupported_tensors(const Model::Impl& m, DenseBinder auto& bind,
                                               const std::string& p) {
    if (m.info.architecture != "mistral3") {
        return {};
    }
    for (const char* name : {"attn_output.bias", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"}) {
        if (bind.find(p + name)) {
            return fail(ErrorCode::unsupported,
                        fmt::format("tensor '{}{}' is a bias Hearth does not add yet", p, name));
        }
    }
    return {};
}

// LongRoPE's factor pairs (phi3; mistral3 with longrope scaling), both or neither, and the
// factor llama.cpp multiplies cos and sin by (its cparams.yarn_attn_factor, from llama_context):
// YaRN's magnitude correction cancelled against the one ggml applies, times
// rope.scaling.attn_factor.
inline Result<void> bind_rope_extras(Model::Impl& m, DenseBinder auto& bind) {
    const ModelInfo& info = m.info;
    const RopeScaling& scaling = info.rope_scaling;
    if (m.arch.longrope &&
        (bind.find("rope_factors_long.weight") || bind.find("rope_factors_short.weight"))) {
        for (auto [target, name] :
             {std::pair{&m.rope_factors_long, "rope_factors_long.weight"},
              std::pair{&m.rope_factors_short, "rope_factors_short.weight"}}) {
            auto factors = bind.vector(name, info.n_rot / 2);
            if (!factors) {
                return std::unexpected(factors.error());
            }
            if (!std::ranges::all_of(*factors, [](float f) { return std::isfinite(f) && f > 0; })) {
                return fail(ErrorCode::bad_format,
                            fmt::format("tensor '{}' must hold finite factors above 0", name));
            }
            *target = std::move(*factors);
        }
        m.rope_long_above = scaling.n_ctx_orig ? scaling.n_ctx_orig : info.n_ctx_train;
    }
    float attn_factor = 1.0f;
    if (scaling.type == "yarn" && scaling.factor > 0) {
        const float freq_scale = 1.0f / static_cast<float>(scaling.factor);
        const float factor = 1.0f / freq_scale;
        auto mscale = [](float s, float mul) {
            return s <= 1.0f ? 1.0f : 0.1f * mul * std::log(s) + 1.0f;
        };
        const auto log_mul = static_cast<float>(scaling.yarn_log_mul);
        attn_factor =
            log_mul != 0.0f ? mscale(factor, 1.0f) / mscale(factor, log_mul) : mscale(factor, 1.0f);
        attn_factor *= 1.0f / (1.0f + 0.1f * std::log(factor));
    }
    m.rope_attn_factor = attn_factor * static_cast<float>(scaling.attn_factor);
    return {};
}

} // namespace hearth
