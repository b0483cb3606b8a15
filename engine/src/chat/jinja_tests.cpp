// Jinja's built-in tests (`x is defined`, `x is string`, ...), as jinja2.tests defines them.
#include "chat/jinja_args.h"
#include "chat/jinja_interp.h"

#include <map>

namespace hearth::jinja {

namespace {

using Test = bool (*)(Interpreter&, const Value&, Args&);

bool t_defined(Interpreter&, const Value& v, Args&) {
    return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, Args&) {
    return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, Args&) {
    return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, Args&) {
    return v.is_bool();
}
bool t_true(Interpreter&, const Value& v, Args&) {
    return v.is_bool() && v.as_bool();
}
bool t_false(Interpreter&, const Value& v, Args&) {
    return v.is_bool() && !v.as_bool();
}
bool t_integer(Interpreter&, const Value& v, Args&) {
    return v.is_int();
}
bool t_float(Interpreter&, const Value& v, Args&) {
    return v.is_float();
}
bool t_number(Interpreter&, const Value& v, Args&) {
    return v.is_number();
}
bool t_string(Interpreter&, const Value& v, Args&) {
    return v.is_string();
}
bool t_mapping(Interpreter&, const Value& v, Args&) {
    return v.is_dict() && !v.is_namespace();
}
bool t_sequence(Interpreter&, const Value& v, Args&) {
    return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
}
bool t_iterable(Interpreter&, const Value& v, Args&) {
    return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
}
bool t_callable(Interpreter&, const Value& v, Args&) {
    // jinja2's Undefined has __call__ (calling it fails).
    return v.is_callable() || v.kind() == Kind::loop || v.is_undefined();
}
// jinja2's `value % 2 == 1`: floats count, strings format, others fail as `%` fails.
bool t_odd(Interpreter& in, const Value& v, Args&) {
    return binary_op("%", v, Value(2), in.limits()).equals(Value(1));
}
bool t_even(Interpreter& in, const Value& v, Args&) {
    return binary_op("%", v, Value(2), in.limits()).equals(Value(0));
}
bool t_divisibleby(Interpreter& in, const Value& v, Args& a) {
    return binary_op("%", v, a.get(0, "num"), in.limits()).equals(Value(0));
}
bool t_eq(Interpreter&, const Value& v, Args& a) {
    return v.equals(a.get(0, "other"));
}
bool t_ne(Interpreter&, const Value& v, Args& a) {
    return !v.equals(a.get(0, "other"));
}
bool t_lt(Interpreter&, const Value& v, Args& a) {
    return v.less_than(a.get(0, "other"), "<");
}
bool t_gt(Interpreter&, const Value& v, Args& a) {
    return a.get(0, "other").less_than(v, ">", true);
}
bool t_le(Interpreter&, const Value& v, Args& a) {
    return !a.get(0, "other").less_than(v, "<=", true);
}
bool t_ge(Interpreter&, const Value& v, Args& a) {
    return !v.less_than(a.get(0, "other"), ">=");
}
bool t_in(Interpreter&, const Value& v, Args& a) {
    return contains(a.get(0, "seq"), v);
}
bool t_sameas(Interpreter&, const Value& v, Args& a) {
    Value o = a.get(0, "other");
    return v.kind() == o.kind() && (v.is_none() || v.is_undefined() || v.equals(o));
}
bool t_lower(Interpreter&, const Value& v, Args&) {
    std::string s = v.str();
    return utf8_lower(s) == s && utf8_upper(s) != s;
}
bool t_upper(Interpreter&, const Value& v, Args&) {
    std::string s = v.str();
    return utf8_upper(s) == s && utf8_lower(s) != s;
}
bool t_escaped(Interpreter&, const Value&, Args&) {
    return false;
}
// jinja2 looks the value up in a dict of names: a list or dict cannot be a key.
bool t_filter(Interpreter&, const Value& v, Args&) {
    require_hashable(v);
    return v.is_string() && has_filter(v.as_string());
}
bool t_test(Interpreter&, const Value& v, Args&) {
    require_hashable(v);
    return v.is_string() && has_test(v.as_string());
}

const std::map<std::string, Test, std::less<>>& test_table() {
    static const std::map<std::string, Test, std::less<>> table = {
        {"!=", t_ne},
        {"<", t_lt},
        {"<=", t_le},
        {"==", t_eq},
        {">", t_gt},
        {">=", t_ge},
        {"boolean", t_boolean},
        {"callable", t_callable},
        {"defined", t_defined},
        {"divisibleby", t_divisibleby},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"escaped", t_escaped},
        {"even", t_even},
        {"false", t_false},
        {"filter", t_filter},
        {"float", t_float},
        {"ge", t_ge},
        {"greaterthan", t_gt},
        {"gt", t_gt},
        {"in", t_in},
        {"integer", t_integer},
        {"iterable", t_iterable},
        {"le", t_le},
        {"lessthan", t_lt},
        {"lower", t_lower},
        {"lt", t_lt},
        {"mapping", t_mapping},
        {"ne", t_ne},
        {"none", t_none},
        {"number", t_number},
        {"odd", t_odd},
        {"sameas", t_sameas},
        {"sequence", t_sequence},
        {"string", t_string},
        {"test", t_test},
        {"true", t_true},
        {"undefined", t_undefined},
        {"upper", t_upper},
    };
    return table;
}

} // namespace

bool has_test(std::string_view name) {
    return test_table().contains(name);
}

std::vector<std::string> test_names() {
    std::vector<std::string> out;
    for (const auto& [name, test] : test_table()) {
        out.push_back(name);
    }
    return out;
}

bool call_test(Interpreter& in, std::string_view name, const Value& input, CallArgs& args) {
    auto it = test_table().find(name);
    if (it == test_table().end()) {
        raise("TemplateRuntimeError", "No test named '" + std::string(name) + "' found.");
    }
    Args a(args, name);
    return it->second(in, input, a);
}

} // namespace hearth::jinja
