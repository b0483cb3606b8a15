// Jinja values: Python's str(), repr(), ==, <, json.dumps, and the UTF-8 helpers behind them.
#include "chat/jinja_value.h"

#include "chat/jinja_interp.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>

namespace hearth::jinja {

void raise(std::string type, std::string message) {
    throw JinjaError{std::move(type), std::move(message)};
}

namespace {

// The lists and dicts whose repr is being written, innermost last: a namespace can hold
// itself, and Python prints the repeated container as [...] or {...}.
thread_local std::vector<const void*> t_repr_stack;

struct ReprEnter {
    explicit ReprEnter(const void* obj) { t_repr_stack.push_back(obj); }
    ~ReprEnter() { t_repr_stack.pop_back(); }
    ReprEnter(const ReprEnter&) = delete;
    ReprEnter& operator=(const ReprEnter&) = delete;
};

bool repr_entered(const void* obj) {
    return std::find(t_repr_stack.begin(), t_repr_stack.end(), obj) != t_repr_stack.end();
}

// Whether destroying `v` would go on to destroy a list or dict: only those are released
// iteratively (most containers hold strings and numbers, or containers shared elsewhere).
bool owns_container(const Value& v) {
    return (v.is_list() || v.is_dict()) && v.is_last_reference();
}

// Moves the lists and dicts among `items` that nothing else refers to into `pending`.
void take_owned_containers(std::vector<Value>& items, std::vector<Value>& pending) {
    for (Value& item : items) {
        if (owns_container(item)) {
            pending.push_back(std::move(item));
        }
    }
}

void take_owned_containers(std::vector<std::pair<Value, Value>>& items,
                           std::vector<Value>& pending) {
    for (auto& [k, item] : items) {
        if (owns_container(k)) {
            pending.push_back(std::move(k));
        }
        if (owns_container(item)) {
            pending.push_back(std::move(item));
        }
    }
}

// Destroys `pending` and every list and dict only it holds without recursing: each gives up
// its own such items to `pending` before it is destroyed.
void release_iteratively(std::vector<Value>& pending) {
    while (!pending.empty()) {
        Value v = std::move(pending.back());
        pending.pop_back();
        if (v.is_list()) {
            take_owned_containers(v.as_list().items, pending);
        } else if (v.is_dict()) {
            take_owned_containers(v.as_dict().items, pending);
        }
    } // v, holding no list or dict of its own any more, is destroyed here
}

} // namespace

ListObj::~ListObj() {
    std::vector<Value> pending;
    take_owned_containers(items, pending);
    release_iteratively(pending);
}

DictObj::~DictObj() {
    std::vector<Value> pending;
    take_owned_containers(items, pending);
    release_iteratively(pending);
}

// Lookups scan the items (dicts in templates are small, and keep Python's order): each key
// compared is charged, so that a dict of 100,000 keys looked up in a loop stops at the budget.
const Value* DictObj::find(const Value& key) const {
    size_t scanned = 0;
    for (const auto& [k, v] : items) {
        ++scanned;
        if (k.equals(key)) {
            charge_items(scanned);
            return &v;
        }
    }
    charge_items(scanned);
    return nullptr;
}

const Value* DictObj::find(std::string_view key) const {
    size_t scanned = 0;
    for (const auto& [k, v] : items) {
        ++scanned;
        if (k.is_string() && k.as_string() == key) {
            charge_items(scanned);
            return &v;
        }
    }
    charge_items(scanned);
    return nullptr;
}

void DictObj::set(Value key, Value value) {
    size_t scanned = 0;
    for (auto& [k, v] : items) {
        ++scanned;
        if (k.equals(key)) {
            charge_items(scanned);
            v = std::move(value);
            return;
        }
    }
    charge_items(scanned + 1);
    items.emplace_back(std::move(key), std::move(value));
}

Value Value::integer(Int128 v) {
    if (v >= INT64_MIN && v <= INT64_MAX) {
        return Value(static_cast<int64_t>(v));
    }
    Value out;
    out.kind_ = Kind::integer;
    out.big_ = true;
    out.int_ = v < 0 ? INT64_MIN : INT64_MAX;
    out.str_ = int128_digits(v);
    return out;
}

Int128 Value::as_wide() const {
    if (!big_) {
        return int_;
    }
    return *parse_int128(str_); // written by integer(), so always digits that fit
}

Value Value::undefined(std::string message) {
    Value v;
    v.set_string(std::move(message));
    return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
    Value v;
    v.kind_ = Kind::list;
    // Filled in place: the destructor of ListObj leaves it without a move constructor.
    auto obj = std::make_shared<ListObj>();
    obj->items = std::move(items);
    obj->tuple = tuple;
    v.obj_ = std::move(obj);
    return v;
}

Value Value::dict(std::vector<std::pair<Value, Value>> items, bool is_namespace) {
    Value v;
    v.kind_ = Kind::dict;
    auto obj = std::make_shared<DictObj>();
    obj->items = std::move(items);
    obj->is_namespace = is_namespace;
    v.obj_ = std::move(obj);
    return v;
}

Value Value::callable(std::string name, NativeFn fn, bool is_macro) {
    Value v;
    v.kind_ = Kind::callable;
    v.obj_ = std::make_shared<CallableObj>(CallableObj{std::move(name), std::move(fn), is_macro});
    return v;
}

Value Value::loop(std::shared_ptr<LoopState> state) {
    Value v;
    v.kind_ = Kind::loop;
    v.obj_ = std::move(state);
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& json, size_t max_depth) {
    return from_json_at(json, max_depth, 0);
}

// Recursive, one level per array or object, so bounded by max_depth: the engine's API takes
// any ordered_json, not only what parse_json_input bounded.
Value Value::from_json_at(const nlohmann::ordered_json& json, size_t max_depth, size_t depth) {
    if ((json.is_array() || json.is_object()) && depth > max_depth) {
        raise("TemplateError", "template variables nest arrays and objects deeper than the "
                               "limit of " +
                                   std::to_string(max_depth) + " levels");
    }
    if ((json.is_array() || json.is_object()) && json.size() > kMaxListItems) {
        raise("TemplateError", "template variables hold an array or object of " +
                                   std::to_string(json.size()) + " items, over the limit of " +
                                   std::to_string(kMaxListItems));
    }
    switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
        return Value(nullptr);
    case nlohmann::ordered_json::value_t::boolean:
        return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
        return Value(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
        return integer(static_cast<Int128>(json.get<uint64_t>())); // past 2**63 too
    case nlohmann::ordered_json::value_t::number_float:
        return Value(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
        return Value(json.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
        std::vector<Value> items;
        items.reserve(json.size());
        for (const auto& item : json) {
            items.push_back(from_json_at(item, max_depth, depth + 1));
        }
        return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
        std::vector<std::pair<Value, Value>> items;
        items.reserve(json.size());
        for (const auto& [key, item] : json.items()) {
            items.emplace_back(Value(key), from_json_at(item, max_depth, depth + 1));
        }
        return dict(std::move(items));
    }
    default:
        return Value(nullptr);
    }
}

const Value& Value::require_defined() const {
    if (is_undefined()) {
        raise("UndefinedError", as_string());
    }
    return *this;
}

bool Value::truthy() const {
    switch (kind_) {
    case Kind::undefined:
    case Kind::none:
        return false;
    case Kind::boolean:
    case Kind::integer:
        return int_ != 0;
    case Kind::floating:
        return float_ != 0.0;
    case Kind::string:
        return !as_string().empty();
    case Kind::list:
        return !as_list().items.empty();
    case Kind::dict:
        return as_dict().is_namespace || !as_dict().items.empty();
    default:
        return true;
    }
}

std::string format_float(double value) {
    if (std::isnan(value)) {
        return "nan";
    }
    if (std::isinf(value)) {
        return value < 0 ? "-inf" : "inf";
    }
    // Shortest round-trip digits in scientific form, then laid out as Python's repr does:
    // positional for exponents in [-4, 16), scientific with a two-digit exponent otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
    bool negative = sci.front() == '-';
    if (negative) {
        sci.remove_prefix(1);
    }
    size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e)) {
        if (c != '.') {
            digits += c;
        }
    }
    int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
    // Built with append(): GCC 12 warns (-Wrestrict, a false positive) on chains of `+`.
    std::string out = negative ? "-" : "";
    auto n = static_cast<size_t>(std::abs(exponent));
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out.append("0.").append(n - 1, '0').append(digits);
        } else if (n + 1 >= digits.size()) {
            out.append(digits).append(n + 1 - digits.size(), '0').append(".0");
        } else {
            out.append(digits, 0, n + 1).append(".").append(digits, n + 1);
        }
        return out;
    }
    out.append(digits, 0, 1);
    if (digits.size() > 1) {
        out.append(".").append(digits, 1);
    }
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out.append(exp);
}

