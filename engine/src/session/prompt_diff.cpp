// Myers' O((N + M) D) shortest edit script, generic over the element type, with the common
// start and end stripped first (two templates' renderings of one conversation mostly agree).
#include "hearth/prompt_diff.h"

#include <algorithm>

namespace hearth {
namespace {

// One UTF-8 character (or a lone invalid byte) of `text`, or one whole special token, as
// an offset and length.
struct Char {
    uint32_t offset;
    uint32_t length;
    bool special = false;
};

size_t utf8_length(std::string_view text, size_t i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t len = lead < 0x80           ? 1
                 : (lead >> 5) == 0x6  ? 2
                 : (lead >> 4) == 0xE  ? 3
                 : (lead >> 3) == 0x1E ? 4
                                       : 1;
    if (i + len > text.size()) {
        return 1;
    }
    for (size_t k = 1; k < len; ++k) {
        if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
            return 1;
        }
    }
    return len;
}

// The units a diff works on: characters, and each occurrence of a `special` string whole.
std::vector<Char> split_units(std::string_view text, std::span<const std::string> special = {}) {
    std::vector<Char> chars;
    size_t i = 0;
    while (i < text.size()) {
        size_t len = 0;
        for (const std::string& token : special) {
            if (token.size() > len && text.substr(i).starts_with(token)) {
                len = token.size();
            }
        }
        const bool is_special = len > 0;
        if (!is_special) {
            len = utf8_length(text, i);
        }
        chars.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), is_special});
        i += len;
    }
    return chars;
}

// The edit script as one op per element, in order (removed before inserted at a change).
template <typename Eq>
std::vector<DiffOp> edit_script(size_t n, size_t m, Eq eq) {
    std::vector<DiffOp> ops;
    size_t head = 0;
    while (head < n && head < m && eq(head, head)) {
        ++head;
    }
    size_t tail = 0;
    while (tail < n - head && tail < m - head && eq(n - 1 - tail, m - 1 - tail)) {
        ++tail;
    }
    ops.assign(head, DiffOp::equal);
    const auto a0 = static_cast<int64_t>(head);
    const auto b0 = static_cast<int64_t>(head);
    const auto N = static_cast<int64_t>(n - head - tail);
    const auto M = static_cast<int64_t>(m - head - tail);
    const int64_t max_d = std::min<int64_t>(N + M, static_cast<int64_t>(kMaxDiffEdits));
    // v[k + offset]: the furthest x on diagonal k; trace[d]: v[-d..d] after step d (about
    // D² / 2 values in all, which kMaxDiffEdits bounds).
    const int64_t offset = max_d + 1;
    std::vector<int64_t> v(static_cast<size_t>(2 * max_d + 3), 0);
    std::vector<std::vector<int32_t>> trace;
    int64_t found = -1;
    for (int64_t d = 0; d <= max_d && found < 0; ++d) {
        for (int64_t k = -d; k <= d; k += 2) {
            int64_t x = (k == -d || (k != d && v[k - 1 + offset] < v[k + 1 + offset]))
                            ? v[k + 1 + offset]
                            : v[k - 1 + offset] + 1;
            int64_t y = x - k;
            while (x < N && y < M && eq(size_t(a0 + x), size_t(b0 + y))) {
                ++x;
                ++y;
            }
            v[k + offset] = x;
            if (x >= N && y >= M) {
                found = d;
                break;
            }
        }
        trace.emplace_back(v.begin() + (offset - d), v.begin() + (offset + d + 1));
    }
    std::vector<DiffOp> middle;
    if (found < 0) {
        middle.assign(size_t(N), DiffOp::removed);
        middle.insert(middle.end(), size_t(M), DiffOp::inserted);
    } else {
        // Walk back from (N, M), collecting ops in reverse.
        int64_t x = N, y = M;
        for (int64_t d = found; d > 0; --d) {
            const std::vector<int32_t>& prev = trace[size_t(d - 1)]; // diagonals -(d-1)..d-1
            const auto at = [&](int64_t k) { return int64_t{prev[size_t(k + d - 1)]}; };
            const int64_t k = x - y;
            const bool down = k == -d || (k != d && at(k - 1) < at(k + 1));
            const int64_t prev_k = down ? k + 1 : k - 1;
            const int64_t prev_x = at(prev_k);
            const int64_t prev_y = prev_x - prev_k;
            while (x > prev_x + (down ? 0 : 1) && y > prev_y + (down ? 1 : 0)) {
                middle.push_back(DiffOp::equal);
                --x;
                --y;
            }
            middle.push_back(down ? DiffOp::inserted : DiffOp::removed);
            x = prev_x;
            y = prev_y;
        }
        while (x > 0 && y > 0) {
            middle.push_back(DiffOp::equal);
            --x;
            --y;
        }
        std::reverse(middle.begin(), middle.end());
        // Within each run of changes, removals first.
        for (size_t i = 0; i < middle.size();) {
            size_t j = i;
            while (j < middle.size() && middle[j] != DiffOp::equal) {
                ++j;
            }
            std::stable_partition(middle.begin() + static_cast<std::ptrdiff_t>(i),
                                  middle.begin() + static_cast<std::ptrdiff_t>(j),
                                  [](DiffOp op) { return op == DiffOp::removed; });
            i = j + 1;
        }
    }
    ops.insert(ops.end(), middle.begin(), middle.end());
    ops.insert(ops.end(), tail, DiffOp::equal);
    return ops;
}

