// Parsing of the GGUF header (magic, version, metadata, tensor table) with every
// count, length and offset checked against the bytes actually present.
//
// Layout (little-endian): "GGUF" u32 version, u64 n_tensors, u64 n_kv,
// n_kv × (string key, u32 type, value), n_tensors × (string name, u32 n_dims,
// n_dims × u64 dim, u32 type, u64 offset), padding to `general.alignment`, data.
// A string is u64 length + bytes; an array is u32 element type, u64 count, items.
#include "gguf/gguf_encoding.h"
#include "hearth/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fmt/format.h>
#include <unordered_set>

namespace hearth {
namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" read as little-endian u32
// How the messages about a header cut short start (parse_gguf_header in gguf.h): a prefix
// of the file too short, or the file itself.
constexpr std::string_view kTruncated = "file truncated: ";
constexpr std::string_view kTruncatedOrCorrupt = "file truncated or corrupt: ";

class HeaderReader {
public:
    HeaderReader(std::span<const uint8_t> bytes, std::optional<uint64_t> file_size,
                 const GgufLimits& limits)
        : bytes_(bytes), file_size_(file_size), limits_(limits) {}

    uint64_t position() const { return pos_; }
    uint64_t size() const { return bytes_.size(); }

    // Checks, before anything is allocated for them, that `count` items of at least
    // `item_bytes` each can follow the current position. `what()` names them ("tensor count
    // 9"), called only on failure (a vocabulary checks each of its 150,000 strings). Past the
    // end of the file, the file is cut short or corrupt; past the end of the bytes at hand
    // but not of the file (a prefix read first), only the bytes read are few.
    template <class Describe>
    Result<void> check_fits(uint64_t count, uint64_t item_bytes, const Describe& describe,
                            uint64_t at) const {
        const uint64_t left = bytes_.size() - pos_;
        if (count <= left / item_bytes) {
            return {};
        }
        const std::string what = describe();
        // Without the file's size, or with only a prefix of the file at hand, the items may
        // lie in the part not read yet.
        const bool prefix = !file_size_ || *file_size_ > bytes_.size();
        const uint64_t left_in_file = file_size_ && prefix ? *file_size_ - pos_ : left;
        if (!file_size_ || (prefix && count <= left_in_file / item_bytes)) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{}{} runs past the {} bytes read (at byte offset {})",
                                    kTruncated, what, bytes_.size(), at));
        }
        return bad(fmt::format("{}{} cannot fit in the {} bytes left in the file",
                               kTruncatedOrCorrupt, what, left_in_file),
                   at);
    }

    template <class T>
    Result<T> read(const char* what) {
        if (bytes_.size() - pos_ < sizeof(T)) {
            return truncated(sizeof(T), what);
        }
        T value;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    Result<std::string> read_string(const char* what) {
        auto text = read_text(what);
        if (!text) {
            return std::unexpected(text.error());
        }
        return std::string(*text);
    }

    // A string's bytes, a view into the header's bytes.
    Result<std::string_view> read_text(const char* what) {
        const uint64_t at = pos_;
        auto length = read<uint64_t>(what);
        if (!length) {
            return std::unexpected(length.error());
        }
        if (*length > limits_.max_string_bytes) {
            return bad(fmt::format("{} claims a length of {} bytes, over the limit of {}", what,
                                   *length, limits_.max_string_bytes),
                       at);
        }
        const auto describe = [&] { return fmt::format("{} of {} bytes", what, *length); };
        if (auto fits = check_fits(*length, 1, describe, at); !fits) {
            return std::unexpected(fits.error());
        }
        if (auto budget = charge(*length, at); !budget) {
            return std::unexpected(budget.error());
        }
        const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + pos_), *length);
        pos_ += *length;
        return text;
    }

    Result<GgufValue> read_value(GgufType type, uint32_t depth);
    Result<void> read_items(GgufArray& array, uint64_t count, uint32_t depth, uint64_t at);

    std::unexpected<Error> bad(const std::string& problem, uint64_t at) const {
        return fail(ErrorCode::bad_format, fmt::format("{} (at byte offset {})", problem, at));
    }

    std::unexpected<Error> truncated(uint64_t needed, const char* what) const {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}{} needs {} bytes at byte offset {} but the file ends at {}",
                                kTruncated, what, needed, pos_, bytes_.size()));
    }

    // Counts parsed bytes against the metadata budget.
    Result<void> charge(uint64_t n_bytes, uint64_t at) {
        parsed_bytes_ += n_bytes;
        if (parsed_bytes_ > limits_.max_metadata_bytes) {
            return bad(fmt::format("metadata larger than the limit of {} bytes",
                                   limits_.max_metadata_bytes),
                       at);
        }
        return {};
    }

