// A model's weights in GPU memory: the matrices in their GGUF quantized layout and the norms
// and biases as float32, in one device arena. One upload serves every CudaForward of the same
// model on the same device (the chat's session and a comparison's group share it): forwards
// find a live upload through shared_weights() and keep it alive while they exist.
#pragma once

#include "backend/cuda/cuda_experts.h"
#include "backend/cuda/device_arena.h"
#include "backend/cuda/device_matrix.h"
#include "hearth/error.h"
#include "model/model_impl.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace hearth::cuda_detail {

// qwen35's gated delta-net layers (cpu::DeltaNetWeights), in place of the attention matrices.
struct DeviceDeltaNetWeights {
    DeviceMatrix w_qkv, w_z, w_beta, w_alpha, w_out;
    const float *conv = nullptr, *dt_bias = nullptr, *a = nullptr, *norm = nullptr;
};

// A transformer block's weights on the device; the optional vectors are null when the
// architecture has none (ArchTraits).
struct DeviceLayerWeights {
    DeviceMatrix wq, wk, wv, wo, gate, up, down;
    // phi3's fused attn_qkv: Q's, K's then V's rows in one upload, one product per step; wq, wk
    // and wv are views of it. n_rows 0 for separate matrices (or a layer with Q/K norms, whose
    // per-head rows must be contiguous).
    DeviceMatrix qkv;
    const float* attn_norm = nullptr;
    const float* ffn_norm = nullptr;
    const float *bq = nullptr, *bk = nullptr, *bv = nullptr;         // qwen2
    const float* bo = nullptr;                                       // gpt-oss: n_embd
    const float *q_norm = nullptr, *k_norm = nullptr;                // qwen3, gemma3
    const float *post_attn_norm = nullptr, *post_ffn_norm = nullptr; // gemma3
    const float* attn_sinks = nullptr;                               // gpt-oss: n_head logits
    bool sliding = false; // gemma3: attends to the last sliding_window tokens
    // A mixture-of-experts layer's router and experts (its gate, up and down are then empty).
    DeviceExperts experts;
    DeviceDeltaNetWeights delta; // qwen35's recurrent layers
    // gemma4: the per-layer embedding's gate (n_embd -> n_embd_per_layer) and projection back,
    // its norm; the expert layers' router input scale and extra norms (cpu/gemma4_experts.cpp);
    // the layer's output scale; whether V is K's projection (wv is then a view of wk).
    DeviceMatrix ple_gate, ple_proj;
    const float* ple_post_norm = nullptr;
    const float *router_input_scale = nullptr, *ffn_post_norm_1 = nullptr;
    const float *ffn_pre_norm_2 = nullptr, *ffn_post_norm_2 = nullptr;
    float out_scale = 1.0f;
    bool v_from_k = false;
};

// gemma4's model-wide weights (Gemma4Weights): the per-layer token embeddings (n_vocab rows of
// n_layer * n_embd_per_layer), their projection from the residual stream and its norm, and the
// global layers' RoPE frequency factors.
struct DeviceGemma4Weights {
    DeviceMatrix token_embd, model_proj;
    const float* proj_norm = nullptr;
    const float* rope_freqs = nullptr;
};

// Which weights go to the device: layers [0, n_layers), and whether the embedding table, the
// output norm and the output matrix go too (a whole model) or stay on the host (a partial
// offload, whose embeddings and head run on the CPU).
struct WeightSelection {
    uint32_t n_layers = 0;
    bool head = true;
    bool operator<(const WeightSelection& o) const {
        return n_layers != o.n_layers ? n_layers < o.n_layers : head < o.head;
    }
};

struct CudaWeights {
    const Model::Impl* model = nullptr;
    int device = 0;
    WeightSelection selection;
    Arena arena;
    uint64_t bytes = 0;
    // Bytes one decode step reads: every uploaded matrix and norm, but of the embedding table
    // only one row (all of it when it doubles as the output matrix).
    uint64_t decode_bytes = 0;
    DeviceMatrix token_embd, output; // head only
    const float* output_norm = nullptr;
    const float* rope_freq_factors = nullptr;
    // LongRoPE (phi3): both sets, a forward picks one by its context (longrope_factor_set).
    const float *rope_factors_long = nullptr, *rope_factors_short = nullptr;
    const uint8_t* rope_at_position_zero = nullptr; // qwen35: n_rot / 2 flags, or null
    DeviceGemma4Weights gemma4;
    std::vector<DeviceLayerWeights> layers;
};

// Floats of a step row's Q buffer: n_head * head_dim_k, or Q + K + V for a model whose layers
// have a fused QKV product (DeviceLayerWeights::qkv), whose rows then hold q | k | v.
size_t q_buffer_width(const Model::Impl& m);

// The arena size of a selection, before anything is allocated (each buffer 256-byte aligned).
uint64_t plan_weight_bytes(const Model::Impl& m, const WeightSelection& selection);

// The weights of `selection` of model `m` on `device`: the upload a live forward already holds,
// else a new one (which fails with `unsupported` for a matrix type without a kernel, `device` /
// `out_of_memory` for CUDA errors). `uploaded` (optional) tells which happened. The caller has
// already set `device` current and checked that a new upload fits.
Result<std::shared_ptr<const CudaWeights>> shared_weights(const Model::Impl& m, int device,
                                                          const WeightSelection& selection,
                                                          bool* uploaded = nullptr);

// The live upload of `selection`, if any, without uploading.
std::shared_ptr<const CudaWeights> find_shared_weights(const Model::Impl& m, int device,
                                                       const WeightSelection& selection);

} // namespace hearth::cuda_detail
