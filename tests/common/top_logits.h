// The most likely token of a logits row and its margin over the runner-up (the top-2 gap that
// tells a real divergence from a near-tie), for the tests that compare greedy tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace hearth::test {

inline int32_t argmax(std::span<const float> logits, float* gap) {
    size_t best = 0, second = 1;
    if (logits[second] > logits[best])
        std::swap(best, second);
    for (size_t i = 2; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) {
            second = best;
            best = i;
        } else if (logits[i] > logits[second]) {
            second = i;
        }
    }
    *gap = logits[best] - logits[second];
    return static_cast<int32_t>(best);
}

} // namespace hearth::test
