// Writes GGUF bytes in memory, for tests that need small valid files and precisely
// corrupted copies of them (the offsets of every field are recorded).
#pragma once

#include "hearth/gguf.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace hearth::test {

class GgufBuilder {
public:
    explicit GgufBuilder(uint32_t version = 3, uint64_t alignment = 32)
        : version_(version), alignment_(alignment) {}

    // Metadata entries, in order.
    GgufBuilder& u32(const std::string& key, uint32_t v) {
        return scalar(key, GgufType::uint32, v);
    }
    GgufBuilder& i32(const std::string& key, int32_t v) { return scalar(key, GgufType::int32, v); }
    GgufBuilder& u64(const std::string& key, uint64_t v) {
        return scalar(key, GgufType::uint64, v);
    }
    GgufBuilder& f32(const std::string& key, float v) { return scalar(key, GgufType::float32, v); }
    GgufBuilder& boolean(const std::string& key, bool v) {
        return scalar(key, GgufType::boolean, static_cast<uint8_t>(v));
    }
    GgufBuilder& str(const std::string& key, const std::string& v) {
        Entry entry{key, GgufType::string, {}};
        put_string(entry.value, v);
        entries_.push_back(std::move(entry));
        return *this;
    }
    GgufBuilder& str_array(const std::string& key, const std::vector<std::string>& items) {
        Entry entry{key, GgufType::array, {}};
        put(entry.value, static_cast<uint32_t>(GgufType::string));
        put(entry.value, static_cast<uint64_t>(items.size()));
        for (const auto& item : items) {
            put_string(entry.value, item);
        }
        entries_.push_back(std::move(entry));
        return *this;
    }
    template <class T>
    GgufBuilder& num_array(const std::string& key, GgufType element_type,
                           const std::vector<T>& items) {
        Entry entry{key, GgufType::array, {}};
        put(entry.value, static_cast<uint32_t>(element_type));
        put(entry.value, static_cast<uint64_t>(items.size()));
        for (const auto& item : items) {
            put(entry.value, item);
        }
        entries_.push_back(std::move(entry));
        return *this;
    }
    // Raw value bytes for a given type (for nested arrays and hand-made corruptions).
    GgufBuilder& raw(const std::string& key, GgufType type, std::vector<uint8_t> value_bytes) {
        entries_.push_back({key, type, std::move(value_bytes)});
        return *this;
    }

    // A tensor; `data` must be its exact byte size (type geometry is not checked here).
    GgufBuilder& tensor(const std::string& name, TensorType type, std::vector<uint64_t> dims,
                        std::vector<uint8_t> data) {
        tensors_.push_back({name, type, std::move(dims), std::move(data)});
        return *this;
    }

    struct Layout {
        uint64_t n_tensors_at = 8;
        uint64_t n_kv_at = 16;
        std::map<std::string, uint64_t> key_at;         // start of each metadata entry
        std::map<std::string, uint64_t> tensor_info_at; // start of each tensor entry
        std::map<std::string, uint64_t> tensor_data_at; // absolute position of tensor data
        uint64_t data_offset = 0;
    };

    std::vector<uint8_t> build(Layout* layout = nullptr) const {
        Layout where;
        std::vector<uint8_t> out;
        put(out, uint32_t{0x46554747});
        put(out, version_);
        put(out, static_cast<uint64_t>(tensors_.size()));
        put(out, static_cast<uint64_t>(entries_.size()));
        for (const auto& entry : entries_) {
            where.key_at[entry.key] = out.size();
            put_string(out, entry.key);
            put(out, static_cast<uint32_t>(entry.type));
            out.insert(out.end(), entry.value.begin(), entry.value.end());
        }
        uint64_t offset = 0;
        std::vector<uint64_t> offsets;
        for (const auto& t : tensors_) {
            where.tensor_info_at[t.name] = out.size();
            put_string(out, t.name);
            put(out, static_cast<uint32_t>(t.dims.size()));
            for (uint64_t d : t.dims) {
                put(out, d);
            }
            put(out, static_cast<uint32_t>(t.type));
            put(out, offset);
            offsets.push_back(offset);
            offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
        }
        out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
        where.data_offset = out.size();
        for (size_t i = 0; i < tensors_.size(); ++i) {
            where.tensor_data_at[tensors_[i].name] = out.size();
            out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
            if (i + 1 < tensors_.size()) {
                out.resize(where.data_offset + offsets[i + 1], 0);
            }
        }
        if (layout) {
            *layout = where;
        }
        return out;
    }

    template <class T>
    static void put(std::vector<uint8_t>& out, T value) {
        // resize + memcpy rather than insert: GCC 12 warns (-Wstringop-overflow, a false
        // positive) on the inlined insert into a just-created vector.
        const size_t at = out.size();
        out.resize(at + sizeof(T));
        std::memcpy(out.data() + at, &value, sizeof(T));
    }
    static void put_string(std::vector<uint8_t>& out, const std::string& text) {
        put(out, static_cast<uint64_t>(text.size()));
        out.insert(out.end(), text.begin(), text.end());
    }

private:
    struct Entry {
        std::string key;
        GgufType type;
        std::vector<uint8_t> value;
    };
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<uint64_t> dims;
        std::vector<uint8_t> data;
    };

    template <class T>
    GgufBuilder& scalar(const std::string& key, GgufType type, T v) {
        Entry entry{key, type, {}};
        put(entry.value, v);
        entries_.push_back(std::move(entry));
        return *this;
    }

    uint32_t version_;
    uint64_t alignment_;
    std::vector<Entry> entries_;
    std::vector<Tensor> tensors_;
};

