// Jinja expressions: recursive descent with jinja2's precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix, filters, tests).
#include "chat/jinja_parser_base.h"

#include <algorithm>

namespace hearth::jinja {

// A comma-separated list without parentheses is a tuple: `{{ a, b }}`, `for x in a, b`.
ExprPtr ParserBase::parse_tuple(bool explicit_parens, bool no_condexpr) {
    const Token& start = cur();
    std::vector<ExprPtr> items;
    bool saw_comma = false;
    for (;;) {
        if (!items.empty()) {
            if (!skip_op(",")) {
                break;
            }
            saw_comma = true;
        }
        if (cur().type == Tok::var_end || cur().type == Tok::block_end ||
            (explicit_parens && is_op(")")) ||
            (no_condexpr && (is_name("if") || is_name("recursive")))) {
            break;
        }
        items.push_back(no_condexpr ? parse_or() : parse_expression());
    }
    if (!saw_comma) {
        if (items.empty()) {
            if (explicit_parens) {
                return make(ExprKind::tuple, start);
            }
            fail("Expected an expression, got " + describe(cur()));
        }
        return std::move(items.front());
    }
    auto tuple = make(ExprKind::tuple, start);
    for (ExprPtr& item : items) {
        add_arg(*tuple, std::move(item));
    }
    return tuple;
}

ExprPtr ParserBase::parse_expression() {
    DepthGuard guard(*this);
    const Token& start = cur();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
        next();
        SoftGuard soft(*this, true);
        auto cond = make(ExprKind::condition, start);
        add_arg(*cond, std::move(expr));
        add_arg(*cond, parse_or());
        add_arg(*cond, skip_name("else") ? parse_expression() : nullptr);
        expr = std::move(cond);
    }
    return expr;
}

ExprPtr ParserBase::binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    auto e = make(ExprKind::binary, at);
    e->name = std::move(op);
    add_arg(*e, std::move(left));
    add_arg(*e, std::move(right));
    return e;
}

ExprPtr ParserBase::parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
        const Token& at = next();
        left = binary(at, "or", std::move(left), parse_and());
    }
    return left;
}

ExprPtr ParserBase::parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
        const Token& at = next();
        left = binary(at, "and", std::move(left), parse_not());
    }
    return left;
}

ExprPtr ParserBase::parse_not() {
    if (is_name("not")) {
        DepthGuard guard(*this);
        auto e = make(ExprKind::unary, next());
        e->name = "not";
        add_arg(*e, parse_not());
        return e;
    }
    return parse_compare();
}

ExprPtr ParserBase::parse_compare() {
    ExprPtr left = parse_math1();
    ExprPtr result;
    const Expr* last = left.get();
    // Chained comparisons (a < b < c) mean (a < b) and (b < c), as in Python; the middle
    // operand is evaluated twice, which only matters for expressions with side effects,
    // and template expressions have none that a comparison could trigger.
    for (;;) {
        const Token& at = cur();
        std::string op;
        if (at.type == Tok::op && (at.value == "==" || at.value == "!=" || at.value == "<" ||
                                   at.value == "<=" || at.value == ">" || at.value == ">=")) {
            op = at.value;
            next();
        } else if (is_name("in")) {
            op = "in";
            next();
        } else if (is_name("not") && peek().type == Tok::name && peek().value == "in") {
            op = "not in";
            next();
            next();
        } else {
            break;
        }
        ExprPtr right = parse_math1();
        const Expr* right_ptr = right.get();
        if (!result) {
            result = binary(at, op, std::move(left), std::move(right));
        } else {
            result = binary(at, "and", std::move(result),
                            binary(at, op, clone(*last), std::move(right)));
        }
        last = right_ptr;
    }
    return result ? std::move(result) : std::move(left);
}

