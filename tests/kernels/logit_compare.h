// Comparing the GPU's logits with the CPU's (or one GPU path's with another's) in the CUDA
// end-to-end tests: the error relative to the logits' scale, the argmax, and the gap between the
// two largest logits that tells a near-tie (where two engines may rightly pick differently).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cuda_test {

// max |a - b| over max(1, max |b|); a NaN in `a` counts as an infinite error.
inline double relative_error(std::span<const float> a, std::span<const float> b) {
    double worst = 0.0, scale = 1.0;
    for (size_t i = 0; i < b.size(); ++i) {
        scale = std::max(scale, double(std::abs(b[i])));
        worst = std::max(worst, std::isnan(a[i]) ? INFINITY : double(std::abs(a[i] - b[i])));
    }
    return worst / scale;
}

inline int32_t argmax(const float* v, size_t n) {
    return int32_t(std::max_element(v, v + n) - v);
}

// The largest logit minus the second largest.
inline float top2_gap(std::span<const float> logits) {
    float best = -INFINITY, second = -INFINITY;
    for (float l : logits) {
        if (l > best) {
            second = best;
            best = l;
        } else if (l > second) {
            second = l;
        }
    }
    return best - second;
}

} // namespace cuda_test
