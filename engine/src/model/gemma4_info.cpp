// Gemma 4's per-layer hyper-parameters, as llama.cpp's llama_model_gemma4::load_arch_hparams
// and its KV-reuse callback (llama-model.cpp, LLM_ARCH_GEMMA4) read them.
#include "model/gemma4_info.h"

#include <algorithm>
#include <fmt/format.h>

namespace hearth {
namespace {

std::string describe(const GgufValue& value) {
    return fmt::format("{} ({})", value.to_display_string(), gguf_type_name(value.type));
}

std::optional<uint64_t> whole_number(const GgufValue& value) {
    return value.type == GgufType::boolean ? std::nullopt : value.as_uint();
}

// A count that is either one number for every layer or an array of one per layer, each in
// [min, max]; `fallback` for every layer when absent.
Result<std::vector<uint32_t>> per_layer_counts(const GgufHeader& header, const std::string& key,
                                               uint32_t n_layer, uint32_t min, uint32_t max,
                                               std::optional<uint32_t> fallback) {
    const GgufValue* value = header.find(key);
    if (!value) {
        if (!fallback) {
            return fail(ErrorCode::bad_format, fmt::format("{} is missing", key));
        }
        return std::vector<uint32_t>(n_layer, *fallback);
    }
    std::vector<uint32_t> out;
    const GgufArray* array = value->as_array();
    const size_t n_items = array ? array->size() : 1;
    bool valid = !array || n_items == n_layer;
    for (size_t i = 0; valid && i < n_items; ++i) {
        const auto n = whole_number(array ? array->at(i) : *value);
        valid = n && *n >= min && *n <= max;
        if (valid) {
            out.push_back(static_cast<uint32_t>(*n));
        }
    }
    if (!valid) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must be a whole number from {} to {}, or one for each of the "
                                "{} layers, but it is {}",
                                key, min, max, n_layer, describe(*value)));
    }
    if (!array) {
        out.assign(n_layer, out.front());
    }
    return out;
}

Result<uint32_t> count(const GgufHeader& header, const std::string& key, uint32_t min, uint32_t max,
                       std::optional<uint32_t> fallback) {
    const GgufValue* value = header.find(key);
    if (!value) {
        if (!fallback) {
            return fail(ErrorCode::bad_format, fmt::format("{} is missing", key));
        }
        return *fallback;
    }
    const auto n = whole_number(*value);
    if (!n || *n < min || *n > max) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must be a whole number from {} to {}, but it is {}", key, min,
                                max, describe(*value)));
    }
    return static_cast<uint32_t>(*n);
}

// The sliding flags: an array of one boolean per layer (llama.cpp requires it for gemma4).
Result<std::vector<bool>> sliding_flags(const GgufHeader& header, const std::string& key,
                                        uint32_t n_layer) {
    const GgufValue* value = header.find(key);
    const GgufArray* array = value ? value->as_array() : nullptr;
    auto flags = array ? array->flags() : std::nullopt;
    if (!flags || flags->size() != n_layer) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must hold one boolean for each of the {} layers, but it is {}",
                                key, n_layer, value ? describe(*value) : "missing"));
    }
    return std::move(*flags);
}

// Layers [n_layer - n_shared, n_layer) read the cache of layer (n_layer - n_shared) - 2 when
// they slide, - 1 when global, as llama.cpp's reuse callback; that layer must be of the same
// kind and size, or the reader would attend to cells of another shape.
Result<void> assign_shared_kv(std::vector<LayerShape>& shapes, uint32_t n_shared,
                              const std::string& key) {
    const auto n_layer = static_cast<uint32_t>(shapes.size());
    for (uint32_t il = 0; il < n_layer; ++il) {
        shapes[il].kv_layer = il;
    }
    if (n_shared == 0) {
        return {};
    }
    const uint32_t first_shared = n_layer - n_shared;
    for (uint32_t il = first_shared; il < n_layer; ++il) {
        const uint32_t back = shapes[il].sliding ? 2 : 1;
        const uint32_t source = first_shared >= back ? first_shared - back : UINT32_MAX;
        const bool same = source != UINT32_MAX && shapes[source].sliding == shapes[il].sliding &&
                          shapes[source].n_head_kv == shapes[il].n_head_kv &&
                          shapes[source].head_dim == shapes[il].head_dim;
        if (!same) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} is {}: layer {} ({}) would read the KV cache of layer {}, "
                                    "which {}",
                                    key, n_shared, il, shapes[il].sliding ? "sliding" : "global",
                                    source == UINT32_MAX ? -1 : int64_t{source},
                                    source == UINT32_MAX ? "does not exist"
                                                         : "is not a layer of the same kind and "
                                                           "head sizes"));
        }
        shapes[il].kv_layer = source;
    }
    return {};
}

} // namespace

