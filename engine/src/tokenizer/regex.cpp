// The compiler of the small regex engine: pattern -> syntax tree -> Pike VM program (see
// regex.h for what it accepts and the limits it enforces).
#include "tokenizer/regex.h"

#include "tokenizer/unicode.h"

#include <algorithm>
#include <limits>
#include <memory>

namespace hearth {

namespace {

constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

struct Ast {
    enum class Kind { empty, klass, concat, alt, repeat, neg_look, pos_look, begin, end };
    Kind kind = Kind::empty;
    int32_t klass = -1;
    uint32_t min = 0, max = 0;
    std::vector<Ast> kids;
};

} // namespace

class RegexCompiler {
public:
    explicit RegexCompiler(std::string_view pattern)
        : pattern_(pattern), cps_(unicode::to_codepoints(pattern)) {}

    Result<Regex> compile() {
        if (cps_.size() > kMaxRegexPatternChars) {
            return error("the pattern has " + std::to_string(cps_.size()) +
                         " characters; at most " + std::to_string(kMaxRegexPatternChars) +
                         " are accepted");
        }
        auto ast = parse_alt();
        if (!ast) {
            return std::unexpected(ast.error());
        }
        if (pos_ != cps_.size()) {
            return error("unbalanced ')'");
        }
        regex_.pattern_ = std::string(pattern_);
        auto match = add_inst({.op = Regex::Op::match});
        if (!match) {
            return std::unexpected(match.error());
        }
        auto start = emit(*ast, *match);
        if (!start) {
            return std::unexpected(start.error());
        }
        regex_.start_ = *start;
        for (auto& c : regex_.classes_) {
            for (char32_t cp = 0; cp < 128; ++cp) {
                if (c.matches_slow(cp)) {
                    c.ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
                }
            }
        }
        return std::move(regex_);
    }

private:
    std::unexpected<Error> error(const std::string& what) const {
        // The pattern may come from a tokenizer.json: quote the start of it only.
        return fail(ErrorCode::unsupported, "regular expression '" +
                                                unicode::excerpt(pattern_, 80) + "': " + what +
                                                " at character " + std::to_string(pos_));
    }
    bool at_end() const { return pos_ >= cps_.size(); }
    char32_t peek(size_t ahead = 0) const {
        return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0;
    }

    int32_t add_class(Regex::Class c) {
        regex_.classes_.push_back(std::move(c));
        return static_cast<int32_t>(regex_.classes_.size() - 1);
    }
    Result<int32_t> add_inst(Regex::Inst inst) {
        if (regex_.program_.size() >= kMaxRegexProgram) {
            return error("the pattern compiles to more than " + std::to_string(kMaxRegexProgram) +
                         " instructions (bounded repeats are unrolled)");
        }
        regex_.program_.push_back(std::move(inst));
        return static_cast<int32_t>(regex_.program_.size() - 1);
    }

    void add_literal(Regex::Class& c, char32_t cp) const {
        c.ranges.emplace_back(cp, cp);
        if (ignore_case_ && cp < 128) {
            if (cp >= 'a' && cp <= 'z') {
                c.ranges.emplace_back(cp - 32, cp - 32);
            } else if (cp >= 'A' && cp <= 'Z') {
                c.ranges.emplace_back(cp + 32, cp + 32);
            }
        }
    }

    Ast class_ast(Regex::Class c) {
        Ast a;
        a.kind = Ast::Kind::klass;
        a.klass = add_class(std::move(c));
        return a;
    }

