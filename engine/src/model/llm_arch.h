// How each supported architecture differs, keyed by `general.architecture` (never by
// model name): RoPE layout, feed-forward activation, which optional tensors exist.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class RopeLayout {
    normal, // rotates pairs (x[2i], x[2i+1]) — llama.cpp's LLAMA_ROPE_TYPE_NORM
    neox,   // rotates pairs (x[i], x[i + n_rot/2]) — LLAMA_ROPE_TYPE_NEOX
};

enum class FfnActivation {
    silu,
    gelu_tanh,
    swiglu_oai, // gpt-oss: min(gate, 7) · sigmoid(1.702 · min(gate, 7)) · (clamp(up, ±7) + 1)
};

// Whether the feed-forward blocks route tokens to experts (ffn_gate_inp, ffn_*_exps).
enum class Experts {
    none,     // dense feed-forward; an expert count in the file is not used
    optional, // llama, gemma4: experts when {arch}.expert_count > 0 (Mixtral, 26B-A4B)
    required, // qwen3moe, gpt-oss: every layer routes
};

// How a token's experts and their weights come from the router's logits.
enum class Routing {
    softmax_top_k, // softmax over all experts, the k most likely, weights re-normalised
    top_k_softmax, // gpt-oss: the k largest logits, weights a softmax over those k
};

struct ArchTraits {
    std::string_view name;
    RopeLayout rope = RopeLayout::normal;
    FfnActivation activation = FfnActivation::silu;
    bool qkv_bias = false;    // qwen2: biases on Q, K and V
    bool qk_norm = false;     // qwen3, gemma3: RMSNorm on each head of Q and K
    bool post_norms = false;  // gemma3: norms after attention and feed-forward
    bool embed_scale = false; // gemma: embeddings multiplied by sqrt(n_embd)
    // gemma3: the query is scaled before it meets the cache (not the scores): same value,
    // other rounding, as llama.cpp builds the graph.
    bool scale_query = false;
    bool fused_gate_up = false; // phi3: ffn_up holds the gate rows, then the up rows (2 × n_ff)
    bool longrope = false;      // phi3: rope_factors_long/short, picked by the context size
    // gemma2: attention scores and logits soft-capped, cap · tanh(x / cap)
    bool logit_softcap = false;
    // gemma2 (2), gemma3 (6): the default period of sliding-window layers; 0: none slide
    uint32_t swa_period = 0;
    // gemma2: the sliding layers keep the trained RoPE scaling (gemma3's do not)
    bool swa_rope_scaled = false;
    uint32_t nope_period = 0;      // smollm3 (4): layer il has no RoPE when (il + 1) % it == 0
    bool attn_temperature = false; // mistral3: the query scaled by position (Llama 4 tuning)
    bool yarn_keys = false;        // mistral3: YaRN's beta_fast, beta_slow and log multiplier
    Experts experts = Experts::none;
    Routing routing = Routing::softmax_top_k;
    // gpt-oss: biases on the attention output, the router and the experts; a learned "sink"
    // logit per head that takes part in every attention softmax; every other layer attending
    // to a sliding window (at the same RoPE as the others, unlike gemma3's local layers); the
    // feed-forward norm stored as post_attention_norm.
    bool attn_out_bias = false;
    bool attn_sinks = false;
    bool expert_biases = false;
    std::string_view ffn_norm = "ffn_norm";
    // qwen35: gated delta-net layers (ModelInfo::recurrent_layers) between attention layers,
    // whose query projection carries a per-head output gate ([q | gate] per head, sigmoid
    // applied to the attention output) and whose RoPE is interleaved multi-section
    // (rope_sections; for text every section sees the token's position but the fourth,
    // position 0). The feed-forward norm is `post_attention_norm`.
    bool hybrid_delta_net = false;
    // qwen35moe: beside the routed experts, a shared expert every token goes through
    // (ffn_{gate,up,down}_shexp), its output scaled by sigmoid(ffn_gate_inp_shexp · h).
    bool shared_expert = false;
    // gemma4 (src/models/gemma4.cpp): layers of their own sizes (ModelInfo::layer_shapes), the
    // last ones reading an earlier layer's KV cache; V normed without a weight (and K's
    // projection when attn_v is absent); attention unscaled (1, not 1/sqrt(head size)); the
    // global layers' RoPE with frequency factors; per-layer token embeddings added after each
    // layer's feed-forward, and a per-layer output scale (cpu/gemma4_layer.cpp).
    bool gemma4_layers = false;
};

std::optional<ArchTraits> arch_traits(std::string_view architecture);

} // namespace hearth
