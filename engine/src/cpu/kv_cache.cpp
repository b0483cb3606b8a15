// KV cache storage: conversion of new cells to the cache type, and copies between caches.
#include "cpu/kv_cache.h"

#include "cpu/kernels.h"
#include "cpu/matmul.h"

#include <algorithm>
#include <cstring>

namespace hearth::cpu {
namespace {

size_t row_bytes(KvCacheType type, uint32_t width) {
    return type == KvCacheType::q8_0 ? size_t{width} / quant::QK8_0 * sizeof(quant::BlockQ8_0)
                                     : size_t{width} * sizeof(uint16_t);
}

} // namespace

KvCache::KvCache(uint32_t n_layer, uint32_t n_ctx, uint32_t k_width, uint32_t v_width,
                 KvCacheType type, uint32_t first_layer, const std::vector<bool>& recurrent_layers)
    : n_layer_(n_layer), n_ctx_(n_ctx), k_width_(k_width), v_width_(v_width), type_(type),
      first_layer_(std::min(first_layer, n_layer)), k_row_(row_bytes(type, k_width)),
      v_row_(row_bytes(type, v_width)), slot_(n_layer, UINT32_MAX) {
    uint32_t held = 0;
    for (uint32_t layer = first_layer_; layer < n_layer; ++layer) {
        if (layer >= recurrent_layers.size() || !recurrent_layers[layer]) {
            slot_[layer] = held++;
        }
    }
    k_.resize(size_t{held} * n_ctx * k_row_);
    v_.resize(size_t{held} * n_ctx * v_row_);
}

void KvCache::store(uint32_t layer, uint32_t pos, const float* k, const float* v) {
    if (type_ == KvCacheType::q8_0) {
        // ggml's F32 -> Q8_0 copy uses the same quantizer as the activations.
        quantize_row_q8_0(k, reinterpret_cast<quant::BlockQ8_0*>(k_row(layer, pos)), k_width_);
        quantize_row_q8_0(v, reinterpret_cast<quant::BlockQ8_0*>(v_row(layer, pos)), v_width_);
        return;
    }
    convert_f32_to_f16(k, this->k(layer, pos), k_width_);
    convert_f32_to_f16(v, this->v(layer, pos), v_width_);
}

bool KvCache::same_layout(const KvCache& other) const {
    return n_layer_ == other.n_layer_ && first_layer_ == other.first_layer_ &&
           k_width_ == other.k_width_ && v_width_ == other.v_width_ && type_ == other.type_ &&
           slot_ == other.slot_;
}

void KvCache::copy_cells_from(const KvCache& other, uint32_t from, uint32_t to) {
    to = std::min({to, n_ctx_, other.n_ctx_});
    if (from >= to || !same_layout(other)) {
        return;
    }
    const size_t n = to - from;
    for (uint32_t layer = first_layer_; layer < n_layer_; ++layer) {
        if (slot_[layer] == UINT32_MAX) {
            continue;
        }
        std::memcpy(k_row(layer, from), other.k_row(layer, from), n * k_row_);
        std::memcpy(v_row(layer, from), other.v_row(layer, from), n * v_row_);
    }
}

} // namespace hearth::cpu