private:
    std::span<const uint8_t> bytes_;
    std::optional<uint64_t> file_size_;
    const GgufLimits& limits_;
    uint64_t pos_ = 0;
    uint64_t parsed_bytes_ = 0;
};

bool is_valid_type(uint32_t type) {
    return type <= static_cast<uint32_t>(GgufType::float64);
}

// Smallest encoded size of one value of `type`, to reject impossible array counts early: a
// string's length field, an array's element type and count.
uint64_t min_encoded_size(GgufType type) {
    switch (type) {
    case GgufType::string:
        return 8;
    case GgufType::array:
        return 12;
    default:
        return gguf_fixed_size(type);
    }
}

template <class T>
Result<GgufValue> read_number(HeaderReader& reader, GgufType type, const char* what) {
    auto raw = reader.template read<T>(what);
    if (!raw) {
        return std::unexpected(raw.error());
    }
    GgufValue value{.type = type, .data = uint64_t{0}};
    if constexpr (std::is_floating_point_v<T>) {
        value.data = static_cast<double>(*raw);
    } else if constexpr (std::is_signed_v<T>) {
        value.data = static_cast<int64_t>(*raw);
    } else {
        value.data = static_cast<uint64_t>(*raw);
    }
    return value;
}

Result<GgufValue> HeaderReader::read_value(GgufType type, uint32_t depth) {
    switch (type) {
    case GgufType::uint8:
        return read_number<uint8_t>(*this, type, "a u8 value");
    case GgufType::int8:
        return read_number<int8_t>(*this, type, "an i8 value");
    case GgufType::uint16:
        return read_number<uint16_t>(*this, type, "a u16 value");
    case GgufType::int16:
        return read_number<int16_t>(*this, type, "an i16 value");
    case GgufType::uint32:
        return read_number<uint32_t>(*this, type, "a u32 value");
    case GgufType::int32:
        return read_number<int32_t>(*this, type, "an i32 value");
    case GgufType::uint64:
        return read_number<uint64_t>(*this, type, "a u64 value");
    case GgufType::int64:
        return read_number<int64_t>(*this, type, "an i64 value");
    case GgufType::float32:
        return read_number<float>(*this, type, "an f32 value");
    case GgufType::float64:
        return read_number<double>(*this, type, "an f64 value");
    case GgufType::boolean: {
        const uint64_t at = pos_;
        auto raw = read<uint8_t>("a bool value");
        if (!raw) {
            return std::unexpected(raw.error());
        }
        if (*raw > 1) {
            return bad(fmt::format("bool value {} is neither 0 nor 1", *raw), at);
        }
        return GgufValue{.type = type, .data = *raw == 1};
    }
    case GgufType::string: {
        auto text = read_string("a string value");
        if (!text) {
            return std::unexpected(text.error());
        }
        return GgufValue{.type = type, .data = std::move(*text)};
    }
    case GgufType::array: {
        const uint64_t at = pos_;
        if (depth >= limits_.max_array_depth) {
            return bad(fmt::format("arrays nested deeper than {}", limits_.max_array_depth), at);
        }
        auto element_type = read<uint32_t>("an array's element type");
        if (!element_type) {
            return std::unexpected(element_type.error());
        }
        if (!is_valid_type(*element_type)) {
            return bad(fmt::format("unknown array element type {}", *element_type), at);
        }
        auto count = read<uint64_t>("an array's item count");
        if (!count) {
            return std::unexpected(count.error());
        }
        const auto item_type = static_cast<GgufType>(*element_type);
        if (*count > limits_.max_array_items) {
            return bad(fmt::format("array of {} items is over the limit of {}", *count,
                                   limits_.max_array_items),
                       at);
        }
        const auto describe = [&] {
            return fmt::format("array of {} items of type {}", *count, gguf_type_name(item_type));
        };
        if (auto fits = check_fits(*count, min_encoded_size(item_type), describe, at); !fits) {
            return std::unexpected(fits.error());
        }
        GgufArray array(item_type);
        if (auto items = read_items(array, *count, depth, at); !items) {
            return std::unexpected(items.error());
        }
        return GgufValue{.type = type, .data = std::move(array)};
    }
    }
    return bad("unknown value type", pos_);
}

