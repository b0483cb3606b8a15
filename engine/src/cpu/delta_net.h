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

// The per-token pieces of the mixer, as DeltaNet runs them at the current kernel level (ggml's
// AVX2 order at the avx2 level); public so that the CUDA kernel tests compare against them.
// y = silu(x) over a row (`ones`: n values of 1, for ggml's swiglu at the avx2 level).
void silu_row(int64_t n, float* y, const float* x, const float* ones);
// The l2 normalisation of a q or k head, as llama.cpp builds it from ggml_rms_norm:
// rms_norm(x, eps / n) / sqrt(n), in place.
void l2_norm(float* x, int64_t n, float eps);
// One channel's causal convolution of input x over its last d_conv - 1 inputs `past` (oldest
// first, shifted to take x in); `window`: d_conv floats of scratch. Returns the output, before
// silu.
float conv_channel_step(float* past, float x, const float* taps, size_t d_conv, float* window);
// One token of one value head: s (d × d, row j = column j of S) decayed, written and read;
// out (d) = Sᵀq · scale. `delta`: d floats of scratch.
void delta_rule_token(float* s, const float* q, const float* k, const float* v, float beta,
                      float decay, int64_t d, float scale, float* delta, float* out);
// One head's output o (d) RMS-normed with `norm`, times silu(z); z is overwritten by silu(z).
void gated_norm_head(float* o, float* z, const float* norm, int64_t d, float eps,
                     const float* ones);

class DeltaNet {
public:
    explicit DeltaNet(const ::hearth::Model::Impl& model);

    // out (n, n_embd) = the mixer of recurrent layer `layer` on h (n, n_embd), each token
    // through its sequence's state (tokens of a sequence in position order, checked by
    // check_recurrent_batch).
    void run(uint32_t layer, std::span<const BatchToken> batch, const float* h, float* out);

    // Speculation: brings `state`, which took in a verification pass (begin_verify) up to
    // state.position(), back to `position` (past the pass's first token): the copy from the
    // pass's start, then the logged tokens before `position` through each recurrent layer's
    // convolution state and delta rule again (no projections, no outputs), bit for bit the
    // state their one-token decoding leaves. Ends the verification.
    void replay_verified(RecurrentState& state, uint32_t position);

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
    std::vector<float> read_;      // (n_threads, d_state): replay_verified's unused reads
    std::vector<uint8_t> scratch_; // quantized activation rows for matmul
};

// For a hybrid model: every token has a recurrent state, and each sequence's tokens start
// where its state stands (or at 0, which starts it over) and follow one another; the layers
// run go to the last (a partial offload runs the first ones on the GPU, with their own states).
Result<void> check_recurrent_batch(const ::hearth::Model::Impl& model,
                                   std::span<const BatchToken> batch, uint32_t first_layer,
                                   uint32_t last_layer);
// Before a checked batch runs: the states of sequences starting at position 0 are zeroed.
void begin_recurrent_batch(std::span<const BatchToken> batch);
// After it ran: each state's position moves past its tokens, and a checkpoint passed on the
// way is kept.
void end_recurrent_batch(std::span<const BatchToken> batch);

} // namespace hearth::cpu
