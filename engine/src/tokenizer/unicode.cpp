// Unicode helpers for the tokenizers: UTF-8 decoding and the generated category tables.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace hearth::unicode {

namespace {

// Categories of the first 256 code points, filled once from the run table.
std::array<Category, 256> make_latin1_table() {
    std::array<Category, 256> table{};
    size_t run = 0;
    for (uint32_t cp = 0; cp < 256; ++cp) {
        while (run + 1 < tables::category_run_count && tables::category_runs[run + 1].first <= cp) {
            ++run;
        }
        table[cp] = static_cast<Category>(tables::category_runs[run].category);
    }
    return table;
}

const std::array<Category, 256>& latin1_table() {
    static const std::array<Category, 256> table = make_latin1_table();
    return table;
}

} // namespace

std::optional<uint32_t> property_mask(std::string_view name) {
    if (name == "L" || name == "Letter")
        return kLetter;
    if (name == "M" || name == "Mark")
        return kMark;
    if (name == "N" || name == "Number")
        return kNumber;
    if (name == "P" || name == "Punctuation")
        return kPunctuation;
    if (name == "S" || name == "Symbol")
        return kSymbol;
    if (name == "Z" || name == "Separator")
        return kSeparator;
    if (name == "C" || name == "Other")
        return kOther;
    static constexpr std::string_view names[] = {
        "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
        "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
    for (size_t i = 0; i < std::size(names); ++i) {
        if (names[i] == name) {
            return 1u << i;
        }
    }
    return std::nullopt;
}

Category category(char32_t cp) {
    if (cp < 256) {
        return latin1_table()[cp];
    }
    if (cp > 0x10FFFF) {
        return Category::Cn;
    }
    const auto* begin = tables::category_runs;
    const auto* end = tables::category_runs + tables::category_run_count;
    const auto* it =
        std::upper_bound(begin, end, static_cast<uint32_t>(cp),
                         [](uint32_t v, const tables::CategoryRun& r) { return v < r.first; });
    return static_cast<Category>((it - 1)->category);
}

bool is_whitespace(char32_t cp) {
    if (cp < 128) {
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    }
    for (size_t i = 0; i < tables::whitespace_range_count; ++i) {
        const auto& r = tables::whitespace_ranges[i];
        if (cp < r.first) {
            return false;
        }
        if (cp <= r.last) {
            return true;
        }
    }
    return false;
}

size_t decode_utf8(std::string_view text, size_t pos, char32_t& cp) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    const size_t n = text.size() - pos;
    const uint8_t b0 = byte(pos);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    size_t len = 0;
    char32_t value = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, value = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, value = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, value = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; ++i) {
        const uint8_t b = byte(pos + i);
        if ((b & 0xC0) != 0x80) {
            return 0;
        }
        value = (value << 6) | (b & 0x3F);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return 0;
    }
    cp = value;
    return len;
}

std::optional<size_t> find_invalid_utf8(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        if (static_cast<uint8_t>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        char32_t cp = 0;
        const size_t len = decode_utf8(text, pos, cp);
        if (len == 0) {
            return pos;
        }
        pos += len;
    }
    return std::nullopt;
}

size_t complete_utf8_prefix(std::string_view text) {
    // Look back at most 3 bytes for the lead byte of an unfinished sequence.
    const size_t size = text.size();
    for (size_t back = 1; back <= std::min<size_t>(3, size); ++back) {
        const uint8_t b = static_cast<uint8_t>(text[size - back]);
        if ((b & 0xC0) == 0x80) {
            continue; // continuation byte: keep looking for the lead
        }
        size_t need = 1;
        if ((b & 0xE0) == 0xC0) {
            need = 2;
        } else if ((b & 0xF0) == 0xE0) {
            need = 3;
        } else if ((b & 0xF8) == 0xF0) {
            need = 4;
        }
        return need > back ? size - back : size;
    }
    return size;
}

// Length of the maximal subpart of an ill-formed sequence starting at `pos` (at least 1).
static size_t maximal_subpart(std::string_view text, size_t pos) {
    const uint8_t b0 = static_cast<uint8_t>(text[pos]);
    size_t len = 0;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        lo = b0 == 0xE0 ? 0xA0 : 0x80;
        hi = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        lo = b0 == 0xF0 ? 0x90 : 0x80;
        hi = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 1;
    }
    size_t i = 1;
    for (; i < len && pos + i < text.size(); ++i) {
        const uint8_t b = static_cast<uint8_t>(text[pos + i]);
        const uint8_t l = i == 1 ? lo : 0x80;
        const uint8_t h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            break;
        }
    }
    return i;
}

std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        char32_t cp = 0;
        const size_t len = decode_utf8(text, pos, cp);
        if (len > 0) {
            out.append(text.substr(pos, len));
            pos += len;
        } else {
            out.append("\xEF\xBF\xBD");
            pos += maximal_subpart(text, pos);
        }
    }
    return out;
}

std::string excerpt(std::string_view text, size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return sanitize_utf8(text);
    }
    const std::string_view head = text.substr(0, max_bytes);
    return sanitize_utf8(head.substr(0, complete_utf8_prefix(head))) + "...";
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::vector<char32_t> to_codepoints(std::string_view text) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        char32_t cp = 0;
        const size_t len = decode_utf8(text, pos, cp);
        if (len == 0) {
            out.push_back(0xFFFD);
            ++pos;
        } else {
            out.push_back(cp);
            pos += len;
        }
    }
    return out;
}

} // namespace hearth::unicode
