// GGML tensor element types as stored in GGUF files, and their block geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

// Values are GGML's on-disk type ids; gaps are ids that GGML retired.
enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
};

// Geometry of one type: `block_size` elements are stored in `type_size` bytes.
struct TensorTypeTraits {
    TensorType type;
    std::string_view name; // as GGML spells it: "Q4_K", "F16", ...
    uint32_t block_size;
    uint32_t type_size;
};

// Traits of a type id read from a file; nullopt for ids GGML never defined.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);
TensorTypeTraits tensor_type_traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

} // namespace hearth
