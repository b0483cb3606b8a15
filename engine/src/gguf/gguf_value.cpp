// GGUF metadata values: typed accessors and a short display form.
#include "hearth/gguf.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <limits>

namespace hearth {

std::string_view gguf_type_name(GgufType type) {
    switch (type) {
    case GgufType::uint8:
        return "u8";
    case GgufType::int8:
        return "i8";
    case GgufType::uint16:
        return "u16";
    case GgufType::int16:
        return "i16";
    case GgufType::uint32:
        return "u32";
    case GgufType::int32:
        return "i32";
    case GgufType::float32:
        return "f32";
    case GgufType::boolean:
        return "bool";
    case GgufType::string:
        return "str";
    case GgufType::array:
        return "arr";
    case GgufType::uint64:
        return "u64";
    case GgufType::int64:
        return "i64";
    case GgufType::float64:
        return "f64";
    }
    return "?";
}

std::string gguf_printable(std::string_view text, size_t max_bytes) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool continuation = (c & 0xC0) == 0x80;
        if (out.size() >= max_bytes && !continuation) {
            return out + "...";
        }
        // C1 controls (U+0080 to U+009F) are two bytes in UTF-8: C2 80 to C2 9F.
        const bool c1 = c == 0xC2 && i + 1 < text.size() &&
                        (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80;
        if (c < 0x20 || c == 0x7F) {
            out += c == '\n' ? std::string("\\n") : fmt::format("\\x{:02x}", c);
        } else if (c1) {
            out += fmt::format("\\xc2\\x{:02x}", static_cast<unsigned char>(text[++i]));
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::optional<int64_t> GgufValue::as_int() const {
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<int64_t>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&data)) {
        return *i;
    }
    if (const auto* b = std::get_if<bool>(&data)) {
        return *b ? 1 : 0;
    }
    return std::nullopt;
}

std::optional<uint64_t> GgufValue::as_uint() const {
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        return *u;
    }
    if (const auto* i = std::get_if<int64_t>(&data); i && *i >= 0) {
        return static_cast<uint64_t>(*i);
    }
    return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
    if (const auto* d = std::get_if<double>(&data)) {
        return *d;
    }
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        return static_cast<double>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&data)) {
        return static_cast<double>(*i);
    }
    return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
    if (const auto* b = std::get_if<bool>(&data)) {
        return *b;
    }
    return std::nullopt;
}

const std::string* GgufValue::as_string() const {
    return std::get_if<std::string>(&data);
}

const GgufArray* GgufValue::as_array() const {
    return std::get_if<GgufArray>(&data);
}

namespace {

std::string quote(const std::string& text, size_t max_chars) {
    std::string out = "\"";
    for (char c : gguf_printable(text, max_chars)) {
        out += c == '"' ? std::string("\\\"") : std::string(1, c);
    }
    return out + "\"";
}

} // namespace

std::string GgufValue::to_display_string(size_t max_items) const {
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        return std::to_string(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&data)) {
        return std::to_string(*i);
    }
    if (const auto* d = std::get_if<double>(&data)) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.9g", *d);
        return buffer;
    }
    if (const auto* b = std::get_if<bool>(&data)) {
        return *b ? "true" : "false";
    }
    if (const auto* s = std::get_if<std::string>(&data)) {
        return quote(*s, 60);
    }
    const auto& array = std::get<GgufArray>(data);
    std::string out = "[";
    for (size_t i = 0; i < array.size() && i < max_items; ++i) {
        out += (i ? ", " : "") + array.at(i).to_display_string(max_items);
    }
    if (array.size() > max_items) {
        out += ", ... (" + std::to_string(array.size()) + " items)";
    }
    return out + "]";
}

const GgufValue* GgufHeader::find(std::string_view key) const {
    for (const auto& kv : metadata) {
        if (kv.key == key) {
            return &kv.value;
        }
    }
    return nullptr;
}

const GgufTensorInfo* GgufHeader::find_tensor(std::string_view name) const {
    for (const auto& tensor : tensors) {
        if (tensor.name == name) {
            return &tensor;
        }
    }
    return nullptr;
}

std::optional<std::string> GgufHeader::get_string(std::string_view key) const {
    const GgufValue* value = find(key);
    if (value && value->as_string()) {
        return *value->as_string();
    }
    return std::nullopt;
}

std::optional<int64_t> GgufHeader::get_int(std::string_view key) const {
    const GgufValue* value = find(key);
    return value ? value->as_int() : std::nullopt;
}

std::optional<double> GgufHeader::get_float(std::string_view key) const {
    const GgufValue* value = find(key);
    return value ? value->as_float() : std::nullopt;
}

std::optional<bool> GgufHeader::get_bool(std::string_view key) const {
    const GgufValue* value = find(key);
    return value ? value->as_bool() : std::nullopt;
}

} // namespace hearth
