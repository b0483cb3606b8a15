// A small backtracking regex engine over code points (see regex.h for what it accepts).
#include "tokenizer/regex.h"

#include "tokenizer/unicode.h"

#include <limits>
#include <memory>

namespace hearth {

namespace {

constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
// A bounded repeat of a group is unrolled; keep patterns from exploding.
constexpr uint32_t kMaxUnroll = 16;

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
        auto ast = parse_alt();
        if (!ast) {
            return std::unexpected(ast.error());
        }
        if (pos_ != cps_.size()) {
            return error("unbalanced ')'");
        }
        regex_.pattern_ = std::string(pattern_);
        const int32_t accept = add_node({});
        auto start = emit(*ast, accept, accept);
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
        return fail(ErrorCode::unsupported, "regular expression '" + std::string(pattern_) + "': " +
                                                what + " at character " + std::to_string(pos_));
    }
    bool at_end() const { return pos_ >= cps_.size(); }
    char32_t peek(size_t ahead = 0) const {
        return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0;
    }

    int32_t add_class(Regex::Class c) {
        regex_.classes_.push_back(std::move(c));
        return static_cast<int32_t>(regex_.classes_.size() - 1);
    }
    int32_t add_node(Regex::Node n) {
        regex_.nodes_.push_back(std::move(n));
        return static_cast<int32_t>(regex_.nodes_.size() - 1);
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
            auto inner = parse_alt();
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
        while (!at_end()) {
            uint32_t min = 0, max = 0;
            const char32_t q = peek();
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
            } else {
                break;
            }
            ++pos_;
            if (peek() == '?' || peek() == '+') {
                return error("lazy and possessive quantifiers are not supported");
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

    // Emits `ast` followed by node `next`; returns the start node.
    Result<int32_t> emit(const Ast& ast, int32_t next, int32_t accept) {
        switch (ast.kind) {
        case Ast::Kind::empty:
            return next;
        case Ast::Kind::klass: {
            Regex::Node n;
            n.op = Regex::Op::klass;
            n.klass = ast.klass;
            n.next = next;
            return add_node(std::move(n));
        }
        case Ast::Kind::concat: {
            int32_t cur = next;
            for (auto it = ast.kids.rbegin(); it != ast.kids.rend(); ++it) {
                auto start = emit(*it, cur, accept);
                if (!start) {
                    return start;
                }
                cur = *start;
            }
            return cur;
        }
        case Ast::Kind::alt: {
            Regex::Node n;
            n.op = Regex::Op::alt;
            for (const auto& kid : ast.kids) {
                auto start = emit(kid, next, accept);
                if (!start) {
                    return start;
                }
                n.branches.push_back(*start);
            }
            return add_node(std::move(n));
        }
        case Ast::Kind::repeat: {
            const Ast& kid = ast.kids[0];
            if (kid.kind == Ast::Kind::klass) {
                Regex::Node n;
                n.op = Regex::Op::repeat;
                n.klass = kid.klass;
                n.min = ast.min;
                n.max = ast.max;
                n.next = next;
                return add_node(std::move(n));
            }
            if (ast.max == kUnbounded || ast.max > kMaxUnroll) {
                return error("unbounded repeat of a group");
            }
            int32_t cur = next;
            for (uint32_t i = ast.min; i < ast.max; ++i) {
                auto body = emit(kid, cur, accept);
                if (!body) {
                    return body;
                }
                Regex::Node opt;
                opt.op = Regex::Op::alt;
                opt.branches = {*body, next};
                cur = add_node(std::move(opt));
            }
            for (uint32_t i = 0; i < ast.min; ++i) {
                auto body = emit(kid, cur, accept);
                if (!body) {
                    return body;
                }
                cur = *body;
            }
            return cur;
        }
        case Ast::Kind::neg_look:
        case Ast::Kind::pos_look: {
            auto body = emit(ast.kids[0], accept, accept);
            if (!body) {
                return body;
            }
            Regex::Node n;
            n.op = ast.kind == Ast::Kind::neg_look ? Regex::Op::neg_look : Regex::Op::pos_look;
            n.branches = {*body};
            n.next = next;
            return add_node(std::move(n));
        }
        case Ast::Kind::begin:
        case Ast::Kind::end: {
            Regex::Node n;
            n.op = ast.kind == Ast::Kind::begin ? Regex::Op::begin : Regex::Op::end;
            n.next = next;
            return add_node(std::move(n));
        }
        }
        return error("internal error");
    }

    std::string_view pattern_;
    std::vector<char32_t> cps_;
    size_t pos_ = 0;
    bool ignore_case_ = false;
    Regex regex_;
};

Result<Regex> Regex::compile(std::string_view pattern) {
    return RegexCompiler(pattern).compile();
}

} // namespace hearth
