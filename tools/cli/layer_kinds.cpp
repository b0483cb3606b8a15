// See layer_kinds.h.
#include "layer_kinds.h"

#include "hearth/memory_plan.h"

#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

constexpr double kF16Bytes = 2.0; // `info` states the F16 cache, as its other KV rows

std::string layer_list(const std::vector<uint32_t>& layers) {
    std::string out;
    for (uint32_t il : layers) {
        out += (out.empty() ? "" : ", ") + std::to_string(il);
    }
    return out;
}

} // namespace

std::vector<LayerKind> layer_kinds(const ModelInfo& info, double bytes_per_element) {
    std::vector<LayerKind> kinds;
    for (uint32_t il = 0; il < info.layer_shapes.size(); ++il) {
        const LayerShape& s = info.layer_shapes[il];
        auto same = [&](const LayerKind& k) {
            return k.sliding == s.sliding && k.n_head == s.n_head && k.n_head_kv == s.n_head_kv &&
                   k.head_dim == s.head_dim && k.n_rot == s.n_rot;
        };
        auto kind = std::ranges::find_if(kinds, same);
        if (kind == kinds.end()) {
            kinds.push_back({.sliding = s.sliding,
                             .n_head = s.n_head,
                             .n_head_kv = s.n_head_kv,
                             .head_dim = s.head_dim,
                             .n_rot = s.n_rot,
                             .layers = {},
                             .kv_owners = {},
                             .kv_bytes_per_token = 0});
            kind = kinds.end() - 1;
        }
        kind->layers.push_back(il);
        if (s.kv_layer == il) {
            kind->kv_owners.push_back(il);
            kind->kv_bytes_per_token += 2.0 * double(s.kv_width()) * bytes_per_element;
        }
    }
    return kinds;
}

void print_layer_kinds(const ModelInfo& info) {
    for (const LayerKind& k : layer_kinds(info, kF16Bytes)) {
        std::printf("    %-20s %s  (%zu of %zu layers keep one: 2 × %u KV heads × %u head size × "
                    "2 bytes each; %u query heads, %u dims rotated)\n",
                    k.sliding ? "sliding-window" : "global",
                    format_bytes(k.kv_bytes_per_token).c_str(), k.kv_owners.size(), k.layers.size(),
                    k.n_head_kv, k.head_dim, k.n_head, k.n_rot);
    }
    std::vector<uint32_t> readers, owners;
    for (uint32_t il = 0; il < info.layer_shapes.size(); ++il) {
        if (info.layer_shapes[il].kv_layer != il) {
            readers.push_back(il);
            owners.push_back(info.layer_shapes[il].kv_layer);
        }
    }
    if (!readers.empty()) {
        std::printf("    %-20s layers %s read the caches of layers %s (no cells of their own)\n",
                    "shared", layer_list(readers).c_str(), layer_list(owners).c_str());
    }
}

nlohmann::json layer_kinds_json(const ModelInfo& info) {
    nlohmann::json kinds = nlohmann::json::array();
    for (const LayerKind& k : layer_kinds(info, kF16Bytes)) {
        kinds.push_back({{"sliding", k.sliding},
                         {"n_head", k.n_head},
                         {"n_head_kv", k.n_head_kv},
                         {"head_dim", k.head_dim},
                         {"n_rot", k.n_rot},
                         {"layers", k.layers},
                         {"kv_layers", k.kv_owners},
                         {"kv_bytes_per_token", k.kv_bytes_per_token}});
    }
    nlohmann::json shared = nlohmann::json::object();
    for (uint32_t il = 0; il < info.layer_shapes.size(); ++il) {
        if (info.layer_shapes[il].kv_layer != il) {
            shared[std::to_string(il)] = info.layer_shapes[il].kv_layer;
        }
    }
    return {{"kinds", kinds}, {"shared_kv", shared}};
}

} // namespace hearth::cli
