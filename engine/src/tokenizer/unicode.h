// Unicode helpers for the tokenizers: UTF-8 decoding, general categories, White_Space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::unicode {

// General categories, in the order of scripts/gen-unicode-tables.py.
enum class Category : uint8_t {
    Lu,
    Ll,
    Lt,
    Lm,
    Lo,
    Mn,
    Mc,
    Me,
    Nd,
    Nl,
    No,
    Pc,
    Pd,
    Ps,
    Pe,
    Pi,
    Pf,
    Po,
    Sm,
    Sc,
    Sk,
    So,
    Zs,
    Zl,
    Zp,
    Cc,
    Cf,
    Cs,
    Co,
    Cn,
};

constexpr uint32_t category_bit(Category c) {
    return 1u << static_cast<uint32_t>(c);
}

// Masks for the one-letter classes of regex \p{X}.
constexpr uint32_t kLetter = category_bit(Category::Lu) | category_bit(Category::Ll) |
                             category_bit(Category::Lt) | category_bit(Category::Lm) |
                             category_bit(Category::Lo);
constexpr uint32_t kMark =
    category_bit(Category::Mn) | category_bit(Category::Mc) | category_bit(Category::Me);
constexpr uint32_t kNumber =
    category_bit(Category::Nd) | category_bit(Category::Nl) | category_bit(Category::No);
constexpr uint32_t kPunctuation = category_bit(Category::Pc) | category_bit(Category::Pd) |
                                  category_bit(Category::Ps) | category_bit(Category::Pe) |
                                  category_bit(Category::Pi) | category_bit(Category::Pf) |
                                  category_bit(Category::Po);
constexpr uint32_t kSymbol = category_bit(Category::Sm) | category_bit(Category::Sc) |
                             category_bit(Category::Sk) | category_bit(Category::So);
constexpr uint32_t kSeparator =
    category_bit(Category::Zs) | category_bit(Category::Zl) | category_bit(Category::Zp);
constexpr uint32_t kOther = category_bit(Category::Cc) | category_bit(Category::Cf) |
                            category_bit(Category::Cs) | category_bit(Category::Co) |
                            category_bit(Category::Cn);

// The category mask named by a regex property ("L", "Lu", "N", ...), or nullopt.
std::optional<uint32_t> property_mask(std::string_view name);

Category category(char32_t cp);
bool is_whitespace(char32_t cp); // Unicode White_Space

// Decodes one UTF-8 sequence at `text[pos]`; returns its length, or 0 when the bytes there
// are not well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
size_t decode_utf8(std::string_view text, size_t pos, char32_t& cp);
// Offset of the first ill-formed byte, or nullopt when all of `text` is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view text);
// Length of the longest prefix of `text` that ends on a complete character, when the only
// problem is a truncated last character (for streaming).
size_t complete_utf8_prefix(std::string_view text);
// Replaces ill-formed subsequences with U+FFFD (the "maximal subpart" practice, as Python's
// bytes.decode(errors="replace") and Rust's from_utf8_lossy do).
std::string sanitize_utf8(std::string_view text);
// At most `max_bytes` of untrusted text (a token, a name from a file) for an error message:
// cut on a character boundary, ill-formed bytes replaced, "..." added when cut.
std::string excerpt(std::string_view text, size_t max_bytes = 64);
void append_utf8(std::string& out, char32_t cp);
// Decodes valid UTF-8 (callers validate first); ill-formed bytes decode as U+FFFD.
std::vector<char32_t> to_codepoints(std::string_view text);

namespace tables {
struct CategoryRun {
    uint32_t first;
    uint8_t category;
};
struct CodepointRange {
    uint32_t first;
    uint32_t last;
};
extern const CategoryRun category_runs[];
extern const size_t category_run_count;
extern const CodepointRange whitespace_ranges[];
extern const size_t whitespace_range_count;
} // namespace tables

} // namespace hearth::unicode
