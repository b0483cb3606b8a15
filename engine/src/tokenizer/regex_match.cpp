// The matcher of the small regex engine: backtracking over the compiled node graph.
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace hearth {

bool Regex::Class::matches_slow(char32_t cp) const {
    bool in = false;
    for (const auto& [lo, hi] : ranges) {
        if (cp >= lo && cp <= hi) {
            in = true;
            break;
        }
    }
    if (!in && (categories | not_categories) != 0) {
        const uint32_t bit = unicode::category_bit(unicode::category(cp));
        in = (categories & bit) != 0 || (not_categories != 0 && (not_categories & bit) == 0);
    }
    if (!in && (space || not_space)) {
        const bool ws = unicode::is_whitespace(cp);
        in = (space && ws) || (not_space && !ws);
    }
    return in != negated;
}

int64_t Regex::run(int32_t n, std::span<const char32_t> text, size_t pos) const {
    for (;;) {
        const Node& node = nodes_[static_cast<size_t>(n)];
        switch (node.op) {
        case Op::accept:
            return static_cast<int64_t>(pos);
        case Op::klass:
            if (pos < text.size() && classes_[static_cast<size_t>(node.klass)].matches(text[pos])) {
                ++pos;
                n = node.next;
                continue;
            }
            return -1;
        case Op::begin:
            if (pos != 0) {
                return -1;
            }
            n = node.next;
            continue;
        case Op::end:
            if (pos != text.size()) {
                return -1;
            }
            n = node.next;
            continue;
        case Op::alt:
            for (const int32_t branch : node.branches) {
                const int64_t r = run(branch, text, pos);
                if (r >= 0) {
                    return r;
                }
            }
            return -1;
        case Op::repeat: {
            const Class& c = classes_[static_cast<size_t>(node.klass)];
            size_t count = 0;
            while (count < node.max && pos + count < text.size() && c.matches(text[pos + count])) {
                ++count;
            }
            if (count < node.min) {
                return -1;
            }
            if (nodes_[static_cast<size_t>(node.next)].op == Op::accept) {
                return static_cast<int64_t>(pos + count);
            }
            for (size_t k = count + 1; k-- > node.min;) {
                const int64_t r = run(node.next, text, pos + k);
                if (r >= 0) {
                    return r;
                }
            }
            return -1;
        }
        case Op::neg_look:
        case Op::pos_look: {
            const bool found = run(node.branches[0], text, pos) >= 0;
            if (found != (node.op == Op::pos_look)) {
                return -1;
            }
            n = node.next;
            continue;
        }
        }
    }
}

int64_t Regex::match_at(std::span<const char32_t> text, size_t pos) const {
    return run(start_, text, pos);
}

void Regex::split(std::span<const char32_t> text, size_t base,
                  std::vector<std::pair<size_t, size_t>>& out) const {
    size_t gap = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        const int64_t end = run(start_, text, pos);
        if (end > static_cast<int64_t>(pos)) {
            if (gap < pos) {
                out.emplace_back(base + gap, base + pos);
            }
            out.emplace_back(base + pos, base + static_cast<size_t>(end));
            pos = static_cast<size_t>(end);
            gap = pos;
        } else {
            ++pos;
        }
    }
    if (gap < text.size()) {
        out.emplace_back(base + gap, base + text.size());
    }
}

} // namespace hearth
