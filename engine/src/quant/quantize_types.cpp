// The file types of hearth/quantize.h and quantize_rows, the dispatch to the row quantizers.
#include "hearth/quantize.h"
#include "quant/quantize_rows.h"

#include <array>
#include <fmt/format.h>

namespace hearth {

namespace {

struct FileTypeEntry {
    QuantFileType type;
    std::string_view name;
    TensorType base;
};

constexpr std::array kFileTypes = {
    FileTypeEntry{QuantFileType::Q8_0, "Q8_0", TensorType::Q8_0},
    FileTypeEntry{QuantFileType::Q6_K, "Q6_K", TensorType::Q6_K},
    FileTypeEntry{QuantFileType::Q5_K_M, "Q5_K_M", TensorType::Q5_K},
    FileTypeEntry{QuantFileType::Q5_K_S, "Q5_K_S", TensorType::Q5_K},
    FileTypeEntry{QuantFileType::Q5_1, "Q5_1", TensorType::Q5_1},
    FileTypeEntry{QuantFileType::Q5_0, "Q5_0", TensorType::Q5_0},
    FileTypeEntry{QuantFileType::Q4_K_M, "Q4_K_M", TensorType::Q4_K},
    FileTypeEntry{QuantFileType::Q4_K_S, "Q4_K_S", TensorType::Q4_K},
    FileTypeEntry{QuantFileType::Q4_1, "Q4_1", TensorType::Q4_1},
    FileTypeEntry{QuantFileType::Q4_0, "Q4_0", TensorType::Q4_0},
    FileTypeEntry{QuantFileType::IQ4_XS, "IQ4_XS", TensorType::IQ4_XS},
    FileTypeEntry{QuantFileType::IQ4_NL, "IQ4_NL", TensorType::IQ4_NL},
    FileTypeEntry{QuantFileType::Q3_K_L, "Q3_K_L", TensorType::Q3_K},
    FileTypeEntry{QuantFileType::Q3_K_M, "Q3_K_M", TensorType::Q3_K},
    FileTypeEntry{QuantFileType::Q3_K_S, "Q3_K_S", TensorType::Q3_K},
    FileTypeEntry{QuantFileType::Q2_K, "Q2_K", TensorType::Q2_K},
};

const FileTypeEntry& entry(QuantFileType type) {
    for (const FileTypeEntry& e : kFileTypes) {
        if (e.type == type)
            return e;
    }
    return kFileTypes.front(); // unreachable for a valid enumerator
}

constexpr std::array kFileTypeList = [] {
    std::array<QuantFileType, kFileTypes.size()> list{};
    for (size_t i = 0; i < kFileTypes.size(); ++i)
        list[i] = kFileTypes[i].type;
    return list;
}();

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) {
            return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
        };
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

} // namespace

std::span<const QuantFileType> quant_file_types() {
    return kFileTypeList;
}

std::string_view quant_file_type_name(QuantFileType type) {
    return entry(type).name;
}

std::optional<QuantFileType> parse_quant_file_type(std::string_view name) {
    for (const FileTypeEntry& e : kFileTypes) {
        if (iequal(e.name, name))
            return e.type;
    }
    return std::nullopt;
}

TensorType quant_file_type_base(QuantFileType type) {
    return entry(type).base;
}

bool can_quantize_to(TensorType type) {
    switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::IQ4_NL:
    case TensorType::IQ4_XS:
        return true;
    default:
        return false;
    }
}

namespace {

// Plain conversions, as ggml_quantize_chunk's F16 and BF16 cases (round to nearest even).
void convert_rows(TensorType type, const float* src, void* dst, int64_t n) {
    auto* out = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) {
        if (type == TensorType::F16) {
            out[i] = quant::fp32_to_fp16_bits(src[i]);
        } else {
            uint32_t bits = 0;
            __builtin_memcpy(&bits, &src[i], sizeof bits);
            // ggml_compute_fp32_to_bf16: NaN kept quiet, otherwise rounded to nearest even.
            if ((bits & 0x7fffffff) > 0x7f800000) {
                out[i] = static_cast<uint16_t>((bits >> 16) | 64);
            } else {
                out[i] = static_cast<uint16_t>((bits + (0x7fff + ((bits >> 16) & 1))) >> 16);
            }
        }
    }
}

} // namespace

