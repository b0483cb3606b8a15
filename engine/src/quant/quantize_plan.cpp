// The per-tensor type mix of hearth/quantize.h: llama.cpp's llama_tensor_get_type
// (src/llama-quant.cpp) for the file types Hearth makes — which tensors are quantized at all,
// the _M / _S variants' layer choices ("use_more_bits"), and the fallbacks for rows that do
// not divide into a type's blocks — and the output's exact size.
#include "quant/quantize_plan.h"

#include "hearth/quant.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>

namespace hearth::quant {

namespace {

using FT = QuantFileType;

enum class Category {
    token_embd,
    output,
    attn_v, // attn_v, attn_qkv, attn_kv_b: the tensors most sensitive to quantization
    attn_k,
    attn_q,
    attn_output,
    ffn_up,
    ffn_gate,
    ffn_down,
    other,
};

bool contains(std::string_view name, std::string_view part) {
    return name.find(part) != std::string_view::npos;
}

Category category_of(std::string_view name) {
    if (name == "output.weight")
        return Category::output;
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
        return Category::token_embd;
    }
    if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") ||
        contains(name, "attn_v.weight")) {
        return Category::attn_v;
    }
    if (contains(name, "attn_k.weight"))
        return Category::attn_k;
    if (contains(name, "attn_q.weight"))
        return Category::attn_q;
    if (contains(name, "attn_output.weight"))
        return Category::attn_output;
    if (contains(name, "ffn_up"))
        return Category::ffn_up;
    if (contains(name, "ffn_gate"))
        return Category::ffn_gate;
    if (contains(name, "ffn_down"))
        return Category::ffn_down;
    return Category::other;
}

// ggml_n_dims: trailing dimensions of 1 do not count.
size_t effective_dims(const std::vector<uint64_t>& dims) {
    size_t n = dims.size();
    while (n > 1 && dims[n - 1] == 1)
        --n;
    return n;
}

// llama.cpp's tensor_allows_quantization: 2-D and 3-D weights, less norms, routers, position
// and token-type embeddings and the small tensors of some architectures.
bool allows_quantization(const GgufTensorInfo& tensor) {
    if (effective_dims(tensor.dims) < 2)
        return false;
    const std::string_view name = tensor.name;
    if (!name.ends_with("weight"))
        return false;
    static constexpr std::array kKeptAsIs = {"_norm.weight",
                                             "ffn_gate_inp.weight",
                                             "ffn_gate_tid2eid.weight",
                                             "altup",
                                             "laurel",
                                             "per_layer_model_proj",
                                             "ssm_conv1d",
                                             "shortconv.conv.weight",
                                             "indexer.k_proj.weight",
                                             "indexer.q_proj.weight",
                                             "time_mix_first.weight",
                                             "time_mix_w0.weight",
                                             "time_mix_w1.weight",
                                             "time_mix_w2.weight",
                                             "time_mix_v0.weight",
                                             "time_mix_v1.weight",
                                             "time_mix_v2.weight",
                                             "time_mix_a0.weight",
                                             "time_mix_a1.weight",
                                             "time_mix_a2.weight",
                                             "time_mix_g1.weight",
                                             "time_mix_g2.weight",
                                             "time_mix_decay_w1.weight",
                                             "time_mix_decay_w2.weight",
                                             "time_mix_lerp_fused.weight",
                                             "attn_rel_b.weight",
                                             ".position_embd",
                                             "sam.pos_embd",
                                             "sam.neck.",
                                             "sam.net_",
                                             ".rel_pos",
                                             ".patch_embd",
                                             ".patch_merger",
                                             "a.rvq.codebook",
                                             "mm.a.code_embd"};
    for (const char* part : kKeptAsIs) {
        if (contains(name, part))
            return false;
    }
    return name != "position_embd.weight" && name != "token_types.weight";
}

// The layer of "blk.N.*", -1 for other tensors (llama.cpp's weight_name_comparer).
int layer_of(std::string_view name) {
    if (!name.starts_with("blk."))
        return -1;
    int layer = 0;
    size_t i = 4;
    if (i >= name.size() || name[i] < '0' || name[i] > '9')
        return -1;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
        if (layer > 100'000'000)
            return -1;
        layer = layer * 10 + (name[i] - '0');
        ++i;
    }
    return i < name.size() && name[i] == '.' ? layer : -1;
}

bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
           (i_layer - n_layers / 8) % 3 == 2;
}