// Recursion bounded by the height of `e`, already checked; each copy counts as a node.
ExprPtr ParserBase::clone(const Expr& e) {
    count_node(e.line, e.column);
    auto c = std::make_unique<Expr>();
    c->kind = e.kind;
    c->line = e.line;
    c->column = e.column;
    c->height = e.height;
    c->name = e.name;
    c->value = e.value;
    c->negated = e.negated;
    for (const auto& a : e.args) {
        c->args.push_back(a ? clone(*a) : nullptr);
    }
    for (const auto& [k, v] : e.kwargs) {
        c->kwargs.emplace_back(k, clone(*v));
    }
    return c;
}

ExprPtr ParserBase::parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
        const Token& at = next();
        left = binary(at, at.value, std::move(left), parse_concat());
    }
    return left;
}

ExprPtr ParserBase::parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
        const Token& at = next();
        left = binary(at, "~", std::move(left), parse_math2());
    }
    return left;
}

ExprPtr ParserBase::parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        const Token& at = next();
        left = binary(at, at.value, std::move(left), parse_pow());
    }
    return left;
}

ExprPtr ParserBase::parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
        const Token& at = next();
        left = binary(at, "**", std::move(left), parse_unary(true));
    }
    return left;
}

ExprPtr ParserBase::parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
        auto e = make(ExprKind::unary, cur());
        e->name = next().value;
        add_arg(*e, parse_unary(false));
        node = std::move(e);
    } else {
        node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) {
        node = parse_filter_expr(std::move(node));
    }
    return node;
}

ExprPtr ParserBase::parse_primary() {
    const Token& t = cur();
    if (t.type == Tok::name) {
        next();
        auto e = make(ExprKind::literal, t);
        if (t.value == "true" || t.value == "True") {
            e->value = Value(true);
        } else if (t.value == "false" || t.value == "False") {
            e->value = Value(false);
        } else if (t.value == "none" || t.value == "None") {
            e->value = Value(nullptr);
        } else {
            e->kind = ExprKind::name;
            e->name = t.value;
        }
        return e;
    }
    if (t.type == Tok::string) {
        std::string s;
        while (cur().type == Tok::string) {
            s += next().value; // adjacent literals concatenate
        }
        auto e = make(ExprKind::literal, t);
        e->value = Value(std::move(s));
        return e;
    }
    if (t.type == Tok::integer || t.type == Tok::floating) {
        next();
        auto e = make(ExprKind::literal, t);
        e->value = t.type == Tok::integer ? Value::integer(parse_int128(t.value).value_or(0))
                                          : Value(t.float_value);
        return e;
    }
    if (is_op("(")) {
        next();
        ExprPtr e = parse_tuple(true);
        expect_op(")");
        return e;
    }
    if (is_op("[")) {
        auto e = make(ExprKind::list, next());
        while (!is_op("]")) {
            if (!e->args.empty()) {
                expect_op(",");
                if (is_op("]")) {
                    break;
                }
            }
            add_arg(*e, parse_expression());
        }
        next();
        return e;
    }
    if (is_op("{")) {
        auto e = make(ExprKind::dict, next());
        while (!is_op("}")) {
            if (!e->args.empty()) {
                expect_op(",");
                if (is_op("}")) {
                    break;
                }
            }
            add_arg(*e, parse_expression());
            expect_op(":");
            add_arg(*e, parse_expression());
        }
        next();
        return e;
    }
    fail("unexpected " + describe(t));
}

