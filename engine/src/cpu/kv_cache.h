// The KV cache of one sequence on the CPU, allocated once for the context length, in F16
// (the default) or Q8_0 blocks.
#pragma once

#include "cpu/memory_pages.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Keys and values of layers [first_layer, n_layer) for positions [0, n_ctx), one row per
// cell: k: (n_layer - first_layer, n_ctx, n_head_kv × head_dim_k),
// v: (n_layer - first_layer, n_ctx, n_head_kv × head_dim_v), each row F16 values or Q8_0
// blocks of 32 (then the widths are multiples of 32). V is kept cell by cell, not
// transposed, as llama.cpp keeps it for flash attention. Built from a ModelInfo, each layer's
// rows have that layer's widths (gemma4), and a layer that shares an earlier layer's cache
// reads (and must not write) that layer's cells.
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
    // The cache a sequence of `info`'s model needs: each layer's own widths (gemma4's
    // sliding and global layers differ), no cells for recurrent layers nor for a layer that
    // attends to an earlier layer's cache (ModelInfo::kv_layer): its rows are that layer's.
    KvCache(const ModelInfo& info, uint32_t n_ctx, KvCacheType type = KvCacheType::f16,
            uint32_t first_layer = 0);

    uint32_t n_ctx() const { return n_ctx_; }
    uint32_t n_layer() const { return n_layer_; }
    uint32_t first_layer() const { return first_layer_; }
    // Whether the cells of layers [first, last) are all here (an empty range always is): not
    // where a gemma4 layer among them reads the cache of a layer this one starts after.
    bool holds_layers(uint32_t first, uint32_t last) const {
        if (first >= last) {
            return true;
        }
        if (first < first_layer_ || last > n_layer_) {
            return false;
        }
        for (uint32_t layer = first; layer < last; ++layer) {
            const uint32_t owner = layers_[layer].owner; // UINT32_MAX: a recurrent layer
            if (owner != UINT32_MAX && owner < first_layer_) {
                return false;
            }
        }
        return true;
    }
    KvCacheType type() const { return type_; }
    uint64_t bytes() const { return k_.size() + v_.size(); }
    // The widest layer's bytes per cell (every layer's, unless they differ).
    size_t k_row_bytes() const { return k_row_; }
    size_t v_row_bytes() const { return v_row_; }
    size_t k_row_bytes(uint32_t layer) const { return layers_[layer].k_row; }
    size_t v_row_bytes(uint32_t layer) const { return layers_[layer].v_row; }

    // A cell's row as stored.
    uint8_t* k_row(uint32_t layer, uint32_t pos) {
        return k_.data() + layers_[layer].k_offset + size_t{pos} * layers_[layer].k_row;
    }
    uint8_t* v_row(uint32_t layer, uint32_t pos) {
        return v_.data() + layers_[layer].v_offset + size_t{pos} * layers_[layer].v_row;
    }
    const uint8_t* k_row(uint32_t layer, uint32_t pos) const {
        return k_.data() + layers_[layer].k_offset + size_t{pos} * layers_[layer].k_row;
    }
    const uint8_t* v_row(uint32_t layer, uint32_t pos) const {
        return v_.data() + layers_[layer].v_offset + size_t{pos} * layers_[layer].v_row;
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
    // One layer's cells: its widths, the layer that owns the cells it reads (itself, an
    // earlier layer, or UINT32_MAX: none held) and where they start.
    struct LayerCells {
        uint32_t k_width = 0, v_width = 0;
        uint32_t owner = UINT32_MAX;
        size_t k_row = 0, v_row = 0; // bytes per cell
        size_t k_offset = 0, v_offset = 0;
        bool same_shape(const LayerCells& o) const {
            return k_width == o.k_width && v_width == o.v_width && owner == o.owner;
        }
    };
    // Lays out the cells of the layers [first_layer, n_layer) that own theirs, one block after
    // another, and points the layers that share at their owner's block.
    void allocate();

    uint32_t n_layer_, n_ctx_, k_width_, v_width_;
    KvCacheType type_;
    uint32_t first_layer_; // layers below it are not held (they run elsewhere)
    size_t k_row_, v_row_; // the widest layer's bytes per cell
    std::vector<LayerCells> layers_;
    PageBuffer k_, v_; // zero until written: untouched cells take no memory
};

} // namespace hearth::cpu