// Reads `count` items of `array.element_type()`, known to fit in the bytes left: numbers and
// booleans in one copy, strings into one buffer, arrays one value each. `at` is the array's
// position, for the messages.
Result<void> HeaderReader::read_items(GgufArray& array, uint64_t count, uint32_t depth,
                                      uint64_t at) {
    switch (array.element_type()) {
    case GgufType::string:
        if (auto budget = charge(count * sizeof(uint64_t), at); !budget) {
            return budget;
        }
        array.reserve_strings(count);
        for (uint64_t i = 0; i < count; ++i) {
            auto text = read_text("a string value");
            if (!text) {
                return std::unexpected(text.error());
            }
            array.append_string(*text);
        }
        return {};
    case GgufType::array:
        if (auto budget = charge(count * sizeof(GgufValue), at); !budget) {
            return budget;
        }
        for (uint64_t i = 0; i < count; ++i) {
            auto item = read_value(GgufType::array, depth + 1);
            if (!item) {
                return std::unexpected(item.error());
            }
            array.push_back(*item);
        }
        return {};
    default: {
        // A number's encoded size is exact, so check_fits has seen that all of them are here.
        const uint64_t n_bytes = count * min_encoded_size(array.element_type());
        if (auto budget = charge(n_bytes, at); !budget) {
            return budget;
        }
        const auto items = bytes_.subspan(pos_, n_bytes);
        if (array.element_type() == GgufType::boolean) {
            const auto bad_flag = std::ranges::find_if(items, [](uint8_t b) { return b > 1; });
            if (bad_flag != items.end()) {
                return bad(fmt::format("bool value {} is neither 0 nor 1", *bad_flag),
                           pos_ + static_cast<uint64_t>(bad_flag - items.begin()));
            }
        }
        if (count != 0) {
            array.append_encoded(items, count);
        }
        pos_ += n_bytes;
        return {};
    }
    }
}

// `error` said of `context` (a metadata key), keeping a "file truncated" start first.
Error in_context(Error error, const std::string& context) {
    std::string_view start;
    for (std::string_view kind : {kTruncated, kTruncatedOrCorrupt}) {
        if (error.message.starts_with(kind)) {
            start = kind;
        }
    }
    const std::string_view rest = std::string_view(error.message).substr(start.size());
    error.message = fmt::format("{}{}: {}", start, context, rest);
    return error;
}

// The smallest tensor entry: an empty name (8), one dimension (4 + 8), type (4), offset (8).
constexpr uint64_t kMinTensorInfoBytes = 32;
// The smallest metadata entry: an empty key (8), the type (4) and a one-byte value.
constexpr uint64_t kMinMetadataEntryBytes = 13;

// Reads one tensor's dimensions, checking the element count against the limit as it grows.
Result<void> read_dims(HeaderReader& reader, GgufTensorInfo& info, const GgufLimits& limits) {
    const uint64_t dims_at = reader.position();
    auto n_dims = reader.read<uint32_t>("a tensor's dimension count");
    if (!n_dims) {
        return std::unexpected(n_dims.error());
    }
    if (*n_dims == 0 || *n_dims > limits.max_dims) {
        return reader.bad(fmt::format("tensor '{}' has {} dimensions (1 to {} allowed)",
                                      gguf_printable(info.name), *n_dims, limits.max_dims),
                          dims_at);
    }
    info.n_elements = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
        const uint64_t dim_at = reader.position();
        auto dim = reader.read<uint64_t>("a tensor dimension");
        if (!dim) {
            return std::unexpected(dim.error());
        }
        if (*dim == 0 || __builtin_mul_overflow(info.n_elements, *dim, &info.n_elements) ||
            info.n_elements > limits.max_tensor_elements) {
            return reader.bad(fmt::format("tensor '{}' has an impossible dimension {}: its "
                                          "elements would number more than the limit of {}",
                                          gguf_printable(info.name), *dim,
                                          limits.max_tensor_elements),
                              dim_at);
        }
        info.dims.push_back(*dim);
    }
    return {};
}