std::string python_repr(std::string_view text) {
    char quote =
        (text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos)
            ? '"'
            : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < text.size();) {
        size_t start = i;
        uint32_t cp = utf8_decode(text, i);
        if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", cp);
            out += buf;
        } else {
            out += text.substr(start, i - start);
        }
    }
    out += quote;
    return out;
}

std::string Value::str() const {
    std::string out;
    append_str(out);
    return out;
}

std::string Value::repr() const {
    std::string out;
    append_repr(out);
    return out;
}

void Value::append_str(std::string& out) const {
    switch (kind_) {
    case Kind::undefined:
        return;
    case Kind::string:
        charge_copy(as_string().size());
        out += as_string();
        return;
    default:
        append_repr(out);
    }
}

void Value::append_repr(std::string& out) const {
    switch (kind_) {
    case Kind::undefined:
        out += "Undefined";
        return;
    case Kind::none:
        out += "None";
        return;
    case Kind::boolean:
        out += int_ ? "True" : "False";
        return;
    case Kind::integer:
        out += big_ ? str_ : std::to_string(int_);
        return;
    case Kind::floating:
        out += format_float(float_);
        return;
    case Kind::string:
        charge_bytes(as_string().size());
        out += python_repr(as_string());
        return;
    case Kind::list: {
        const auto& l = as_list();
        if (repr_entered(obj_.get())) {
            out += l.tuple ? "(...)" : "[...]";
            return;
        }
        NestingGuard guard(" while getting the repr of an object");
        ReprEnter enter(obj_.get());
        out += l.tuple ? '(' : '[';
        for (size_t i = 0; i < l.items.size(); ++i) {
            if (i) {
                out += ", ";
            }
            charge_items(1);
            l.items[i].append_repr(out);
            check_text_size(out);
        }
        if (l.tuple && l.items.size() == 1) {
            out += ',';
        }
        out += l.tuple ? ')' : ']';
        return;
    }
    case Kind::dict: {
        const auto& d = as_dict();
        if (d.is_namespace) {
            out += "<Namespace ";
        }
        if (repr_entered(obj_.get())) {
            out += d.is_namespace ? "{...}>" : "{...}";
            return;
        }
        NestingGuard guard(" while getting the repr of an object");
        ReprEnter enter(obj_.get());
        out += '{';
        for (size_t i = 0; i < d.items.size(); ++i) {
            if (i) {
                out += ", ";
            }
            charge_items(1);
            d.items[i].first.append_repr(out);
            out += ": ";
            d.items[i].second.append_repr(out);
            check_text_size(out);
        }
        out += '}';
        if (d.is_namespace) {
            out += '>';
        }
        return;
    }
    case Kind::callable:
        out += as_callable().is_macro ? "<Macro '" + as_callable().name + "'>"
                                      : "<built-in function " + as_callable().name + ">";
        return;
    case Kind::loop: {
        const auto& l = as_loop();
        out += "<LoopContext " + std::to_string(l.index0 + 1) + "/" +
               std::to_string(l.items.size()) + ">";
        return;
    }
    }
}

