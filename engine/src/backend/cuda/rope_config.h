// The RoPE parameters of a model for the CUDA kernels: the CPU forward's own RopeParams
// (cpu/rope.h's rope_params: linear, YaRN with the model's beta_fast / beta_slow, LongRoPE's
// frequency scale, the attention factor, gemma3's plain sliding-window layers and gemma2's
// scaled ones), with theta_scale computed on the host by the same float std::pow the CPU's
// rope_angles uses so that the kernel's angles round as the CPU's do.
#pragma once

#include "cpu/rope.h"
#include "model/model_impl.h"
#include "rope.cuh"

#include <cmath>
#include <vector>

namespace hearth::cuda_detail {

// The rotation of a layer, as the CPU forward's rope_params; freq_factors is left for the
// caller (a device pointer: rope_freqs, or the LongRoPE set of the forward's context).
// n_rot: the layer's own rotated dimensions (gemma4's differ by layer; the CPU's
// gemma4_attention_block overrides RopeParams::n_rot likewise), 0 for the model's.
inline kernels::RopeConfig rope_config(const Model::Impl& m, bool sliding_layer = false,
                                       uint32_t n_rot = 0) {
    cpu::RopeParams p = cpu::rope_params(m, sliding_layer);
    if (n_rot != 0) {
        p.n_rot = static_cast<int>(n_rot);
    }
    kernels::RopeConfig c;
    c.n_rot = p.n_rot;
    c.theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    c.neox = m.arch.rope == RopeLayout::neox;
    c.freq_scale = p.freq_scale;
    c.ext_factor = p.ext_factor;
    c.attn_factor = p.attn_factor; // llama.cpp's yarn_attn_factor, as the CPU's
    c.corr_low = p.corr_low;
    c.corr_high = p.corr_high;
    return c;
}

// gemma4: each layer's rotation, at its own n_rot, the global layers' with the frequency
// factors `rope_freqs` (device memory, null when the model has none), the sliding layers'
// without; empty for the other architectures (their forward's rope_ and rope_sliding_).
inline std::vector<kernels::RopeConfig> gemma4_rope_configs(const Model::Impl& m,
                                                            const float* rope_freqs) {
    std::vector<kernels::RopeConfig> configs;
    if (!m.arch.gemma4_layers) {
        return configs;
    }
    for (const LayerShape& shape : m.info.layer_shapes) {
        kernels::RopeConfig c = rope_config(m, shape.sliding, shape.n_rot);
        c.freq_factors = shape.sliding ? nullptr : rope_freqs;
        configs.push_back(c);
    }
    return configs;
}

} // namespace hearth::cuda_detail