// Groups per-element ops into spans; `append(span, index_in_before, index_in_after, op)`
// adds one element.
template <typename Span, typename Append>
std::vector<Span> group(const std::vector<DiffOp>& ops, Append append) {
    std::vector<Span> spans;
    size_t ia = 0, ib = 0;
    for (DiffOp op : ops) {
        if (spans.empty() || spans.back().op != op) {
            spans.push_back(Span{op, {}});
        }
        append(spans.back(), ia, ib, op);
        if (op != DiffOp::inserted)
            ++ia;
        if (op != DiffOp::removed)
            ++ib;
    }
    return spans;
}

} // namespace

const char* diff_op_name(DiffOp op) {
    switch (op) {
    case DiffOp::equal:
        return "equal";
    case DiffOp::inserted:
        return "inserted";
    case DiffOp::removed:
        return "removed";
    }
    return "?";
}

std::vector<TextDiffSpan> diff_text(std::string_view before, std::string_view after) {
    return diff_text(before, after, {});
}

std::vector<TextDiffSpan> diff_text(std::string_view before, std::string_view after,
                                    std::span<const std::string> special) {
    const std::vector<Char> a = split_units(before, special);
    const std::vector<Char> b = split_units(after, special);
    const auto text_of = [](std::string_view s, Char c) { return s.substr(c.offset, c.length); };
    const auto ops = edit_script(a.size(), b.size(), [&](size_t i, size_t j) {
        return a[i].special == b[j].special && text_of(before, a[i]) == text_of(after, b[j]);
    });
    // Grouped into spans; a special token is always a span of its own.
    std::vector<TextDiffSpan> spans;
    size_t ia = 0, ib = 0;
    for (DiffOp op : ops) {
        const bool from_after = op == DiffOp::inserted;
        const Char unit = from_after ? b[ib] : a[ia];
        if (spans.empty() || spans.back().op != op || unit.special || spans.back().special) {
            spans.push_back({op, {}, unit.special});
        }
        spans.back().text += text_of(from_after ? after : before, unit);
        if (op != DiffOp::inserted)
            ++ia;
        if (op != DiffOp::removed)
            ++ib;
    }
    return spans;
}

std::vector<TokenDiffSpan> diff_tokens(std::span<const int32_t> before,
                                       std::span<const int32_t> after) {
    const auto ops = edit_script(before.size(), after.size(),
                                 [&](size_t i, size_t j) { return before[i] == after[j]; });
    return group<TokenDiffSpan>(ops, [&](TokenDiffSpan& span, size_t i, size_t j, DiffOp op) {
        span.tokens.push_back(op == DiffOp::inserted ? after[j] : before[i]);
    });
}

DiffCounts count_text_diff(std::span<const TextDiffSpan> spans) {
    DiffCounts counts;
    for (const auto& span : spans) {
        const size_t n = split_units(span.text).size();
        (span.op == DiffOp::equal      ? counts.equal
         : span.op == DiffOp::inserted ? counts.inserted
                                       : counts.removed) += n;
    }
    return counts;
}

DiffCounts count_token_diff(std::span<const TokenDiffSpan> spans) {
    DiffCounts counts;
    for (const auto& span : spans) {
        (span.op == DiffOp::equal      ? counts.equal
         : span.op == DiffOp::inserted ? counts.inserted
                                       : counts.removed) += span.tokens.size();
    }
    return counts;
}

} // namespace hearth
