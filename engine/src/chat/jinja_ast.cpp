// Releasing Jinja syntax trees without recursion: each node hands its children to a local
// list before it is destroyed, so that a tree's depth never becomes the C++ stack's depth.
#include "chat/jinja_ast.h"

namespace hearth::jinja {

namespace {

void take_children(Expr& e, std::vector<ExprPtr>& pending) {
    for (ExprPtr& arg : e.args) {
        if (arg) {
            pending.push_back(std::move(arg));
        }
    }
    for (auto& [name, arg] : e.kwargs) {
        if (arg) {
            pending.push_back(std::move(arg));
        }
    }
}

void take_expressions(Node& n, std::vector<ExprPtr>& pending) {
    for (ExprPtr* e : {&n.target, &n.expr, &n.cond, &n.filter}) {
        if (*e) {
            pending.push_back(std::move(*e));
        }
    }
    for (Param& p : n.params) {
        if (p.default_value) {
            pending.push_back(std::move(p.default_value));
        }
    }
}

void release(std::vector<ExprPtr>& pending) {
    while (!pending.empty()) {
        ExprPtr e = std::move(pending.back());
        pending.pop_back();
        take_children(*e, pending);
    } // e, without children now, is destroyed here
}

} // namespace

Expr::~Expr() {
    if (args.empty() && kwargs.empty()) {
        return;
    }
    std::vector<ExprPtr> pending;
    take_children(*this, pending);
    release(pending);
}

Node::~Node() {
    std::vector<ExprPtr> expressions;
    take_expressions(*this, expressions);
    release(expressions);
    if (body.empty() && else_body.empty()) {
        return;
    }
    std::vector<Body> blocks;
    blocks.push_back(std::move(body));
    blocks.push_back(std::move(else_body));
    while (!blocks.empty()) {
        Body block = std::move(blocks.back());
        blocks.pop_back();
        for (Node& child : block) {
            if (!child.body.empty()) {
                blocks.push_back(std::move(child.body));
            }
            if (!child.else_body.empty()) {
                blocks.push_back(std::move(child.else_body));
            }
        }
    } // block's nodes, without nested blocks now, are destroyed here
}

} // namespace hearth::jinja
