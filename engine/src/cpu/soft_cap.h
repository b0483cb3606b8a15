// Attention logit soft-capping (gemma2): each score becomes cap · tanh(score / cap) before
// the softmax, as llama.cpp's graph computes it (ggml_scale by 1/cap, ggml_tanh, ggml_scale by
// cap, each in float).
#pragma once

#include "model/attention_math.h"

namespace hearth::cpu {

class ScoreSoftCap {
public:
    // cap 0: no capping.
    explicit ScoreSoftCap(double cap)
        : cap_(static_cast<float>(cap)), inv_cap_(cap != 0.0 ? 1.0f / cap_ : 0.0f) {}

    bool active() const { return cap_ != 0.0f; }

    float operator()(float score) const {
        return cap_ == 0.0f ? score : attention_math::soft_cap(score, cap_, inv_cap_);
    }

private:
    float cap_;
    float inv_cap_;
};

} // namespace hearth::cpu
