// UTF-8 helpers: Python strings count, index and case-map by code point.
#include "chat/jinja_utf8.h"

#include "chat/jinja_value.h"

#include <algorithm>
#include <cstring>

namespace hearth::jinja {

uint32_t utf8_decode(std::string_view text, size_t& i) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    if (i + len > text.size()) {
        len = 1;
    }
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    i += len;
    return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

namespace {

// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
uint32_t to_upper_cp(uint32_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
        (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F)) {
        return c - 0x20;
    }
    if (c == 0x3C2) {
        return 0x3A3;
    }
    if (c == 0xFF) {
        return 0x178;
    }
    if (c >= 0x450 && c <= 0x45F) {
        return c - 0x50;
    }
    if (c == 0x131) {
        return 'I';
    }
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) {
        return c & ~1u;
    }
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) {
        return (c % 2 == 0) ? c - 1 : c;
    }
    return c;
}

uint32_t to_lower_cp(uint32_t c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F)) {
        return c + 0x20;
    }
    if (c == 0x178) {
        return 0xFF;
    }
    if (c >= 0x400 && c <= 0x40F) {
        return c + 0x50;
    }
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) {
        return c | 1u;
    }
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) {
        return (c % 2 == 1) ? c + 1 : c;
    }
    return c;
}

} // namespace

// Each walk over a text is charged to the render's work budget by the bytes it reads; a
// split into characters twice, for the 16-byte view it makes of each.
std::vector<std::string_view> utf8_chars(std::string_view text) {
    charge_bytes(2 * text.size());
    std::vector<std::string_view> chars;
    chars.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t start = i;
        utf8_decode(text, i);
        chars.push_back(text.substr(start, i - start));
    }
    return chars;
}

size_t utf8_length(std::string_view text) {
    charge_bytes(text.size());
    size_t n = 0;
    for (size_t i = 0; i < text.size();) {
        utf8_decode(text, i);
        ++n;
    }
    return n;
}

std::string utf8_upper(std::string_view text) {
    charge_bytes(2 * text.size()); // decoded, mapped and encoded again
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        uint32_t cp = utf8_decode(text, i);
        if (cp == 0xDF) {
            out += "SS"; // Python: 'ß'.upper() == 'SS'
        } else {
            utf8_append(out, to_upper_cp(cp));
        }
    }
    return out;
}

std::string utf8_lower(std::string_view text) {
    charge_bytes(2 * text.size());
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        utf8_append(out, to_lower_cp(utf8_decode(text, i)));
    }
    return out;
}

size_t find_text(std::string_view text, std::string_view needle, size_t from) {
    if (from > text.size()) {
        return std::string_view::npos;
    }
    if (needle.empty()) {
        return from;
    }
    // In windows that double, from a few hundred bytes: memmem reads only what it searches,
    // but the sanitizers check the whole range it is given, and a replace loop with a hit
    // every few bytes would make them check the rest of the text at each call. Two-way
    // compares each byte two or three times; each search also has a fixed cost.
    size_t window = std::max<size_t>(2 * needle.size(), 256);
    size_t start = from;
    for (;;) {
        const size_t end = std::min(text.size(), start + window);
        const void* hit = memmem(text.data() + start, end - start, needle.data(), needle.size());
        if (hit) {
            const auto at = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
            charge_bytes(3 * (at - from + needle.size()) + 8);
            return at;
        }
        if (end == text.size()) {
            charge_bytes(3 * (text.size() - from + needle.size()) + 8);
            return std::string_view::npos;
        }
        start = end - (needle.size() - 1); // a match may straddle the window's end
        window *= 2;
    }
}

bool is_python_space(std::string_view ch) {
    size_t i = 0;
    if (ch.empty()) {
        return false;
    }
    uint32_t c = utf8_decode(ch, i);
    return (c >= 0x09 && c <= 0x0D) || c == ' ' || (c >= 0x1C && c <= 0x1F) || c == 0x85 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

} // namespace hearth::jinja
