// A small regular-expression engine over Unicode code points, enough for the pre-tokenizer
// patterns of byte-level BPE tokenizers, with Perl / Oniguruma match semantics
// (leftmost-first alternation, greedy quantifiers) and linear-time matching.
//
// Supported: literals, `.`, classes `[...]` / `[^...]` with ranges, `\p{..}` / `\P{..}`
// (general categories), `\s \S \d \D \w \W`, escapes `\r \n \t \f \v \\ \uXXXX`, groups
// `(...)`, `(?:...)`, `(?i:...)` (ASCII case folding), lookahead `(?=...)` / `(?!...)` of at
// most kMaxLookaheadWidth characters, anchors `^ $` (the ends of the text being split),
// quantifiers `? * + {m} {m,} {m,n}` on any atom. Anything else (lazy and possessive
// quantifiers, backreferences, lookbehind, script properties) is rejected at compile time.
//
// Work: a pattern compiles to a program of at most kMaxRegexProgram instructions, and the
// program runs as a Pike VM (threads in priority order, one per instruction), so finding the
// matches in a text costs O(program size) per character however the text and the pattern are
// built: no backtracking, no recursion over the text.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth {

// The longest pattern compiled, in code points: real pre-tokenizer patterns are under 1,000.
inline constexpr size_t kMaxRegexPatternChars = 16384;
// Groups nested inside each other: real patterns nest two or three deep.
inline constexpr size_t kMaxRegexNesting = 32;
// Instructions of a compiled pattern (bounded repeats are unrolled): the largest pattern
// llama.cpp lists (JAIS2's \s{512}(?!\S)|\s{256}(?!\S)|...) needs 1,093.
inline constexpr size_t kMaxRegexProgram = 16384;
// Characters a lookahead may look at: real ones look at one ((?!\S)).
inline constexpr size_t kMaxLookaheadWidth = 16;
// Passes over a text that splitting it may make. Each search for the next match reads on
// until every thread that could still win has died, and the next search starts over at the
// match's end: with the pre-tokenizer patterns that rereads a character or two, but a
// pattern such as a+b|a on "aaaa..." rereads the rest of the text for every match
// (quadratic). Such a pattern fails on such a text instead of taking hours.
inline constexpr size_t kMaxRegexPasses = 16;

class Regex {
public:
    static Result<Regex> compile(std::string_view pattern);

    // Splits `text` into matches and the gaps between them (both kept, in order), as
    // pre-tokenizers with the "isolated" behaviour do; empty matches split nothing. Offsets
    // are [begin, end) pairs plus `base`. Fails (`unsupported`) when the pattern would read
    // the text more than kMaxRegexPasses times.
    Result<void> split(std::span<const char32_t> text, size_t base,
                       std::vector<std::pair<size_t, size_t>>& out) const;

    const std::string& pattern() const { return pattern_; }
    size_t program_size() const { return program_.size(); }

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

    // klass: consume one character of `klass`, go to `next`. fork: go to every target of
    // `targets`, the first preferred. begin / end: the start / end of the text. ahead /
    // not_ahead: the lookahead body starting at `targets[0]` (its instructions are
    // [body_first, body_last), ending in look_accept) does / does not match here, then go to
    // `next`. match: the pattern matched.
    enum class Op : uint8_t { klass, fork, begin, end, ahead, not_ahead, look_accept, match };
    struct Inst {
        Op op = Op::match;
        int32_t next = -1;
        int32_t klass = -1;
        std::vector<int32_t> targets{};
        int32_t body_first = -1, body_last = -1;
    };

    // A match: [begin, end) in code points.
    struct Span {
        size_t begin = 0;
        size_t end = 0;
    };

private:
    struct Vm;
    // The leftmost-first non-empty match starting at `from` or later; false when none.
    // Adds the number of positions it read to `read`.
    bool find(Vm& vm, std::span<const char32_t> text, size_t from, Span& found, size_t& read) const;
    bool look(const Inst& inst, std::span<const char32_t> text, size_t pos) const;

    std::string pattern_;
    std::vector<Class> classes_;
    std::vector<Inst> program_;
    int32_t start_ = -1;

    friend class RegexCompiler;
};

} // namespace hearth
