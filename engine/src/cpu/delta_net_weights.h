// The weights of one gated delta-net (linear attention) layer of a hybrid model, as
// llama.cpp's qwen35 names them. Matrices stay quantized in the mapping; the rest is float32.
#pragma once

#include "cpu/matmul.h"

#include <vector>

namespace hearth::cpu {

struct DeltaNetWeights {
    WeightMatrix w_qkv;         // attn_qkv: (conv_channels, n_embd), q | k | v before the conv
    WeightMatrix w_z;           // attn_gate: (d_inner, n_embd), the output gate
    WeightMatrix w_beta;        // ssm_beta: (n_v_heads, n_embd), the write strength
    WeightMatrix w_alpha;       // ssm_alpha: (n_v_heads, n_embd), the decay's input
    WeightMatrix w_out;         // ssm_out: (n_embd, d_inner)
    std::vector<float> conv;    // ssm_conv1d: (conv_channels, d_conv), oldest tap first
    std::vector<float> dt_bias; // ssm_dt.bias: (n_v_heads)
    std::vector<float> a;       // ssm_a: (n_v_heads), -exp(A_log): decay = exp(a · softplus)
    std::vector<float> norm;    // ssm_norm: (d_state), the gated RMSNorm of each head's output
};

} // namespace hearth::cpu
