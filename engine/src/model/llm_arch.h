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
    optional, // llama: experts when {arch}.expert_count > 0 (Mixtral), else dense
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
    bool qkv_bias = false;       // qwen2: biases on Q, K and V
    bool qk_norm = false;        // qwen3, gemma3: RMSNorm on each head of Q and K
    bool post_norms = false;     // gemma3: norms after attention and feed-forward
    bool embed_scale = false;    // gemma: embeddings multiplied by sqrt(n_embd)
    // gemma3: the query is scaled before it meets the cache (not the scores): same value,
    // other rounding, as llama.cpp builds the graph.
    bool scale_query = false;
    Experts experts = Experts::none;
    Routing routing = Routing::softmax_top_k;
    // gpt-oss: biases on the attention output, the router and the experts; a learned "sink"
    // logit per head that takes part in every attention softmax; every other layer attending
    // to a sliding window (at the same RoPE as the others, unlike gemma3's local layers); the
    // feed-forward norm stored as post_attention_norm.
    bool attn_out_bias = false;
    bool attn_sinks = false;
    bool expert_biases = false;
    uint32_t swa_period = 0; // layer il slides when il % period < period - 1
    std::string_view ffn_norm = "ffn_norm";
};

std::optional<ArchTraits> arch_traits(std::string_view architecture);

// The architectures Hearth runs, for messages: "llama, qwen2, qwen3, gemma3".
std::string_view supported_architectures();

} // namespace hearth
