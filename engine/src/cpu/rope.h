// RoPE as ggml's CPU backend computes it: the angles of one position and the rotation of
// the heads, for every architecture's layers (cpu/forward.cpp, cpu/gemma4_layer.cpp).
#pragma once

#include "model/llm_arch.h"
#include "model/model_impl.h"

#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Rotation angles for one position, as ggml's rope cache: theta_i = pos · base^(-2i/n_rot)
// (by repeated multiplication), divided by a frequency factor when the model has them,
// then linear or YaRN scaling.
struct RopeParams {
    int n_rot = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float corr_low = 0.0f, corr_high = 0.0f;
    const float* freq_factors = nullptr;
    // qwen35's multi-section RoPE: the pairs whose section has position 0 for text (1 each).
    const uint8_t* at_position_zero = nullptr;
};

// The angles of position `pos`: n_rot / 2 cosines and sines.
void rope_angles(const RopeParams& p, uint32_t pos, float* cos_out, float* sin_out);

// Rotates the first n_rot values of each of n_heads heads of head_dim values.
void apply_rope(float* x, int n_heads, int head_dim, int n_rot, RopeLayout layout,
                const float* cos_t, const float* sin_t, bool fused);

// The model's RoPE for a global or (gemma's) sliding-window layer.
RopeParams rope_params(const Model::Impl& m, bool sliding_layer);

// LongRoPE (phi3): the factor set a context of n_ctx cells uses (m.rope_factors_long or
// m.rope_factors_short), or null when the model has none (or has rope_freqs, which win).
// llama.cpp picks the long factors when the context, padded to a multiple of 256 as
// llama_context pads it, exceeds the original context. Shared by the CPU and CUDA forwards.
const std::vector<float>* longrope_factor_set(const Model::Impl& m, uint32_t n_ctx);

} // namespace hearth::cpu