// Reads one tensor's type and computes its size in bytes, overflow-checked.
Result<void> read_type(HeaderReader& reader, GgufTensorInfo& info) {
    const uint64_t type_at = reader.position();
    auto type_id = reader.read<uint32_t>("a tensor type");
    if (!type_id) {
        return std::unexpected(type_id.error());
    }
    auto traits = tensor_type_traits(*type_id);
    if (!traits) {
        return fail(ErrorCode::unsupported,
                    fmt::format("tensor '{}' has unknown tensor type {} (at byte offset {})",
                                gguf_printable(info.name), *type_id, type_at));
    }
    info.type = traits->type;
    if (info.dims[0] % traits->block_size != 0) {
        return reader.bad(fmt::format("tensor '{}' has rows of {} elements, not a multiple of "
                                      "{}'s block size {}",
                                      gguf_printable(info.name), info.dims[0], traits->name,
                                      traits->block_size),
                          type_at);
    }
    // Rows are whole blocks, so the element count is a whole number of blocks.
    if (__builtin_mul_overflow(info.n_elements / traits->block_size, uint64_t{traits->type_size},
                               &info.n_bytes)) {
        return reader.bad(fmt::format("tensor '{}' of {} {} elements would take more than 2^64 "
                                      "bytes",
                                      gguf_printable(info.name), info.n_elements, traits->name),
                          type_at);
    }
    return {};
}

Result<void> read_tensor_infos(HeaderReader& reader, GgufHeader& header, uint64_t n_tensors,
                               const GgufLimits& limits) {
    const uint64_t table_at = reader.position();
    const auto describe = [&] { return fmt::format("tensor count {}", n_tensors); };
    if (auto fits = reader.check_fits(n_tensors, kMinTensorInfoBytes, describe, table_at); !fits) {
        return fits;
    }
    if (auto budget = reader.charge(n_tensors * sizeof(GgufTensorInfo), table_at); !budget) {
        return budget;
    }
    std::unordered_set<std::string> names;
    header.tensors.reserve(n_tensors);
    for (uint64_t t = 0; t < n_tensors; ++t) {
        GgufTensorInfo info;
        info.info_position = reader.position();
        auto name = reader.read_string("a tensor name");
        if (!name) {
            return std::unexpected(name.error());
        }
        info.name = std::move(*name);
        if (!names.insert(info.name).second) {
            return reader.bad(fmt::format("tensor '{}' appears twice", gguf_printable(info.name)),
                              info.info_position);
        }
        if (auto dims = read_dims(reader, info, limits); !dims) {
            return dims;
        }
        if (auto type = read_type(reader, info); !type) {
            return type;
        }
        const uint64_t offset_at = reader.position();
        auto offset = reader.read<uint64_t>("a tensor data offset");
        if (!offset) {
            return std::unexpected(offset.error());
        }
        info.offset = *offset;
        if (info.offset % header.alignment != 0) {
            return reader.bad(fmt::format("tensor '{}' data offset {} is not a multiple of the "
                                          "alignment {}",
                                          gguf_printable(info.name), info.offset, header.alignment),
                              offset_at);
        }
        header.tensors.push_back(std::move(info));
    }
    return {};
}

// Every tensor's data lies in the file, and no two tensors share a byte.
Result<void> check_tensor_extents(const GgufHeader& header, std::optional<uint64_t> file_size) {
    for (const GgufTensorInfo& tensor : header.tensors) {
        uint64_t start = 0;
        uint64_t end = 0;
        const bool overflows = __builtin_add_overflow(header.data_offset, tensor.offset, &start) ||
                               __builtin_add_overflow(start, tensor.n_bytes, &end);
        if (overflows || (file_size && end > *file_size)) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}' data ({} bytes at byte offset {}) runs past "
                                    "the end of the file{}: the file is truncated or corrupt "
                                    "(tensor entry at byte offset {})",
                                    gguf_printable(tensor.name), tensor.n_bytes,
                                    overflows ? "(overflowing)" : std::to_string(start),
                                    file_size ? fmt::format(" ({} bytes)", *file_size) : "",
                                    tensor.info_position));
        }
    }
    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(header.tensors.size());
    for (const GgufTensorInfo& tensor : header.tensors) {
        by_offset.push_back(&tensor);
    }
    // Stable: tensors at one offset are named in the order of the table.
    std::ranges::stable_sort(by_offset, {}, &GgufTensorInfo::offset);
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const GgufTensorInfo& before = *by_offset[i - 1];
        const GgufTensorInfo& after = *by_offset[i];
        // Offsets are distinct or the tensors overlap; extents were checked not to overflow.
        if (before.offset + before.n_bytes > after.offset) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensors '{}' and '{}' overlap: '{}' takes bytes {} to {} of "
                                    "the data section and '{}' starts at {} (tensor entries at "
                                    "byte offsets {} and {})",
                                    gguf_printable(before.name), gguf_printable(after.name),
                                    gguf_printable(before.name), before.offset,
                                    before.offset + before.n_bytes, gguf_printable(after.name),
                                    after.offset, before.info_position, after.info_position));
        }
    }
    return {};
}

