// Model facts from GGUF metadata: keys are `{architecture}.*` as llama.cpp writes them.
#include "hearth/model_info.h"

#include "model/gemma4_info.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <string_view>

namespace hearth {
namespace {

// "a u64 value, 4294967299", for messages about a value of the wrong kind.
std::string describe(const GgufValue& value) {
    return fmt::format("{} ({})", value.to_display_string(), gguf_type_name(value.type));
}

// A count stored as an integer, or as a per-layer array of them (some models vary it across
// layers; the largest value sizes the buffers). nullopt when absent; an error naming the key
// when present but not an integer (a string, a float, a bool), negative, or outside
// [min, max] (a wider integer is never truncated).
Result<std::optional<uint32_t>> read_count(const GgufHeader& header, const std::string& key,
                                           uint32_t min, uint32_t max) {
    const GgufValue* value = header.find(key);
    if (!value) {
        return std::optional<uint32_t>{};
    }
    std::optional<uint64_t> count;
    if (const GgufArray* array = value->as_array(); array && !array->empty()) {
        count = 0;
        for (size_t i = 0; i < array->size(); ++i) {
            const auto v = array->uint_at(i);
            count = v ? std::optional(std::max(*count, *v)) : std::nullopt;
            if (!count) {
                break;
            }
        }
    } else {
        count = value->type == GgufType::boolean ? std::nullopt : value->as_uint();
    }
    if (!count || *count < min || *count > max) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must be {}a whole number from {} to {}, but it is {}", key,
                                value->as_array() ? "(the largest of the per-layer values) " : "",
                                min, max, describe(*value)));
    }
    return std::optional<uint32_t>{static_cast<uint32_t>(*count)};
}

// A real number; nullopt when absent; an error naming the key when present but not a number,
// not finite or outside (low, high].
Result<std::optional<double>> read_real(const GgufHeader& header, const std::string& key,
                                        double low, double high) {
    const GgufValue* value = header.find(key);
    if (!value) {
        return std::optional<double>{};
    }
    const auto number = value->type == GgufType::boolean ? std::nullopt : value->as_float();
    if (!number || !std::isfinite(*number) || *number <= low || *number > high) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must be a number above {} and at most {}, but it is {}", key,
                                low, high, describe(*value)));
    }
    return number;
}

// Reads `{architecture}.*` keys, keeping the first failure: after one, reads do nothing.
class KeyReader {
public:
    KeyReader(const GgufHeader& header, const std::string& architecture)
        : header_(header), prefix_(architecture + ".") {}

    std::string key(std::string_view name) const { return prefix_ + std::string(name); }
    const GgufValue* find(std::string_view name) const { return header_.find(key(name)); }
    bool has(std::string_view name) const { return find(name) != nullptr; }
    const std::optional<Error>& error() const { return error_; }
    void set_error(Error error) {
        if (!error_) {
            error_ = std::move(error);
        }
    }

    // A count into `out`, left as it is when the key is absent and not `required`.
    void count(std::string_view name, uint32_t& out, uint32_t min, uint32_t max, bool required) {
        if (error_) {
            return;
        }
        auto value = read_count(header_, key(name), min, max);
        if (!value) {
            error_ = value.error();
        } else if (*value) {
            out = **value;
        } else if (required) {
            error_ = Error{ErrorCode::bad_format,
                           fmt::format("{} is missing: the file does not say how large the "
                                       "model is",
                                       key(name))};
        }
    }

    // A real number in (low, high] into `out`, left as it is when the key is absent.
    void real(std::string_view name, double& out, double low, double high) {
        if (error_) {
            return;
        }
        auto value = read_real(header_, key(name), low, high);
        if (!value) {
            error_ = value.error();
        } else if (*value) {
            out = **value;
        }
    }

private:
    const GgufHeader& header_;
    std::string prefix_;
    std::optional<Error> error_;
};

