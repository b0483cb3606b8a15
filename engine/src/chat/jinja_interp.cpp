// Jinja interpreter: statements, expressions, scoping, macros, attribute and item lookup.
#include "chat/jinja_interp.h"

#include <algorithm>
#include <limits>

namespace hearth::jinja {

// Lookups scan the frames' variables, a name compared costing a byte: the template's own
// variables are few, but the caller's (the render's context) may be many.
const Value* Scope::find(std::string_view name) const {
    size_t scanned = 0;
    for (const Scope* s = this; s; s = s->parent.get()) {
        for (const auto& [k, v] : s->vars) {
            ++scanned;
            if (k == name) {
                charge_work(scanned);
                return &v;
            }
        }
    }
    charge_work(scanned);
    return nullptr;
}

void Scope::set(std::string_view name, Value value) {
    charge_work(vars.size() + 1);
    for (auto& [k, v] : vars) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars.emplace_back(std::string(name), std::move(value));
}

Interpreter::DepthGuard::DepthGuard(Interpreter& interp) : in(interp) {
    if (++in.depth_ > in.limits_.max_depth) {
        --in.depth_;
        raise("TemplateRuntimeError", "maximum recursion depth exceeded (" +
                                          std::to_string(in.limits_.max_depth) +
                                          " nested macro calls or loops)");
    }
}

Interpreter::NestingGuard::NestingGuard(Interpreter& interp) : in(interp) {
    charge_work(kWorkPerStep); // every statement and expression evaluated passes here
    if (++in.nesting_ > in.limits_.max_nesting) {
        --in.nesting_;
        raise("TemplateRuntimeError", "maximum recursion depth exceeded (statements and "
                                      "expressions nested more than " +
                                          std::to_string(in.limits_.max_nesting) +
                                          " deep across macro calls)");
    }
}

Interpreter::Interpreter(const Limits& limits, std::optional<int64_t> now_unix)
    : limits_(limits), now_unix_(now_unix) {}

Interpreter::~Interpreter() {
    for (const Value& ns : namespaces_) {
        ns.as_dict().items.clear();
    }
}

std::string Interpreter::render(const Body& body, const Value& context) {
    auto globals = std::make_shared<Scope>();
    globals->vars = make_globals();
    auto root = std::make_shared<Scope>();
    root->parent = globals;
    root_ = root;
    WorkBudget budget(limits_.max_work);
    if (context.is_dict()) {
        // The keys of a dict are distinct already: appended, not set one by one (quadratic).
        charge_items(context.as_dict().items.size());
        for (const auto& [k, v] : context.as_dict().items) {
            if (k.is_string()) {
                root->vars.emplace_back(k.as_string(), v);
            }
        }
    }
    TextLimitScope text_limit(limits_.max_output_bytes);
    std::string out;
    exec(body, out, root);
    return out;
}

void Interpreter::append_output(std::string& out, std::string_view text) const {
    charge_copy(text.size());
    if (out.size() + text.size() > limits_.max_output_bytes) {
        raise("TemplateRuntimeError", "rendered output is too large (more than " +
                                          std::to_string(limits_.max_output_bytes) + " bytes)");
    }
    out += text;
}

Flow Interpreter::exec(const Body& body, std::string& out, const std::shared_ptr<Scope>& scope) {
    for (const Node& node : body) {
        Flow flow = exec_node(node, out, scope);
        if (flow != Flow::normal) {
            return flow;
        }
    }
    return Flow::normal;
}

void Interpreter::assign(const Expr& target, Value value, Scope& scope) {
    if (target.kind == ExprKind::name) {
        scope.set(target.name, std::move(value));
        return;
    }
    if (target.kind == ExprKind::getattr) {
        const Value* ns = scope.find(target.args[0]->name);
        if (!ns || !ns->is_namespace()) {
            raise("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
        }
        if (!target.name.empty() && target.name[0] == '_') {
            raise("SecurityError",
                  "Chat templates cannot store underscore-prefixed attributes on a namespace, "
                  "but got '" +
                      target.name + "'. Please rename the attribute.");
        }
        ns->as_dict().set(Value(target.name), std::move(value));
        return;
    }
    // Tuple unpacking: `{% for k, v in ... %}`, `{% set a, b = ... %}`.
    std::vector<Value> items = iterate(value);
    if (items.size() != target.args.size()) {
        raise("ValueError", items.size() > target.args.size()
                                ? "too many values to unpack (expected " +
                                      std::to_string(target.args.size()) + ")"
                                : "not enough values to unpack (expected " +
                                      std::to_string(target.args.size()) + ", got " +
                                      std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < items.size(); ++i) {
        assign(*target.args[i], std::move(items[i]), scope);
    }
}

Flow Interpreter::exec_node(const Node& node, std::string& out,
                            const std::shared_ptr<Scope>& scope) {
    NestingGuard nesting(*this);
    switch (node.kind) {
    case NodeKind::text:
        append_output(out, node.text);
        return Flow::normal;
    case NodeKind::output: {
        Value v = eval(*node.expr, scope);
        if (v.is_string()) {
            append_output(out, v.as_string());
        } else {
            append_output(out, v.str());
        }
        return Flow::normal;
    }
    case NodeKind::if_:
        if (eval(*node.expr, scope).truthy()) {
            return exec(node.body, out, scope);
        }
        return exec(node.else_body, out, scope);
    case NodeKind::for_: {
        std::vector<Value> items = iterate(eval(*node.expr, scope));
        return exec_for(node, out, scope, std::move(items), 0);
    }
    case NodeKind::set:
        assign(*node.target, eval(*node.expr, scope), *scope);
        return Flow::normal;
    case NodeKind::set_block:
    case NodeKind::filter: {
        std::string text;
        Flow flow = exec(node.body, text, scope);
        Value result(std::move(text));
        if (node.filter) {
            filter_inputs_.push_back(std::move(result));
            result = eval(*node.filter, scope);
            filter_inputs_.pop_back();
        }
        if (node.kind == NodeKind::set_block) {
            assign(*node.target, std::move(result), *scope);
        } else {
            append_output(out, result.str());
        }
        return flow;
    }
    case NodeKind::macro:
        scope->set(node.text, make_macro(node, scope));
        return Flow::normal;
    case NodeKind::call_block: {
        const Node* call_node = &node;
        std::shared_ptr<Scope> call_scope = scope;
        Value caller = Value::callable(
            "caller",
            [call_node, call_scope](Interpreter& in, CallArgs& args) {
                DepthGuard guard(in);
                charge_work(kWorkPerScope);
                auto frame = std::make_shared<Scope>();
                frame->parent = call_scope;
                for (size_t i = 0; i < call_node->params.size(); ++i) {
                    const Param& p = call_node->params[i];
                    if (i < args.positional.size()) {
                        frame->set(p.name, args.positional[i]);
                    } else if (p.default_value) {
                        frame->set(p.name, in.eval(*p.default_value, frame));
                    } else {
                        frame->set(p.name,
                                   Value::undefined("parameter '" + p.name + "' was not provided"));
                    }
                }
                for (auto& [k, v] : args.keywords) {
                    frame->set(k, v);
                }
                std::string text;
                in.exec(call_node->body, text, frame);
                return Value(std::move(text));
            },
            true);
        const Expr& call_expr = *node.expr;
        Value callee = eval(*call_expr.args[0], scope);
        CallArgs args = eval_args(call_expr, scope, 1);
        args.keywords.emplace_back("caller", caller);
        append_output(out, call(callee, args).str());
        return Flow::normal;
    }
    case NodeKind::with: {
        auto frame = std::make_shared<Scope>();
        frame->parent = scope;
        for (const Param& p : node.params) {
            frame->set(p.name, eval(*p.default_value, scope));
        }
        return exec(node.body, out, frame);
    }
    case NodeKind::break_:
        return Flow::break_;
    case NodeKind::continue_:
        return Flow::continue_;
    }
    return Flow::normal;
}

Flow Interpreter::exec_for(const Node& node, std::string& out, const std::shared_ptr<Scope>& scope,
                           std::vector<Value> items, size_t depth0) {
    DepthGuard guard(*this);
    if (node.cond) {
        // `for x in xs if cond`: filtered before the loop, so loop.length counts what passes.
        std::vector<Value> kept;
        for (auto& item : items) {
            charge_work(kWorkPerScope);
            auto frame = std::make_shared<Scope>();
            frame->parent = scope;
            assign(*node.target, item, *frame);
            if (eval(*node.cond, frame).truthy()) {
                kept.push_back(std::move(item));
            }
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        return exec(node.else_body, out, scope);
    }
    auto state = std::make_shared<LoopState>();
    state->items = std::move(items);
    state->depth0 = depth0;
    if (node.recursive) {
        state->node = &node;
        state->scope = scope;
    }
    Value loop = Value::loop(state);
    for (size_t i = 0; i < state->items.size(); ++i) {
        charge_work(kWorkPerScope);
        state->index0 = i;
        auto frame = std::make_shared<Scope>();
        frame->parent = scope;
        frame->set("loop", loop);
        assign(*node.target, state->items[i], *frame);
        if (exec(node.body, out, frame) == Flow::break_) {
            break;
        }
    }
    return Flow::normal;
}

Value Interpreter::make_macro(const Node& node, const std::shared_ptr<Scope>& scope) {
    // The macro sees its defining scope as it is when called (jinja2's late binding), but
    // holds it weakly: the scope holds the macro, and a strong reference would be a cycle.
    // A macro that outlives its scope (stored in a namespace) falls back to the template's.
    const Node* macro = &node;
    std::weak_ptr<Scope> weak_scope = scope;
    return Value::callable(
        node.text,
        [macro, weak_scope](Interpreter& in, CallArgs& args) {
            std::shared_ptr<Scope> defining = weak_scope.lock();
            if (!defining) {
                defining = in.root_;
            }
            Value caller;
            for (auto it = args.keywords.begin(); it != args.keywords.end(); ++it) {
                if (it->first == "caller") {
                    caller = it->second;
                    args.keywords.erase(it);
                    break;
                }
            }
            return in.call_macro(*macro, defining, args, caller);
        },
        true);
}

Value Interpreter::call_macro(const Node& node, const std::shared_ptr<Scope>& defining,
                              CallArgs& args, const Value& caller) {
    DepthGuard guard(*this);
    charge_work(kWorkPerScope);
    charge_items(args.positional.size() + args.keywords.size());
    auto frame = std::make_shared<Scope>();
    frame->parent = defining;
    std::vector<Value> varargs;
    for (size_t i = node.params.size(); i < args.positional.size(); ++i) {
        varargs.push_back(args.positional[i]);
    }
    std::vector<std::pair<Value, Value>> kwargs;
    std::vector<bool> given(node.params.size(), false);
    for (size_t i = 0; i < node.params.size() && i < args.positional.size(); ++i) {
        frame->set(node.params[i].name, args.positional[i]);
        given[i] = true;
    }
    for (auto& [k, v] : args.keywords) {
        auto it = std::find_if(node.params.begin(), node.params.end(),
                               [&](const Param& p) { return p.name == k; });
        if (it == node.params.end()) {
            kwargs.emplace_back(Value(k), v);
            continue;
        }
        size_t index = static_cast<size_t>(it - node.params.begin());
        if (given[index]) {
            raise("TypeError",
                  "macro '" + node.text + "' got multiple values for argument '" + k + "'");
        }
        frame->set(k, v);
        given[index] = true;
    }
    for (size_t i = 0; i < node.params.size(); ++i) {
        if (!given[i]) {
            const Param& p = node.params[i];
            frame->set(p.name, p.default_value ? eval(*p.default_value, frame)
                                               : Value::undefined("parameter '" + p.name +
                                                                  "' was not provided"));
        }
    }
    frame->set("varargs", Value::list(std::move(varargs), true));
    frame->set("kwargs", Value::dict(std::move(kwargs)));
    frame->set("caller", caller);
    std::string text;
    exec(node.body, text, frame);
    return Value(std::move(text));
}

CallArgs Interpreter::eval_args(const Expr& expr, const std::shared_ptr<Scope>& scope,
                                size_t first) {
    CallArgs args;
    args.positional.reserve(expr.args.size() - first);
    for (size_t i = first; i < expr.args.size(); ++i) {
        args.positional.push_back(eval(*expr.args[i], scope));
    }
    for (const auto& [k, v] : expr.kwargs) {
        args.keywords.emplace_back(k, eval(*v, scope));
    }
    return args;
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
    if (callee.is_callable()) {
        return callee.as_callable().fn(*this, args);
    }
    if (callee.kind() == Kind::loop) {
        LoopState& state = callee.as_loop();
        if (!state.node) {
            raise("TypeError", "Tried to call non recursive loop.  Maybe you forgot the "
                               "'recursive' modifier.");
        }
        if (args.positional.size() != 1) {
            raise("TypeError", "loop() takes exactly one argument");
        }
        std::string text;
        exec_for(*state.node, text, state.scope, iterate(args.positional[0]), state.depth0 + 1);
        return Value(std::move(text));
    }
    callee.require_defined();
    raise("TypeError", "'" + callee.type_name() + "' object is not callable");
}

Value Interpreter::apply_filter(std::string_view name, Value input, CallArgs& args) {
    return call_filter(*this, name, std::move(input), args);
}

bool Interpreter::apply_test(std::string_view name, const Value& input, CallArgs& args) {
    return call_test(*this, name, input, args);
}

Value Interpreter::eval(const Expr& expr, const std::shared_ptr<Scope>& scope) {
    NestingGuard nesting(*this);
    switch (expr.kind) {
    case ExprKind::literal:
        return expr.value;
    case ExprKind::name: {
        const Value* v = scope->find(expr.name);
        return v ? *v : Value::undefined("'" + expr.name + "' is undefined");
    }
    case ExprKind::list:
    case ExprKind::tuple: {
        std::vector<Value> items;
        items.reserve(expr.args.size());
        for (const auto& a : expr.args) {
            items.push_back(eval(*a, scope));
        }
        return Value::list(std::move(items), expr.kind == ExprKind::tuple);
    }
    case ExprKind::dict: {
        Value d = Value::dict();
        for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
            d.as_dict().set(eval(*expr.args[i], scope), eval(*expr.args[i + 1], scope));
        }
        return d;
    }
    case ExprKind::getattr:
        return get_attr(eval(*expr.args[0], scope), expr.name);
    case ExprKind::getitem:
        return get_item(eval(*expr.args[0], scope), eval(*expr.args[1], scope));
    case ExprKind::slice: {
        Value object = eval(*expr.args[0], scope);
        Value parts[3];
        for (int i = 0; i < 3; ++i) {
            parts[i] = expr.args[static_cast<size_t>(i) + 1]
                           ? eval(*expr.args[static_cast<size_t>(i) + 1], scope)
                           : Value(nullptr);
        }
        return slice(object, parts[0], parts[1], parts[2]);
    }
    case ExprKind::call: {
        Value callee = eval(*expr.args[0], scope);
        CallArgs args = eval_args(expr, scope, 1);
        return call(callee, args);
    }
    case ExprKind::filter: {
        Value input = expr.args[0] ? eval(*expr.args[0], scope) : filter_inputs_.back();
        CallArgs args = eval_args(expr, scope, 1);
        return apply_filter(expr.name, std::move(input), args);
    }
    case ExprKind::test: {
        Value input = eval(*expr.args[0], scope);
        CallArgs args = eval_args(expr, scope, 1);
        return Value(apply_test(expr.name, input, args) != expr.negated);
    }
    case ExprKind::unary: {
        Value v = eval(*expr.args[0], scope);
        if (expr.name == "not") {
            return Value(!v.truthy());
        }
        v.require_defined();
        if (v.is_int() || v.is_bool()) {
            if (expr.name == "-" && v.as_wide() == kInt128Min) {
                // Python's ints do not overflow; Hearth's 128-bit ones say so (binary_op too).
                raise("OverflowError", "integer result too large");
            }
            return Value::integer(expr.name == "-" ? -v.as_wide() : v.as_wide());
        }
        if (v.is_float()) {
            return Value(expr.name == "-" ? -v.as_double() : v.as_double());
        }
        raise("TypeError", "bad operand type for unary " + expr.name + ": '" + v.type_name() + "'");
    }
    case ExprKind::binary:
        return eval_binary(expr, scope);
    case ExprKind::condition:
        if (eval(*expr.args[1], scope).truthy()) {
            return eval(*expr.args[0], scope);
        }
        if (expr.args[2]) {
            return eval(*expr.args[2], scope);
        }
        return Value::undefined("the inline if-expression on line " + std::to_string(expr.line) +
                                " evaluated to false and no else section was defined.");
    }
    return {};
}

Value Interpreter::eval_binary(const Expr& expr, const std::shared_ptr<Scope>& scope) {
    const std::string& op = expr.name;
    Value a = eval(*expr.args[0], scope);
    if (op == "and") {
        return a.truthy() ? eval(*expr.args[1], scope) : a;
    }
    if (op == "or") {
        return a.truthy() ? a : eval(*expr.args[1], scope);
    }
    Value b = eval(*expr.args[1], scope);
    if (op == "in") {
        return Value(contains(b, a));
    }
    if (op == "not in") {
        return Value(!contains(b, a));
    }
    // binary_op charges what it builds: `{% set ns.s = ns.s ~ x %}` in a long loop copies
    // the text each time, and stops at the work budget instead of running for hours.
    return binary_op(op, a, b, limits_);
}

} // namespace hearth::jinja
