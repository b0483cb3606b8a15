// RMS normalisation as ggml computes it (squares summed in double, the scale in float), shared
// by the attention and the gated delta-net layers.
#pragma once

#include <cmath>
#include <cstdint>

namespace hearth::cpu {

// y = x / sqrt(mean(x²) + eps) * w; without w (nullptr), the plain normalisation.
inline void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(x[i] * x[i]);
    }
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (!w) {
        for (int64_t i = 0; i < n; ++i) {
            y[i] = x[i] * scale;
        }
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        y[i] = (x[i] * scale) * w[i];
    }
}

} // namespace hearth::cpu
