// See rope.h.
#include "cpu/rope.h"

#include "cpu/ggml_numerics.h"

#include <algorithm>
#include <cmath>

namespace hearth::cpu {
namespace {

float yarn_ramp(float low, float high, int i0) {
    const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
    return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

} // namespace

void rope_angles(const RopeParams& p, uint32_t pos, float* cos_out, float* sin_out) {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float factor = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
        const bool at_zero = p.at_position_zero && p.at_position_zero[i0 / 2];
        const float theta_extrap = (at_zero ? 0.0f : theta) / factor;
        const float theta_interp = p.freq_scale * theta_extrap;
        float angle = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float ramp_mix = yarn_ramp(p.corr_low, p.corr_high, i0) * p.ext_factor;
            angle = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
            mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        cos_out[i0 / 2] = std::cos(angle) * mscale;
        sin_out[i0 / 2] = std::sin(angle) * mscale;
        theta *= theta_scale;
    }
}

// fused: ggml's CPU build (compiled with FMA) contracts its rotation into
// fma(x0, cos, -(x1·sin)) and fma(x0, sin, x1·cos); at the avx2 level we do the same so the
// rotated q and k keep ggml's bits, in ggml_numerics.cpp, whose FMA build makes each std::fma
// one instruction (here, without -mfma, it is a call into libm per value).
void apply_rope(float* x, int n_heads, int head_dim, int n_rot, RopeLayout layout,
                const float* cos_t, const float* sin_t, bool fused) {
    if (fused) {
        ggml::rope_fused(x, n_heads, head_dim, n_rot, layout == RopeLayout::neox, cos_t, sin_t);
        return;
    }
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (int i = 0; i < n_rot / 2; ++i) {
            const int a = layout == RopeLayout::normal ? 2 * i : i;
            const int b = layout == RopeLayout::normal ? 2 * i + 1 : i + n_rot / 2;
            const float x0 = v[a];
            const float x1 = v[b];
            v[a] = x0 * cos_t[i] - x1 * sin_t[i];
            v[b] = x0 * sin_t[i] + x1 * cos_t[i];
        }
    }
}

RopeParams rope_params(const Model::Impl& m, bool sliding_layer) {
    const ModelInfo& info = m.info;
    RopeParams p;
    p.n_rot = static_cast<int>(info.n_rot);
    p.freq_base = static_cast<float>(sliding_layer ? m.rope_freq_base_swa : info.rope_freq_base);
    p.freq_factors = m.rope_freq_factors.empty() ? nullptr : m.rope_freq_factors.data();
    p.attn_factor = m.rope_attn_factor;
    p.at_position_zero = m.rope_at_position_zero.empty() ? nullptr : m.rope_at_position_zero.data();
    const auto& scaling = info.rope_scaling;
    if (sliding_layer && !m.arch.swa_rope_scaled) {
        return p; // gemma3's local layers use plain RoPE at their own base
    }
    if ((scaling.type == "linear" || scaling.type == "yarn" || scaling.type == "longrope") &&
        scaling.factor > 0) {
        p.freq_scale = static_cast<float>(1.0 / scaling.factor);
    }
    if (scaling.type == "yarn") {
        p.ext_factor = 1.0f;
        const float n_ctx_orig =
            static_cast<float>(scaling.n_ctx_orig ? scaling.n_ctx_orig : info.n_ctx_train);
        auto corr_dim = [&](float n_rotations) {
            return static_cast<float>(p.n_rot) *
                   std::log(n_ctx_orig / (n_rotations * 2.0f * static_cast<float>(M_PI))) /
                   (2.0f * std::log(p.freq_base));
        };
        p.corr_low =
            std::max(0.0f, std::floor(corr_dim(static_cast<float>(scaling.yarn_beta_fast))));
        p.corr_high = std::min(static_cast<float>(p.n_rot - 1),
                               std::ceil(corr_dim(static_cast<float>(scaling.yarn_beta_slow))));
    }
    return p;
}

const std::vector<float>* longrope_factor_set(const Model::Impl& m, uint32_t n_ctx) {
    if (m.rope_factors_long.empty() || !m.rope_freq_factors.empty()) {
        return nullptr;
    }
    constexpr uint64_t kContextPad = 256;
    const uint64_t padded = (uint64_t{n_ctx} + kContextPad - 1) / kContextPad * kContextPad;
    return padded > m.rope_long_above ? &m.rope_factors_long : &m.rope_factors_short;
}

} // namespace hearth::cpu
