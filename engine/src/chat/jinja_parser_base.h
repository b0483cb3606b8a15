// The expression half of the Jinja parser, shared with the statement parser of
// jinja_parser.cpp: the token cursor, nesting and "soft" (inside an `if`) state, and
// jinja2's expression grammar (jinja_parse_expr.cpp).
#pragma once

#include "chat/jinja_parser.h"

#include <string>
#include <vector>

namespace hearth::jinja {

class ParserBase {
public:
    ParserBase(std::vector<Token> tokens, const ParseOptions& options)
        : tokens_(std::move(tokens)), options_(options) {}

protected:
    std::vector<Token> tokens_;
    const ParseOptions& options_;
    size_t pos_ = 0;
    size_t depth_ = 0;
    size_t nodes_ = 0;
    bool soft_ = false; // inside an `if`: unknown filters and tests fail at render time

    struct DepthGuard {
        ParserBase& p;
        explicit DepthGuard(ParserBase& parser) : p(parser) {
            if (++p.depth_ > p.options_.max_depth) {
                p.fail("template nesting is too deep (more than " +
                       std::to_string(p.options_.max_depth) + " levels)");
            }
        }
        ~DepthGuard() { --p.depth_; }
    };

    struct SoftGuard {
        ParserBase& p;
        bool saved;
        SoftGuard(ParserBase& parser, bool soft) : p(parser), saved(parser.soft_) {
            p.soft_ = soft;
        }
        ~SoftGuard() { p.soft_ = saved; }
    };

    const Token& cur() const { return tokens_[pos_]; }
    const Token& peek(size_t n = 1) const {
        return tokens_[std::min(pos_ + n, tokens_.size() - 1)];
    }
    const Token& next() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) {
            ++pos_;
        }
        return t;
    }

    [[noreturn]] void fail(std::string message) const { fail_at(cur(), std::move(message)); }
    [[noreturn]] static void fail_at(const Token& t, std::string message) {
        throw SyntaxError{std::move(message), t.line, t.column};
    }

    static std::string describe(const Token& t) {
        switch (t.type) {
        case Tok::name:
        case Tok::op:
            return "'" + t.value + "'";
        case Tok::string:
            return "string";
        case Tok::integer:
            return "integer";
        case Tok::floating:
            return "float";
        default:
            return std::string("'") + token_description(t.type) + "'";
        }
    }

    bool is_op(std::string_view op) const { return cur().type == Tok::op && cur().value == op; }
    bool is_name(std::string_view name) const {
        return cur().type == Tok::name && cur().value == name;
    }
    bool skip_op(std::string_view op) {
        if (is_op(op)) {
            next();
            return true;
        }
        return false;
    }
    bool skip_name(std::string_view name) {
        if (is_name(name)) {
            next();
            return true;
        }
        return false;
    }
    void expect_op(std::string_view op) {
        if (!skip_op(op)) {
            fail("expected token '" + std::string(op) + "', got " + describe(cur()));
        }
    }
    void expect(Tok type) {
        if (cur().type != type) {
            fail(std::string("expected token '") + token_description(type) + "', got " +
                 describe(cur()));
        }
        next();
    }
    std::string expect_name() {
        if (cur().type != Tok::name) {
            fail("expected token 'name', got " + describe(cur()));
        }
        return next().value;
    }

    // Counts one more statement or expression toward ParseOptions::max_nodes.
    void count_node(int line, int column) {
        if (++nodes_ > options_.max_nodes) {
            throw SyntaxError{"template is too large (more than " +
                                  std::to_string(options_.max_nodes) +
                                  " statements and expressions)",
                              line, column};
        }
    }

    ExprPtr make(ExprKind kind, const Token& at) {
        count_node(at.line, at.column);
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = at.line;
        e->column = at.column;
        return e;
    }

    // Every child joins its parent through these, which keep Expr::height and bound it: an
    // operator chain is built by a loop, not by recursion, so only the height can stop it.
    void adopt_height(Expr& parent, const ExprPtr& child) const {
        if (!child || child->height < parent.height) {
            return;
        }
        parent.height = child->height + 1;
        if (parent.height > options_.max_depth) {
            throw SyntaxError{"expression is nested too deeply (more than " +
                                  std::to_string(options_.max_depth) +
                                  " levels of operators, filters, attributes, calls or brackets)",
                              parent.line, parent.column};
        }
    }
    void add_arg(Expr& parent, ExprPtr child) {
        adopt_height(parent, child);
        parent.args.push_back(std::move(child));
    }
    void add_kwarg(Expr& parent, std::string name, ExprPtr child) {
        adopt_height(parent, child);
        parent.kwargs.emplace_back(std::move(name), std::move(child));
    }

    // ---- expressions (jinja_parse_expr.cpp) ----
    ExprPtr parse_tuple(bool explicit_parens, bool no_condexpr = false);
    ExprPtr parse_expression();
    ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right);
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr clone(const Expr& e);
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_postfix(ExprPtr node);
    ExprPtr parse_subscript(ExprPtr node);
    void parse_arguments(Expr& e);
    ExprPtr parse_call(ExprPtr node);
    ExprPtr parse_filter_chain(ExprPtr node, bool leading_pipe = true);
    ExprPtr parse_filter_expr(ExprPtr node);
    ExprPtr parse_test(ExprPtr node);
};

} // namespace hearth::jinja
