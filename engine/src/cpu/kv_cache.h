// The KV cache of one sequence on the CPU, allocated once for the context length, in F16
// (the default) or Q8_0 blocks.
#pragma once

#include "hearth/memory_plan.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Keys and values of layers [first_layer, n_layer) for positions [0, n_ctx), one row per
// cell: k: (n_layer - first_layer, n_ctx, n_head_kv × head_dim_k),
// v: (n_layer - first_layer, n_ctx, n_head_kv × head_dim_v), each row F16 values or Q8_0
// blocks of 32 (then the widths are multiples of 32). V is kept cell by cell, not
// transposed, as llama.cpp keeps it for flash attention.
//
// A first layer above 0 is for a partially offloaded sequence: the GPU keeps the cells of
// layers [0, first_layer), the CPU only the rest. Cells are still addressed by absolute
// layer index; addressing a layer below first_layer is a programmer error.
class KvCache {
public:
    // `recurrent_layers` (a hybrid model's, ModelInfo::recurrent_layers): layers that attend
    // to nothing and get no cells.
    KvCache(uint32_t n_layer, uint32_t n_ctx, uint32_t k_width, uint32_t v_width,
            KvCacheType type = KvCacheType::f16, uint32_t first_layer = 0,
            const std::vector<bool>& recurrent_layers = {});

    uint32_t n_ctx() const { return n_ctx_; }
    uint32_t n_layer() const { return n_layer_; }
    uint32_t first_layer() const { return first_layer_; }
    // Whether the cells of layers [first, last) are all here (an empty range always is).
    bool holds_layers(uint32_t first, uint32_t last) const {
        return first >= last || (first >= first_layer_ && last <= n_layer_);
    }
    KvCacheType type() const { return type_; }
    uint64_t bytes() const { return k_.size() + v_.size(); }
    size_t k_row_bytes() const { return k_row_; }
    size_t v_row_bytes() const { return v_row_; }

    // A cell's row as stored.
    uint8_t* k_row(uint32_t layer, uint32_t pos) {
        return k_.data() + (size_t{slot_[layer]} * n_ctx_ + pos) * k_row_;
    }
    uint8_t* v_row(uint32_t layer, uint32_t pos) {
        return v_.data() + (size_t{slot_[layer]} * n_ctx_ + pos) * v_row_;
    }
    const uint8_t* k_row(uint32_t layer, uint32_t pos) const {
        return k_.data() + (size_t{slot_[layer]} * n_ctx_ + pos) * k_row_;
    }
    const uint8_t* v_row(uint32_t layer, uint32_t pos) const {
        return v_.data() + (size_t{slot_[layer]} * n_ctx_ + pos) * v_row_;
    }

    // F16 caches only: the row as F16 values.
    uint16_t* k(uint32_t layer, uint32_t pos) {
        return reinterpret_cast<uint16_t*>(k_row(layer, pos));
    }
    uint16_t* v(uint32_t layer, uint32_t pos) {
        return reinterpret_cast<uint16_t*>(v_row(layer, pos));
    }
    const uint16_t* k(uint32_t layer, uint32_t pos) const {
        return reinterpret_cast<const uint16_t*>(k_row(layer, pos));
    }
    const uint16_t* v(uint32_t layer, uint32_t pos) const {
        return reinterpret_cast<const uint16_t*>(v_row(layer, pos));
    }

    // Stores a cell's key and value rows (k_width and v_width floats), converted to the
    // cache type as llama.cpp's copy into the cache converts them.
    void store(uint32_t layer, uint32_t pos, const float* k, const float* v);

    // Whether another cache's cells can be copied into this one (same layers, widths, type).
    bool same_layout(const KvCache& other) const;
    // Copies positions [from, to) of every layer held from another cache of the same layout (the
    // shared prompt prefix of sequences generated together).
    void copy_cells_from(const KvCache& other, uint32_t from, uint32_t to);

private:
    uint32_t n_layer_, n_ctx_, k_width_, v_width_;
    KvCacheType type_;
    uint32_t first_layer_; // layers below it are not held (they run elsewhere)
    size_t k_row_, v_row_; // bytes per cell
    // Each layer's block of cells: layer - first_layer, or its rank among the attention
    // layers held when some layers are recurrent; UINT32_MAX for a layer without cells.
    std::vector<uint32_t> slot_;
    std::vector<uint8_t> k_, v_;
};

} // namespace hearth::cpu
