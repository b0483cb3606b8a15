// The gated delta-net token mixer of qwen35's recurrent layers on the CPU, as llama.cpp's
// fused CPU path computes it (qwen35.cpp build_layer_attn_linear, ggml_ssm_conv,
// ggml_gated_delta_net). Per token t of a sequence, with h the attention-normed input:
//   [q k v] = silu(causal_conv(W_qkv h)),   conv over the last d_conv inputs (the conv state)
//   q, k    = l2norm per key head;  beta = sigmoid(W_beta h)
//   g       = a · softplus(W_alpha h + dt_bias)                       (per value head)
//   S       = exp(g) S;  S += k ⊗ beta (v − Sᵀk);  o = Sᵀq / sqrt(d_state)   (per value head;
//             value head i reads key head i mod n_k_heads)
//   out     = W_out (rmsnorm(o) · ssm_norm · silu(W_z h))
// S and the conv state live in the sequence's RecurrentState.
#pragma once

#include "cpu/forward.h"
#include "hearth/error.h"

#include <cstdint>
#include <span>
#include <vector>

namespace hearth::cpu {

class DeltaNet {
public:
    explicit DeltaNet(const ::hearth::Model::Impl& model);

    // out (n, n_embd) = the mixer of recurrent layer `layer` on h (n, n_embd), each token
    // through its sequence's state (tokens of a sequence in position order, checked by
    // check_recurrent_batch).
    void run(uint32_t layer, std::span<const BatchToken> batch, const float* h, float* out);

private:
    void ensure_capacity(size_t n);
    void project(uint32_t layer, const float* h, size_t n);
    void convolve(uint32_t layer, std::span<const BatchToken> batch);
    void delta_rule(uint32_t layer, std::span<const BatchToken> batch);
    void gated_norm(uint32_t layer, size_t n);

    const ::hearth::Model::Impl& m_;
    size_t capacity_ = 0;
    // One row per token: qkv_ (conv_channels) before and conv_ after the convolution,
    // z_ (d_inner), beta_ and g_ (n_v_heads), core_ (d_inner) the delta rule's output.
    std::vector<float> qkv_, conv_, z_, beta_, g_, core_;
    std::vector<float> ones_;      // for silu through ggml's swiglu
    std::vector<float> delta_;     // (n_threads, d_state)
    std::vector<uint8_t> scratch_; // quantized activation rows for matmul
};

// For a hybrid model: every token has a recurrent state, and each sequence's tokens start
// where its state stands (or at 0, which starts it over) and follow one another; the layers
// run are all of them (a recurrent model is not split between devices).
Result<void> check_recurrent_batch(const ::hearth::Model::Impl& model,
                                   std::span<const BatchToken> batch, uint32_t first_layer,
                                   uint32_t last_layer);
// Before a checked batch runs: the states of sequences starting at position 0 are zeroed.
void begin_recurrent_batch(std::span<const BatchToken> batch);
// After it ran: each state's position moves past its tokens, and a checkpoint passed on the
// way is kept.
void end_recurrent_batch(std::span<const BatchToken> batch);

} // namespace hearth::cpu
