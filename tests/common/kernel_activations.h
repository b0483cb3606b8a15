// Activation rows for the kernel order tests (tst_matmul_q4_0_order, tst_matmul_portable_order):
// normal values with an outlier, or extremes that reach the quantizers' edge cases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace hearth::test {

// n_tokens rows of n_cols: normal values with an outlier (as real activations have), or with
// `extreme`, per 32 values in turn: zeros (scale 0), tiny values (an f16-subnormal scale), large
// ones, normal ones, signs alternating.
inline std::vector<float> kernel_activations(int64_t n_tokens, int64_t n_cols, bool extreme,
                                             std::mt19937& rng) {
    std::vector<float> x(static_cast<size_t>(n_tokens * n_cols));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) {
        v = normal(rng);
    }
    x.at(0) = 11.0f;
    if (!extreme) {
        return x;
    }
    for (size_t i = 0; i < x.size(); ++i) {
        const size_t block = i / 32 % 4;
        const float sign = i % 2 ? -1.0f : 1.0f;
        x[i] = block == 0   ? 0.0f
               : block == 1 ? sign * 1e-6f * x[i]
               : block == 2 ? sign * 3e4f
                            : x[i];
    }
    return x;
}

} // namespace hearth::test
