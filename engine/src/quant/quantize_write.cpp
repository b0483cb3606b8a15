// The quantized file's GGUF header, laid out as ggml's gguf writer does (version 3, the
// metadata in order, the tensor table, padding to the alignment), so that Hearth's output is
// byte for byte the file llama-quantize writes for the same input and type.
#include "quant/gguf_writer.h"
#include "quant/quantize_plan.h"

#include <bit>
#include <cstring>
#include <fmt/format.h>

namespace hearth::quant {

namespace {

constexpr uint32_t kQuantizationVersion = 2; // GGML_QNT_VERSION

bool is_split_key(std::string_view key) {
    return key == "split.no" || key == "split.count" || key == "split.tensors.count";
}

// llama-quantize's kv overrides for an importance matrix: strings cut to 127 bytes (its
// val_str is char[128]), the counts as u32, in this order after general.file_type.
void append_imatrix_keys(const ImportanceMatrix& matrix, const std::string& file,
                         std::vector<GgufKeyValue>& metadata) {
    const auto cut = [](const std::string& s) { return s.substr(0, 127); };
    metadata.push_back({"quantize.imatrix.file", GgufValue{GgufType::string, cut(file)}});
    if (!matrix.datasets.empty()) {
        metadata.push_back({"quantize.imatrix.dataset",
                            GgufValue{GgufType::string, cut(matrix.datasets.front())}});
    }
    metadata.push_back({"quantize.imatrix.entries_count",
                        GgufValue{GgufType::uint32, uint64_t{matrix.entries.size()}}});
    if (matrix.chunk_count > 0) {
        metadata.push_back({"quantize.imatrix.chunks_count",
                            GgufValue{GgufType::uint32, uint64_t{matrix.chunk_count}}});
    }
}

} // namespace

// A value's payload (its type id written by the caller), in its own on-disk width.
void GgufWriter::put_value(const GgufValue& value) {
    const auto as_u = [&] { return value.as_uint().value_or(0); };
    const auto as_i = [&] { return value.as_int().value_or(0); };
    switch (value.type) {
    case GgufType::uint8:
        put<uint8_t>(static_cast<uint8_t>(as_u()));
        break;
    case GgufType::int8:
        put<int8_t>(static_cast<int8_t>(as_i()));
        break;
    case GgufType::uint16:
        put<uint16_t>(static_cast<uint16_t>(as_u()));
        break;
    case GgufType::int16:
        put<int16_t>(static_cast<int16_t>(as_i()));
        break;
    case GgufType::uint32:
        put<uint32_t>(static_cast<uint32_t>(as_u()));
        break;
    case GgufType::int32:
        put<int32_t>(static_cast<int32_t>(as_i()));
        break;
    case GgufType::uint64:
        put<uint64_t>(as_u());
        break;
    case GgufType::int64:
        put<int64_t>(as_i());
        break;
    case GgufType::float32:
        put<float>(static_cast<float>(value.as_float().value_or(0)));
        break;
    case GgufType::float64:
        put<double>(value.as_float().value_or(0));
        break;
    case GgufType::boolean:
        put<uint8_t>(value.as_bool().value_or(false) ? 1 : 0);
        break;
    case GgufType::string:
        put_string(value.as_string() ? *value.as_string() : std::string());
        break;
    case GgufType::array: {
        static const GgufArray empty;
        put_array(value.as_array() ? *value.as_array() : empty);
        break;
    }
    }
}

std::vector<uint8_t> serialize_output_header(const GgufFile& input, const QuantizePlan& plan,
                                             const QuantizeOptions& options) {
    const QuantFileType type = options.type;
    std::vector<GgufKeyValue> metadata;
    for (const GgufKeyValue& kv : input.metadata()) {
        if (is_split_key(kv.key) || kv.key == "general.quantization_version" ||
            kv.key == "general.file_type") {
            continue;
        }
        metadata.push_back(kv);
    }
    metadata.push_back({"general.quantization_version",
                        GgufValue{GgufType::uint32, uint64_t{kQuantizationVersion}}});
    metadata.push_back(
        {"general.file_type", GgufValue{GgufType::uint32, uint64_t{static_cast<uint32_t>(type)}}});
    if (options.imatrix)
        append_imatrix_keys(*options.imatrix, options.imatrix_file, metadata);

    GgufWriter w;
    w.put<uint32_t>(0x46554747); // "GGUF"
    w.put<uint32_t>(kGgufWriteVersion);
    w.put<int64_t>(static_cast<int64_t>(plan.tensors.size()));
    w.put<int64_t>(static_cast<int64_t>(metadata.size()));
    for (const GgufKeyValue& kv : metadata) {
        w.put_string(kv.key);
        w.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
        w.put_value(kv.value);
    }
    uint64_t offset = 0;
    for (const QuantizeTensorPlan& tensor : plan.tensors) {
        w.put_string(tensor.name);
        // ggml_n_dims: trailing dimensions of 1 are not written.
        size_t n_dims = tensor.dims.size();
        while (n_dims > 1 && tensor.dims[n_dims - 1] == 1)
            --n_dims;
        w.put<uint32_t>(static_cast<uint32_t>(n_dims));
        for (size_t d = 0; d < n_dims; ++d)
            w.put<int64_t>(static_cast<int64_t>(tensor.dims[d]));
        w.put<uint32_t>(static_cast<uint32_t>(tensor.to));
        w.put<uint64_t>(offset);
        offset += align_up(tensor.bytes_out, plan.alignment);
    }
    w.bytes().resize(align_up(w.bytes().size(), plan.alignment), 0);
    return std::move(w.bytes());
}

} // namespace hearth::quant
