// What a model is, read from its GGUF metadata alone (no weights loaded): architecture,
// hyper-parameters, quantization mix, parameter count, chat template.
#pragma once

#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/tensor_type.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// RoPE frequency scaling as GGUF declares it (`{arch}.rope.scaling.*`).
struct RopeScaling {
    std::string type = "none"; // none, linear, yarn, longrope, llama3
    double factor = 1.0;
    uint32_t n_ctx_orig = 0;  // context the model was trained at before scaling
    double attn_factor = 1.0; // rope.scaling.attn_factor: multiplies cos and sin (LongRoPE)
    // YaRN's ramp between interpolation and extrapolation, and its magnitude correction
    // (rope.scaling.yarn_*; read where llama.cpp reads them: mistral3).
    double yarn_beta_fast = 32.0;
    double yarn_beta_slow = 1.0;
    double yarn_log_mul = 0.0;
};

// Bytes and tensor count stored in one tensor type.
struct QuantShare {
    TensorType type = TensorType::F32;
    uint64_t n_tensors = 0;
    uint64_t n_bytes = 0;
    uint64_t n_elements = 0;
};

// The gated delta-net (linear attention) layers of a hybrid model (qwen35), as
// `{arch}.ssm.*` gives them: a short causal convolution over conv_channels() and, per value
// head, a d_state × d_state recurrent state. Zero everywhere for other models.
struct LinearAttentionInfo {
    uint32_t d_conv = 0;    // ssm.conv_kernel: convolution taps (the state keeps d_conv - 1)
    uint32_t d_inner = 0;   // ssm.inner_size: value width, n_v_heads × d_state
    uint32_t d_state = 0;   // ssm.state_size: key and value size per head
    uint32_t n_v_heads = 0; // ssm.time_step_rank
    uint32_t n_k_heads = 0; // ssm.group_count: query/key heads, shared by n_v_heads / n_k_heads
    uint64_t key_width() const { return uint64_t{n_k_heads} * d_state; }
    uint64_t conv_channels() const { return 2 * key_width() + d_inner; } // q, k and v
    // Per sequence and recurrent layer, float32 as llama.cpp keeps them: the convolution's
    // last d_conv - 1 inputs and the delta-rule state.
    uint64_t conv_state_floats() const { return uint64_t{d_conv - 1} * conv_channels(); }
    uint64_t ssm_state_floats() const { return uint64_t{n_v_heads} * d_state * d_state; }
    // Speculation's log of one token and recurrent layer (cpu::RecurrentState::log_row): the
    // convolution's input and output, beta and g.
    uint64_t verify_log_floats() const { return 2 * conv_channels() + 2ull * n_v_heads; }
};

// One layer's attention and feed-forward sizes, for models whose layers differ (gemma4: the
// sliding-window layers have other head sizes and KV head counts than the global ones, and
// its last layers attend to an earlier layer's KV cache instead of writing their own).
struct LayerShape {
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t head_dim = 0; // key and value size per head (equal in gemma4)
    uint32_t n_rot = 0;
    uint32_t n_ff = 0;
    bool sliding = false;
    uint32_t kv_layer = 0; // the layer whose KV cache it attends to: itself or an earlier one
    uint64_t kv_width() const { return uint64_t{n_head_kv} * head_dim; }
};

// The attention sizes of one layer.
struct AttentionDims {
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t head_dim_k = 0;
    uint32_t head_dim_v = 0;
};

struct ModelInfo {
    std::string architecture; // general.architecture: llama, qwen2, gemma3, ...
    std::string name;         // general.name, or empty
    std::string file_type;    // general.file_type spelled as llama.cpp does (Q4_K_M), or empty
    uint64_t file_size = 0;
    uint64_t n_params = 0; // sum of tensor elements
    uint64_t weights_bytes = 0;
    // weights_bytes split by where a partial offload puts them: the tensors of each block
    // (`blk.{i}.*`, (n_layer) entries) and the rest (embeddings, output norm and head, RoPE
    // factors). They sum to weights_bytes. layer_weight_bytes is empty when the header has
    // fewer tensors than blocks (not a runnable model).
    std::vector<uint64_t> layer_weight_bytes;
    uint64_t non_layer_weight_bytes = 0;

    uint32_t n_layer = 0;
    uint32_t n_embd = 0;
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t head_dim_k = 0; // per-head key size
    uint32_t head_dim_v = 0; // per-head value size
    uint32_t n_ff = 0;
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;
    uint32_t n_rot = 0; // dimensions rotated by RoPE
    double rope_freq_base = 10000.0;
    RopeScaling rope_scaling;
    double norm_rms_eps = 1e-5;
    uint32_t sliding_window = 0; // 0: every layer attends to the whole context
    // gemma2: attention scores and final logits soft-capped, cap · tanh(x / cap); 0: none.
    double attn_logit_softcap = 0.0;
    double final_logit_softcap = 0.0;
    // mistral3: the query is scaled by 1 + scale · log(1 + floor(pos / n_ctx_orig)); 0: none.
    double attn_temperature_scale = 0.0;