// Mixture of experts: the expert count, how many each token uses (at least one, at most the
// count) and each expert's width. Without expert_feed_forward_length an expert is as wide as
// llama.cpp makes it: feed_forward_length / expert_used_count for qwen3moe and qwen35moe,
// feed_forward_length for llama (Mixtral), none for gemma4 (its FFN beside the experts is
// feed_forward_length wide). qwen35moe's shared expert is expert_shared_feed_forward_length
// wide, else feed_forward_length.
void read_experts(KeyReader& keys, ModelInfo& info) {
    keys.count("expert_count", info.n_expert, 0, kMaxExperts, false);
    keys.count("expert_used_count", info.n_expert_used, 0, kMaxExperts, false);
    keys.count("expert_feed_forward_length", info.n_ff_exp, 0, kMaxFeedForwardLength, false);
    const bool qwen35moe = info.architecture == "qwen35moe";
    if (qwen35moe) {
        info.n_ff_shexp = info.n_ff;
        keys.count("expert_shared_feed_forward_length", info.n_ff_shexp, 0, kMaxFeedForwardLength,
                   false);
    }
    if (keys.error()) {
        return;
    }
    // Each routed slot of a batch keeps an n_embd-wide output until the slots are summed.
    if (info.n_expert_used > kMaxExpertsUsed) {
        keys.set_error(
            {ErrorCode::bad_format,
             fmt::format("{} is {}, over the limit of {} experts per token",
                         keys.key("expert_used_count"), info.n_expert_used, kMaxExpertsUsed)});
        return;
    }
    if (info.n_expert_used > info.n_expert || (info.n_expert > 0 && info.n_expert_used == 0)) {
        keys.set_error({ErrorCode::bad_format,
                        fmt::format("{} must be from 1 to {} ({}), but it is {}",
                                    keys.key("expert_used_count"), keys.key("expert_count"),
                                    info.n_expert, info.n_expert_used)});
        return;
    }
    if (info.n_expert > 0 && info.n_ff_exp == 0 && info.architecture != "gemma4") {
        info.n_ff_exp = info.architecture == "qwen3moe" || qwen35moe
                            ? info.n_ff / info.n_expert_used
                            : info.n_ff;
    }
}

// Layers, widths and head sizes (the bounds are in model_info.h).
void read_sizes(KeyReader& keys, ModelInfo& info) {
    keys.count("block_count", info.n_layer, 1, kMaxLayers, true);
    keys.count("embedding_length", info.n_embd, 1, kMaxEmbeddingLength, true);
    keys.count("attention.head_count", info.n_head, 1, kMaxHeads, true);
    keys.count("context_length", info.n_ctx_train, 1, kMaxContextLength, true);
    if (keys.error()) {
        return;
    }
    info.n_head_kv = info.n_head;
    keys.count("attention.head_count_kv", info.n_head_kv, 1, kMaxHeads, false);
    keys.count("feed_forward_length", info.n_ff, 0, kMaxFeedForwardLength, false);
    if (!keys.has("attention.key_length") || !keys.has("attention.value_length")) {
        const uint32_t head_size = info.n_embd / info.n_head;
        if (info.n_embd % info.n_head != 0 || head_size > kMaxHeadSize) {
            keys.set_error(
                {ErrorCode::bad_format,
                 fmt::format("{} / {} ({} / {}) must be a whole head size up to {}, as {} and {} "
                             "do not give it",
                             keys.key("embedding_length"), keys.key("attention.head_count"),
                             info.n_embd, info.n_head, kMaxHeadSize,
                             keys.key("attention.key_length"),
                             keys.key("attention.value_length"))});
            return;
        }
        info.head_dim_k = head_size;
        info.head_dim_v = head_size;
    }
    keys.count("attention.key_length", info.head_dim_k, 1, kMaxHeadSize, false);
    keys.count("attention.value_length", info.head_dim_v, 1, kMaxHeadSize, false);
    keys.count("vocab_size", info.n_vocab, 1, kMaxVocabulary, false);
    keys.count("attention.sliding_window", info.sliding_window, 0, kMaxContextLength, false);
    read_experts(keys, info);
}

// RoPE and normalisation.
void read_rope_and_norm(KeyReader& keys, ModelInfo& info) {
    info.n_rot = info.head_dim_k;
    keys.count("rope.dimension_count", info.n_rot, 0, kMaxHeadSize, false);
    // A base of 1 or less makes the rotation frequencies not decrease; YaRN divides by its log.
    keys.real("rope.freq_base", info.rope_freq_base, 1.0, 1e30);
    keys.real("rope.scaling.factor", info.rope_scaling.factor, 0.0, 1e30);
    keys.count("rope.scaling.original_context_length", info.rope_scaling.n_ctx_orig, 0,
               kMaxContextLength, false);
    keys.real(keys.has("attention.layer_norm_rms_epsilon") ? "attention.layer_norm_rms_epsilon"
                                                           : "attention.layer_norm_epsilon",
              info.norm_rms_eps, 0.0, 1.0);
    if (const GgufValue* type = keys.find("rope.scaling.type")) {
        if (!type->as_string()) {
            keys.set_error({ErrorCode::bad_format,
                            fmt::format("{} must be a string, but it is {}",
                                        keys.key("rope.scaling.type"), describe(*type))});
            return;
        }
        info.rope_scaling.type = *type->as_string();
    }
}

