// The matcher of the small regex engine: a Pike VM. All the threads of a search advance
// together one character at a time, in priority order (the order a backtracking matcher
// would try them), and at most one thread sits on each instruction, so a search costs
// O(program size) per character and never recurses over the text.
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <algorithm>

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

// The state of one search: the threads at the current and the next position, and which
// instructions already hold a thread at a position (marked with that position's stamp).
struct Regex::Vm {
    struct Thread {
        int32_t pc;
        size_t start; // where its match began
    };
    std::vector<Thread> current, next;
    std::vector<uint64_t> seen;
    uint64_t stamp = 0;
    std::vector<int32_t> stack;
    // Lookahead results at one position, per instruction (stamp, result).
    std::vector<std::pair<uint64_t, bool>> looks;

    explicit Vm(size_t program_size) : seen(program_size, 0), looks(program_size, {0, false}) {}
};

// Does the body of lookahead `inst` match at `pos`? The body is at most kMaxLookaheadWidth
// characters wide (checked at compile time), so this is a short set simulation over the
// body's own instructions; a nested lookahead recurses as deep as the pattern nests them.
bool Regex::look(const Inst& inst, std::span<const char32_t> text, size_t pos) const {
    const Inst& first = program_[static_cast<size_t>(inst.targets[0])];
    if (first.op == Op::klass && program_[static_cast<size_t>(first.next)].op == Op::look_accept) {
        // One character, as (?!\S): no simulation needed.
        return pos < text.size() && classes_[static_cast<size_t>(first.klass)].matches(text[pos]);
    }
    const auto base = static_cast<size_t>(inst.body_first);
    std::vector<uint8_t> seen(static_cast<size_t>(inst.body_last) - base);
    std::vector<int32_t> current{inst.targets[0]};
    std::vector<int32_t> next;
    std::vector<int32_t> stack;
    for (size_t at = pos;; ++at) {
        // Follow what consumes nothing; the klass instructions that match step to `next`.
        std::fill(seen.begin(), seen.end(), 0);
        stack.assign(current.rbegin(), current.rend());
        next.clear();
        while (!stack.empty()) {
            const auto pc = static_cast<size_t>(stack.back());
            stack.pop_back();
            if (seen[pc - base]) {
                continue;
            }
            seen[pc - base] = 1;
            const Inst& in = program_[pc];
            switch (in.op) {
            case Op::look_accept:
                return true;
            case Op::klass:
                if (at < text.size() && classes_[static_cast<size_t>(in.klass)].matches(text[at])) {
                    next.push_back(in.next);
                }
                break;
            case Op::fork:
                stack.insert(stack.end(), in.targets.rbegin(), in.targets.rend());
                break;
            case Op::begin:
            case Op::end:
                if (at == (in.op == Op::begin ? 0 : text.size())) {
                    stack.push_back(in.next);
                }
                break;
            case Op::ahead:
            case Op::not_ahead:
                if (look(in, text, at) == (in.op == Op::ahead)) {
                    stack.push_back(in.next);
                }
                break;
            case Op::match:
                break;
            }
        }
        if (next.empty()) {
            return false;
        }
        current.swap(next);
    }
}

bool Regex::find(Vm& vm, std::span<const char32_t> text, size_t from, Span& found,
                 size_t& read) const {
    // Adds the thread (pc, start) at `pos` to `list`, following every instruction that
    // consumes nothing, depth first in priority order; an instruction already holding a
    // thread at this position (one of higher priority) is not entered again.
    bool next_matches = false; // vm.next holds a thread at `match` with a non-empty match
    const auto add = [&](std::vector<Vm::Thread>& list, int32_t first, size_t start, size_t pos) {
        int32_t pc = first;
        for (;;) {
            const auto index = static_cast<size_t>(pc);
            int32_t go = -1; // where to go on without the stack
            if (vm.seen[index] != vm.stamp) {
                vm.seen[index] = vm.stamp;
                const Inst& inst = program_[index];
                switch (inst.op) {
                case Op::match:
                    next_matches = next_matches || start < pos;
                    list.push_back({pc, start});
                    break;
                case Op::klass:
                    list.push_back({pc, start});
                    break;
                case Op::fork:
                    for (size_t k = inst.targets.size(); k-- > 1;) {
                        vm.stack.push_back(inst.targets[k]);
                    }
                    go = inst.targets[0];
                    break;
                case Op::begin:
                case Op::end:
                    if (pos == (inst.op == Op::begin ? 0 : text.size())) {
                        go = inst.next;
                    }
                    break;
                case Op::ahead:
                case Op::not_ahead: {
                    auto& [stamp, result] = vm.looks[index];
                    if (stamp != vm.stamp) {
                        stamp = vm.stamp;
                        result = look(inst, text, pos);
                    }
                    if (result == (inst.op == Op::ahead)) {
                        go = inst.next;
                    }
                    break;
                }
                case Op::look_accept:
                    break;
                }
            }
            if (go >= 0) {
                pc = go;
            } else if (!vm.stack.empty()) {
                pc = vm.stack.back();
                vm.stack.pop_back();
            } else {
                return;
            }
        }
    };

    bool matched = false;
    bool current_matches = false;
    vm.current.clear();
    ++vm.stamp;
    for (size_t pos = from;; ++pos) {
        ++read;
        // A match starting here ranks below every thread already running; when one of those
        // is about to match, it would be dropped at once.
        if (!matched && !current_matches) {
            add(vm.current, start_, pos, pos);
        }
        if (vm.current.empty()) {
            if (matched || pos >= text.size()) {
                return matched;
            }
            ++vm.stamp;
            continue;
        }
        ++vm.stamp; // the next position's threads
        vm.next.clear();
        next_matches = false;
        for (const Vm::Thread& thread : vm.current) {
            const Inst& inst = program_[static_cast<size_t>(thread.pc)];
            if (inst.op == Op::match) {
                if (thread.start < pos) { // empty matches split nothing
                    found = {thread.start, pos};
                    matched = true;
                    break; // the threads after this one rank lower: drop them
                }
                continue;
            }
            if (pos < text.size() && classes_[static_cast<size_t>(inst.klass)].matches(text[pos])) {
                add(vm.next, inst.next, thread.start, pos + 1);
            }
        }
        vm.current.swap(vm.next);
        current_matches = next_matches;
        if (pos >= text.size()) {
            return matched;
        }
    }
}

Result<void> Regex::split(std::span<const char32_t> text, size_t base,
                          std::vector<std::pair<size_t, size_t>>& out) const {
    thread_local Vm vm(0);
    if (vm.seen.size() < program_.size()) {
        vm = Vm(program_.size());
    }
    const size_t budget = kMaxRegexPasses * (text.size() + 1);
    size_t read = 0;
    size_t pos = 0;
    Span match;
    while (pos < text.size() && find(vm, text, pos, match, read)) {
        if (match.begin > pos) {
            out.emplace_back(base + pos, base + match.begin);
        }
        out.emplace_back(base + match.begin, base + match.end);
        pos = match.end;
        if (read > budget) {
            return fail(ErrorCode::unsupported,
                        "the pre-tokenizer regular expression '" + unicode::excerpt(pattern_, 80) +
                            "' would read a text of " + std::to_string(text.size()) +
                            " characters more than " + std::to_string(kMaxRegexPasses) +
                            " times over (its matching is quadratic on this text)");
        }
    }
    if (pos < text.size()) {
        out.emplace_back(base + pos, base + text.size());
    }
    return {};
}

} // namespace hearth
