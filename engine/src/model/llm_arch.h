// How each supported architecture differs, keyed by `general.architecture` (never by
// model name): RoPE layout, feed-forward activation, which optional tensors exist.
#pragma once

#include <optional>
#include <string_view>

namespace hearth {

enum class RopeLayout {
    normal, // rotates pairs (x[2i], x[2i+1]) — llama.cpp's LLAMA_ROPE_TYPE_NORM
    neox,   // rotates pairs (x[i], x[i + n_rot/2]) — LLAMA_ROPE_TYPE_NEOX
};

enum class FfnActivation { silu, gelu_tanh };

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
    // qwen35: gated delta-net layers (ModelInfo::recurrent_layers) between attention layers,
    // whose query projection carries a per-head output gate ([q | gate] per head, sigmoid
    // applied to the attention output) and whose RoPE is interleaved multi-section
    // (rope_sections; for text every section sees the token's position but the fourth,
    // position 0). The feed-forward norm is `post_attention_norm`.
    bool hybrid_delta_net = false;
};

std::optional<ArchTraits> arch_traits(std::string_view architecture);

// The architectures Hearth runs, for messages: "llama, qwen2, qwen3, gemma3".
std::string_view supported_architectures();

} // namespace hearth
