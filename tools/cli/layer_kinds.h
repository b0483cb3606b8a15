// `hearth-cli info` for models whose layers differ in their attention (gemma4): the KV-cache
// arithmetic per kind of layer, and which layers read another layer's cache.
#pragma once

#include "hearth/model_info.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hearth::cli {

// Layers of one attention shape: how many, how many keep a cache, and its bytes per token.
struct LayerKind {
    bool sliding = false;
    uint32_t n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0;
    std::vector<uint32_t> layers;    // every layer of this kind
    std::vector<uint32_t> kv_owners; // those with a cache of their own
    double kv_bytes_per_token = 0;   // of the owners, at `bytes_per_element`
};

// The kinds of info.layer_shapes in order of first appearance; empty for a uniform model.
std::vector<LayerKind> layer_kinds(const ModelInfo& info, double bytes_per_element);

// The text rows (under "memory") and the JSON of the kinds and the shared layers.
void print_layer_kinds(const ModelInfo& info);
nlohmann::json layer_kinds_json(const ModelInfo& info);

} // namespace hearth::cli
