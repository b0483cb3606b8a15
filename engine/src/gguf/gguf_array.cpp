// GGUF array values in flat storage: numbers as the file encodes them, strings end to end.
#include "gguf/gguf_encoding.h"
#include "hearth/gguf.h"

#include <cassert>
#include <cstring>

namespace hearth {
namespace {

template <class T>
T load(std::span<const uint8_t> bytes) {
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
}

// One encoded number or boolean as a value, as the header parser reads a single one.
GgufValue decode(GgufType type, std::span<const uint8_t> bytes) {
    switch (type) {
    case GgufType::uint8:
        return {.type = type, .data = uint64_t{load<uint8_t>(bytes)}};
    case GgufType::int8:
        return {.type = type, .data = int64_t{load<int8_t>(bytes)}};
    case GgufType::uint16:
        return {.type = type, .data = uint64_t{load<uint16_t>(bytes)}};
    case GgufType::int16:
        return {.type = type, .data = int64_t{load<int16_t>(bytes)}};
    case GgufType::uint32:
        return {.type = type, .data = uint64_t{load<uint32_t>(bytes)}};
    case GgufType::int32:
        return {.type = type, .data = int64_t{load<int32_t>(bytes)}};
    case GgufType::uint64:
        return {.type = type, .data = load<uint64_t>(bytes)};
    case GgufType::int64:
        return {.type = type, .data = load<int64_t>(bytes)};
    case GgufType::float32:
        return {.type = type, .data = double{load<float>(bytes)}};
    case GgufType::float64:
        return {.type = type, .data = load<double>(bytes)};
    case GgufType::boolean:
        return {.type = type, .data = load<uint8_t>(bytes) != 0};
    case GgufType::string:
    case GgufType::array:
        break;
    }
    assert(false && "decode() takes numbers and booleans");
    return {};
}

bool is_number(GgufType type) {
    return gguf_fixed_size(type) != 0 && type != GgufType::boolean;
}

} // namespace

GgufArray::GgufArray(GgufType element_type) : element_type_(element_type) {}

std::span<const uint8_t> GgufArray::encoded(size_t i) const {
    const size_t width = gguf_fixed_size(element_type_);
    return {reinterpret_cast<const uint8_t*>(bytes_.data()) + i * width, width};
}

GgufValue GgufArray::at(size_t i) const {
    assert(i < size_);
    if (element_type_ == GgufType::string) {
        return {.type = GgufType::string, .data = std::string(*string_at(i))};
    }
    if (element_type_ == GgufType::array) {
        return arrays_[i];
    }
    return decode(element_type_, encoded(i));
}

std::optional<int64_t> GgufArray::int_at(size_t i) const {
    assert(i < size_);
    if (!is_number(element_type_) && element_type_ != GgufType::boolean) {
        return std::nullopt;
    }
    return decode(element_type_, encoded(i)).as_int();
}

std::optional<uint64_t> GgufArray::uint_at(size_t i) const {
    assert(i < size_);
    if (!is_number(element_type_)) {
        return std::nullopt;
    }
    return decode(element_type_, encoded(i)).as_uint();
}

std::optional<double> GgufArray::float_at(size_t i) const {
    assert(i < size_);
    if (element_type_ == GgufType::float32) { // the vocabulary's scores: the common case
        return double{load<float>(encoded(i))};
    }
    if (!is_number(element_type_)) {
        return std::nullopt;
    }
    return decode(element_type_, encoded(i)).as_float();
}

std::optional<bool> GgufArray::bool_at(size_t i) const {
    assert(i < size_);
    if (element_type_ != GgufType::boolean) {
        return std::nullopt;
    }
    return load<uint8_t>(encoded(i)) != 0;
}

std::optional<std::string_view> GgufArray::string_at(size_t i) const {
    assert(i < size_);
    if (element_type_ != GgufType::string) {
        return std::nullopt;
    }
    const uint64_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
}

const GgufArray* GgufArray::array_at(size_t i) const {
    assert(i < size_);
    return element_type_ == GgufType::array ? arrays_[i].as_array() : nullptr;
}

std::optional<std::vector<bool>> GgufArray::flags() const {
    std::vector<bool> out(size_);
    for (size_t i = 0; i < size_; ++i) {
        const auto flag = int_at(i);
        if (!flag || (*flag != 0 && *flag != 1)) {
            return std::nullopt;
        }
        out[i] = *flag == 1;
    }
    return out;
}

void GgufArray::push_back(const GgufValue& item) {
    assert(item.type == element_type_);
    if (element_type_ == GgufType::string) {
        append_string(*item.as_string());
        return;
    }
    if (element_type_ == GgufType::array) {
        arrays_.push_back(item);
        ++size_;
        return;
    }
    // Encoded as the file would hold it: the writers (gguf_writer.h) write it back as is.
    uint8_t buffer[8] = {};
    switch (element_type_) {
    case GgufType::float32: {
        const auto v = static_cast<float>(*item.as_float());
        std::memcpy(buffer, &v, sizeof v);
        break;
    }
    case GgufType::float64: {
        const double v = *item.as_float();
        std::memcpy(buffer, &v, sizeof v);
        break;
    }
    case GgufType::boolean:
        buffer[0] = *item.as_bool() ? 1 : 0;
        break;
    default: { // integers: the low bytes of the two's-complement value, little-endian
        const auto* u = std::get_if<uint64_t>(&item.data);
        const uint64_t bits = u ? *u : static_cast<uint64_t>(std::get<int64_t>(item.data));
        std::memcpy(buffer, &bits, sizeof bits);
        break;
    }
    }
    append_encoded({buffer, gguf_fixed_size(element_type_)}, 1);
}

void GgufArray::append_encoded(std::span<const uint8_t> bytes, size_t count) {
    assert(bytes.size() == count * gguf_fixed_size(element_type_) &&
           count * gguf_fixed_size(element_type_) != 0);
    bytes_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    size_ += count;
}

void GgufArray::append_string(std::string_view text) {
    assert(element_type_ == GgufType::string);
    bytes_.append(text);
    ends_.push_back(bytes_.size());
    ++size_;
}

} // namespace hearth