    // After a backslash: adds a class escape to `c` and returns true, or returns false
    // when the escape is a plain character (then `literal` is set).
    Result<bool> parse_escape(Regex::Class& c, char32_t& literal) {
        if (at_end()) {
            return error("trailing backslash");
        }
        const char32_t e = cps_[pos_++];
        switch (e) {
        case 's':
            c.space = true;
            return true;
        case 'S':
            c.not_space = true;
            return true;
        case 'd':
            c.categories |= unicode::category_bit(unicode::Category::Nd);
            return true;
        case 'D':
            c.not_categories |= unicode::category_bit(unicode::Category::Nd);
            return true;
        case 'w':
            c.categories |= unicode::kLetter | unicode::kMark | unicode::kNumber |
                            unicode::category_bit(unicode::Category::Pc);
            return true;
        case 'p':
        case 'P': {
            std::string name;
            if (peek() == '{') {
                ++pos_;
                while (!at_end() && peek() != '}') {
                    name.push_back(static_cast<char>(cps_[pos_++]));
                }
                if (at_end()) {
                    return error("unterminated \\p{");
                }
                ++pos_;
            } else if (!at_end()) {
                name.push_back(static_cast<char>(cps_[pos_++]));
            }
            const auto mask = unicode::property_mask(name);
            if (!mask) {
                return error("unknown property '" + name + "'");
            }
            (e == 'p' ? c.categories : c.not_categories) |= *mask;
            return true;
        }
        case 'r':
            literal = '\r';
            return false;
        case 'n':
            literal = '\n';
            return false;
        case 't':
            literal = '\t';
            return false;
        case 'f':
            literal = '\f';
            return false;
        case 'v':
            literal = '\v';
            return false;
        case 'u': {
            char32_t v = 0;
            for (int i = 0; i < 4; ++i) {
                const char32_t h = peek();
                int d = -1;
                if (h >= '0' && h <= '9')
                    d = static_cast<int>(h - '0');
                if (h >= 'a' && h <= 'f')
                    d = static_cast<int>(h - 'a' + 10);
                if (h >= 'A' && h <= 'F')
                    d = static_cast<int>(h - 'A' + 10);
                if (d < 0) {
                    return error("bad \\u escape");
                }
                v = v * 16 + static_cast<char32_t>(d);
                ++pos_;
            }
            literal = v;
            return false;
        }
        default:
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                return error(std::string("unsupported escape \\") + static_cast<char>(e));
            }
            literal = e;
            return false;
        }
    }

    Result<Ast> parse_bracket() {
        Regex::Class c;
        if (peek() == '^') {
            c.negated = true;
            ++pos_;
        }
        bool first = true;
        while (!at_end() && (peek() != ']' || first)) {
            first = false;
            char32_t lo = cps_[pos_++];
            if (lo == '\\') {
                auto is_class = parse_escape(c, lo);
                if (!is_class) {
                    return std::unexpected(is_class.error());
                }
                if (*is_class) {
                    continue;
                }
            } else if (lo == '[') {
                return error("nested classes are not supported");
            }
            if (peek() == '-' && peek(1) != ']' && pos_ + 1 < cps_.size()) {
                ++pos_;
                char32_t hi = cps_[pos_++];
                if (hi == '\\') {
                    Regex::Class unused;
                    auto is_class = parse_escape(unused, hi);
                    if (!is_class || *is_class) {
                        return error("bad range end");
                    }
                }
                if (hi < lo) {
                    return error("reversed range");
                }
                c.ranges.emplace_back(lo, hi);
                if (ignore_case_) {
                    for (char32_t x = std::max<char32_t>(lo, 'A'); x <= std::min<char32_t>(hi, 'z');
                         ++x) {
                        add_literal(c, x);
                    }
                }
            } else {
                add_literal(c, lo);
            }
        }
        if (at_end()) {
            return error("unterminated '['");
        }
        ++pos_; // ']'
        return class_ast(std::move(c));
    }

    Result<Ast> parse_atom() {
        const char32_t ch = cps_[pos_++];
        switch (ch) {
        case '(': {
            if (depth_ >= kMaxRegexNesting) {
                return error("groups nested more than " + std::to_string(kMaxRegexNesting) +
                             " deep");
            }
            Ast::Kind kind = Ast::Kind::concat;
            const bool saved_case = ignore_case_;
            if (peek() == '?') {
                if (peek(1) == ':') {
                    pos_ += 2;
                } else if (peek(1) == '!') {
                    pos_ += 2, kind = Ast::Kind::neg_look;
                } else if (peek(1) == '=') {
                    pos_ += 2, kind = Ast::Kind::pos_look;
                } else if (peek(1) == 'i' && peek(2) == ':') {
                    pos_ += 3, ignore_case_ = true;
                } else {
                    return error("unsupported group");
                }
            }
            ++depth_;
            auto inner = parse_alt();
            --depth_;
            ignore_case_ = saved_case;
            if (!inner) {
                return inner;
            }
            if (peek() != ')') {
                return error("missing ')'");
            }
            ++pos_;
            if (kind == Ast::Kind::concat) {
                return inner;
            }
            Ast look;
            look.kind = kind;
            look.kids.push_back(std::move(*inner));
            return look;
        }
        case '[':
            return parse_bracket();
        case '.': {
            Regex::Class c;
            c.negated = true;
            c.ranges.emplace_back('\n', '\n');
            return class_ast(std::move(c));
        }
        case '^': {
            Ast a;
            a.kind = Ast::Kind::begin;
            return a;
        }
        case '$': {
            Ast a;
            a.kind = Ast::Kind::end;
            return a;
        }
        case '\\': {
            Regex::Class c;
            char32_t lit = 0;
            auto is_class = parse_escape(c, lit);
            if (!is_class) {
                return std::unexpected(is_class.error());
            }
            if (!*is_class) {
                add_literal(c, lit);
            }
            return class_ast(std::move(c));
        }
        case '*':
        case '+':
        case '?':
        case '{':
            --pos_;
            return error("quantifier without operand");
        default: {
            Regex::Class c;
            add_literal(c, ch);
            return class_ast(std::move(c));
        }
        }
    }

