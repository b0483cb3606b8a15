// qwen35moe's shared expert (see moe_ffn.h), as llama.cpp's qwen35moe build_layer_ffn computes
// it: a SwiGLU feed-forward of every token, times sigmoid(ffn_gate_inp_shexp · h), added to the
// routed experts' sum (ggml_add(moe_out, shared)).
#include "cpu/forward.h"
#include "cpu/matmul.h"
#include "cpu/moe_ffn.h"
#include "hearth/model_info.h"

#include <algorithm>
#include <cmath>

namespace hearth::cpu {

void MoeFeedForward::add_shared_expert(const ModelInfo& info, const ArchTraits& arch,
                                       const ExpertWeights& w, const float* h, int64_t n_tokens,
                                       float* out, ThreadPool& pool) {
    const int64_t n_embd = info.n_embd;
    const int64_t n_ff = info.n_ff_shexp;
    const auto n = static_cast<size_t>(n_tokens);
    shared_gate_.resize(n * size_t(n_ff));
    shared_up_.resize(n * size_t(n_ff));
    shared_out_.resize(n * size_t(n_embd));
    shared_weight_.resize(n);
    const size_t act_bytes = std::max({activation_row_bytes(w.shared_gate_inp.type, n_embd),
                                       activation_row_bytes(w.shared_gate.type, n_embd),
                                       activation_row_bytes(w.shared_up.type, n_embd),
                                       activation_row_bytes(w.shared_down.type, n_ff)});
    scratch_.resize(std::max(scratch_.size(), n * act_bytes + 64));

    matmul(w.shared_up, h, n_tokens, n_embd, shared_up_.data(), n_ff, scratch_.data(), pool);
    matmul(w.shared_gate, h, n_tokens, n_embd, shared_gate_.data(), n_ff, scratch_.data(), pool);
    gated_activation(arch.activation, shared_gate_.data(), shared_up_.data(), n, n_ff);
    matmul(w.shared_down, shared_gate_.data(), n_tokens, n_ff, shared_out_.data(), n_embd,
           scratch_.data(), pool);
    matmul(w.shared_gate_inp, h, n_tokens, n_embd, shared_weight_.data(), 1, scratch_.data(), pool);
    for (size_t t = 0; t < n; ++t) {
        // ggml_vec_sigmoid_f32, then ggml_mul (broadcast over the row) and ggml_add.
        const float weight = 1.0f / (1.0f + std::exp(-shared_weight_[t]));
        float* y = out + t * size_t(n_embd);
        const float* s = shared_out_.data() + t * size_t(n_embd);
        for (int64_t i = 0; i < n_embd; ++i) {
            y[i] += s[i] * weight;
        }
    }
}

} // namespace hearth::cpu
