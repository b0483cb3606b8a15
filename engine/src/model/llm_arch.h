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

// Whether the feed-forward blocks route tokens to experts (ffn_gate_inp, ffn_*_exps).
enum class Experts {
    none,     // dense feed-forward; an expert count in the file is not used
    optional, // llama: experts when {arch}.expert_count > 0 (Mixtral), else dense
    required, // qwen3moe: every layer routes
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
};

std::optional<ArchTraits> arch_traits(std::string_view architecture);

// The architectures Hearth runs, for messages: "llama, qwen2, qwen3, gemma3".
std::string_view supported_architectures();

} // namespace hearth
