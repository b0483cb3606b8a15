// A GGUF byte writer laid out as ggml's gguf writer: little-endian scalars, strings as a
// u64 length and bytes, values in their own on-disk width. Shared by the quantizer's header
// (quantize_write.cpp) and the importance-matrix file (imatrix_file.cpp).
#pragma once

#include "hearth/gguf.h"

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace hearth::quant {

inline constexpr uint32_t kGgufWriteVersion = 3;

class GgufWriter {
public:
    template <class T>
    void put(T value) {
        const size_t at = out_.size();
        out_.resize(at + sizeof(T));
        std::memcpy(out_.data() + at, &value, sizeof(T));
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        out_.insert(out_.end(), s.begin(), s.end());
    }
    void put_value(const GgufValue& value);
    void put_array(const GgufArray& array) {
        put<uint32_t>(static_cast<uint32_t>(array.element_type()));
        put<uint64_t>(array.size());
        for (size_t i = 0; i < array.size(); ++i) {
            if (const auto text = array.string_at(i))
                put_string(*text); // no copy per vocabulary entry
            else
                put_value(array.at(i));
        }
    }
    std::vector<uint8_t>& bytes() { return out_; }

private:
    std::vector<uint8_t> out_;
};

} // namespace hearth::quant