ExprPtr ParserBase::parse_postfix(ExprPtr node) {
    for (;;) {
        if (is_op(".")) {
            const Token& at = next();
            if (cur().type == Tok::integer) {
                auto e = make(ExprKind::getitem, at);
                add_arg(*e, std::move(node));
                auto index = make(ExprKind::literal, cur());
                index->value = Value(next().int_value);
                add_arg(*e, std::move(index));
                node = std::move(e);
            } else {
                auto e = make(ExprKind::getattr, at);
                e->name = expect_name();
                add_arg(*e, std::move(node));
                node = std::move(e);
            }
        } else if (is_op("[")) {
            node = parse_subscript(std::move(node));
        } else if (is_op("(")) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

ExprPtr ParserBase::parse_subscript(ExprPtr node) {
    const Token& at = next(); // [
    std::vector<ExprPtr> parts(3);
    bool is_slice = false;
    size_t part = 0;
    while (!is_op("]")) {
        if (is_op(":")) {
            next();
            is_slice = true;
            if (++part > 2) {
                fail("unexpected ':'");
            }
            continue;
        }
        if (parts[part]) {
            fail("expected token ']', got " + describe(cur()));
        }
        parts[part] = parse_expression();
        if (is_op(",")) {
            // x[a, b] subscripts with a tuple
            auto tuple = make(ExprKind::tuple, cur());
            add_arg(*tuple, std::move(parts[part]));
            while (skip_op(",") && !is_op("]")) {
                add_arg(*tuple, parse_expression());
            }
            parts[part] = std::move(tuple);
        }
    }
    next();
    auto e = make(is_slice ? ExprKind::slice : ExprKind::getitem, at);
    add_arg(*e, std::move(node));
    if (is_slice) {
        for (auto& p : parts) {
            add_arg(*e, std::move(p));
        }
    } else {
        if (!parts[0]) {
            fail_at(at, "expected an expression in subscript");
        }
        add_arg(*e, std::move(parts[0]));
    }
    return e;
}

// Arguments of a call, filter or test: positional, then name=value (and *args/**kwargs).
void ParserBase::parse_arguments(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
        if (!first) {
            expect_op(",");
            if (is_op(")")) {
                break;
            }
        }
        first = false;
        if (cur().type == Tok::name && peek().type == Tok::op && peek().value == "=") {
            std::string key = next().value;
            next();
            add_kwarg(e, std::move(key), parse_expression());
        } else if (is_op("*") || is_op("**")) {
            fail("*args and **kwargs in calls are not supported");
        } else {
            if (!e.kwargs.empty()) {
                fail("positional argument follows keyword argument");
            }
            add_arg(e, parse_expression());
        }
    }
    next();
}

ExprPtr ParserBase::parse_call(ExprPtr node) {
    auto e = make(ExprKind::call, cur());
    add_arg(*e, std::move(node));
    parse_arguments(*e);
    return e;
}

ExprPtr ParserBase::parse_filter_chain(ExprPtr node, bool leading_pipe) {
    bool first = true;
    while ((first && !leading_pipe) || is_op("|")) {
        if (!(first && !leading_pipe)) {
            next();
        }
        first = false;
        const Token& at = cur();
        std::string name = expect_name();
        while (is_op(".")) {
            next();
            name += '.';
            name += expect_name();
        }
        if (!soft_ && options_.is_filter && !options_.is_filter(name)) {
            fail_at(at, "No filter named '" + name + "'.");
        }
        auto e = make(ExprKind::filter, at);
        e->name = std::move(name);
        add_arg(*e, std::move(node));
        if (is_op("(")) {
            parse_arguments(*e);
        }
        node = std::move(e);
    }
    return node;
}

ExprPtr ParserBase::parse_filter_expr(ExprPtr node) {
    for (;;) {
        if (is_op("|")) {
            node = parse_filter_chain(std::move(node));
        } else if (is_name("is")) {
            node = parse_test(std::move(node));
        } else if (is_op("(")) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

ExprPtr ParserBase::parse_test(ExprPtr node) {
    next(); // is
    bool negated = skip_name("not");
    const Token& at = cur();
    std::string name = expect_name();
    while (is_op(".")) {
        next();
        name += '.';
        name += expect_name();
    }
    if (!soft_ && options_.is_test && !options_.is_test(name)) {
        fail_at(at, "No test named '" + name + "'.");
    }
    auto e = make(ExprKind::test, at);
    e->name = std::move(name);
    e->negated = negated;
    add_arg(*e, std::move(node));
    if (is_op("(")) {
        parse_arguments(*e);
    } else if ((cur().type == Tok::name || cur().type == Tok::string ||
                cur().type == Tok::integer || cur().type == Tok::floating || is_op("(") ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) {
            fail("You cannot chain multiple tests with is");
        }
        add_arg(*e, parse_postfix(parse_primary()));
    }
    return e;
}

} // namespace hearth::jinja