// Issue 17's dense architectures: what llama.cpp reads for them alone, with its defaults
// (src/models/{phi3,gemma2,mistral3}.cpp). The bounds only keep the arithmetic finite.
void read_arch_specifics(KeyReader& keys, ModelInfo& info) {
    constexpr double kMaxReal = 1e6;
    keys.real("rope.scaling.attn_factor", info.rope_scaling.attn_factor, 0.0, kMaxReal);
    const std::string& arch = info.architecture;
    if (arch == "phi3") {
        info.sliding_window = 0; // llama.cpp disables Phi's sliding window (its PR 13676)
    }
    if (arch == "gemma2") {
        if (!keys.has("attention.sliding_window")) {
            info.sliding_window = 4096;
        }
        info.attn_logit_softcap = 50.0;
        info.final_logit_softcap = 30.0;
        keys.real("attn_logit_softcapping", info.attn_logit_softcap, 0.0, kMaxReal);
        keys.real("final_logit_softcapping", info.final_logit_softcap, 0.0, kMaxReal);
    }
    if (arch == "gemma4") {
        keys.real("final_logit_softcapping", info.final_logit_softcap, 0.0, kMaxReal);
        if (!keys.has("attention.sliding_window")) {
            keys.set_error({ErrorCode::bad_format,
                            fmt::format("{} is missing", keys.key("attention.sliding_window"))});
        }
    }
    if (arch == "mistral3") {
        keys.real("rope.scaling.yarn_beta_fast", info.rope_scaling.yarn_beta_fast, 0.0, kMaxReal);
        keys.real("rope.scaling.yarn_beta_slow", info.rope_scaling.yarn_beta_slow, 0.0, kMaxReal);
        // 0 is a valid multiplier and a valid temperature scale: both mean "off".
        for (auto [name, out] :
             {std::pair{"rope.scaling.yarn_log_multiplier", &info.rope_scaling.yarn_log_mul},
              std::pair{"attention.temperature_scale", &info.attn_temperature_scale}}) {
            keys.real(name, *out, -kMaxReal, kMaxReal);
            if (*out < 0.0) {
                keys.set_error({ErrorCode::bad_format,
                                fmt::format("{} must be a number from 0 to {}, but it is {}",
                                            keys.key(name), kMaxReal, *out)});
            }
        }
    }
}

// The architectures whose layers mix gated delta-net (linear attention) layers with full
// attention, as llama.cpp reads them.
bool has_linear_attention(std::string_view architecture) {
    return architecture == "qwen35" || architecture == "qwen35moe" || architecture == "qwen3next";
}

// A per-layer array of booleans (0 or 1) of exactly n_layer items, into `out`.
Result<void> read_layer_flags(const GgufValue& value, const std::string& key, uint32_t n_layer,
                              std::vector<bool>& out) {
    const GgufArray* array = value.as_array();
    auto flags = array ? array->flags() : std::nullopt;
    if (!flags || flags->size() != n_layer) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must hold one boolean for each of the {} layers, but it is {}",
                                key, n_layer, describe(value)));
    }
    out = std::move(*flags);
    return {};
}

// rope.dimension_sections: four counts of rotated pairs (time, height, width, extra) that
// qwen35's multi-section RoPE assigns positions by; required for it, as llama.cpp does.
void read_rope_sections(KeyReader& keys, ModelInfo& info) {
    const GgufValue* value = keys.find("rope.dimension_sections");
    const GgufArray* array = value ? value->as_array() : nullptr;
    uint64_t sum = 0;
    bool valid = array && array->size() >= 1 && array->size() <= 4;
    for (size_t i = 0; valid && i < array->size(); ++i) {
        const auto n = array->uint_at(i);
        valid = n && *n <= kMaxHeadSize;
        if (valid) {
            info.rope_sections[i] = static_cast<uint32_t>(*n);
            sum += *n;
        }
    }
    // ggml requires a section and at most a head's worth of them.
    if (!valid || sum == 0 || sum > info.head_dim_k) {
        keys.set_error(
            {ErrorCode::bad_format,
             fmt::format("{} must be up to 4 counts of rotated pairs summing to 1 to the "
                         "head size {}, but it is {}",
                         keys.key("rope.dimension_sections"), info.head_dim_k,
                         value ? describe(*value) : std::string("missing"))});
    }
}