std::string Value::type_name() const {
    switch (kind_) {
    case Kind::undefined:
        return "Undefined";
    case Kind::none:
        return "NoneType";
    case Kind::boolean:
        return "bool";
    case Kind::integer:
        return "int";
    case Kind::floating:
        return "float";
    case Kind::string:
        return "str";
    case Kind::list:
        return as_list().tuple ? "tuple" : "list";
    case Kind::dict:
        return as_dict().is_namespace ? "Namespace" : "dict";
    case Kind::callable:
        return as_callable().is_macro ? "Macro" : "builtin_function_or_method";
    case Kind::loop:
        return "LoopContext";
    }
    return "object";
}

std::string Value::object_type_repr() const {
    if (is_none()) {
        return "None";
    }
    if (is_namespace()) {
        return "jinja2.utils.Namespace object";
    }
    return type_name() + " object";
}

bool Value::equals(const Value& other) const {
    if (is_number() && other.is_number()) {
        if (is_float() && other.is_float()) {
            return float_ == other.float_;
        }
        if (is_float() || other.is_float()) {
            const double d = is_float() ? float_ : other.float_;
            const Int128 i = is_float() ? other.as_wide() : as_wide();
            return !std::isnan(d) && compare_int_float(i, d) == 0;
        }
        return as_wide() == other.as_wide();
    }
    if (kind_ != other.kind_) {
        return false;
    }
    switch (kind_) {
    case Kind::undefined:
    case Kind::none:
        return true;
    case Kind::string:
        if (as_string().size() != other.as_string().size()) {
            return false;
        }
        charge_copy(as_string().size());
        return as_string() == other.as_string();
    case Kind::list: {
        const auto& a = as_list();
        const auto& b = other.as_list();
        if (a.tuple != b.tuple || a.items.size() != b.items.size()) {
            return false;
        }
        NestingGuard guard(" in comparison");
        for (size_t i = 0; i < a.items.size(); ++i) {
            charge_items(1);
            if (!a.items[i].equals(b.items[i])) {
                return false;
            }
        }
        return true;
    }
    case Kind::dict: {
        const auto& a = as_dict();
        const auto& b = other.as_dict();
        if (a.is_namespace || b.is_namespace) {
            return obj_ == other.obj_;
        }
        if (a.items.size() != b.items.size()) {
            return false;
        }
        NestingGuard guard(" in comparison");
        for (const auto& [k, v] : a.items) {
            const Value* w = b.find(k); // charged by the lookup
            if (!w || !v.equals(*w)) {
                return false;
            }
        }
        return true;
    }
    default:
        return obj_ == other.obj_;
    }
}

