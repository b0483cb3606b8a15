// Jinja statements: the template body, block tags ({% if %}, {% for %}, {% set %},
// {% macro %}, {% call %}, {% filter %}, {% with %}, {% generation %}, break/continue) and
// jinja2's messages for unknown or unclosed tags. Expressions: jinja_parse_expr.cpp.
#include "chat/jinja_parser.h"

#include "chat/jinja_parser_base.h"

#include <algorithm>
#include <initializer_list>

namespace hearth::jinja {

namespace {

class Parser : public ParserBase {
public:
    using ParserBase::ParserBase;

    Body parse_all() { return parse_body({}); }

private:
    std::vector<std::string> open_blocks_;

    // Parses nodes until a block tag whose name is in `end_tags` (left unconsumed, after `{%`).
    Body parse_body(std::initializer_list<std::string_view> end_tags) {
        Body body;
        for (;;) {
            const Token& t = cur();
            if (t.type == Tok::eof) {
                if (end_tags.size() != 0) {
                    fail(unexpected_end_message(end_tags));
                }
                return body;
            }
            if (t.type == Tok::text) {
                count_node(t.line, t.column);
                Node n;
                n.kind = NodeKind::text;
                n.line = t.line;
                n.text = t.value;
                body.push_back(std::move(n));
                next();
            } else if (t.type == Tok::var_begin) {
                next();
                count_node(t.line, t.column);
                Node n;
                n.kind = NodeKind::output;
                n.line = t.line;
                n.expr = parse_tuple(false);
                expect(Tok::var_end);
                body.push_back(std::move(n));
            } else if (t.type == Tok::block_begin) {
                const Token& tag = peek();
                if (tag.type == Tok::name &&
                    std::find(end_tags.begin(), end_tags.end(), tag.value) != end_tags.end()) {
                    next();
                    return body;
                }
                next();
                parse_statement(body, end_tags);
            } else {
                fail("unexpected " + describe(t));
            }
        }
    }

    std::string looking_for(std::initializer_list<std::string_view> end_tags) const {
        std::string s = " Jinja was looking for the following tags: ";
        size_t i = 0;
        for (auto tag : end_tags) {
            s.append(i == 0 ? "'" : " or '").append(tag).append("'");
            ++i;
        }
        s.append(". The innermost block that needs to be closed is '")
            .append(open_blocks_.back())
            .append("'.");
        return s;
    }

    std::string unexpected_end_message(std::initializer_list<std::string_view> end_tags) const {
        return "Unexpected end of template." + looking_for(end_tags);
    }

    void parse_statement(Body& body, std::initializer_list<std::string_view> end_tags) {
        DepthGuard guard(*this);
        const Token& tag = cur();
        if (tag.type != Tok::name) {
            fail("tag name expected");
        }
        std::string name = tag.value;
        count_node(tag.line, tag.column);
        Node n;
        n.line = tag.line;
        if (name == "if") {
            next();
            parse_if(n);
        } else if (name == "for") {
            next();
            parse_for(n);
        } else if (name == "set") {
            next();
            parse_set(n);
        } else if (name == "macro") {
            next();
            parse_macro(n);
        } else if (name == "call") {
            next();
            parse_call_block(n);
        } else if (name == "filter") {
            next();
            parse_filter_block(n);
        } else if (name == "generation") {
            // Hugging Face's AssistantTracker: the block renders as its content.
            next();
            expect(Tok::block_end);
            open_blocks_.push_back("generation");
            Body inner = parse_body({"endgeneration"});
            open_blocks_.pop_back();
            next();
            expect(Tok::block_end);
            for (auto& child : inner) {
                body.push_back(std::move(child));
            }
            return;
        } else if (name == "with") {
            next();
            parse_with(n);
        } else if (name == "break" || name == "continue") {
            if (std::find(open_blocks_.begin(), open_blocks_.end(), "for") == open_blocks_.end()) {
                fail("Encountered unknown tag '" + name + "'.");
            }
            next();
            n.kind = name == "break" ? NodeKind::break_ : NodeKind::continue_;
            expect(Tok::block_end);
        } else {
            std::string message = "Encountered unknown tag '" + name + "'.";
            if (end_tags.size() != 0) {
                message += looking_for(end_tags);
            }
            fail(message);
        }
        body.push_back(std::move(n));
    }

    void parse_if(Node& n) {
        SoftGuard soft(*this, true);
        n.kind = NodeKind::if_;
        n.expr = parse_tuple(false);
        expect(Tok::block_end);
        open_blocks_.push_back("if");
        n.body = parse_body({"elif", "else", "endif"});
        std::string tag = next().value;
        if (tag == "elif") {
            count_node(cur().line, cur().column);
            Node inner;
            inner.line = cur().line;
            parse_if(inner);
            n.else_body.push_back(std::move(inner));
            open_blocks_.pop_back();
            return;
        }
        if (tag == "else") {
            expect(Tok::block_end);
            n.else_body = parse_body({"endif"});
            next();
        }
        expect(Tok::block_end);
        open_blocks_.pop_back();
    }

