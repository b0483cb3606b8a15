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

namespace hearth::cuda_detail {

// The rotation of a layer, as the CPU forward's rope_params; freq_factors is left for the
// caller (a device pointer: rope_freqs, or the LongRoPE set of the forward's context).
inline kernels::RopeConfig rope_config(const Model::Impl& m, bool sliding_layer = false) {
    const cpu::RopeParams p = cpu::rope_params(m, sliding_layer);
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

} // namespace hearth::cuda_detail
