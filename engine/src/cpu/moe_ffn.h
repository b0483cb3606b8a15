// The routed feed-forward of a mixture-of-experts layer on the CPU (llama.cpp's
// build_moe_ffn with softmax gating, as qwen3moe and Mixtral use it; gpt-oss's variant, with
// biases, routing by a softmax over the k best logits and its clamped SwiGLU, in route_token
// and gated_activation):
//
//   p = softmax(W_router h)                      (n_expert probabilities per token)
//   S = the n_expert_used largest p, largest first
//   w_s = p_s / max(Σ_S p, 2^-14)                (the top-k weights re-normalised)
//   y = Σ_{s ∈ S, in order} w_s · W_down,s (silu(W_gate,s h) ⊙ W_up,s h)
//
// Gemma 4 routes from an input of its own (r, not h) and scales each expert's down projection
// by a factor of the file's (c_s, ffn_down_exps.scale): w_s · (c_s · W_down,s (...)), GeGLU.
//
// qwen35moe adds a shared expert every token goes through, gated per token (moe_shared_expert.cpp):
//
//   y += sigmoid(w_gate_inp · h) · W_down,sh (silu(W_gate,sh h) ⊙ W_up,sh h)
//
// The batch's tokens are grouped by expert, so each selected expert's three matrices are read
// once per batch however many tokens chose it (llama.cpp's mul_mat_id), and a decoded token
// reads only its n_expert_used experts' rows. What was read is counted (MoeTraffic).
#pragma once

#include "model/moe_weights.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth {
struct ModelInfo;
}

namespace hearth::cpu {

class ThreadPool;

// What the routed feed-forward has read since its Forward was made.
struct MoeTraffic {
    uint64_t expert_bytes = 0; // expert matrix bytes: each selected expert once per layer and batch
    uint64_t expert_loads = 0; // (layer, batch, expert) matrix triples read
    uint64_t routed_tokens = 0; // (layer, token) pairs routed
};

// Routing of one token, in ggml's order at the avx2 level. softmax_top_k: the softmax of the
// router's logits, the n_used largest probabilities, largest first, their weights
// re-normalised to sum to 1 (`logits` is overwritten with the probabilities). top_k_softmax
// (gpt-oss): the n_used largest logits, largest first, weighted by a softmax over them.
void route_token(Routing routing, float* logits, int n_expert, int n_used, int32_t* selected,
                 float* weights);

class MoeFeedForward {
public:
    // out[t] = the routed feed-forward of h[t] for the n_tokens rows of h, each n_embd wide
    // (rows contiguous), routed by the router's logits of router_input[t] (gemma4), or of h[t]
    // when it is null. Weights and hyper-parameters were checked at load.
    void run(const ModelInfo& info, const ArchTraits& arch, const ExpertWeights& w, const float* h,
             int64_t n_tokens, float* out, ThreadPool& pool, const float* router_input = nullptr);

    const MoeTraffic& traffic() const { return traffic_; }

private:
    void ensure_capacity(const ModelInfo& info, const ExpertWeights& w, int64_t n_tokens);
    // out[t] += the gated shared expert of h[t] (w.has_shared_expert()).
    void add_shared_expert(const ModelInfo& info, const ArchTraits& arch, const ExpertWeights& w,
                           const float* h, int64_t n_tokens, float* out, ThreadPool& pool);

    MoeTraffic traffic_;
    std::vector<float> probs_;          // (n_tokens, n_expert) router logits, then probabilities
    std::vector<int32_t> selected_;     // (n_tokens, n_used) expert of each slot
    std::vector<float> weights_;        // (n_tokens, n_used) weight of each slot
    std::vector<int32_t> by_expert_;    // (n_tokens × n_used) slots, grouped by expert
    std::vector<int64_t> expert_start_; // (n_expert + 1) where each expert's group starts
    std::vector<int64_t> next_slot_;    // (n_expert) filling position of each group
    std::vector<float> x_;              // (rows, n_embd) the inputs of one expert's tokens
    std::vector<float> gate_, up_;      // (rows, n_ff_exp)
    std::vector<float> down_;           // (n_tokens × n_used, n_embd) each slot's output
    std::vector<uint8_t> scratch_;      // quantized activation rows for matmul
    std::vector<float> shared_gate_, shared_up_; // (n_tokens, n_ff_shexp)
    std::vector<float> shared_out_;              // (n_tokens, n_embd)
    std::vector<float> shared_weight_;           // (n_tokens) the gate's logit, then sigmoid
};

} // namespace hearth::cpu