// The running state of llama.cpp's quantize_state_impl, counted in output order.
struct MixState {
    const MixModel& model;
    FT ftype;
    bool keep_output_f16;
    bool has_imatrix = false;
    bool tied_embeddings = true;
    int n_attention_wv = 0;
    int i_attention_wv = 0;
    int i_ffn_down = 0;
};

// For mixture-of-experts models the layer is read from the name (experts are not in order).
Result<int> ffn_layer(const MixState& state, int counter, std::string_view name) {
    if (state.model.n_expert <= 1)
        return counter;
    const int layer = layer_of(name);
    if (layer < 0 || layer >= static_cast<int>(state.model.n_layer)) {
        return fail(ErrorCode::bad_format, fmt::format("tensor {}: no layer in [0, {}) in its name",
                                                       gguf_printable(name), state.model.n_layer));
    }
    return layer;
}

bool is_falcon(const MixState& s) {
    return s.model.arch == "falcon";
}

TensorType attn_v_type(MixState& s, TensorType t) {
    const FT f = s.ftype;
    const uint32_t gqa = s.model.n_gqa;
    if (f == FT::Q2_K) {
        t = gqa >= 4 ? TensorType::Q4_K : TensorType::Q3_K;
    } else if (f == FT::Q3_K_M) {
        t = s.i_attention_wv < 2 ? TensorType::Q5_K : TensorType::Q4_K;
    } else if (f == FT::Q3_K_L) {
        t = TensorType::Q5_K;
    } else if ((f == FT::IQ4_NL || f == FT::IQ4_XS) && gqa >= 4) {
        t = TensorType::Q5_K;
    } else if ((f == FT::Q4_K_M || f == FT::Q5_K_M) &&
               use_more_bits(s.i_attention_wv, s.n_attention_wv)) {
        t = TensorType::Q6_K;
    } else if (f == FT::Q4_K_S && s.i_attention_wv < 4) {
        t = TensorType::Q5_K;
    }
    if (s.model.is_70b && (t == TensorType::Q3_K || t == TensorType::Q4_K))
        t = TensorType::Q5_K;
    if (s.model.n_expert == 8)
        t = TensorType::Q8_0;
    ++s.i_attention_wv;
    return t;
}

TensorType ffn_down_type(const MixState& s, TensorType t, int i, int n) {
    const FT f = s.ftype;
    if (f == FT::Q2_K) {
        t = TensorType::Q3_K;
    } else if (f == FT::Q3_K_M) {
        t = i < n / 16                             ? TensorType::Q5_K
            : !is_falcon(s) || use_more_bits(i, n) ? TensorType::Q4_K
                                                   : TensorType::Q3_K;
    } else if (f == FT::Q3_K_L) {
        t = is_falcon(s) ? TensorType::Q4_K : TensorType::Q5_K;
    } else if (f == FT::Q4_K_M) {
        if (is_falcon(s)) {
            t = i < n / 16            ? TensorType::Q6_K
                : use_more_bits(i, n) ? TensorType::Q5_K
                                      : TensorType::Q4_K;
        } else if (use_more_bits(i, n)) {
            t = TensorType::Q6_K;
        }
    } else if (i < n / 8 && (f == FT::IQ4_NL || f == FT::IQ4_XS) && !s.has_imatrix) {
        t = TensorType::Q5_K;
    } else if (f == FT::Q5_K_M && use_more_bits(i, n)) {
        t = TensorType::Q6_K;
    } else if (f == FT::Q4_K_S && !is_falcon(s) && i < n / 8) {
        t = TensorType::Q5_K;
    } else if ((f == FT::Q4_0 || f == FT::Q5_0) && s.has_imatrix && i < n / 8) {
        // llama.cpp guards the first ffn_down layers only when an imatrix is given.
        t = f == FT::Q4_0 ? TensorType::Q4_1 : TensorType::Q5_1;
    }
    return t;
}

TensorType attn_output_type(const MixState& s, TensorType t) {
    const FT f = s.ftype;
    if (is_falcon(s))
        return f == FT::Q3_K_L ? TensorType::Q4_K : t;
    if (s.model.n_expert == 8) {
        const bool bump = f == FT::Q2_K || f == FT::Q3_K_S || f == FT::Q3_K_M || f == FT::IQ4_NL ||
                          f == FT::Q4_K_S || f == FT::Q4_K_M || f == FT::IQ4_XS;
        return bump ? TensorType::Q5_K : t;
    }
    if (f == FT::Q2_K)
        return TensorType::Q3_K;
    if (f == FT::Q3_K_M)
        return TensorType::Q4_K;
    if (f == FT::Q3_K_L)
        return TensorType::Q5_K;
    return t;
}

