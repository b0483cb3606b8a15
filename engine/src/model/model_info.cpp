// Model facts from GGUF metadata: keys are `{architecture}.*` as llama.cpp writes them.
#include "hearth/model_info.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <map>
#include <string_view>

namespace hearth {
namespace {

// The block a tensor belongs to, from its name (`blk.12.attn_q.weight` is in block 12).
std::optional<uint32_t> block_index(std::string_view name) {
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

// A hyper-parameter stored as a scalar, or as a per-layer array (some models vary it
// across layers; the largest value sizes the buffers).
std::optional<uint64_t> read_count(const GgufHeader& header, const std::string& key) {
    const GgufValue* value = header.find(key);
    if (!value) {
        return std::nullopt;
    }
    if (auto scalar = value->as_uint()) {
        return scalar;
    }
    if (const GgufArray* array = value->as_array(); array && !array->items.empty()) {
        uint64_t largest = 0;
        for (const auto& item : array->items) {
            auto v = item.as_uint();
            if (!v) {
                return std::nullopt;
            }
            largest = std::max(largest, *v);
        }
        return largest;
    }
    return std::nullopt;
}

} // namespace

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

Result<ModelInfo> read_model_info(const GgufHeader& header, uint64_t file_size) {
    ModelInfo info;
    auto architecture = header.get_string("general.architecture");
    if (!architecture || architecture->empty()) {
        return fail(ErrorCode::bad_format,
                    "general.architecture is missing: this GGUF file does not say what model it "
                    "holds");
    }
    info.architecture = *architecture;
    info.name = header.get_string("general.name").value_or("");
    if (auto file_type = header.get_int("general.file_type")) {
        info.file_type = file_type_name(*file_type);
    }
    info.file_size = file_size;

    const std::string arch = info.architecture + ".";
    auto required = [&](const std::string& key, uint32_t& out) -> Result<void> {
        auto value = read_count(header, arch + key);
        if (!value || *value > UINT32_MAX) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{}{} is missing or not a count", arch, key));
        }
        out = static_cast<uint32_t>(*value);
        return {};
    };
    for (auto [key, field] :
         {std::pair{"block_count", &info.n_layer}, std::pair{"embedding_length", &info.n_embd},
          std::pair{"attention.head_count", &info.n_head},
          std::pair{"context_length", &info.n_ctx_train}}) {
        if (auto ok = required(key, *field); !ok) {
            return std::unexpected(ok.error());
        }
    }
    if (info.n_head == 0 || info.n_layer == 0 || info.n_embd == 0) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}: zero layers, heads or embedding size", info.architecture));
    }
    info.n_head_kv = static_cast<uint32_t>(
        read_count(header, arch + "attention.head_count_kv").value_or(info.n_head));
    info.n_ff = static_cast<uint32_t>(read_count(header, arch + "feed_forward_length").value_or(0));
    const uint32_t default_head_dim = info.n_embd / info.n_head;
    info.head_dim_k = static_cast<uint32_t>(
        read_count(header, arch + "attention.key_length").value_or(default_head_dim));
    info.head_dim_v = static_cast<uint32_t>(
        read_count(header, arch + "attention.value_length").value_or(default_head_dim));
    info.n_rot = static_cast<uint32_t>(
        read_count(header, arch + "rope.dimension_count").value_or(info.head_dim_k));
    info.rope_freq_base = header.get_float(arch + "rope.freq_base").value_or(10000.0);
    if (auto type = header.get_string(arch + "rope.scaling.type")) {
        info.rope_scaling.type = *type;
    }
    info.rope_scaling.factor = header.get_float(arch + "rope.scaling.factor").value_or(1.0);
    info.rope_scaling.n_ctx_orig = static_cast<uint32_t>(
        header.get_int(arch + "rope.scaling.original_context_length").value_or(0));
    info.norm_rms_eps =
        header.get_float(arch + "attention.layer_norm_rms_epsilon")
            .value_or(header.get_float(arch + "attention.layer_norm_epsilon").value_or(1e-5));
    info.sliding_window =
        static_cast<uint32_t>(header.get_int(arch + "attention.sliding_window").value_or(0));

    if (auto vocab = read_count(header, arch + "vocab_size")) {
        info.n_vocab = static_cast<uint32_t>(*vocab);
    } else if (const GgufValue* tokens = header.find("tokenizer.ggml.tokens");
               tokens && tokens->as_array()) {
        info.n_vocab = static_cast<uint32_t>(tokens->as_array()->items.size());
    }

    std::map<TensorType, QuantShare> shares;
    // A runnable model has tensors in every block; a header claiming more blocks than it has
    // tensors (a bad or truncated file) gets no per-layer split rather than a huge vector.
    if (info.n_layer <= header.tensors.size()) {
        info.layer_weight_bytes.assign(info.n_layer, 0);
    }
    for (const auto& tensor : header.tensors) {
        info.n_params += tensor.n_elements;
        info.weights_bytes += tensor.n_bytes;
        // A block index past block_count belongs to no layer the forward pass runs.
        if (auto block = block_index(tensor.name);
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
