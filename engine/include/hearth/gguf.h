// GGUF model files: a memory-mapped reader with validated metadata and tensor table.
//
// A GgufFile owns read-only mappings of the whole model: one file, or every part of a
// model split by llama.cpp's gguf-split. Tensor data pointers stay valid for the object's
// lifetime. Objects are movable, not copyable, and safe to read from several threads at
// once.
#pragma once

#include "hearth/error.h"
#include "hearth/tensor_type.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hearth {

// Metadata value types, with GGUF's on-disk ids.
enum class GgufType : uint32_t {
    uint8 = 0,
    int8 = 1,
    uint16 = 2,
    int16 = 3,
    uint32 = 4,
    int32 = 5,
    float32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    uint64 = 10,
    int64 = 11,
    float64 = 12,
};

std::string_view gguf_type_name(GgufType type);

// Text from a file (a key, a tensor name, a string value) made safe to put in a message or on
// a terminal: control characters (C0, DEL and C1) escaped as \xNN, and cut after about
// `max_bytes` bytes (at a character boundary) with "..." appended.
std::string gguf_printable(std::string_view text, size_t max_bytes = 80);

struct GgufValue;

// An array value: all items have one `element_type` (arrays of arrays are allowed). Numbers
// and booleans are kept as the file stores them (little-endian, end to end) and strings as
// their bytes end to end with where each ends, decoded when asked: a vocabulary of 150,000
// tokens is a few allocations, not one object per token. Only arrays of arrays hold a
// GgufValue per item.
class GgufArray {
public:
    GgufArray() = default;
    // Out of line: GgufValue is not complete here (clang instantiates arrays_'s destructor).
    explicit GgufArray(GgufType element_type);

    GgufType element_type() const { return element_type_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // Item `i` (below size()) as a value of its own, decoded now (a copy).
    GgufValue at(size_t i) const;
    // Item `i` (below size()) read as GgufValue's accessors read it: nullopt where the array's
    // items are of another type.
    std::optional<int64_t> int_at(size_t i) const;
    std::optional<uint64_t> uint_at(size_t i) const;
    std::optional<double> float_at(size_t i) const;
    std::optional<bool> bool_at(size_t i) const;
    // The text of item `i`, a view into the array.
    std::optional<std::string_view> string_at(size_t i) const;
    // Item `i` of an array of arrays; nullptr for other arrays.
    const GgufArray* array_at(size_t i) const;
    // The items as flags, when every one is an integer or boolean of 0 or 1 (per-layer
    // switches such as a sliding-window pattern); nullopt otherwise.
    std::optional<std::vector<bool>> flags() const;

    // Appends `item`, which must be of element_type() (a programmer error otherwise: asserted).
    void push_back(const GgufValue& item);
    // For the header parser: appends `count` numbers or booleans of element_type(), `bytes`
    // as the file stores them, or one string.
    void append_encoded(std::span<const uint8_t> bytes, size_t count);
    void append_string(std::string_view text);
    void reserve_strings(size_t count) { ends_.reserve(count); }

private:
    // The encoded item, for numbers and booleans.
    std::span<const uint8_t> encoded(size_t i) const;

    GgufType element_type_ = GgufType::uint8;
    size_t size_ = 0;
    std::string bytes_;             // numbers and booleans encoded, or strings' text, end to end
    std::vector<uint64_t> ends_;    // strings: where item i's text ends in bytes_
    std::vector<GgufValue> arrays_; // arrays of arrays: one value per item
};

// One metadata value. Integers keep their signedness; floats are widened to double.
struct GgufValue {
    GgufType type = GgufType::uint8;
    std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

    // The value as an integer, when it is an integer type (or bool) that fits.
    std::optional<int64_t> as_int() const;
    std::optional<uint64_t> as_uint() const;
    // The value as a float, when it is a numeric type.
    std::optional<double> as_float() const;
    std::optional<bool> as_bool() const;
    const std::string* as_string() const;
    const GgufArray* as_array() const;
    // A short human-readable rendering (arrays are abbreviated), for `hearth-cli info`.
    std::string to_display_string(size_t max_items = 8) const;
};

struct GgufKeyValue {
    std::string key;
    GgufValue value;
};

// One entry of the tensor table.
struct GgufTensorInfo {
    std::string name;
    TensorType type = TensorType::F32;
    // GGML order: dims[0] is the fastest-varying (row length); numpy shape is reversed.
    std::vector<uint64_t> dims;
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;       // size of the data in the file
    uint64_t offset = 0;        // relative to the start of the data section
    uint64_t file_offset = 0;   // absolute position of the data in the file (its part's)
    uint64_t info_position = 0; // where this tensor's entry starts in the header, for messages
    uint32_t part = 0;          // index in GgufFile::parts() of the file holding the data
};

// The parsed header: everything before the tensor data.
struct GgufHeader {
    uint32_t version = 0;
    std::vector<GgufKeyValue> metadata;
    std::vector<GgufTensorInfo> tensors;
    uint64_t alignment = 32;
    uint64_t data_offset = 0; // start of the tensor data section (aligned)