// llama_tensor_get_type_impl for the supported file types.
Result<TensorType> mix_type(MixState& s, const GgufTensorInfo& tensor, Category category) {
    TensorType t = quant_file_type_base(s.ftype);
    if (category == Category::output || (s.tied_embeddings && category == Category::token_embd)) {
        if (s.keep_output_f16)
            return TensorType::F16;
        const uint32_t block = tensor_type_traits(t).block_size;
        if (is_falcon(s) || tensor.dims[0] % block != 0)
            return TensorType::Q8_0;
        return t != TensorType::Q8_0 ? TensorType::Q6_K : t;
    }
    switch (category) {
    case Category::attn_v:
        return attn_v_type(s, t);
    case Category::attn_k:
        return s.model.n_expert == 8 ? TensorType::Q8_0 : t;
    case Category::attn_output:
        return attn_output_type(s, t);
    case Category::ffn_down: {
        auto layer = ffn_layer(s, s.i_ffn_down, tensor.name);
        if (!layer)
            return std::unexpected(layer.error());
        ++s.i_ffn_down;
        return ffn_down_type(s, t, *layer, static_cast<int>(s.model.n_layer));
    }
    case Category::ffn_up:
    case Category::ffn_gate: {
        // Only the IQ3 types change these; the layer check still refuses a bad name.
        auto layer = ffn_layer(s, 0, tensor.name);
        if (!layer)
            return std::unexpected(layer.error());
        return t;
    }
    default:
        return t;
    }
}

// tensor_type_fallback: a row that does not divide into the type's blocks takes a 32-block
// type of about the same size, or F16 when even that does not divide.
TensorType fallback_type(uint64_t row, TensorType t, bool& fell_back) {
    fell_back = false;
    if (row % tensor_type_traits(t).block_size == 0)
        return t;
    fell_back = true;
    TensorType f = t;
    switch (t) {
    case TensorType::IQ4_XS:
        f = TensorType::IQ4_NL;
        break;
    case TensorType::Q2_K:
    case TensorType::Q3_K:
        f = TensorType::Q4_0;
        break;
    case TensorType::Q4_K:
        f = TensorType::Q5_0;
        break;
    case TensorType::Q5_K:
        f = TensorType::Q5_1;
        break;
    case TensorType::Q6_K:
        f = TensorType::Q8_0;
        break;
    default:
        break;
    }
    return row % tensor_type_traits(f).block_size == 0 ? f : TensorType::F16;
}

} // namespace

Result<MixModel> read_mix_model(const GgufFile& input) {
    MixModel model;
    auto arch = input.header().get_string("general.architecture");
    if (!arch) {
        return fail(ErrorCode::bad_format, "general.architecture is missing or not a string");
    }
    model.arch = *arch;
    const auto key = [&](std::string_view suffix) { return fmt::format("{}.{}", *arch, suffix); };
    // The first item of a per-layer array, or the value itself.
    const auto read_uint = [&](const std::string& name) -> std::optional<uint64_t> {
        const GgufValue* value = input.find(name);
        if (value == nullptr)
            return std::nullopt;
        if (const GgufArray* array = value->as_array()) {
            if (array->empty())
                return std::nullopt;
            return array->uint_at(0);
        }
        return value->as_uint();
    };
    const std::string block_count = key("block_count");
    const auto n_layer = read_uint(block_count);
    if (!n_layer || *n_layer == 0 || *n_layer > kMaxQuantizeLayers) {
        return fail(ErrorCode::bad_format, fmt::format("{} must be an integer in [1, {}]",
                                                       block_count, kMaxQuantizeLayers));
    }
    model.n_layer = static_cast<uint32_t>(*n_layer);
    const uint64_t n_head = read_uint(key("attention.head_count")).value_or(0);
    const uint64_t n_head_kv = read_uint(key("attention.head_count_kv")).value_or(n_head);
    model.n_gqa = n_head_kv == 0
                      ? 0
                      : static_cast<uint32_t>(std::min<uint64_t>(n_head / n_head_kv, 1u << 20));
    const uint64_t n_expert = read_uint(key("expert_count")).value_or(0);
    model.n_expert = static_cast<uint32_t>(std::min<uint64_t>(n_expert, 1u << 20));
    // llama.cpp's LLM_TYPE_70B, which gives attn_v more bits.
    const std::string& a = model.arch;
    model.is_70b = model.n_layer == 80 && ((a == "llama" && n_head != n_head_kv) || a == "qwen2" ||
                                           a == "deci" || a == "olmo");
    if (a == "jais2" && model.n_layer == 68)
        model.is_70b = true;
    return model;
}