// The gated delta-net sizes and which layers are recurrent: `attention.recurrent_layers`
// (a boolean per layer) or else every layer but each `full_attention_interval`-th (4 when
// absent), as llama.cpp decides. Checked here so that nothing is sized from bad values: the
// value heads share the key heads evenly and inner_size is their total width.
void read_linear_attention(KeyReader& keys, ModelInfo& info) {
    // Multi-token-prediction blocks (nextn_predict_layers, written by llama.cpp's converter
    // by default) follow the layers in the file; the forward pass does not run them.
    uint32_t n_extra = 0;
    keys.count("nextn_predict_layers", n_extra, 0, info.n_layer - 1, false);
    const uint32_t n_blocks = info.n_layer;
    info.n_layer -= n_extra;
    LinearAttentionInfo& la = info.linear_attention;
    keys.count("ssm.conv_kernel", la.d_conv, 1, kMaxConvKernel, true);
    keys.count("ssm.state_size", la.d_state, 1, kMaxStateSize, true);
    keys.count("ssm.time_step_rank", la.n_v_heads, 1, kMaxHeads, true);
    keys.count("ssm.group_count", la.n_k_heads, 1, kMaxHeads, true);
    keys.count("ssm.inner_size", la.d_inner, 1, kMaxFeedForwardLength, true);
    if (keys.error()) {
        return;
    }
    if (la.n_v_heads % la.n_k_heads != 0) {
        keys.set_error(
            {ErrorCode::bad_format,
             fmt::format("{} {} is not a multiple of {} {}: the value heads cannot share "
                         "the key heads evenly",
                         keys.key("ssm.time_step_rank"), la.n_v_heads, keys.key("ssm.group_count"),
                         la.n_k_heads)});
        return;
    }
    if (uint64_t{la.n_v_heads} * la.d_state != la.d_inner) {
        keys.set_error({ErrorCode::bad_format,
                        fmt::format("{} {} must be {} × {} ({} × {})", keys.key("ssm.inner_size"),
                                    la.d_inner, keys.key("ssm.time_step_rank"),
                                    keys.key("ssm.state_size"), la.n_v_heads, la.d_state)});
        return;
    }
    if (const GgufValue* flags = keys.find("attention.recurrent_layers")) {
        if (auto ok = read_layer_flags(*flags, keys.key("attention.recurrent_layers"), n_blocks,
                                       info.recurrent_layers);
            !ok) {
            keys.set_error(ok.error());
        }
        info.recurrent_layers.resize(info.n_layer);
    } else {
        uint32_t interval = 4;
        keys.count("full_attention_interval", interval, 1, kMaxLayers, false);
        info.recurrent_layers.resize(info.n_layer);
        for (uint32_t il = 0; il < info.n_layer; ++il) {
            info.recurrent_layers[il] = (il + 1) % interval != 0;
        }
    }
    read_rope_sections(keys, info);
}

// The hyper-parameters of ModelInfo, read and range-checked.
Result<void> read_hyper_parameters(const GgufHeader& header, ModelInfo& info) {
    KeyReader keys(header, info.architecture);
    read_sizes(keys, info);
    if (!keys.error()) {
        read_rope_and_norm(keys, info);
    }
    if (!keys.error()) {
        read_arch_specifics(keys, info);
    }
    if (!keys.error() && has_linear_attention(info.architecture)) {
        read_linear_attention(keys, info);
    }
    if (keys.error()) {
        return std::unexpected(*keys.error());
    }
    if (info.architecture == "gemma4") {
        if (auto shapes = read_gemma4_layer_shapes(header, info); !shapes) {
            return shapes;
        }
    }
    if (info.n_vocab == 0) {
        if (const GgufValue* tokens = header.find("tokenizer.ggml.tokens");
            tokens && tokens->as_array()) {
            const size_t n_tokens = tokens->as_array()->size();
            if (n_tokens > kMaxVocabulary) {
                return fail(ErrorCode::bad_format,
                            fmt::format("tokenizer.ggml.tokens has {} tokens, over the limit of {}",
                                        n_tokens, kMaxVocabulary));
            }
            info.n_vocab = static_cast<uint32_t>(n_tokens);
        }
    }
    return {};
}

