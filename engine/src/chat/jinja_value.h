// Jinja values: Python's data model as chat templates see it (None, bool, int, float, str, list,
// tuple, dict, namespace, callables, jinja2's Undefined), with Python's str(), repr() and ==.
#pragma once

#include "chat/jinja_utf8.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::jinja {

// A render-time failure, carrying the Python exception type jinja2 would raise and its message
// (str(exception)), so that messages reach the user exactly as in Python.
struct JinjaError {
    std::string type; // "TemplateError", "UndefinedError", "TypeError", ...
    std::string message;
};
[[noreturn]] void raise(std::string type, std::string message);

enum class Kind : uint8_t {
    undefined,
    none,
    boolean,
    integer,
    floating,
    string,
    list, // list or tuple
    dict, // dict or namespace
    callable,
    loop, // the `loop` variable of a for loop
};

class Value;
class Interpreter;
struct LoopState;

// Python's ints are exact at any size; Hearth's are exact from -2**127 to 2**127 - 1, and
// arithmetic past that raises OverflowError ("integer result too large"): never a wrong value.
__extension__ using Int128 = __int128;
__extension__ using UInt128 = unsigned __int128;
inline constexpr Int128 kInt128Max = static_cast<Int128>(~UInt128{0} >> 1);
inline constexpr Int128 kInt128Min = -kInt128Max - 1;
// The digits of |v| in `base` (2..36), with a leading '-' when v < 0 and `sign` is set.
std::string int128_digits(Int128 v, unsigned base = 10, bool upper = false, bool sign = true);
// An optional sign and decimal digits (nothing else), when the value fits Int128.
std::optional<Int128> parse_int128(std::string_view text);
// Python's int / int: the quotient correctly rounded to a double (y != 0).
double int_true_divide(Int128 x, Int128 y);
// <0, 0 or >0 as v is below, equal to or above d (not NaN), exactly: Python compares ints
// with floats without rounding the int (2**53 + 1 != 2.0**53).
int compare_int_float(Int128 v, double d);

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keywords;
};

using NativeFn = std::function<Value(Interpreter&, CallArgs&)>;

// Destroying a list or dict releases nested lists and dicts iteratively, not recursively: a
// template can build a list nested a million deep (`{% set ns.x = [ns.x] %}` in a loop).
struct ListObj {
    std::vector<Value> items;
    bool tuple = false;
    ~ListObj();
};

struct DictObj {
    std::vector<std::pair<Value, Value>> items; // insertion order, as Python dicts keep it
    bool is_namespace = false;
    ~DictObj();
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value value);
};

struct CallableObj {
    std::string name; // for messages and repr
    NativeFn fn;
    bool is_macro = false;
};

class Value {
public:
    Value() = default; // Undefined
    Value(std::nullptr_t) : kind_(Kind::none) {}
    Value(bool b) : kind_(Kind::boolean), int_(b) {}
    Value(int i) : kind_(Kind::integer), int_(i) {}
    Value(int64_t i) : kind_(Kind::integer), int_(i) {}
    Value(double f) : kind_(Kind::floating), float_(f) {}
    Value(std::string s) : kind_(Kind::string) { set_string(std::move(s)); }
    Value(std::string_view s) : kind_(Kind::string) { set_string(std::string(s)); }
    Value(const char* s) : kind_(Kind::string) { set_string(s); }

    // An Undefined whose use fails with `message` ("'x' is undefined", ...).
    static Value undefined(std::string message);
    static Value list(std::vector<Value> items = {}, bool tuple = false);
    static Value dict(std::vector<std::pair<Value, Value>> items = {}, bool is_namespace = false);
    static Value callable(std::string name, NativeFn fn, bool is_macro = false);
    static Value loop(std::shared_ptr<LoopState> state);
    // Fails (TemplateError) on arrays and objects nested more than `max_depth` deep inside
    // `json` (the object of the template's variables is level 0, a variable's list level 1).
    static Value from_json(const nlohmann::ordered_json& json, size_t max_depth);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::undefined; }
    bool is_none() const { return kind_ == Kind::none; }
    bool is_bool() const { return kind_ == Kind::boolean; }
    bool is_int() const { return kind_ == Kind::integer; }
    bool is_float() const { return kind_ == Kind::floating; }
    bool is_number() const { return is_int() || is_float() || is_bool(); }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_list() const { return kind_ == Kind::list; }
    bool is_tuple() const { return is_list() && as_list().tuple; }
    bool is_dict() const { return kind_ == Kind::dict; }
    bool is_namespace() const { return is_dict() && as_dict().is_namespace; }
    bool is_callable() const { return kind_ == Kind::callable; }

    bool as_bool() const { return int_ != 0; }
    int64_t as_int() const { return int_; } // integers and booleans
    double as_double() const {
        return is_float() ? float_
               : big_     ? static_cast<double>(as_wide())
                          : static_cast<double>(int_);
    }
    const std::string& as_string() const { return shared_str_ ? *shared_str_ : str_; }
    ListObj& as_list() const { return *static_cast<ListObj*>(obj_.get()); }
    DictObj& as_dict() const { return *static_cast<DictObj*>(obj_.get()); }
    CallableObj& as_callable() const { return *static_cast<CallableObj*>(obj_.get()); }
    LoopState& as_loop() const { return *static_cast<LoopState*>(obj_.get()); }
    // The message an Undefined fails with.
    const std::string& undefined_message() const { return as_string(); }
    // Throws UndefinedError when this is Undefined (for operations jinja2's Undefined refuses).
    const Value& require_defined() const;

    bool truthy() const;
    // Python's str() (what `{{ }}` prints) and repr() (items inside containers).
    std::string str() const;
    std::string repr() const;
    void append_str(std::string& out) const;
    void append_repr(std::string& out) const;
    // Python's type(x).__name__, for messages: 'int', 'str', 'dict', 'NoneType', ...
    std::string type_name() const;
    // jinja2's object_type_repr: "None", "dict object", ...
    std::string object_type_repr() const;

    // Python's == (1 == 1.0 == True; tuple != list; dict order-insensitive).
    bool equals(const Value& other) const;
    // Python's < for numbers, strings and sequences; TypeError otherwise, naming `op` and the
    // operands' types in the order the template wrote them (`swapped`: `other op this`, as
    // `a > b` is computed b < a); UndefinedError when either is Undefined.
    bool less_than(const Value& other, std::string_view op = "<", bool swapped = false) const;

    // An integer: 64-bit values as such, larger ones (from JSON, literals or arithmetic) kept
    // exactly. as_int() gives those the nearest 64-bit value, which is past every count and
    // index limit; as_wide() the exact one.
    static Value integer(Int128 v);
    bool is_big_int() const { return big_; }
    Int128 as_wide() const; // integers and booleans

    // Whether this is the only reference to its list, dict, callable or loop.
    bool is_last_reference() const { return obj_ && obj_.use_count() == 1; }

    // json.dumps(self, ensure_ascii=False, indent, separators, sort_keys).
    std::string to_json(int indent = -1, std::string_view indent_str = {},
                        std::string_view item_sep = {}, std::string_view key_sep = {},
                        bool sort_keys = false, bool ensure_ascii = false) const;