bool Value::less_than(const Value& other, std::string_view op, bool swapped) const {
    // As the template wrote them: jinja2's Undefined fails any comparison, the left first.
    const Value& left = swapped ? other : *this;
    const Value& right = swapped ? *this : other;
    left.require_defined();
    right.require_defined();
    if (is_number() && other.is_number()) {
        if (is_float() && other.is_float()) {
            return float_ < other.float_;
        }
        if (is_float()) {
            return !std::isnan(float_) && compare_int_float(other.as_wide(), float_) > 0;
        }
        if (other.is_float()) {
            return !std::isnan(other.float_) && compare_int_float(as_wide(), other.float_) < 0;
        }
        return as_wide() < other.as_wide();
    }
    if (is_string() && other.is_string()) {
        charge_copy(std::min(as_string().size(), other.as_string().size()));
        return as_string() < other.as_string(); // UTF-8 byte order is code point order
    }
    if (is_list() && other.is_list() && is_tuple() == other.is_tuple()) {
        const auto& a = as_list().items;
        const auto& b = other.as_list().items;
        NestingGuard guard(" in comparison");
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
            charge_items(1);
            if (!a[i].equals(b[i])) {
                return a[i].less_than(b[i], op, swapped);
            }
        }
        return a.size() < b.size();
    }
    std::string message = "'";
    message.append(op).append("' not supported between instances of '").append(left.type_name());
    message.append("' and '").append(right.type_name()).append("'");
    raise("TypeError", std::move(message));
}

} // namespace hearth::jinja