// Adds a tensor's share of what one token uses to n_active_params and active_weight_bytes
// (saturating, like n_params), and an expert tensor to the expert totals.
void count_active(ModelInfo& info, const GgufTensorInfo& tensor, bool tied_output) {
    auto add = [](uint64_t& total, uint64_t n) {
        if (__builtin_add_overflow(total, n, &total)) {
            total = UINT64_MAX;
        }
    };
    const bool expert = info.n_expert > 0 && tensor.name.find("_exps.") != std::string::npos;
    if (expert) {
        add(info.expert_params, tensor.n_elements);
        add(info.n_active_params, tensor.n_elements / info.n_expert * info.n_expert_used);
        // gpt-oss's expert biases are converted at load, like the other vectors.
        if (tensor.name.ends_with(".weight")) {
            add(info.expert_weight_bytes, tensor.n_bytes);
            add(info.active_weight_bytes, tensor.n_bytes / info.n_expert * info.n_expert_used);
        }
        return;
    }
    add(info.n_active_params, tensor.n_elements);
    // qwen35moe's shared-expert gate input is one row, stored 1-D by llama.cpp's quantizer,
    // and multiplied like a matrix.
    if (tensor.dims.size() < 2 && !tensor.name.ends_with("ffn_gate_inp_shexp.weight")) {
        return;
    }
    if (tensor.name == "per_layer_token_embd.weight") { // gemma4: a row looked up per token
        add(info.active_weight_bytes, tensor.n_bytes / (tensor.dims[1] ? tensor.dims[1] : 1));
        return;
    }
    if (tensor.name == "token_embd.weight") {
        const uint64_t n_rows = tensor.dims[1] ? tensor.dims[1] : 1;
        add(info.active_weight_bytes, tied_output ? tensor.n_bytes : 0);
        add(info.active_weight_bytes, tensor.n_bytes / n_rows);
        return;
    }
    add(info.active_weight_bytes, tensor.n_bytes);
}

} // namespace

uint32_t ModelInfo::n_attention_layers() const {
    return n_layer - static_cast<uint32_t>(std::ranges::count(recurrent_layers, true));
}

AttentionDims ModelInfo::attention_dims(uint32_t layer) const {
    if (layer < layer_shapes.size()) {
        const LayerShape& shape = layer_shapes[layer];
        return {shape.n_head, shape.n_head_kv, shape.head_dim, shape.head_dim};
    }
    return {n_head, n_head_kv, head_dim_k, head_dim_v};
}

uint64_t ModelInfo::kv_elements_per_token() const {
    if (layer_shapes.empty()) {
        return uint64_t{n_attention_layers()} * n_head_kv * (head_dim_k + head_dim_v);
    }
    uint64_t total = 0;
    for (uint32_t il = 0; il < layer_shapes.size(); ++il) {
        if (layer_shapes[il].kv_layer == il) {
            total += 2 * layer_shapes[il].kv_width();
        }
    }
    return total;
}

uint64_t ModelInfo::recurrent_state_bytes() const {
    const uint64_t n_recurrent = n_layer - n_attention_layers();
    return n_recurrent *
           (linear_attention.conv_state_floats() + linear_attention.ssm_state_floats()) *
           sizeof(float);
}

uint64_t ModelInfo::recurrent_verify_bytes(uint32_t n_tokens) const {
    const uint64_t n_recurrent = n_layer - n_attention_layers();
    return n_recurrent == 0
               ? 0
               : recurrent_state_bytes() + uint64_t{n_tokens} * n_recurrent *
                                               linear_attention.verify_log_floats() * sizeof(float);
}

std::optional<uint32_t> tensor_block_index(std::string_view name) {
    constexpr std::string_view prefix = "blk.";
    if (!name.starts_with(prefix)) {
        return std::nullopt;
    }
    name.remove_prefix(prefix.size());
    uint32_t index = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (error != std::errc{} || end == name.data() || end == name.data() + name.size() ||
        *end != '.') {
        return std::nullopt;
    }
    return index;
}