namespace {

// One row with an importance matrix, as ggml_quantize_chunk with quant_weights: the types
// without a weighted routine (F32, F16, BF16, Q8_0) ignore the weights.
bool quantize_row_weighted(TensorType type, const float* x, void* dst, int64_t n_per_row,
                           const float* qw) {
    using namespace quant;
    switch (type) {
    case TensorType::Q4_0:
        quantize_row_q4_0_weighted(x, static_cast<BlockQ4_0*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q4_1:
        quantize_row_q4_1_weighted(x, static_cast<BlockQ4_1*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q5_0:
        quantize_row_q5_0_weighted(x, static_cast<BlockQ5_0*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q5_1:
        quantize_row_q5_1_weighted(x, static_cast<BlockQ5_1*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q2_K:
        quantize_row_q2_K_weighted(x, static_cast<BlockQ2_K*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q3_K:
        quantize_row_q3_K_weighted(x, static_cast<BlockQ3_K*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q4_K:
        quantize_row_q4_K_weighted(x, static_cast<BlockQ4_K*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q5_K:
        quantize_row_q5_K_weighted(x, static_cast<BlockQ5_K*>(dst), n_per_row, qw);
        return true;
    case TensorType::Q6_K:
        quantize_row_q6_K(x, static_cast<BlockQ6_K*>(dst), n_per_row, qw);
        return true;
    case TensorType::IQ4_NL:
        quantize_row_iq4_nl(x, static_cast<BlockIQ4_NL*>(dst), n_per_row, qw);
        return true;
    case TensorType::IQ4_XS:
        quantize_row_iq4_xs(x, static_cast<BlockIQ4_XS*>(dst), n_per_row, qw);
        return true;
    default:
        return false;
    }
}

} // namespace

Result<void> quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                           int64_t n_per_row, const float* importance) {
    if (!can_quantize_to(type)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("cannot quantize to {}", tensor_type_name(type)));
    }
    const TensorTypeTraits traits = tensor_type_traits(type);
    if (n_rows < 0 || n_per_row <= 0 || n_per_row % traits.block_size != 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a row of {} values is not a whole number of {} blocks of {}",
                                n_per_row, traits.name, traits.block_size));
    }
    if (importance != nullptr && n_rows > 0 &&
        quantize_row_weighted(type, src, dst, n_per_row, importance)) {
        const uint64_t row_bytes =
            static_cast<uint64_t>(n_per_row / traits.block_size) * traits.type_size;
        for (int64_t row = 1; row < n_rows; ++row) {
            quantize_row_weighted(type, src + row * n_per_row,
                                  static_cast<uint8_t*>(dst) +
                                      static_cast<uint64_t>(row) * row_bytes,
                                  n_per_row, importance);
        }
        return {};
    }
    const int64_t n = n_rows * n_per_row;
    using namespace quant;
    switch (type) {
    case TensorType::F32:
        __builtin_memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        break;
    case TensorType::F16:
    case TensorType::BF16:
        convert_rows(type, src, dst, n);
        break;
    case TensorType::Q4_0:
        quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
        break;
    case TensorType::Q4_1:
        quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
        break;
    case TensorType::Q5_0:
        quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
        break;
    case TensorType::Q5_1:
        quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
        break;
    case TensorType::Q8_0:
        quantize_row_q8_0_reference(src, static_cast<BlockQ8_0*>(dst), n);
        break;
    case TensorType::Q2_K:
        quantize_row_q2_K(src, static_cast<BlockQ2_K*>(dst), n);
        break;
    case TensorType::Q3_K:
        quantize_row_q3_K(src, static_cast<BlockQ3_K*>(dst), n);
        break;
    case TensorType::Q4_K:
        quantize_row_q4_K(src, static_cast<BlockQ4_K*>(dst), n);
        break;
    case TensorType::Q5_K:
        quantize_row_q5_K(src, static_cast<BlockQ5_K*>(dst), n);
        break;
    case TensorType::Q6_K:
        quantize_row_q6_K(src, static_cast<BlockQ6_K*>(dst), n);
        break;
    case TensorType::IQ4_NL:
        quantize_row_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n);
        break;
    case TensorType::IQ4_XS:
        quantize_row_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n);
        break;
    default:
        break;
    }
    return {};
}

} // namespace hearth
