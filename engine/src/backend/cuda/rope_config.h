// The RoPE parameters of a model for the CUDA kernels, derived as the CPU forward derives
// its RopeParams (engine/src/cpu/forward.cpp): linear or YaRN frequency scaling from the GGUF
// metadata (gemma3's sliding-window layers: plain RoPE at their own base), theta_scale computed on
// the host with the same float std::pow so that the kernel's angles round as the CPU's do.
#pragma once

#include "model/model_impl.h"
#include "rope.cuh"

#include <algorithm>
#include <cmath>

namespace hearth::cuda_detail {

// The rotation of a layer, as the CPU forward's rope_params; freq_factors is left for the
// caller (a device pointer).
inline kernels::RopeConfig rope_config(const Model::Impl& m, bool sliding_layer = false) {
    const ModelInfo& info = m.info;
    kernels::RopeConfig c;
    c.n_rot = int(info.n_rot);
    const float freq_base =
        static_cast<float>(sliding_layer ? m.rope_freq_base_swa : info.rope_freq_base);
    c.theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(c.n_rot));
    c.neox = m.arch.rope == RopeLayout::neox;
    c.attn_factor = m.rope_attn_factor; // llama.cpp's yarn_attn_factor, as the CPU's
    if (sliding_layer) {
        return c;
    }
    const auto& scaling = info.rope_scaling;
    if ((scaling.type == "linear" || scaling.type == "yarn") && scaling.factor > 0) {
        c.freq_scale = static_cast<float>(1.0 / scaling.factor);
    }
    if (scaling.type == "yarn") {
        c.ext_factor = 1.0f;
        const float n_ctx_orig =
            static_cast<float>(scaling.n_ctx_orig ? scaling.n_ctx_orig : info.n_ctx_train);
        auto corr_dim = [&](float n_rotations) {
            return static_cast<float>(c.n_rot) *
                   std::log(n_ctx_orig / (n_rotations * 2.0f * static_cast<float>(M_PI))) /
                   (2.0f * std::log(freq_base));
        };
        c.corr_low = std::max(0.0f, std::floor(corr_dim(32.0f)));
        c.corr_high = std::min(static_cast<float>(c.n_rot - 1), std::ceil(corr_dim(1.0f)));
    }
    return c;
}

} // namespace hearth::cuda_detail