private:
    static Value from_json_at(const nlohmann::ordered_json& json, size_t max_depth, size_t depth);

    Kind kind_ = Kind::undefined;
    bool big_ = false; // an integer past 64 bits: its decimal digits in str_, int_ saturated
    int64_t int_ = 0;
    double float_ = 0;
    // The string value, or an Undefined's message: short ones in place (copies of values are
    // everywhere: lists, scopes, arguments), long ones shared, because a template can put a
    // megabyte string into a list a hundred thousand times.
    static constexpr size_t kShareStringsAbove = 64;
    std::string str_;
    std::shared_ptr<const std::string> shared_str_;
    void set_string(std::string s) {
        if (s.size() > kShareStringsAbove) {
            shared_str_ = std::make_shared<const std::string>(std::move(s));
        } else {
            str_ = std::move(s);
        }
    }
    std::shared_ptr<void> obj_;
};

// Recursion through nested values (repr, ==, <, json.dumps) is bounded as Python's recursion
// limit bounds it: deeper than this fails with RecursionError ("maximum recursion depth
// exceeded" + `what`) instead of overflowing the C++ stack. Counted per thread.
constexpr size_t kMaxValueNesting = 512;
class NestingGuard {
public:
    explicit NestingGuard(const char* what);
    ~NestingGuard();
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
};

// While one exists, text that str(), repr() and json.dumps build on this thread fails with
// the render's output-size message once it passes `max_bytes`: a list holding the same
// megabyte string a million times must not be printed into memory first and checked after.
class TextLimitScope {
public:
    explicit TextLimitScope(size_t max_bytes);
    ~TextLimitScope();
    TextLimitScope(const TextLimitScope&) = delete;
    TextLimitScope& operator=(const TextLimitScope&) = delete;

private:
    size_t previous_;
};
// Fails when `text` has grown, or would grow to `bytes`, past the current TextLimitScope's
// bound.
void check_text_size(const std::string& text);
void check_text_size(size_t bytes);

// The render's work budget (RenderLimits::max_work, docs/LIMITS.md): every operation charges
// the work it does, in units of about what handling one byte of text costs, so that no
// template can keep the CPU busy for long whatever it loops over. A byte read or written
// costs 1; the other kinds of work cost what they take compared with that (measured, see
// tst_jinja_work). While a WorkBudget exists, charges on its thread count against it, and
// the one that goes past it fails the render (TemplateRuntimeError); without one, charging
// costs nothing (parsing, and values handled outside a render).
inline constexpr uint64_t kWorkPerItem = 32;  // a list or dict item visited, copied or compared
inline constexpr uint64_t kWorkPerStep = 32;  // a statement or expression evaluated
inline constexpr uint64_t kWorkPerScope = 96; // a new scope: a loop iteration, a macro call
class WorkBudget {
public:
    explicit WorkBudget(uint64_t max_units);
    ~WorkBudget();
    WorkBudget(const WorkBudget&) = delete;
    WorkBudget& operator=(const WorkBudget&) = delete;

private:
    uint64_t previous_max_;
    uint64_t previous_used_;
};
void charge_work(uint64_t units);
inline void charge_bytes(size_t bytes) {
    charge_work(bytes);
}
// Text only copied or compared as a block (memcpy, memcmp) costs a unit per 16 bytes: a
// template that builds its output by appending to a namespace string (`ns.out ~ x`) copies it
// over and over, as Python's jinja2 does, and a long conversation must still fit.
inline constexpr uint64_t kBytesPerCopyUnit = 16;
inline void charge_copy(size_t bytes) {
    charge_work(bytes / kBytesPerCopyUnit + 1);
}
void charge_items(size_t items);

// The most items one list built during a render may hold (docs/LIMITS.md): a list at the
// limit takes about 90 MB. A longer one fails with MemoryError before it is allocated.
inline constexpr size_t kMaxListItems = 1'000'000;
void check_list_size(size_t items);

// Python's repr() of a float: shortest round-trip digits, "1.0", "1e-05", "1e+16".
std::string format_float(double value);
// Python's repr() of a str: single quotes unless the text has ' and no ".
std::string python_repr(std::string_view text);

} // namespace hearth::jinja