    Result<uint32_t> parse_number() {
        uint32_t v = 0;
        bool any = false;
        while (peek() >= '0' && peek() <= '9') {
            v = v * 10 + static_cast<uint32_t>(peek() - '0');
            ++pos_, any = true;
            if (v > 100000) {
                return error("repeat count too large");
            }
        }
        if (!any) {
            return error("expected a number");
        }
        return v;
    }

    Result<Ast> parse_repeat() {
        auto atom = parse_atom();
        if (!atom) {
            return atom;
        }
        if (!at_end()) {
            uint32_t min = 0, max = 0;
            const char32_t q = peek();
            if (q != '?' && q != '*' && q != '+' && q != '{') {
                return atom;
            }
            const Ast::Kind kind = atom->kind;
            if (kind == Ast::Kind::begin || kind == Ast::Kind::end || kind == Ast::Kind::neg_look ||
                kind == Ast::Kind::pos_look) {
                return error("nothing to repeat");
            }
            if (q == '?') {
                min = 0, max = 1;
            } else if (q == '*') {
                min = 0, max = kUnbounded;
            } else if (q == '+') {
                min = 1, max = kUnbounded;
            } else if (q == '{') {
                ++pos_;
                auto lo = parse_number();
                if (!lo) {
                    return std::unexpected(lo.error());
                }
                min = max = *lo;
                if (peek() == ',') {
                    ++pos_;
                    max = kUnbounded;
                    if (peek() != '}') {
                        auto hi = parse_number();
                        if (!hi) {
                            return std::unexpected(hi.error());
                        }
                        max = *hi;
                    }
                }
                if (peek() != '}' || max < min) {
                    return error("bad {m,n}");
                }
            }
            ++pos_;
            if (peek() == '?' || peek() == '+') {
                return error("lazy and possessive quantifiers are not supported");
            }
            if (peek() == '*' || peek() == '{') {
                return error("multiple repeat");
            }
            Ast rep;
            rep.kind = Ast::Kind::repeat;
            rep.min = min;
            rep.max = max;
            rep.kids.push_back(std::move(*atom));
            *atom = std::move(rep);
        }
        return atom;
    }

    Result<Ast> parse_concat() {
        Ast seq;
        seq.kind = Ast::Kind::concat;
        while (!at_end() && peek() != '|' && peek() != ')') {
            auto item = parse_repeat();
            if (!item) {
                return item;
            }
            seq.kids.push_back(std::move(*item));
        }
        return seq;
    }

    Result<Ast> parse_alt() {
        auto first = parse_concat();
        if (!first || peek() != '|') {
            return first;
        }
        Ast alt;
        alt.kind = Ast::Kind::alt;
        alt.kids.push_back(std::move(*first));
        while (peek() == '|') {
            ++pos_;
            auto next = parse_concat();
            if (!next) {
                return next;
            }
            alt.kids.push_back(std::move(*next));
        }
        return alt;
    }

