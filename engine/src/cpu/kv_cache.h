// The KV cache of one sequence on the CPU, allocated once for the context length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Keys and values of every layer for positions [0, n_ctx), stored as F16:
// k: (n_layer, n_ctx, n_head_kv × head_dim_k), v: (n_layer, n_ctx, n_head_kv × head_dim_v).
class KvCache {
public:
    KvCache(uint32_t n_layer, uint32_t n_ctx, uint32_t k_width, uint32_t v_width)
        : n_layer_(n_layer), n_ctx_(n_ctx), k_width_(k_width), v_width_(v_width),
          k_(size_t{n_layer} * n_ctx * k_width), v_(size_t{n_layer} * n_ctx * v_width) {}

    uint32_t n_ctx() const { return n_ctx_; }
    uint64_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }

    uint16_t* k(uint32_t layer, uint32_t pos) {
        return k_.data() + (size_t{layer} * n_ctx_ + pos) * k_width_;
    }
    uint16_t* v(uint32_t layer, uint32_t pos) {
        return v_.data() + (size_t{layer} * n_ctx_ + pos) * v_width_;
    }
    const uint16_t* k(uint32_t layer, uint32_t pos) const {
        return k_.data() + (size_t{layer} * n_ctx_ + pos) * k_width_;
    }
    const uint16_t* v(uint32_t layer, uint32_t pos) const {
        return v_.data() + (size_t{layer} * n_ctx_ + pos) * v_width_;
    }

    // Copies positions [0, n) of every layer from another cache of the same shape (the
    // shared prompt prefix of compare-mode columns).
    void copy_prefix_from(const KvCache& other, uint32_t n);

private:
    uint32_t n_layer_, n_ctx_, k_width_, v_width_;
    std::vector<uint16_t> k_, v_;
};

} // namespace hearth::cpu
