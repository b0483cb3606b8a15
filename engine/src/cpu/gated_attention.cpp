// qwen35's attention output gate: the split of the query projection and the sigmoid gating.
#include "cpu/gated_attention.h"

#include "cpu/delta_net_math.h"

#include <algorithm>
#include <cmath>

namespace hearth::cpu {

std::vector<uint8_t> imrope_pairs_at_position_zero(uint32_t n_rot,
                                                   const std::array<uint32_t, 4>& sections) {
    const uint32_t n_sectors = sections[0] + sections[1] + sections[2] + sections[3];
    std::vector<uint8_t> at_zero(n_rot / 2, 0);
    if (n_sectors == 0) {
        return at_zero;
    }
    for (uint32_t pair = 0; pair < n_rot / 2; ++pair) {
        const uint32_t sector = pair % n_sectors;
        const bool time = sector % 3 == 0 && sector < 3 * sections[0];
        const bool height = sector % 3 == 1 && sector < 3 * sections[1];
        const bool width = sector % 3 == 2 && sector < 3 * sections[2];
        at_zero[pair] = time || height || width ? 0 : 1;
    }
    return at_zero;
}

float* AttentionGate::projection(size_t n, size_t n_head, size_t head_dim) {
    n_head_ = n_head;
    head_dim_ = head_dim;
    const size_t width = n_head * head_dim;
    if (projection_.size() < n * 2 * width) {
        projection_.resize(n * 2 * width);
        gate_.resize(n * width);
    }
    return projection_.data();
}

void AttentionGate::split(size_t n, float* q) {
    const size_t width = n_head_ * head_dim_;
    for (size_t t = 0; t < n; ++t) {
        for (size_t h = 0; h < n_head_; ++h) {
            const float* from = projection_.data() + t * 2 * width + h * 2 * head_dim_;
            std::copy_n(from, head_dim_, q + t * width + h * head_dim_);
            std::copy_n(from + head_dim_, head_dim_, gate_.data() + t * width + h * head_dim_);
        }
    }
}

void AttentionGate::apply(float* attn, size_t n) const {
    const size_t count = n * n_head_ * head_dim_;
    for (size_t i = 0; i < count; ++i) {
        attn[i] *= delta_net::sigmoid(gate_[i]);
    }
}

} // namespace hearth::cpu
