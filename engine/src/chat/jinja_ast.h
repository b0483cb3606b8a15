// Jinja syntax tree: expressions and statements, as the parser builds them and the
// interpreter walks them. Nodes own their children, and release them without recursion.
#pragma once

#include "chat/jinja_value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hearth::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : uint8_t {
    literal,   // value
    name,      // name
    list,      // args
    tuple,     // args
    dict,      // args: key, value, key, value, ...
    getattr,   // args[0] . name
    getitem,   // args[0] [ args[1] ]
    slice,     // args[0] [ args[1] : args[2] : args[3] ] (null pointers for omitted parts)
    call,      // args[0] ( args[1..], kwargs )
    filter,    // args[0] | name ( args[1..], kwargs ); args[0] null inside {% filter %}
    test,      // args[0] is name ( args[1..], kwargs )
    unary,     // name ("not", "-", "+") args[0]
    binary,    // args[0] name args[1]: + - * / // % ** ~ == != < <= > >= in "not in" and or
    condition, // args[0] if args[1] else args[2] (args[2] null without else)
};

struct Expr {
    ExprKind kind = ExprKind::literal;
    int line = 1;
    int column = 1;
    // Levels from this node down to its deepest leaf (1 for a leaf): what the parser bounds,
    // since an operator chain (`1+1+1+…`) is as deep as it is long.
    uint32_t height = 1;
    std::string name;
    Value value;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    bool negated = false; // `is not`

    Expr() = default;
    Expr(const Expr&) = delete;
    Expr& operator=(const Expr&) = delete;
    // Releases the subtree iteratively: a hostile chain must not cost a stack frame per node.
    ~Expr();
};

struct Node;
using Body = std::vector<Node>;

enum class NodeKind : uint8_t {
    text,      // text
    output,    // expr
    if_,       // expr; body; else_body
    for_,      // target (name or tuple of names); expr = iterable; cond; body; else_body; recursive
    set,       // target (name, tuple or getattr) = expr
    set_block, // target; filter (optional); body
    macro,     // text = name; params; body
    call_block, // expr = call; params = caller's parameters; body
    filter,     // filter (chain whose innermost argument is the body); body
    with,       // params = assignments; body
    break_,
    continue_,
};

struct Param {
    std::string name;
    ExprPtr default_value; // null when required
};

struct Node {
    Node() = default;
    Node(Node&&) = default;
    Node& operator=(Node&&) = default;
    // Releases nested blocks iteratively, as ~Expr releases expressions.
    ~Node();

    NodeKind kind = NodeKind::text;
    int line = 1;
    std::string text;
    ExprPtr target;
    ExprPtr expr;
    ExprPtr cond;
    ExprPtr filter;
    std::vector<Param> params;
    Body body;
    Body else_body;
    bool recursive = false;
};

} // namespace hearth::jinja