    // Mixture of experts (qwen3moe, llama with `llama.expert_count`); all 0 for a dense model.
    uint32_t n_expert = 0;            // routed experts per layer
    uint32_t n_expert_used = 0;       // experts each token is routed to
    uint32_t n_ff_exp = 0;            // rows of each expert's gate and up matrices
    uint32_t n_ff_shexp = 0;          // qwen35moe: rows of the shared expert's gate and up matrices
    uint64_t expert_params = 0;       // elements of the ffn_*_exps tensors (all experts)
    uint64_t expert_weight_bytes = 0; // bytes of the ffn_*_exps.weight matrices
    // Parameters a token uses: n_params with the experts counted at n_expert_used / n_expert
    // (the "A3B" of Qwen3-30B-A3B); n_params for a dense model.
    uint64_t n_active_params = 0;
    // Weight bytes one decoded token reads: every matrix it multiplies, the experts at
    // n_expert_used / n_expert of their size, and its row of the embeddings (the whole table
    // when the output head is tied to it). Vectors (norms, biases) are left out: they are
    // converted at load. cpu::Forward measures the expert part as it runs (MoeTraffic).
    uint64_t active_weight_bytes = 0;

    // Hybrid models: which layers are gated delta-net layers with a recurrent state (the
    // others attend, and only they have a KV cache); empty for models without them.
    std::vector<bool> recurrent_layers;
    LinearAttentionInfo linear_attention;
    // rope.dimension_sections (qwen35's multi-section RoPE); all 0 when absent.
    std::array<uint32_t, 4> rope_sections{};

    // gemma4: each layer's sizes (n_head, n_head_kv, head_dim_k/v, n_rot and n_ff above are
    // then the largest, which size the buffers); empty for models whose layers are alike.
    std::vector<LayerShape> layer_shapes;
    uint32_t n_embd_per_layer = 0; // gemma4: width of each layer's own token embedding; 0: none

    // The layer whose KV cache `layer` attends to (itself unless gemma4 shares a cache).
    uint32_t kv_layer(uint32_t layer) const {
        return layer < layer_shapes.size() ? layer_shapes[layer].kv_layer : layer;
    }
    // Whether the layers from `layer` on read only caches of layers from `layer` on, so that the
    // forward pass can be cut there (partial offload): false where a gemma4 layer at or past
    // `layer` reads the cache of a layer before it.
    bool kv_cut_allowed(uint32_t layer) const {
        for (uint32_t il = layer; il < layer_shapes.size(); ++il) {
            if (layer_shapes[il].kv_layer < layer) {
                return false;
            }
        }
        return true;
    }
    // A layer's attention sizes: its own (layer_shapes) or the model's.
    AttentionDims attention_dims(uint32_t layer) const;
    // KV elements (keys and values) one token adds to the caches of all layers that own one.
    uint64_t kv_elements_per_token() const;

    bool is_recurrent(uint32_t layer) const {
        return layer < recurrent_layers.size() && recurrent_layers[layer];
    }
    // The layers with a KV cache: all of them but the recurrent ones.
    uint32_t n_attention_layers() const;
    // The recurrent state of one sequence, in bytes: fixed, whatever the context.
    uint64_t recurrent_state_bytes() const;
    // What a sequence that speculates holds beside its state for a verify pass of `n_tokens`
    // tokens: a copy of the state from the pass's start and, per token and recurrent layer,
    // the convolution's input and output, beta and g (cpu::RecurrentState::begin_verify).
    uint64_t recurrent_verify_bytes(uint32_t n_tokens) const;

    std::vector<QuantShare> quant_mix; // largest share first
    std::optional<std::string> chat_template;
};

// Bounds on the hyper-parameters read from a file (docs/LIMITS.md, "GGUF files and model
// loading"): each far above every published model, and small enough that the buffer sizes
// computed from them (a layer's matrices, the KV cache, the scratch) stay far from 64-bit
// overflow.
inline constexpr uint32_t kMaxLayers = 512;               // llama.cpp's LLAMA_MAX_LAYERS
inline constexpr uint32_t kMaxEmbeddingLength = 1u << 16; // largest published: 18,432
inline constexpr uint32_t kMaxHeads = 1u << 12;           // attention heads, query or KV
inline constexpr uint32_t kMaxHeadSize = 1u << 12;        // per-head key or value size
inline constexpr uint32_t kMaxFeedForwardLength = 1u << 20;
inline constexpr uint32_t kMaxVocabulary = 1u << 24;    // token ids stay int32
inline constexpr uint32_t kMaxContextLength = 1u << 24; // trained context, sliding window
inline constexpr uint32_t kMaxExperts = 1024;           // llama.cpp's LLAMA_MAX_EXPERTS
inline constexpr uint32_t kMaxExpertsUsed = 64; // routed per token; published models use 1-10

// general.architecture ("llama", "qwen3moe"), checked to be a name: letters, digits, '-' and
// '_', at most 64 characters. Fails with `bad_format` when it is missing or not a name.
Result<std::string> read_architecture(const GgufHeader& header);
// Gated delta-net layers: convolution taps (published models use 4) and the per-head state
// size (128); the state of one head is d_state² floats.
inline constexpr uint32_t kMaxConvKernel = 64;
inline constexpr uint32_t kMaxStateSize = 1024;

// Reads a model's facts from a parsed header. Fails with `bad_format`, naming the key, when
// a required key is missing, a key holds a value of the wrong type (a string for a count, a
// negative or wider-than-32-bit integer, a NaN), or a hyper-parameter is zero, out of the
// bounds above or inconsistent (a head size that does not divide the embedding); never for
// an unknown architecture: the caller decides whether it can run it.
Result<ModelInfo> read_model_info(const GgufHeader& header, uint64_t file_size);

// The block (layer) a tensor belongs to, from its name: 12 for `blk.12.attn_q.weight`;
// nullopt for a tensor outside the blocks (`token_embd.weight`).
std::optional<uint32_t> tensor_block_index(std::string_view tensor_name);

// llama.cpp's name for a `general.file_type` value ("Q4_K_M"), or "" when unknown.
std::string file_type_name(int64_t file_type);

} // namespace hearth
