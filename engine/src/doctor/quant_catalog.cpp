// Quantizations of the same model from the catalog, and llama.cpp's bits per weight of each mix.
#include "doctor_internal.h"
#include "hearth/json_input.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace hearth {
namespace {

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// "dir/SmolLM2-135M-Instruct-Q4_K_M.gguf" -> "SMOLLM2-135M-INSTRUCT": the file name without its
// directory, extension, split-part suffix and quantization, upper-cased.
std::string model_stem(std::string_view file) {
    if (const size_t slash = file.find_last_of('/'); slash != std::string_view::npos) {
        file.remove_prefix(slash + 1);
    }
    std::string stem = upper(file);
    if (stem.ends_with(".GGUF")) {
        stem.resize(stem.size() - 5);
    }
    // "-00001-OF-00003"
    if (const size_t of = stem.rfind("-OF-"); of != std::string::npos && of >= 6) {
        stem.resize(of - 6);
    }
    const size_t cut = stem.find_last_of("-.");
    if (cut != std::string::npos &&
        quantization_bits_per_weight(std::string_view(stem).substr(cut + 1))) {
        stem.resize(cut);
    }
    return stem;
}

} // namespace

std::optional<double> quantization_bits_per_weight(std::string_view file_type) {
    // llama.cpp's figures for its mixes (tools/quantize's table, Llama-2-7B and Llama-3-8B).
    static constexpr std::array<std::pair<std::string_view, double>, 33> kBits{{
        {"F32", 32.0},    {"F16", 16.0},    {"BF16", 16.0},    {"Q8_0", 8.5},   {"Q6_K", 6.56},
        {"Q5_K_M", 5.7},  {"Q5_K_S", 5.54}, {"Q5_0", 5.5},     {"Q5_1", 6.0},   {"Q4_K_M", 4.89},
        {"Q4_K_S", 4.58}, {"Q4_0", 4.5},    {"Q4_1", 5.0},     {"Q4", 4.89},    {"Q3_K_M", 3.91},
        {"Q3_K_L", 4.27}, {"Q3_K_S", 3.5},  {"IQ4_XS", 4.25},  {"IQ4_NL", 4.5}, {"IQ3_XS", 3.3},
        {"IQ3_M", 3.66},  {"IQ3_S", 3.44},  {"IQ3_XXS", 3.06}, {"Q2_K", 2.96},  {"IQ2_XS", 2.31},
        {"IQ2_M", 2.7},   {"IQ2_S", 2.5},   {"IQ2_XXS", 2.06}, {"IQ1_M", 1.75}, {"IQ1_S", 1.56},
        {"TQ1_0", 1.69},  {"TQ2_0", 2.06},  {"MXFP4", 4.25},
    }};
    const std::string name = upper(file_type);
    for (const auto& [type, bits] : kBits) {
        if (name == type) {
            return bits;
        }
    }
    return std::nullopt;
}

Result<std::vector<QuantSibling>> catalog_quant_siblings(std::string_view catalog_json,
                                                         std::string_view model_file_name) {
    auto catalog = parse_json_input(catalog_json, "the model catalog");
    if (!catalog) {
        return std::unexpected(catalog.error());
    }
    const nlohmann::ordered_json& root = *catalog;
    if (!root.is_object() || !root.contains("models") || !root.at("models").is_array()) {
        return fail(ErrorCode::bad_format, "the model catalog has no \"models\" array");
    }
    const std::string stem = model_stem(model_file_name);
    const auto& models = root.at("models").get_ref<const nlohmann::ordered_json::array_t&>();
    for (const auto& entry : models) {
        const auto files = entry.find("files");
        if (!entry.is_object() || files == entry.end() || !files->is_array()) {
            continue;
        }
        std::vector<QuantSibling> siblings;
        bool matches = false;
        for (const auto& file : *files) {
            if (!file.is_object() || !file.contains("file") || !file["file"].is_string() ||
                !file.contains("quantization") || !file["quantization"].is_string()) {
                continue;
            }
            QuantSibling sibling{file["quantization"].get<std::string>(),
                                 file["file"].get<std::string>(), 0};
            if (const auto size = file.find("size");
                size != file.end() && size->is_number_unsigned()) {
                sibling.size_bytes = size->get<uint64_t>();
            }
            matches = matches || model_stem(sibling.file) == stem;
            siblings.push_back(std::move(sibling));
        }
        if (matches) {
            return siblings;
        }
    }
    return std::vector<QuantSibling>{};
}

} // namespace hearth