// ---- Rewriting a parsed file --------------------------------------------------------------
// For tests that start from a real model and change one thing: its metadata entries and
// tensors, edited, then written again as GGUF v3.

// One tensor to write: its data is copied as it is (its size is not checked against dims).
struct TensorRecord {
    std::string name;
    TensorType type = TensorType::F32;
    std::vector<uint64_t> dims;
    std::span<const uint8_t> data;
};

// Every tensor of `file`, in order, with its bytes in the file's mapping.
inline std::vector<TensorRecord> tensor_records(const GgufFile& file) {
    std::vector<TensorRecord> records;
    for (const GgufTensorInfo& tensor : file.tensors()) {
        records.push_back({tensor.name, tensor.type, tensor.dims, file.tensor_data(tensor)});
    }
    return records;
}

// Replaces the value of `key`, or appends the entry.
inline void set_key(std::vector<GgufKeyValue>& metadata, const std::string& key, GgufValue value) {
    for (GgufKeyValue& entry : metadata) {
        if (entry.key == key) {
            entry.value = std::move(value);
            return;
        }
    }
    metadata.push_back({key, std::move(value)});
}

inline void erase_key(std::vector<GgufKeyValue>& metadata, const std::string& key) {
    std::erase_if(metadata, [&](const GgufKeyValue& entry) { return entry.key == key; });
}

// A value's bytes as GGUF stores them (its type written by the caller).
inline void put_value(std::vector<uint8_t>& out, const GgufValue& value) {
    using B = GgufBuilder;
    const uint64_t bits =
        value.as_uint().value_or(static_cast<uint64_t>(value.as_int().value_or(0)));
    switch (value.type) {
    case GgufType::uint8:
    case GgufType::int8:
        return B::put(out, static_cast<uint8_t>(bits));
    case GgufType::uint16:
    case GgufType::int16:
        return B::put(out, static_cast<uint16_t>(bits));
    case GgufType::uint32:
    case GgufType::int32:
        return B::put(out, static_cast<uint32_t>(bits));
    case GgufType::uint64:
    case GgufType::int64:
        return B::put(out, bits);
    case GgufType::float32:
        return B::put(out, static_cast<float>(*value.as_float()));
    case GgufType::float64:
        return B::put(out, *value.as_float());
    case GgufType::boolean:
        return B::put(out, static_cast<uint8_t>(*value.as_bool()));
    case GgufType::string:
        return B::put_string(out, *value.as_string());
    case GgufType::array: {
        const GgufArray& array = *value.as_array();
        B::put(out, static_cast<uint32_t>(array.element_type()));
        B::put(out, static_cast<uint64_t>(array.size()));
        for (size_t i = 0; i < array.size(); ++i) {
            put_value(out, array.at(i));
        }
        return;
    }
    }
}

// A whole GGUF v3 file: the metadata, then the tensors laid out in order, each at a multiple
// of `alignment`.
inline std::vector<uint8_t> serialize_gguf(const std::vector<GgufKeyValue>& metadata,
                                           const std::vector<TensorRecord>& tensors,
                                           uint64_t alignment = 32) {
    using B = GgufBuilder;
    auto align = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
    std::vector<uint8_t> out;
    B::put(out, uint32_t{0x46554747});
    B::put(out, uint32_t{3});
    B::put(out, static_cast<uint64_t>(tensors.size()));
    B::put(out, static_cast<uint64_t>(metadata.size()));
    for (const GgufKeyValue& entry : metadata) {
        B::put_string(out, entry.key);
        B::put(out, static_cast<uint32_t>(entry.value.type));
        put_value(out, entry.value);
    }
    uint64_t offset = 0;
    for (const TensorRecord& tensor : tensors) {
        B::put_string(out, tensor.name);
        B::put(out, static_cast<uint32_t>(tensor.dims.size()));
        for (uint64_t dim : tensor.dims) {
            B::put(out, dim);
        }
        B::put(out, static_cast<uint32_t>(tensor.type));
        B::put(out, offset);
        offset = align(offset + tensor.data.size());
    }
    out.resize(align(out.size()), 0);
    for (const TensorRecord& tensor : tensors) {
        out.insert(out.end(), tensor.data.begin(), tensor.data.end());
        out.resize(align(out.size()), 0);
    }
    return out;
}

// Overwrites sizeof(T) bytes at `at` with `value`.
template <class T>
void patch(std::vector<uint8_t>& bytes, uint64_t at, T value) {
    std::memcpy(bytes.data() + at, &value, sizeof(T));
}

inline void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

} // namespace hearth::test
