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
      v_row_(row_bytes(type, v_width)), layers_(n_layer) {
    for (uint32_t layer = 0; layer < n_layer; ++layer) {
        const bool recurrent = layer < recurrent_layers.size() && recurrent_layers[layer];
        layers_[layer] = {
            .k_width = k_width, .v_width = v_width, .owner = recurrent ? UINT32_MAX : layer};
    }
    allocate();
}

KvCache::KvCache(const ModelInfo& info, uint32_t n_ctx, KvCacheType type, uint32_t first_layer)
    : KvCache(info.n_layer, n_ctx, info.n_head_kv * info.head_dim_k,
              info.n_head_kv * info.head_dim_v, type, first_layer, info.recurrent_layers) {
    if (info.layer_shapes.empty()) {
        return;
    }
    for (uint32_t layer = 0; layer < n_layer_; ++layer) {
        const LayerShape& shape = info.layer_shapes[layer];
        layers_[layer] = {.k_width = static_cast<uint32_t>(shape.kv_width()),
                          .v_width = static_cast<uint32_t>(shape.kv_width()),
                          .owner = shape.kv_layer};
    }
    allocate();
}

void KvCache::allocate() {
    size_t k_bytes = 0, v_bytes = 0;
    for (uint32_t layer = 0; layer < n_layer_; ++layer) {
        LayerCells& cells = layers_[layer];
        cells.k_row = row_bytes(type_, cells.k_width);
        cells.v_row = row_bytes(type_, cells.v_width);
        if (cells.owner != layer || layer < first_layer_) {
            continue;
        }
        cells.k_offset = k_bytes;
        cells.v_offset = v_bytes;
        k_bytes += size_t{n_ctx_} * cells.k_row;
        v_bytes += size_t{n_ctx_} * cells.v_row;
    }
    for (uint32_t layer = 0; layer < n_layer_; ++layer) {
        LayerCells& cells = layers_[layer];
        const uint32_t owner = cells.owner;
        if (owner != UINT32_MAX && owner != layer && owner < layer) {
            cells.k_offset = layers_[owner].k_offset;
            cells.v_offset = layers_[owner].v_offset;
        }
    }
    k_ = PageBuffer::zeroed(k_bytes);
    v_ = PageBuffer::zeroed(v_bytes);
}

void KvCache::store(uint32_t layer, uint32_t pos, const float* k, const float* v) {
    if (type_ == KvCacheType::q8_0) {
        // ggml's F32 -> Q8_0 copy uses the same quantizer as the activations.
        quantize_row_q8_0(k, reinterpret_cast<quant::BlockQ8_0*>(k_row(layer, pos)),
                          layers_[layer].k_width);
        quantize_row_q8_0(v, reinterpret_cast<quant::BlockQ8_0*>(v_row(layer, pos)),
                          layers_[layer].v_width);
        return;
    }
    convert_f32_to_f16(k, this->k(layer, pos), layers_[layer].k_width);
    convert_f32_to_f16(v, this->v(layer, pos), layers_[layer].v_width);
}

bool KvCache::same_layout(const KvCache& other) const {
    return n_layer_ == other.n_layer_ && first_layer_ == other.first_layer_ &&
           k_width_ == other.k_width_ && v_width_ == other.v_width_ && type_ == other.type_ &&
           std::ranges::equal(layers_, other.layers_, [](const LayerCells& a, const LayerCells& b) {
               return a.same_shape(b);
           });
}

void KvCache::copy_cells_from(const KvCache& other, uint32_t from, uint32_t to) {
    to = std::min({to, n_ctx_, other.n_ctx_});
    if (from >= to || !same_layout(other)) {
        return;
    }
    const size_t n = to - from;
    for (uint32_t layer = first_layer_; layer < n_layer_; ++layer) {
        if (layers_[layer].owner != layer) {
            continue; // no cells, or another layer's
        }
        std::memcpy(k_row(layer, from), other.k_row(layer, from), n * layers_[layer].k_row);
        std::memcpy(v_row(layer, from), other.v_row(layer, from), n * layers_[layer].v_row);
    }
}

} // namespace hearth::cpu
