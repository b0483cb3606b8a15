// The inside of a Model: weights bound to layers, shapes validated, the thread pool.
#pragma once

#include "cpu/delta_net_weights.h"
#include "cpu/matmul.h"
#include "cpu/memory_pages.h"
#include "cpu/thread_pool.h"
#include "hearth/model.h"
#include "model/llm_arch.h"
#include "model/moe_weights.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace hearth {

// One transformer block. Matrices stay quantized in the mapping; vectors (norms, biases)
// are small and converted to float32 at load.
struct LayerWeights {
    cpu::WeightMatrix wq;              // (n_head × head_dim_k, n_embd)
    cpu::WeightMatrix wk;              // (n_head_kv × head_dim_k, n_embd)
    cpu::WeightMatrix wv;              // (n_head_kv × head_dim_v, n_embd)
    cpu::WeightMatrix wo;              // (n_embd, n_head × head_dim_v)
    cpu::WeightMatrix w_gate;          // (n_ff, n_embd)
    cpu::WeightMatrix w_up;            // (n_ff, n_embd)
    cpu::WeightMatrix w_down;          // (n_embd, n_ff)
    std::vector<float> attn_norm;      // (n_embd)
    std::vector<float> ffn_norm;       // (n_embd)
    std::vector<float> bq, bk, bv;     // qwen2: (n_head × head_dim), (n_head_kv × head_dim) ×2
    std::vector<float> q_norm, k_norm; // qwen3, gemma3: (head_dim_k)
    std::vector<float> post_attn_norm; // gemma3: (n_embd)
    std::vector<float> post_ffn_norm;  // gemma3: (n_embd)
    bool sliding = false;              // gemma3: attends to the last `sliding_window` tokens
    bool no_rope = false;              // smollm3: a NoPE layer (Q and K not rotated)
    ExpertWeights experts;         // qwen3moe, Mixtral: in place of w_gate/w_up/w_down (left empty)
    std::vector<float> bo;         // gpt-oss: attention output bias (n_embd)
    std::vector<float> attn_sinks; // gpt-oss: one sink logit per head (n_head)
    cpu::DeltaNetWeights delta;    // qwen35's recurrent layers (their attention unused)
    // gemma4: V is K's projection when attn_v is absent (its global layers); the layer's
    // output scale (layer_output_scale, 1 when absent); its per-layer embedding's gate
    // (n_embd_per_layer, n_embd), projection back (n_embd, n_embd_per_layer) and norm.
    bool v_from_k = false;
    float out_scale = 1.0f;
    cpu::WeightMatrix ple_gate, ple_proj;
    std::vector<float> ple_post_norm;
    // gemma4's expert layers (`experts` beside the dense feed-forward): the dense output's norm
    // (post_ffw_norm_1), the experts' input and output norms (pre_ffw_norm_2, post_ffw_norm_2)
    // and the router input's scale (ffn_gate_inp.scale), each (n_embd).
    std::vector<float> ffn_post_norm_1, ffn_pre_norm_2, ffn_post_norm_2, router_input_scale;
};

// gemma4's per-layer embeddings (absent when n_embd_per_layer is 0): a token's row of
// per_layer_token_embd (n_vocab, n_layer × n_embd_per_layer), looked up, plus the projection
// of its embedding by per_layer_model_proj (n_layer × n_embd_per_layer, n_embd), normed by
// per_layer_proj_norm; and the global layers' RoPE frequency factors (rope_freqs).
struct Gemma4Weights {
    cpu::WeightMatrix token_embd;
    cpu::WeightMatrix model_proj;
    std::vector<float> proj_norm;
    std::vector<float> rope_freqs;
};

struct Model::Impl {
    GgufFile file;
    ModelInfo info;
    ArchTraits arch;
    Tokenizer tokenizer;

    cpu::WeightMatrix token_embd;         // (n_vocab, n_embd): rows are looked up, not multiplied
    cpu::WeightMatrix output;             // (n_vocab, n_embd): token_embd when tied
    std::vector<float> output_norm;       // (n_embd)
    std::vector<float> rope_freq_factors; // (n_rot / 2) when the model has rope_freqs.weight
    std::vector<LayerWeights> layers;
    double rope_freq_base_swa = 10000.0; // gemma3's sliding-window layers
    float attn_scale = 1.0f;             // multiplies q·k: 1/sqrt(head size) but for gemma3 27B
    // phi3's LongRoPE factors, (n_rot / 2) each or both empty: a sequence whose context,
    // rounded up to 256 as llama.cpp pads it, exceeds rope_long_above uses the long ones.
    std::vector<float> rope_factors_long, rope_factors_short;
    uint32_t rope_long_above = 0;
    float rope_attn_factor = 1.0f; // multiplies cos and sin: llama.cpp's yarn_attn_factor

    std::unique_ptr<cpu::ThreadPool> pool;
    // The 8-row interleaved copies of the matrices that have one (WeightMatrix::packed).
    cpu::PageBuffer packed_weights;
    // qwen35: for each RoPE pair (n_rot / 2), 1 where its section sees position 0 for text.
    std::vector<uint8_t> rope_at_position_zero;
    Gemma4Weights gemma4;
    std::vector<LoadPhase> load_phases; // Model::load_phases()
};

} // namespace hearth