Result<void> read_gemma4_layer_shapes(const GgufHeader& header, ModelInfo& info) {
    const std::string p = info.architecture + ".";
    const uint32_t n_layer = info.n_layer;
    auto sliding = sliding_flags(header, p + "attention.sliding_window_pattern", n_layer);
    if (!sliding) {
        return std::unexpected(sliding.error());
    }
    auto n_head =
        per_layer_counts(header, p + "attention.head_count", n_layer, 1, kMaxHeads, std::nullopt);
    if (!n_head) {
        return std::unexpected(n_head.error());
    }
    auto n_head_kv =
        per_layer_counts(header, p + "attention.head_count_kv", n_layer, 1, kMaxHeads, info.n_head);
    if (!n_head_kv) {
        return std::unexpected(n_head_kv.error());
    }
    auto n_ff = per_layer_counts(header, p + "feed_forward_length", n_layer, 1,
                                 kMaxFeedForwardLength, std::nullopt);
    if (!n_ff) {
        return std::unexpected(n_ff.error());
    }
    // Keys and values have one head size per layer kind (llama.cpp requires k == v).
    struct Kind {
        const char* suffix;
        uint32_t head_dim = 0, value_dim = 0, n_rot = 0;
    };
    Kind global{""}, local{"_swa"};
    for (Kind* kind : {&global, &local}) {
        const std::string k_key = p + "attention.key_length" + kind->suffix;
        const std::string v_key = p + "attention.value_length" + kind->suffix;
        auto head_dim = count(header, k_key, 1, kMaxHeadSize, std::nullopt);
        auto value_dim = head_dim ? count(header, v_key, 1, kMaxHeadSize, std::nullopt) : head_dim;
        if (!value_dim) {
            return std::unexpected(value_dim.error());
        }
        if (*head_dim != *value_dim) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} ({}) and {} ({}) must be equal in gemma4", k_key, *head_dim,
                                    v_key, *value_dim));
        }
        kind->head_dim = *head_dim;
        // rope.dimension_count defaults to the global head size, _swa to the global count.
        const std::string rot_key = p + "rope.dimension_count" + kind->suffix;
        auto n_rot = count(header, rot_key, 2, kind->head_dim,
                           kind == &global ? global.head_dim : global.n_rot);
        if (!n_rot || *n_rot % 2 != 0 || *n_rot > kind->head_dim) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} must be even, from 2 to the head size {}{}", rot_key,
                                    kind->head_dim,
                                    n_rot ? fmt::format(", but it is {}", *n_rot) : ""));
        }
        kind->n_rot = *n_rot;
    }
    auto n_shared = count(header, p + "attention.shared_kv_layers", 0, n_layer - 1, 0);
    auto n_embd_per_layer =
        n_shared ? count(header, p + "embedding_length_per_layer_input", 0, kMaxEmbeddingLength, 0)
                 : n_shared;
    if (!n_embd_per_layer) {
        return std::unexpected(n_embd_per_layer.error());
    }
    info.layer_shapes.resize(n_layer);
    for (uint32_t il = 0; il < n_layer; ++il) {
        const Kind& kind = (*sliding)[il] ? local : global;
        LayerShape& shape = info.layer_shapes[il];
        shape = {.n_head = (*n_head)[il],
                 .n_head_kv = (*n_head_kv)[il],
                 .head_dim = kind.head_dim,
                 .n_rot = kind.n_rot,
                 .n_ff = (*n_ff)[il],
                 .sliding = (*sliding)[il],
                 .kv_layer = il};
        if (shape.n_head % shape.n_head_kv != 0) {
            return fail(ErrorCode::bad_format,
                        fmt::format("layer {}: {}attention.head_count {} is not a multiple of "
                                    "{}attention.head_count_kv {}",
                                    il, p, shape.n_head, p, shape.n_head_kv));
        }
    }
    if (auto shared =
            assign_shared_kv(info.layer_shapes, *n_shared, p + "attention.shared_kv_layers");
        !shared) {
        info.layer_shapes.clear();
        return shared;
    }
    info.n_embd_per_layer = *n_embd_per_layer;
    // The uniform sizes become the largest layer's: they size the shared buffers.
    info.n_head = std::ranges::max(*n_head);
    info.n_head_kv = std::ranges::max(*n_head_kv);
    info.head_dim_k = info.head_dim_v = std::max(global.head_dim, local.head_dim);
    info.n_rot = std::max(global.n_rot, local.n_rot);
    info.n_ff = std::ranges::max(*n_ff);
    return {};
}

} // namespace hearth