    const GgufValue* find(std::string_view key) const;
    const GgufTensorInfo* find_tensor(std::string_view name) const;

    // Typed lookups that return nullopt when the key is absent or of another type.
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
};

// Limits that keep a hostile header from exhausting memory or overflowing size arithmetic
// (docs/LIMITS.md, "GGUF files and model loading"). Besides these, every count and length
// read from the file must fit in the bytes that follow it.
struct GgufLimits {
    uint64_t max_string_bytes = 64ull << 20; // one string
    uint64_t max_array_items = 64ull << 20;  // one array
    // Memory the parsed header may take: every value, key, string and tensor entry counted at
    // its size in memory (an array's number its encoded size, a string its bytes and an 8-byte
    // end, an array inside an array a whole GgufValue).
    uint64_t max_metadata_bytes = 1ull << 30;
    uint64_t max_tensors = 1ull << 20;
    uint32_t max_dims = 4;
    uint32_t max_array_depth = 8;
    // Elements of one tensor: keeps every size computed from its dimensions inside int64_t.
    uint64_t max_tensor_elements = 1ull << 62;
};

// Parses a GGUF header from `bytes`, which may be a prefix of the file (for example the
// first megabytes fetched over HTTP). `file_size` is the size of the whole file when
// known: tensor extents are then checked against it. Errors name the problem and the
// byte offset where it was found. A count or length that runs past the end of `bytes` but
// not past `file_size` (a prefix too short) gives a message starting "file truncated: ", so
// that a caller reading piecewise knows to read more; one that runs past the end of the file
// starts "file truncated or corrupt: ". Tensors must not share or overlap their data.
Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes,
                                     std::optional<uint64_t> file_size = std::nullopt,
                                     const GgufLimits& limits = {});

// One file of a model: a single-file model has one part; a split model has one per file,
// the first holding the model's metadata, each its own tensor table and data.
struct GgufPart {
    std::filesystem::path path;
    std::span<const uint8_t> bytes; // the whole file, mapped read-only
    uint64_t data_offset = 0;       // start of this file's tensor data section
};

// llama.cpp's name for part `index` (0-based) of a model split in `count` files:
// "{prefix}-00001-of-00003.gguf" for index 0 of 3.
std::filesystem::path gguf_split_path(const std::filesystem::path& prefix, uint32_t index,
                                      uint32_t count);

class GgufFile {
public:
    // Maps and validates `path`. Fails with `io` when the file cannot be read, and with
    // `bad_format` / `unsupported` for a malformed or unsupported file, or a path that is not
    // a regular file (a FIFO, a device, a directory: refused without blocking, said which).
    //
    // A file whose `split.count` metadata is above 1 is part of a split model. Opening its
    // first part maps and validates every other part too, found beside it by llama.cpp's
    // naming (gguf_split_path), and the object then presents the whole model: tensors()
    // lists the tensors of all parts, file_size() is their total. Opening a later part fails
    // and names the first. A file merely named like a part, without the metadata, is an
    // ordinary single file.
    static Result<GgufFile> open(const std::filesystem::path& path, const GgufLimits& limits = {});

    GgufFile(GgufFile&&) noexcept;
    GgufFile& operator=(GgufFile&&) noexcept;
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;
    ~GgufFile();

    // The path opened: the first part of a split model.
    const std::filesystem::path& path() const { return path_; }
    // Bytes on disk, over every part.
    uint64_t file_size() const { return total_size_; }
    // The files that make up the model, in order; one for a model that is not split.
    const std::vector<GgufPart>& parts() const { return parts_; }
    // The first part's header, with `tensors` holding the tensors of every part.
    const GgufHeader& header() const { return header_; }
    uint32_t version() const { return header_.version; }
    const std::vector<GgufKeyValue>& metadata() const { return header_.metadata; }
    const std::vector<GgufTensorInfo>& tensors() const { return header_.tensors; }
    const GgufValue* find(std::string_view key) const { return header_.find(key); }
    const GgufTensorInfo* find_tensor(std::string_view name) const {
        return header_.find_tensor(name);
    }

    // The raw bytes of a tensor, inside the mapping of its part.
    std::span<const uint8_t> tensor_data(const GgufTensorInfo& tensor) const;

    // Dequantizes a whole tensor to float32 (numpy order: the last numpy axis is dims[0]).
    Result<std::vector<float>> read_tensor_f32(const GgufTensorInfo& tensor) const;

private:
    GgufFile() = default;
    // Maps `path` as the next part and returns its parsed header (tensors tagged with
    // the part's index); the mapping is released with the object, even on failure.
    Result<GgufHeader> map_part(const std::filesystem::path& path, const GgufLimits& limits);
    // For the first part of a split model, maps the others and merges their tensor tables
    // into header_; does nothing for a model in one file (gguf_split.cpp).
    Result<void> open_other_parts(const GgufLimits& limits);
    void unmap_all();

    std::filesystem::path path_;
    std::vector<GgufPart> parts_;
    uint64_t total_size_ = 0;
    GgufHeader header_;
};

} // namespace hearth
