// Differences between two rendered prompts (compare mode's "show prompts"): which characters
// or tokens one column's prompt inserts or removes against another's. Pure functions, no
// state; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

enum class DiffOp { equal, inserted, removed };
const char* diff_op_name(DiffOp op); // "equal", "inserted", "removed"

// A run of characters: `text` is in `before` (equal, removed) or in `after` (equal,
// inserted). Concatenating the equal and removed spans gives `before`, the equal and
// inserted spans `after`.
struct TextDiffSpan {
    DiffOp op = DiffOp::equal;
    std::string text;
    bool special = false; // the span is one special token (see diff_text with `special`)
};

// A run of tokens, in the same sense.
struct TokenDiffSpan {
    DiffOp op = DiffOp::equal;
    std::vector<int32_t> tokens;
};

// A shortest edit script (Myers' algorithm) over UTF-8 characters, so a span never splits a
// character (bytes that are not valid UTF-8 count one by one). Adjacent changes come out as
// the removed span first, then the inserted one. When the two differ in more than
// kMaxDiffEdits places after their common start and end, the middle is reported as one
// removal and one insertion rather than searched (bounded time and memory).
std::vector<TextDiffSpan> diff_text(std::string_view before, std::string_view after);

// The same, with every occurrence of a `special` string (the special tokens a template
// writes, such as <|im_start|>) kept whole: it is equal, removed or inserted as one unit,
// never split between spans (so <|im_start|> against <|im_end|> is not reported as a change
// of "start" to "end"), and it comes as a span of its own with `special` set. Where two
// special strings could start at one place, the longer wins.
std::vector<TextDiffSpan> diff_text(std::string_view before, std::string_view after,
                                    std::span<const std::string> special);

// The same over token ids.
std::vector<TokenDiffSpan> diff_tokens(std::span<const int32_t> before,
                                       std::span<const int32_t> after);

inline constexpr size_t kMaxDiffEdits = 2000;

// Characters (or tokens) in each kind of span.
struct DiffCounts {
    size_t equal = 0, inserted = 0, removed = 0;
};
DiffCounts count_text_diff(std::span<const TextDiffSpan> spans); // in UTF-8 characters
DiffCounts count_token_diff(std::span<const TokenDiffSpan> spans);

} // namespace hearth
