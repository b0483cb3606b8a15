// The differences between supported architectures, as llama.cpp's llama-model.cpp sets them.
#include "llm_arch.h"

#include "hearth/model.h"

#include <array>
#include <string>

namespace hearth {
namespace {

constexpr std::array kArchitectures{
    ArchTraits{.name = "llama", .experts = Experts::optional},
    ArchTraits{.name = "mistral"},
    ArchTraits{.name = "qwen2", .rope = RopeLayout::neox, .qkv_bias = true},
    ArchTraits{.name = "qwen3", .rope = RopeLayout::neox, .qk_norm = true},
    ArchTraits{.name = "qwen3moe",
               .rope = RopeLayout::neox,
               .qk_norm = true,
               .experts = Experts::required},
    ArchTraits{.name = "gpt-oss",
               .rope = RopeLayout::neox,
               .activation = FfnActivation::swiglu_oai,
               .qkv_bias = true,
               .swa_period = 2,
               .swa_rope_scaled = true,
               .experts = Experts::required,
               .routing = Routing::top_k_softmax,
               .attn_out_bias = true,
               .attn_sinks = true,
               .expert_biases = true,
               .ffn_norm = "post_attention_norm"},
    ArchTraits{.name = "gemma3",
               .rope = RopeLayout::neox,
               .activation = FfnActivation::gelu_tanh,
               .qk_norm = true,
               .post_norms = true,
               .embed_scale = true,
               .scale_query = true,
               .swa_period = 6},
    // Issue 17's dense architectures (src/models/{phi3,gemma2,smollm3,mistral3}.cpp).
    ArchTraits{.name = "phi3",
               .rope = RopeLayout::neox,
               .scale_query = true,
               .fused_gate_up = true,
               .longrope = true},
    ArchTraits{.name = "gemma2",
               .rope = RopeLayout::neox,
               .activation = FfnActivation::gelu_tanh,
               .post_norms = true,
               .embed_scale = true,
               .scale_query = true,
               .logit_softcap = true,
               .swa_period = 2,
               .swa_rope_scaled = true},
    ArchTraits{.name = "smollm3", .nope_period = 4},
    ArchTraits{.name = "mistral3", .longrope = true, .attn_temperature = true, .yarn_keys = true},
    // Issue 17's hybrid (src/models/qwen35.cpp): gated delta-net layers between attention layers.
    ArchTraits{.name = "qwen35",
               .rope = RopeLayout::neox,
               .qk_norm = true,
               .ffn_norm = "post_attention_norm",
               .hybrid_delta_net = true},
    // Its mixture-of-experts variant (src/models/qwen35moe.cpp): the routed experts (softmax
    // top-k, re-normalised) plus a sigmoid-gated shared expert in every layer.
    ArchTraits{.name = "qwen35moe",
               .rope = RopeLayout::neox,
               .qk_norm = true,
               .experts = Experts::required,
               .ffn_norm = "post_attention_norm",
               .hybrid_delta_net = true,
               .shared_expert = true},
    // Issue 17's Gemma 4 (src/models/gemma4.cpp); its files carry the sliding layers as a
    // per-layer array, so the period is only the shape of the published models (4 + 1). The
    // 26B-A4B routes to experts (GeGLU, softmax top-k re-normalised) beside the dense FFN.
    ArchTraits{.name = "gemma4",
               .rope = RopeLayout::neox,
               .activation = FfnActivation::gelu_tanh,
               .qk_norm = true,
               .post_norms = true,
               .embed_scale = true,
               .swa_period = 5,
               .experts = Experts::optional,
               .gemma4_layers = true},
};

} // namespace

std::optional<ArchTraits> arch_traits(std::string_view architecture) {
    for (const auto& traits : kArchitectures) {
        if (traits.name == architecture) {
            return traits;
        }
    }
    return std::nullopt;
}

bool architecture_supported(std::string_view architecture) {
    return arch_traits(architecture).has_value();
}

std::string_view supported_architectures() {
    // Built from the table, so a new architecture is named as soon as it runs.
    static const std::string names = [] {
        std::string out;
        for (const auto& traits : kArchitectures) {
            out += (out.empty() ? "" : ", ") + std::string(traits.name);
        }
        return out;
    }();
    return names;
}

} // namespace hearth
