// A small backtracking regular-expression engine over Unicode code points, enough for the
// pre-tokenizer patterns of byte-level BPE tokenizers (Oniguruma / Perl semantics:
// leftmost-first alternation, greedy quantifiers).
//
// Supported: literals, `.`, classes `[...]` / `[^...]` with ranges, `\p{..}` / `\P{..}`
// (general categories), `\s \S \d \D \w \W`, escapes `\r \n \t \f \v \\ \uXXXX`, groups
// `(...)`, `(?:...)`, `(?i:...)` (ASCII case folding), lookahead `(?=...)` / `(?!...)`,
// anchors `^ $`, quantifiers `? * + {m} {m,} {m,n}` (`*`, `+`, `{m,}` only on a single
// character or class). Anything else is rejected at compile time.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth {

class Regex {
public:
    static Result<Regex> compile(std::string_view pattern);

    // Matches anchored at `pos` inside text[0, end): the end of the match, or -1.
    int64_t match_at(std::span<const char32_t> text, size_t pos) const;

    // Splits `text` into matches and the gaps between them (both kept, in order), as
    // pre-tokenizers with the "isolated" behaviour do. Offsets are [begin, end) pairs.
    void split(std::span<const char32_t> text, size_t base,
               std::vector<std::pair<size_t, size_t>>& out) const;

    const std::string& pattern() const { return pattern_; }

    struct Class {
        bool negated = false;
        std::vector<std::pair<char32_t, char32_t>> ranges;
        uint32_t categories = 0;     // \p{..}
        uint32_t not_categories = 0; // \P{..}: matches what is in none of these
        bool space = false;          // \s
        bool not_space = false;      // \S
        uint64_t ascii[2] = {0, 0};  // precomputed answer for code points < 128
        bool matches_slow(char32_t cp) const;
        bool matches(char32_t cp) const {
            if (cp < 128) {
                return (ascii[cp >> 6] >> (cp & 63)) & 1;
            }
            return matches_slow(cp);
        }
    };

    enum class Op : uint8_t { klass, repeat, alt, neg_look, pos_look, begin, end, accept };
    struct Node {
        Op op = Op::accept;
        int32_t next = -1;
        int32_t klass = -1;            // klass, repeat
        uint32_t min = 0, max = 0;     // repeat
        std::vector<int32_t> branches; // alt: branch starts; looks: branches[0]
    };

private:
    int64_t run(int32_t node, std::span<const char32_t> text, size_t pos) const;

    std::string pattern_;
    std::vector<Class> classes_;
    std::vector<Node> nodes_;
    int32_t start_ = -1;

    friend class RegexCompiler;
};

} // namespace hearth