std::string file_type_name(int64_t file_type) {
    static const std::map<int64_t, std::string> names = {
        {0, "F32"},      {1, "F16"},      {2, "Q4_0"},       {3, "Q4_1"},    {7, "Q8_0"},
        {8, "Q5_0"},     {9, "Q5_1"},     {10, "Q2_K"},      {11, "Q3_K_S"}, {12, "Q3_K_M"},
        {13, "Q3_K_L"},  {14, "Q4_K_S"},  {15, "Q4_K_M"},    {16, "Q5_K_S"}, {17, "Q5_K_M"},
        {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},    {21, "Q2_K_S"}, {22, "IQ3_XS"},
        {23, "IQ3_XXS"}, {24, "IQ1_S"},   {25, "IQ4_NL"},    {26, "IQ3_S"},  {27, "IQ3_M"},
        {28, "IQ2_S"},   {29, "IQ2_M"},   {30, "IQ4_XS"},    {31, "IQ1_M"},  {32, "BF16"},
        {36, "TQ1_0"},   {37, "TQ2_0"},   {38, "MXFP4_MOE"},
    };
    auto it = names.find(file_type);
    return it == names.end() ? std::string() : it->second;
}

Result<std::string> read_architecture(const GgufHeader& header) {
    auto architecture = header.get_string("general.architecture");
    if (!architecture || architecture->empty()) {
        return fail(ErrorCode::bad_format,
                    "general.architecture is missing: this GGUF file does not say what model it "
                    "holds");
    }
    // A name like llama.cpp's ("llama", "gpt-neox", "qwen2moe"): it prefixes keys in messages.
    constexpr size_t kMaxArchitectureName = 64;
    const bool is_name = architecture->size() <= kMaxArchitectureName &&
                         std::ranges::all_of(*architecture, [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '_' || c == '-';
                         });
    if (!is_name) {
        return fail(ErrorCode::bad_format,
                    fmt::format("general.architecture must be a name of letters, digits, '-' "
                                "and '_' of at most {} characters, but it is \"{}\"",
                                kMaxArchitectureName, gguf_printable(*architecture)));
    }
    return *architecture;
}

Result<ModelInfo> read_model_info(const GgufHeader& header, uint64_t file_size) {
    ModelInfo info;
    auto architecture = read_architecture(header);
    if (!architecture) {
        return std::unexpected(architecture.error());
    }
    info.architecture = *architecture;
    info.name = header.get_string("general.name").value_or("");
    if (auto file_type = header.get_int("general.file_type")) {
        info.file_type = file_type_name(*file_type);
    }
    info.file_size = file_size;

    if (auto hyper = read_hyper_parameters(header, info); !hyper) {
        return std::unexpected(hyper.error());
    }

    std::map<TensorType, QuantShare> shares;
    // A runnable model has tensors in every block; a header claiming more blocks than it has
    // tensors (a bad or truncated file) gets no per-layer split rather than a huge vector.
    if (info.n_layer <= header.tensors.size()) {
        info.layer_weight_bytes.assign(info.n_layer, 0);
    }
    const bool tied_output = !std::ranges::any_of(
        header.tensors, [](const GgufTensorInfo& t) { return t.name == "output.weight"; });
    for (const auto& tensor : header.tensors) {
        count_active(info, tensor, tied_output);
        // Saturating: a header read without its file size holds tensors of any size.
        if (__builtin_add_overflow(info.n_params, tensor.n_elements, &info.n_params)) {
            info.n_params = UINT64_MAX;
        }
        info.weights_bytes += tensor.n_bytes;
        // A block index past block_count belongs to no layer the forward pass runs.
        if (auto block = tensor_block_index(tensor.name);
            block && *block < info.layer_weight_bytes.size()) {
            info.layer_weight_bytes[*block] += tensor.n_bytes;
        } else {
            info.non_layer_weight_bytes += tensor.n_bytes;
        }
        auto& share = shares[tensor.type];
        share.type = tensor.type;
        share.n_tensors += 1;
        share.n_bytes += tensor.n_bytes;
        share.n_elements += tensor.n_elements;
    }
    for (const auto& [type, share] : shares) {
        info.quant_mix.push_back(share);
    }
    std::ranges::sort(info.quant_mix, [](const QuantShare& a, const QuantShare& b) {
        return a.n_bytes > b.n_bytes;
    });
    if (auto chat_template = header.get_string("tokenizer.chat_template")) {
        info.chat_template = *chat_template;
    }
    return info;
}

} // namespace hearth
