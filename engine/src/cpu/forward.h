// The transformer forward pass on the CPU: a batch of tokens (from one or several
// sequences, each with its own KV cache) in, logits out for the tokens that ask.
#pragma once

#include "cpu/gated_attention.h"
#include "cpu/kv_cache.h"
#include "cpu/moe_ffn.h"
#include "cpu/recurrent_state.h"
#include "hearth/error.h"
#include "hearth/model.h"
#include "model/llm_arch.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace hearth {
struct LayerWeights;
}

namespace hearth::cpu {

// Which attention kernels a token uses. llama.cpp picks them by the size of the batch the
// token is in (tinyBLAS for two or more tokens, ggml_vec_dot_f16 for one), so the choice
// is part of a token's numerics: a sequence decoded in a batch with others keeps the
// single-token kernels, and a prompt split differently keeps the kernels of the split it
// would have had alone. F16 caches only; Q8_0 caches always run flash attention.
enum class AttentionKernels {
    by_batch_size, // prompt-batch kernels when the batch holds two or more tokens
    single_token,
    prompt_batch,
};

struct BatchToken {
    int32_t token = 0;
    uint32_t pos = 0;         // position in its sequence
    KvCache* cache = nullptr; // the sequence's cache; positions [0, pos] are attended
    bool want_logits = false;
    AttentionKernels kernels = AttentionKernels::by_batch_size;
    // Hybrid models (recurrent layers): the sequence's recurrent state, which must stand at
    // `pos` (or `pos` is 0, which starts it over); nullptr for other models.
    RecurrentState* state = nullptr;
};

// gate[i] = act(gate[i]) · up[i] over n_rows rows of `width` values: the feed-forward's gated
// activation (SwiGLU in ggml's order at the avx2 level; GeGLU from F16 values).
void gated_activation(FfnActivation activation, float* gate, const float* up, size_t n_rows,
                      int64_t width);
class DeltaNet;

class Forward {
public:
    explicit Forward(const ::hearth::Model::Impl& model);
    Forward(Forward&&) noexcept;
    ~Forward();

    // Runs the batch; writes n_vocab logits per token with want_logits, in batch order,
    // into `logits`. Tokens of one sequence must come in position order, and a sequence's
    // earlier positions must already be in its cache. Fails with `invalid_argument` for a
    // token id out of range or a position past the cache. Each token's result depends only
    // on its sequence's cache and its `kernels`, not on the other tokens in the batch.
    Result<void> run(std::span<const BatchToken> batch, float* logits);

    // The pieces of run(), for a model split between devices (the first layers on the GPU,
    // the rest here). `residual` is (batch.size(), n_embd) floats: the residual stream
    // entering a layer. Chained on the same batch they give run()'s logits bit for bit:
    //   run_to(batch, N, x); run_from(batch, N, x, logits);
    //   embed(batch, x); <layers [0, N) elsewhere, on x>; run_from(batch, N, x, logits).
    // They fail as run() does, and with `invalid_argument` for a layer past n_layer or a
    // cache that does not hold the layers they run (KvCache's first layer).

    // The batch's embeddings (embedding scale applied): the residual stream entering
    // layer 0. Reads no cache; checks only the token ids.
    Result<void> embed(std::span<const BatchToken> batch, float* residual);

    // Layers [first_layer, n_layer), the output norm and the head, from the residual stream
    // entering first_layer; writes logits as run() does. Writes the caches' cells of those
    // layers only, so each token's cache needs first_layer() <= first_layer.
    Result<void> run_from(std::span<const BatchToken> batch, uint32_t first_layer,
                          const float* residual, float* logits);

    // The embeddings and layers [0, last_layer); writes the residual stream entering
    // last_layer. Writes the caches' cells of those layers only.
    Result<void> run_to(std::span<const BatchToken> batch, uint32_t last_layer, float* residual);

    // What the routed feed-forward layers have read so far (zero for a dense model).
    const MoeTraffic& moe_traffic() const { return moe_.traffic(); }

    // Speculation on a hybrid model: brings a state that took in a verification pass back to
    // `position` (DeltaNet::replay_verified). Nothing for a state not verifying or a model
    // without recurrent layers.
    void rewind_verified(RecurrentState& state, uint32_t position);

private:
    Result<void> check_batch(std::span<const BatchToken> batch, bool with_caches,
                             uint32_t first_layer, uint32_t last_layer) const;
    Result<void> check_layer(uint32_t layer, const char* what) const;
    Result<void> embed_rows(std::span<const BatchToken> batch, float* x);
    // Layers [first_layer, last_layer) on x_; the batch already checked, x_ sized.
    void run_layers(std::span<const BatchToken> batch, uint32_t first_layer, uint32_t last_layer);
    // Final norm and output projection of x_ for the tokens that want logits.
    void output_head(std::span<const BatchToken> batch, float* logits);
    void attention(uint32_t layer, std::span<const BatchToken> batch);
    // A layer's token mixer, on x_: x += mixer(rmsnorm(x) · attn_norm), then
    // h_ = rmsnorm(x) · ffn_norm for the feed-forward.
    void attention_block(uint32_t layer, std::span<const BatchToken> batch);
    void delta_net_block(uint32_t layer, std::span<const BatchToken> batch);
    // x += out_ (post-normed where the architecture has it); h_ = rmsnorm(x) · ffn_norm.
    void add_mixer_output(uint32_t layer, size_t n_tokens);
    // out_ = W_down (act(W_gate h_) ⊙ W_up h_): the layer's dense feed-forward.
    void dense_feed_forward(const ::hearth::LayerWeights& layer, size_t n_tokens);
    void ensure_capacity(size_t n_tokens);
    // gemma4 (cpu/gemma4_layer.cpp): the batch's per-layer embedding inputs, from x_ (the
    // scaled embeddings); a layer's attention at its own sizes (attention_block's contract);
    // what follows its feed-forward: the per-layer embedding and the output scale, on x_.
    Result<void> gemma4_per_layer_inputs(std::span<const BatchToken> batch);
    void gemma4_attention_block(uint32_t layer, std::span<const BatchToken> batch);
    void gemma4_layer_output(uint32_t layer, size_t n_tokens);
    // gemma4's expert layers (cpu/gemma4_experts.cpp): out_ = the normed dense feed-forward of
    // h_ plus the normed routed experts of x_ (the residual after attention).
    void gemma4_experts_block(uint32_t layer, size_t n_tokens);

    const ::hearth::Model::Impl& m_;
    size_t capacity_ = 0;
    // Activations, one row per token: (n_tokens, width).
    std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, out_;
    std::vector<uint8_t> scratch_;           // quantized activation rows for matmul
    std::vector<float> scores_;              // (n_threads, n_ctx_max) attention rows
    std::vector<float> q_rounded_;           // (n_threads, head_dim) query rounded to F16
    std::vector<float> rope_cos_, rope_sin_; // (n_tokens, n_rot / 2)
    MoeFeedForward moe_;                     // the expert layers' routing and buffers
    AttentionGate attn_gate_;                // qwen35's gated query
    std::unique_ptr<DeltaNet> delta_net_;    // hybrid models' recurrent layers
    // gemma4: per-layer inputs (n_layer, n_tokens, n_embd_per_layer), their projection and
    // looked-up rows (n_tokens, n_layer × n_embd_per_layer), a layer's gated input.
    std::vector<float> ple_inputs_, ple_projected_, ple_gate_;
    // gemma4's expert layers: the experts' input, the router's input and the experts' output,
    // (n_tokens, n_embd) each.
    std::vector<float> experts_in_, router_in_, experts_out_;
};

} // namespace hearth::cpu
