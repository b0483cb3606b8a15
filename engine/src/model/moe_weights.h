// A mixture-of-experts layer's weights (qwen3moe, llama with experts, qwen35moe): the router
// and, for each of the three 3-D expert tensors, one matrix view per expert into the mapping;
// qwen35moe's shared expert and its gate.
#pragma once

#include "cpu/matmul.h"
#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/model_info.h"
#include "model/llm_arch.h"

#include <string>
#include <vector>

namespace hearth {

struct ExpertWeights {
    cpu::WeightMatrix router;            // (n_expert, n_embd): ffn_gate_inp
    std::vector<cpu::WeightMatrix> gate; // n_expert × (n_ff_exp, n_embd): ffn_gate_exps
    std::vector<cpu::WeightMatrix> up;   // n_expert × (n_ff_exp, n_embd): ffn_up_exps
    std::vector<cpu::WeightMatrix> down; // n_expert × (n_embd, n_ff_exp): ffn_down_exps
    // gpt-oss's biases, converted at load; empty elsewhere.
    std::vector<float> router_bias; // (n_expert)
    std::vector<float> gate_bias;   // (n_expert, n_ff_exp)
    std::vector<float> up_bias;     // (n_expert, n_ff_exp)
    std::vector<float> down_bias;   // (n_expert, n_embd)
    // ffn_down_exps.scale (n_expert): each expert's output multiplied by its scale (Gemma 4's
    // per_expert_scale; llama.cpp binds it for every architecture); empty when absent.
    std::vector<float> down_scale;
    // qwen35moe's shared expert (no data elsewhere): a SwiGLU feed-forward every token goes
    // through, its output scaled by sigmoid(shared_gate_inp · h) and added to the routed sum.
    cpu::WeightMatrix shared_gate_inp; // (1, n_embd): ffn_gate_inp_shexp
    cpu::WeightMatrix shared_gate;     // (n_ff_shexp, n_embd): ffn_gate_shexp
    cpu::WeightMatrix shared_up;       // (n_ff_shexp, n_embd): ffn_up_shexp
    cpu::WeightMatrix shared_down;     // (n_embd, n_ff_shexp): ffn_down_shexp

    bool empty() const { return gate.empty(); }
    bool has_shared_expert() const { return shared_gate.data != nullptr; }
    // Bytes of one expert's three matrices: what routing a token to it reads.
    uint64_t bytes_per_expert() const;
};

// Whether the model's feed-forward blocks route to experts.
inline bool uses_experts(const ArchTraits& arch, const ModelInfo& info) {
    return arch.experts == Experts::required ||
           (arch.experts == Experts::optional && info.n_expert > 0);
}

// Checks the expert hyper-parameters an architecture with experts needs (a count, the
// number used, a width; the shared expert's width where it has one), before anything is sized
// from them; `bad_format` naming the key.
Result<void> check_expert_hparams(const ModelInfo& info, const ArchTraits& arch);

// Binds layer `prefix`'s router and expert tensors (`blk.N.`), checking each one's shape
// (router [n_embd, n_expert]; gate/up [n_embd, n_ff_exp, n_expert], or one fused gate_up
// [n_embd, 2 × n_ff_exp, n_expert]; down [n_ff_exp, n_embd, n_expert]; with `biases`, the
// router's [n_expert], gate/up's [n_ff_exp, n_expert] and down's [n_embd, n_expert]; with
// `shared`, the shared expert's gate/up [n_embd, n_ff_shexp], down [n_ff_shexp, n_embd] and
// gate input [n_embd]) and type, and the optional per-expert output scale [n_expert] (finite);
// `bad_format` or `unsupported` naming the tensor.
Result<ExpertWeights> bind_experts(const GgufFile& file, const ModelInfo& info,
                                   const std::string& prefix, bool biases, bool shared);

} // namespace hearth