    ExprPtr parse_assign_target(bool allow_attribute) {
        const Token& start = cur();
        auto target = make(ExprKind::name, start);
        target->name = expect_name();
        if (allow_attribute && is_op(".")) {
            next();
            auto attr = make(ExprKind::getattr, start);
            attr->name = expect_name();
            add_arg(*attr, std::move(target));
            return attr;
        }
        if (!is_op(",")) {
            return target;
        }
        auto tuple = make(ExprKind::tuple, start);
        add_arg(*tuple, std::move(target));
        while (skip_op(",")) {
            if (cur().type != Tok::name) {
                break;
            }
            auto item = make(ExprKind::name, cur());
            item->name = expect_name();
            add_arg(*tuple, std::move(item));
        }
        return tuple;
    }

    void parse_for(Node& n) {
        n.kind = NodeKind::for_;
        n.target = parse_assign_target(false);
        if (!skip_name("in")) {
            fail("expected token 'in', got " + describe(cur()));
        }
        n.expr = parse_tuple(false, /*no_condexpr=*/true);
        SoftGuard soft(*this, false);
        if (skip_name("if")) {
            n.cond = parse_expression();
        }
        n.recursive = skip_name("recursive");
        expect(Tok::block_end);
        open_blocks_.push_back("for");
        n.body = parse_body({"endfor", "else"});
        if (next().value == "else") {
            expect(Tok::block_end);
            open_blocks_.back() = "for-else";
            n.else_body = parse_body({"endfor"});
            next();
        }
        open_blocks_.pop_back();
        expect(Tok::block_end);
    }

    void parse_set(Node& n) {
        n.target = parse_assign_target(true);
        if (skip_op("=")) {
            n.kind = NodeKind::set;
            n.expr = parse_tuple(false);
            expect(Tok::block_end);
            return;
        }
        n.kind = NodeKind::set_block;
        SoftGuard soft(*this, false);
        if (is_op("|")) {
            n.filter = parse_filter_chain(nullptr);
        }
        expect(Tok::block_end);
        open_blocks_.push_back("set");
        n.body = parse_body({"endset"});
        open_blocks_.pop_back();
        next();
        expect(Tok::block_end);
    }

    void parse_params(std::vector<Param>& params) {
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) {
                expect_op(",");
            }
            Param p;
            p.name = expect_name();
            if (skip_op("=")) {
                p.default_value = parse_expression();
            } else if (!params.empty() && params.back().default_value) {
                fail("non-default argument follows default argument");
            }
            params.push_back(std::move(p));
        }
        next();
    }

    void parse_macro(Node& n) {
        n.kind = NodeKind::macro;
        n.text = expect_name();
        SoftGuard soft(*this, false);
        parse_params(n.params);
        expect(Tok::block_end);
        open_blocks_.push_back("macro");
        n.body = parse_body({"endmacro"});
        open_blocks_.pop_back();
        next();
        if (cur().type == Tok::name) {
            next(); // {% endmacro name %}
        }
        expect(Tok::block_end);
    }

    void parse_call_block(Node& n) {
        n.kind = NodeKind::call_block;
        SoftGuard soft(*this, false);
        if (is_op("(")) {
            parse_params(n.params);
        }
        n.expr = parse_expression();
        if (n.expr->kind != ExprKind::call) {
            fail("expected call");
        }
        expect(Tok::block_end);
        open_blocks_.push_back("call");
        n.body = parse_body({"endcall"});
        open_blocks_.pop_back();
        next();
        expect(Tok::block_end);
    }

    void parse_filter_block(Node& n) {
        n.kind = NodeKind::filter;
        SoftGuard soft(*this, false);
        n.filter = parse_filter_chain(nullptr, /*leading_pipe=*/false);
        expect(Tok::block_end);
        open_blocks_.push_back("filter");
        n.body = parse_body({"endfilter"});
        open_blocks_.pop_back();
        next();
        expect(Tok::block_end);
    }

    void parse_with(Node& n) {
        n.kind = NodeKind::with;
        SoftGuard soft(*this, false);
        while (cur().type != Tok::block_end) {
            if (!n.params.empty()) {
                expect_op(",");
            }
            Param p;
            p.name = expect_name();
            expect_op("=");
            p.default_value = parse_expression();
            n.params.push_back(std::move(p));
        }
        next();
        open_blocks_.push_back("with");
        n.body = parse_body({"endwith"});
        open_blocks_.pop_back();
        next();
        expect(Tok::block_end);
    }
};

} // namespace

Body parse_template(std::string_view source, const ParseOptions& options) {
    if (source.size() > options.max_source_bytes) {
        // Checked before lexing: a token costs more memory than the byte it came from.
        throw SyntaxError{"template is " + std::to_string(source.size()) +
                              " bytes, over the limit of " +
                              std::to_string(options.max_source_bytes) + " bytes",
                          1, 1};
    }
    return Parser(tokenize(source), options).parse_all();
}

} // namespace hearth::jinja