    // The most characters `ast` can match; kUnbounded when there is no bound.
    static uint64_t max_width(const Ast& ast) {
        switch (ast.kind) {
        case Ast::Kind::klass:
            return 1;
        case Ast::Kind::concat: {
            uint64_t sum = 0;
            for (const Ast& kid : ast.kids) {
                sum = std::min<uint64_t>(sum + max_width(kid), kUnbounded);
            }
            return sum;
        }
        case Ast::Kind::alt: {
            uint64_t most = 0;
            for (const Ast& kid : ast.kids) {
                most = std::max(most, max_width(kid));
            }
            return most;
        }
        case Ast::Kind::repeat: {
            const uint64_t kid = max_width(ast.kids[0]);
            if (kid == 0) {
                return 0;
            }
            return ast.max == kUnbounded ? kUnbounded
                                         : std::min<uint64_t>(kid * ast.max, kUnbounded);
        }
        default:
            return 0;
        }
    }

    // Emits `ast` followed by instruction `next`; returns its first instruction.
    Result<int32_t> emit(const Ast& ast, int32_t next) {
        switch (ast.kind) {
        case Ast::Kind::empty:
            return next;
        case Ast::Kind::klass:
            return add_inst({.op = Regex::Op::klass, .next = next, .klass = ast.klass});
        case Ast::Kind::concat: {
            int32_t cur = next;
            for (auto it = ast.kids.rbegin(); it != ast.kids.rend(); ++it) {
                auto first = emit(*it, cur);
                if (!first) {
                    return first;
                }
                cur = *first;
            }
            return cur;
        }
        case Ast::Kind::alt: {
            Regex::Inst fork{.op = Regex::Op::fork};
            for (const auto& kid : ast.kids) {
                auto first = emit(kid, next);
                if (!first) {
                    return first;
                }
                fork.targets.push_back(*first);
            }
            return add_inst(std::move(fork));
        }
        case Ast::Kind::repeat:
            return emit_repeat(ast, next);
        case Ast::Kind::neg_look:
        case Ast::Kind::pos_look: {
            if (max_width(ast.kids[0]) > kMaxLookaheadWidth) {
                return error("a lookahead may look at most " + std::to_string(kMaxLookaheadWidth) +
                             " characters ahead");
            }
            auto accept = add_inst({.op = Regex::Op::look_accept});
            if (!accept) {
                return accept;
            }
            auto body = emit(ast.kids[0], *accept);
            if (!body) {
                return body;
            }
            const auto body_last = static_cast<int32_t>(regex_.program_.size());
            return add_inst(
                {.op = ast.kind == Ast::Kind::pos_look ? Regex::Op::ahead : Regex::Op::not_ahead,
                 .next = next,
                 .targets = {*body},
                 .body_first = *accept,
                 .body_last = body_last});
        }
        case Ast::Kind::begin:
        case Ast::Kind::end:
            return add_inst({.op = ast.kind == Ast::Kind::begin ? Regex::Op::begin : Regex::Op::end,
                             .next = next});
        }
        return error("internal error");
    }

    // X{min,max}: min copies of X, then max - min optional ones (each skipping straight to
    // `next`), or a loop when max is unbounded; greedy: going on is preferred to stopping.
    Result<int32_t> emit_repeat(const Ast& ast, int32_t next) {
        const Ast& kid = ast.kids[0];
        int32_t cur = next;
        if (ast.max == kUnbounded) {
            auto loop = add_inst({.op = Regex::Op::fork});
            if (!loop) {
                return loop;
            }
            auto body = emit(kid, *loop);
            if (!body) {
                return body;
            }
            regex_.program_[static_cast<size_t>(*loop)].targets = {*body, next};
            cur = *loop;
        } else {
            for (uint32_t i = ast.min; i < ast.max; ++i) {
                auto body = emit(kid, cur);
                if (!body) {
                    return body;
                }
                auto optional = add_inst({.op = Regex::Op::fork, .targets = {*body, next}});
                if (!optional) {
                    return optional;
                }
                cur = *optional;
            }
        }
        for (uint32_t i = 0; i < ast.min; ++i) {
            auto body = emit(kid, cur);
            if (!body) {
                return body;
            }
            cur = *body;
        }
        return cur;
    }

    std::string_view pattern_;
    std::vector<char32_t> cps_;
    size_t pos_ = 0;
    size_t depth_ = 0; // groups open at pos_
    bool ignore_case_ = false;
    Regex regex_;
};

Result<Regex> Regex::compile(std::string_view pattern) {
    return RegexCompiler(pattern).compile();
}

} // namespace hearth
