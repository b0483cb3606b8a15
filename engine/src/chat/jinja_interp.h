// Jinja interpreter: renders a parsed template against a context, with jinja2's scoping,
// Undefined semantics and the sandbox of Hugging Face's ImmutableSandboxedEnvironment, and
// with hard bounds on recursion, output size and loop iterations.
#pragma once

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::jinja {

struct Limits {
    size_t max_depth = 256;
    size_t max_output_bytes = 16u << 20;
    uint64_t max_work = 100'000'000; // units of WorkBudget (jinja_value.h)
    // Statements and expressions evaluated inside one another, across all macro calls and
    // loops: what bounds the C++ stack. The parser allows 256 levels in one template, but a
    // macro recursing 256 deep through a 200-deep expression would be 51,200 levels.
    size_t max_nesting = 1024;
};

// Variables of one frame (the template, a loop iteration, a macro call); lookups fall back
// to the parent frame.
struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;

    const Value* find(std::string_view name) const;
    void set(std::string_view name, Value value);
};

// What `loop` refers to inside a for loop.
struct LoopState {
    std::vector<Value> items;
    size_t index0 = 0;
    size_t depth0 = 0;
    Value last_changed; // for loop.changed()
    bool have_changed = false;
    // For `{% for ... recursive %}`: the loop node and the scope it runs in.
    const Node* node = nullptr;
    std::shared_ptr<Scope> scope;
};

// The signals a statement can leave its block with.
enum class Flow : uint8_t { normal, break_, continue_ };

class Interpreter {
public:
    Interpreter(const Limits& limits, std::optional<int64_t> now_unix);
    // Empties the namespaces the render created, which may refer to themselves.
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    // Renders `body` with `context` (a dict) as the template's variables.
    std::string render(const Body& body, const Value& context);

    // Used by filters, tests, methods and globals.
    Value call(const Value& callee, CallArgs& args);
    Value apply_filter(std::string_view name, Value input, CallArgs& args);
    bool apply_test(std::string_view name, const Value& input, CallArgs& args);
    // `x.y`: for a dict, a method, else the item (`dict_items`), as jinja2's getattr; the
    // attr filter is Python's getattr alone, which finds no items.
    Value get_attr(const Value& object, const std::string& name, bool dict_items = true);
    Value get_item(const Value& object, const Value& key);
    std::vector<Value> iterate(const Value& value);
    const Limits& limits() const { return limits_; }
    // Namespaces are the only mutable values, so the only ones that can form a cycle
    // (`{% set ns.self = ns %}`); the interpreter breaks them when it is done.
    void track_namespace(const Value& ns) { namespaces_.push_back(ns); }
    std::optional<int64_t> now_unix() const { return now_unix_; }

private:
    Limits limits_;
    std::optional<int64_t> now_unix_;
    size_t depth_ = 0;
    size_t nesting_ = 0;
    std::vector<Value> filter_inputs_; // the body of {% filter %} / {% set x | f %}
    std::vector<Value> namespaces_;
    std::shared_ptr<Scope> root_;

    struct DepthGuard {
        Interpreter& in;
        explicit DepthGuard(Interpreter& interp);
        ~DepthGuard() { --in.depth_; }
    };
    struct NestingGuard {
        Interpreter& in;
        explicit NestingGuard(Interpreter& interp);
        ~NestingGuard() { --in.nesting_; }
    };

    Flow exec(const Body& body, std::string& out, const std::shared_ptr<Scope>& scope);
    Flow exec_node(const Node& node, std::string& out, const std::shared_ptr<Scope>& scope);
    Flow exec_for(const Node& node, std::string& out, const std::shared_ptr<Scope>& scope,
                  std::vector<Value> items, size_t depth0);
    void assign(const Expr& target, Value value, Scope& scope);
    void append_output(std::string& out, std::string_view text) const;
    Value make_macro(const Node& node, const std::shared_ptr<Scope>& scope);
    Value call_macro(const Node& node, const std::shared_ptr<Scope>& defining, CallArgs& args,
                     const Value& caller);

    Value eval(const Expr& expr, const std::shared_ptr<Scope>& scope);
    Value eval_binary(const Expr& expr, const std::shared_ptr<Scope>& scope);
    CallArgs eval_args(const Expr& expr, const std::shared_ptr<Scope>& scope, size_t first);
};

// Fails when a string built by the template would exceed the output limit: a doubling
// `{% set ns.s = ns.s ~ ns.s %}` loop must stop long before memory runs out.
void check_string_size(size_t bytes, const Limits& limits);

// Operators, with Python's semantics and error messages (jinja_ops.cpp).
Value binary_op(std::string_view op, const Value& a, const Value& b, const Limits& limits);
bool contains(const Value& container, const Value& item);
// Python's TypeError "unhashable type: 'list'" for a value that cannot be a dict key or a set
// member: a list, a dict, or a tuple holding one.
void require_hashable(const Value& v);
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);
// Fails like check_string_size when a width or precision exceeds the output limit.
std::string percent_format(const std::string& format, const Value& args, const Limits& limits);

// The built-in filters, tests, globals and methods (jinja_builtins.cpp).
bool has_filter(std::string_view name);
bool has_test(std::string_view name);
// Every filter and test name, for the differential test that covers them all.
std::vector<std::string> filter_names();
std::vector<std::string> test_names();
Value call_filter(Interpreter& in, std::string_view name, Value input, CallArgs& args);
bool call_test(Interpreter& in, std::string_view name, const Value& input, CallArgs& args);
std::vector<std::pair<std::string, Value>> make_globals();
// A bound method of a str, list or dict, or nullopt when `name` is not one.
std::optional<Value> find_method(const Value& self, const std::string& name);

} // namespace hearth::jinja