namespace {

// Whether the importance matrix has a usable entry for a tensor to quantize: one value per
// column of each expert (llama-quantize's ne[0] * ne[2]). Another size is refused, except for
// the token embeddings, which llama.cpp then quantizes without.
Result<bool> find_importance(const ImportanceMatrix& matrix, const GgufTensorInfo& tensor) {
    const auto it = matrix.entries.find(tensor.name);
    if (it == matrix.entries.end())
        return false;
    const uint64_t experts = tensor.dims.size() > 2 ? tensor.dims[2] : 1;
    const uint64_t wanted = tensor.dims[0] * experts;
    if (it->second.sums.size() == wanted)
        return true;
    if (tensor.name == "token_embd.weight")
        return false;
    return fail(ErrorCode::bad_format,
                fmt::format("the importance matrix's entry for {} has {} values, the tensor needs "
                            "{} ({} columns x {} experts): it was computed for another model",
                            gguf_printable(tensor.name), it->second.sums.size(), wanted,
                            tensor.dims[0], experts));
}

} // namespace

Result<QuantizePlan> plan_tensor_types(const GgufFile& input, const MixModel& model,
                                       const QuantizeOptions& options) {
    std::vector<const GgufTensorInfo*> order;
    order.reserve(input.tensors().size());
    for (const GgufTensorInfo& tensor : input.tensors())
        order.push_back(&tensor);
    std::stable_sort(order.begin(), order.end(),
                     [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
                         const int la = layer_of(a->name);
                         const int lb = layer_of(b->name);
                         return la != lb ? la < lb : a->name < b->name;
                     });

    MixState state{.model = model,
                   .ftype = options.type,
                   .keep_output_f16 = options.keep_output_f16,
                   .has_imatrix = options.imatrix != nullptr};
    for (const GgufTensorInfo* tensor : order) {
        const Category category = category_of(tensor->name);
        if (category == Category::attn_v)
            ++state.n_attention_wv;
        if (category == Category::output)
            state.tied_embeddings = false;
    }

    QuantizePlan plan;
    for (const GgufTensorInfo* tensor : order) {
        QuantizeTensorPlan entry{
            .name = tensor->name, .from = tensor->type, .to = tensor->type, .dims = tensor->dims};
        if (allows_quantization(*tensor)) {
            const Category category = category_of(tensor->name);
            if (options.keep_output_f16 && category == Category::output) {
                entry.to = TensorType::F16;
            } else {
                auto type = mix_type(state, *tensor, category);
                if (!type)
                    return std::unexpected(type.error());
                entry.to = fallback_type(tensor->dims[0], *type, entry.fell_back);
            }
        }
        if (entry.to != entry.from) {
            const bool readable = entry.from == TensorType::F32 || entry.from == TensorType::F16 ||
                                  entry.from == TensorType::BF16 || can_dequantize(entry.from);
            if (!readable) {
                return fail(ErrorCode::unsupported,
                            fmt::format("tensor {}: cannot read its type {} to requantize it",
                                        gguf_printable(tensor->name),
                                        tensor_type_name(entry.from)));
            }
            const TensorTypeTraits traits = tensor_type_traits(entry.from);
            const bool quantized = traits.block_size > 1;
            if (quantized && std::ranges::find(plan.requantized_from, entry.from) ==
                                 plan.requantized_from.end()) {
                plan.requantized_from.push_back(entry.from);
            }
            if (options.imatrix) {
                auto found = find_importance(*options.imatrix, *tensor);
                if (!found)
                    return std::unexpected(found.error());
                entry.weighted = *found;
                if (!*found)
                    plan.missing_importance.push_back(tensor->name);
            }
        }
        const TensorTypeTraits out = tensor_type_traits(entry.to);
        entry.bytes_out = entry.to == entry.from
                              ? tensor->n_bytes
                              : tensor->n_elements / out.block_size * out.type_size;
        plan.tensors.push_back(std::move(entry));
    }
    plan.input_bytes = input.file_size();
    plan.alignment = static_cast<uint32_t>(input.header().alignment);
    return plan;
}

} // namespace hearth::quant