// Reads the metadata entries, each key once.
Result<void> read_metadata(HeaderReader& reader, GgufHeader& header, uint64_t n_kv) {
    const auto describe = [&] { return fmt::format("metadata count {}", n_kv); };
    if (auto fits = reader.check_fits(n_kv, kMinMetadataEntryBytes, describe, 16); !fits) {
        return fits;
    }
    std::unordered_set<std::string> keys;
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t at = reader.position();
        if (auto budget = reader.charge(sizeof(GgufKeyValue), at); !budget) {
            return budget;
        }
        auto key = reader.read_string("a metadata key");
        if (!key) {
            return std::unexpected(key.error());
        }
        if (!keys.insert(*key).second) {
            return reader.bad(fmt::format("metadata key '{}' appears twice", gguf_printable(*key)),
                              at);
        }
        const uint64_t type_at = reader.position();
        auto type = reader.read<uint32_t>("a metadata value type");
        if (!type) {
            return std::unexpected(type.error());
        }
        if (!is_valid_type(*type)) {
            return reader.bad(
                fmt::format("metadata '{}' has unknown value type {}", gguf_printable(*key), *type),
                type_at);
        }
        auto value = reader.read_value(static_cast<GgufType>(*type), 0);
        if (!value) {
            return std::unexpected(
                in_context(value.error(), fmt::format("metadata '{}'", gguf_printable(*key))));
        }
        header.metadata.push_back({std::move(*key), std::move(*value)});
    }
    return {};
}

} // namespace

Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes,
                                     std::optional<uint64_t> file_size, const GgufLimits& limits) {
    HeaderReader reader(bytes, file_size, limits);
    auto magic = reader.read<uint32_t>("the magic number");
    if (!magic) {
        return std::unexpected(magic.error());
    }
    if (*magic != kMagic) {
        return reader.bad(fmt::format("not a GGUF file: the magic number is 0x{:08x}, expected "
                                      "\"GGUF\"",
                                      std::byteswap(*magic)),
                          0);
    }
    GgufHeader header;
    auto version = reader.read<uint32_t>("the version");
    if (!version) {
        return std::unexpected(version.error());
    }
    if (*version > 0xffff && std::byteswap(*version) <= 3) {
        return fail(ErrorCode::unsupported,
                    "big-endian GGUF files are not supported (at byte offset 4); convert the "
                    "model to little-endian");
    }
    if (*version < 2 || *version > 3) {
        return fail(ErrorCode::unsupported,
                    fmt::format("GGUF version {} is not supported, only 2 and 3 (at byte offset 4)",
                                *version));
    }
    header.version = *version;
    auto n_tensors = reader.read<uint64_t>("the tensor count");
    if (!n_tensors) {
        return std::unexpected(n_tensors.error());
    }
    if (*n_tensors > limits.max_tensors) {
        return reader.bad(
            fmt::format("tensor count {} is over the limit of {}", *n_tensors, limits.max_tensors),
            8);
    }
    auto n_kv = reader.read<uint64_t>("the metadata count");
    if (!n_kv) {
        return std::unexpected(n_kv.error());
    }
    if (auto metadata = read_metadata(reader, header, *n_kv); !metadata) {
        return std::unexpected(metadata.error());
    }
    if (const GgufValue* alignment = header.find("general.alignment")) {
        auto value = alignment->as_uint();
        if (!value || *value == 0 || !std::has_single_bit(*value) || *value > (1u << 20)) {
            return fail(ErrorCode::bad_format,
                        "general.alignment must be a power of two up to 1 MiB, got " +
                            alignment->to_display_string());
        }
        header.alignment = *value;
    }
    if (auto tensors = read_tensor_infos(reader, header, *n_tensors, limits); !tensors) {
        return std::unexpected(tensors.error());
    }
    const uint64_t end_of_infos = reader.position();
    header.data_offset =
        (end_of_infos + header.alignment - 1) / header.alignment * header.alignment;
    if (file_size && header.data_offset > *file_size && !header.tensors.empty()) {
        return reader.bad(fmt::format("tensor data would start at byte {} but the file has {}",
                                      header.data_offset, *file_size),
                          end_of_infos);
    }
    if (auto extents = check_tensor_extents(header, file_size); !extents) {
        return std::unexpected(extents.error());
    }
    for (auto& tensor : header.tensors) {
        tensor.file_offset = header.data_offset + tensor.offset;
    }
    return header;
}

} // namespace hearth
