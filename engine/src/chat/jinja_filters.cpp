// Jinja's built-in filters, as jinja2.filters defines them, with Hugging Face's tojson
// (json.dumps with ensure_ascii=False). Tests: jinja_tests.cpp.
#include "chat/jinja_args.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_text_filters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <unordered_set>

namespace hearth::jinja {

namespace {

using namespace filters;
using Filter = Value (*)(Interpreter&, Value&, Args&);

// environment.getitem over a dotted path ("a.b.0"), as jinja2's make_attrgetter does.
Value get_path(Interpreter& in, const Value& item, const Value& path) {
    if (!path.is_string()) {
        return in.get_item(item, path);
    }
    Value v = item;
    const std::string& p = path.as_string();
    size_t start = 0;
    for (;;) {
        size_t dot = p.find('.', start);
        std::string part =
            p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        });
        // strtoll, not atoll: a path part beyond 64 bits saturates instead of being undefined.
        v = in.get_item(
            v, numeric ? Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10)))
                       : Value(part));
        if (dot == std::string::npos) {
            return v;
        }
        start = dot + 1;
    }
}

// A text that two scalars share exactly when Python's == says they are equal, for a hash
// set; nullopt for lists, dicts and the rest.
std::optional<std::string> scalar_identity(const Value& v) {
    if (v.is_string()) {
        charge_bytes(v.as_string().size());
        return "s" + v.as_string();
    }
    if (v.is_none()) {
        return std::string("n");
    }
    if (v.is_int() || v.is_bool()) {
        return "i" + int128_digits(v.as_wide());
    }
    if (v.is_float()) {
        double d = v.as_double();
        if (d == std::trunc(d) && d >= -0x1p127 && d < 0x1p127) {
            return "i" + int128_digits(static_cast<Int128>(d)); // 2.0 == 2, exactly
        }
        if (std::isnan(d)) {
            return std::nullopt; // nan != nan: never a duplicate, compared one by one
        }
        return "f" + format_float(d);
    }
    return std::nullopt;
}

Value lower_if_string(const Value& v, bool case_sensitive) {
    return (!case_sensitive && v.is_string()) ? Value(utf8_lower(v.as_string())) : v;
}

int64_t length_of(const Value& v) {
    switch (v.kind()) {
    case Kind::undefined:
        return 0;
    case Kind::string:
        return static_cast<int64_t>(utf8_length(v.as_string()));
    case Kind::list:
        return static_cast<int64_t>(v.as_list().items.size());
    case Kind::dict:
        if (!v.is_namespace()) {
            return static_cast<int64_t>(v.as_dict().items.size());
        }
        break;
    default:
        break;
    }
    raise("TypeError", "object of type '" + v.type_name() + "' has no len()");
}

Value f_default(Interpreter&, Value& v, Args& a) {
    bool boolean = a.boolean(1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
        return a.get(0, "default_value", Value(""));
    }
    return v;
}

Value f_length(Interpreter&, Value& v, Args&) {
    return Value(length_of(v));
}

Value f_tojson(Interpreter& in, Value& v, Args& a) {
    Value indent = a.get(1, "indent", Value(nullptr));
    Value separators = a.get(2, "separators", Value(nullptr));
    bool sort_keys = a.boolean(3, "sort_keys", false);
    bool ensure_ascii = a.boolean(0, "ensure_ascii", false);
    int width = -1;
    std::string indent_str;
    if (indent.is_int()) {
        // Bounded before the cast and before one line's indentation is built from it.
        check_string_size(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), in.limits());
        width = static_cast<int>(std::max<int64_t>(0, indent.as_int()));
    } else if (indent.is_string()) {
        width = 0;
        indent_str = indent.as_string();
    }
    std::string item_sep;
    std::string key_sep;
    if (separators.is_list() && separators.as_list().items.size() == 2) {
        item_sep = separators.as_list().items[0].str();
        key_sep = separators.as_list().items[1].str();
        if (item_sep.empty()) {
            item_sep = std::string(1, '\0'); // marks "no separator"; replaced below
        }
    }
    std::string out = v.to_json(width, indent_str, item_sep, key_sep, sort_keys, ensure_ascii);
    if (item_sep.size() == 1 && item_sep[0] == '\0') {
        out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
    }
    return Value(std::move(out));
}

Value f_join(Interpreter& in, Value& v, Args& a) {
    std::string sep = a.string(0, "d");
    Value attribute = a.get(1, "attribute", Value(nullptr));
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(v)) {
        if (!first) {
            charge_copy(sep.size());
            out += sep;
        }
        first = false;
        (attribute.is_none() ? item : get_path(in, item, attribute)).append_str(out);
        check_string_size(out.size(), in.limits());
    }
    return Value(std::move(out));
}

Value f_list(Interpreter& in, Value& v, Args&) {
    return Value::list(in.iterate(v));
}

Value f_first(Interpreter& in, Value& v, Args&) {
    if (v.is_list()) {
        return v.as_list().items.empty() ? Value::undefined("No first item, sequence was empty.")
                                         : v.as_list().items.front();
    }
    auto items = in.iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, Value& v, Args&) {
    // Python's reversed(): what cannot be iterated cannot be reversed either.
    if (!(v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()))) {
        raise("TypeError", "'" + v.type_name() + "' object is not reversible");
    }
    auto items = in.iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_reverse(Interpreter& in, Value& v, Args&) {
    if (v.is_string()) {
        auto chars = utf8_chars(v.as_string());
        charge_bytes(v.as_string().size());
        std::string out;
        out.reserve(v.as_string().size());
        for (size_t i = chars.size(); i-- > 0;) {
            out += chars[i];
        }
        return Value(std::move(out));
    }
    if (!(v.is_undefined() || v.is_list() || (v.is_dict() && !v.is_namespace()))) {
        raise("FilterArgumentError", "argument must be iterable");
    }
    auto items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value f_items(Interpreter&, Value& v, Args&) {
    if (v.is_undefined()) {
        return Value::list();
    }
    if (!v.is_dict() || v.is_namespace()) {
        raise("TypeError", "Can only get item pairs from a mapping.");
    }
    charge_items(v.as_dict().items.size());
    std::vector<Value> out;
    for (const auto& [k, item] : v.as_dict().items) {
        out.push_back(Value::list({k, item}, true));
    }
    return Value::list(std::move(out));
}

Value f_dictsort(Interpreter& in, Value& v, Args& a) {
    bool case_sensitive = a.boolean(0, "case_sensitive", false);
    std::string by = a.string(1, "by", "key");
    bool reverse = a.boolean(2, "reverse", false);
    if (by != "key" && by != "value") {
        raise("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
    }
    // jinja2 calls value.items(): only a mapping has them.
    v.require_defined();
    if (!v.is_dict() || v.is_namespace()) {
        raise("AttributeError", "'" + v.type_name() + "' object has no attribute 'items'");
    }
    Value pairs = f_items(in, v, a);
    auto& items = pairs.as_list().items;
    size_t pos = by == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        charge_items(2); // a comparison of two keys, each lowered first
        Value kx = lower_if_string(x.as_list().items[pos], case_sensitive);
        Value ky = lower_if_string(y.as_list().items[pos], case_sensitive);
        return reverse ? ky.less_than(kx) : kx.less_than(ky);
    });
    return pairs;
}

Value f_sort(Interpreter& in, Value& v, Args& a) {
    bool reverse = a.boolean(0, "reverse", false);
    bool case_sensitive = a.boolean(1, "case_sensitive", false);
    Value attribute = a.get(2, "attribute", Value(nullptr));
    auto items = in.iterate(v);
    // Each key computed once, as Python's sorted(key=...) does, not once per comparison. jinja2
    // wraps each key in a list, and lists compare their items for equality first: equal keys
    // are never compared with <, so [{}, {}] or Undefined keys sort without an error.
    std::vector<std::pair<Value, Value>> keyed;
    keyed.reserve(items.size());
    for (auto& item : items) {
        Value key = lower_if_string(attribute.is_none() ? item : get_path(in, item, attribute),
                                    case_sensitive);
        keyed.emplace_back(std::move(key), std::move(item));
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        charge_items(1); // a comparison
        const Value& lo = reverse ? y.first : x.first;
        const Value& hi = reverse ? x.first : y.first;
        return !lo.equals(hi) && lo.less_than(hi);
    });
    items.clear();
    for (auto& [key, item] : keyed) {
        items.push_back(std::move(item));
    }
    return Value::list(std::move(items));
}

Value f_unique(Interpreter& in, Value& v, Args& a) {
    bool case_sensitive = a.boolean(0, "case_sensitive", false);
    Value attribute = a.get(1, "attribute", Value(nullptr));
    // Python keeps a set: scalars go into a hash set under a text that is equal exactly when
    // they are (1 == 1.0 == True); other keys, rare, are compared one by one.
    std::unordered_set<std::string> seen_scalars;
    std::vector<Value> seen;
    std::vector<Value> out;
    for (const Value& item : in.iterate(v)) {
        Value key = lower_if_string(attribute.is_none() ? item : get_path(in, item, attribute),
                                    case_sensitive);
        charge_items(6);       // hashing and inserting the key cost several items' work
        require_hashable(key); // Python keeps the keys in a set
        if (std::optional<std::string> scalar = scalar_identity(key)) {
            if (seen_scalars.insert(std::move(*scalar)).second) {
                out.push_back(item);
            }
        } else if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) {
                       charge_items(1);
                       return s.equals(key);
                   })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}

Value min_max(Interpreter& in, Value& v, Args& a, bool want_max) {
    bool case_sensitive = a.boolean(0, "case_sensitive", false);
    Value attribute = a.get(1, "attribute", Value(nullptr));
    auto items = in.iterate(v);
    if (items.empty()) {
        return Value::undefined("No aggregated item, sequence was empty.");
    }
    auto key = [&](const Value& x) {
        return lower_if_string(attribute.is_none() ? x : get_path(in, x, attribute),
                               case_sensitive);
    };
    // Python's max() asks `item > best`, min() `item < best`, the new item on the left.
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        charge_items(1);
        bool better = want_max ? key(items[best]).less_than(key(items[i]), ">", true)
                               : key(items[i]).less_than(key(items[best]), "<");
        if (better) {
            best = i;
        }
    }
    return items[best];
}
Value f_max(Interpreter& in, Value& v, Args& a) {
    return min_max(in, v, a, true);
}
Value f_min(Interpreter& in, Value& v, Args& a) {
    return min_max(in, v, a, false);
}

Value f_sum(Interpreter& in, Value& v, Args& a) {
    Value attribute = a.get(0, "attribute", Value(nullptr));
    Value total = a.get(1, "start", Value(0));
    for (const Value& item : in.iterate(v)) {
        total = binary_op("+", total, attribute.is_none() ? item : get_path(in, item, attribute),
                          in.limits());
    }
    return total;
}

Value f_map(Interpreter& in, Value& v, Args& a) {
    // jinja2's map, select, reject, selectattr and rejectattr start with `if value:`: None,
    // Undefined and empty values give nothing, without even a check of the arguments
    // (Hugging Face passes tools=None).
    if (!v.truthy()) {
        return Value::list();
    }
    std::vector<Value> out;
    Value attribute = a.get(999, "attribute");
    if (!attribute.is_undefined()) {
        Value fallback = a.get(999, "default");
        for (const Value& item : in.iterate(v)) {
            Value x = get_path(in, item, attribute);
            out.push_back(x.is_undefined() && !fallback.is_undefined() ? fallback : x);
        }
        return Value::list(std::move(out));
    }
    if (a.positional_count() == 0) {
        raise("FilterArgumentError", "map requires a filter argument");
    }
    CallArgs rest;
    rest.positional.assign(a.raw().positional.begin() + 1, a.raw().positional.end());
    rest.keywords = a.raw().keywords;
    std::string name = a.raw().positional[0].str();
    for (const Value& item : in.iterate(v)) {
        CallArgs args = rest;
        out.push_back(in.apply_filter(name, item, args));
    }
    return Value::list(std::move(out));
}

Value select_common(Interpreter& in, Value& v, Args& a, bool by_attribute, bool keep) {
    if (!v.truthy()) {
        return Value::list(); // as f_map
    }
    size_t first = by_attribute ? 1 : 0;
    Value attribute = by_attribute ? a.get(0, "attribute") : Value();
    std::string test;
    CallArgs rest;
    if (a.positional_count() > first) {
        test = a.raw().positional[first].str();
        rest.positional.assign(a.raw().positional.begin() + static_cast<long>(first) + 1,
                               a.raw().positional.end());
        rest.keywords = a.raw().keywords;
    }
    std::vector<Value> out;
    for (const Value& item : in.iterate(v)) {
        Value x = by_attribute ? get_path(in, item, attribute) : item;
        bool pass;
        if (test.empty()) {
            pass = x.truthy();
        } else {
            CallArgs args = rest;
            pass = in.apply_test(test, x, args);
        }
        if (pass == keep) {
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}
Value f_select(Interpreter& in, Value& v, Args& a) {
    return select_common(in, v, a, false, true);
}
Value f_reject(Interpreter& in, Value& v, Args& a) {
    return select_common(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, Value& v, Args& a) {
    return select_common(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, Value& v, Args& a) {
    return select_common(in, v, a, true, false);
}

Value f_attr(Interpreter& in, Value& v, Args& a) {
    return in.get_attr(v, a.string(0, "name"), /*dict_items=*/false);
}

Value f_count(Interpreter& in, Value& v, Args& a) {
    return f_length(in, v, a);
}

const std::map<std::string, Filter, std::less<>>& filter_table() {
    static const std::map<std::string, Filter, std::less<>> table = {
        {"abs", f_abs},
        {"attr", f_attr},
        {"capitalize", f_capitalize},
        {"center", f_center},
        {"count", f_count},
        {"d", f_default},
        {"default", f_default},
        {"dictsort", f_dictsort},
        {"e", f_escape},
        {"escape", f_escape},
        {"first", f_first},
        {"float", f_float},
        {"forceescape", f_escape},
        {"format", f_format},
        {"indent", f_indent},
        {"int", f_int},
        {"items", f_items},
        {"join", f_join},
        {"last", f_last},
        {"length", f_length},
        {"list", f_list},
        {"lower", f_lower},
        {"map", f_map},
        {"max", f_max},
        {"min", f_min},
        {"reject", f_reject},
        {"rejectattr", f_rejectattr},
        {"replace", f_replace},
        {"reverse", f_reverse},
        {"round", f_round},
        {"safe", f_safe},
        {"select", f_select},
        {"selectattr", f_selectattr},
        {"sort", f_sort},
        {"string", f_string},
        {"sum", f_sum},
        {"title", f_title},
        {"tojson", f_tojson},
        {"trim", f_trim},
        {"unique", f_unique},
        {"upper", f_upper},
        {"wordcount", f_wordcount},
    };
    return table;
}

} // namespace

bool has_filter(std::string_view name) {
    return filter_table().contains(name);
}

std::vector<std::string> filter_names() {
    std::vector<std::string> out;
    for (const auto& [name, filter] : filter_table()) {
        out.push_back(name);
    }
    return out;
}

Value call_filter(Interpreter& in, std::string_view name, Value input, CallArgs& args) {
    auto it = filter_table().find(name);
    if (it == filter_table().end()) {
        raise("TemplateRuntimeError", "No filter named '" + std::string(name) + "' found.");
    }
    Args a(args, name);
    return it->second(in, input, a);
}

} // namespace hearth::jinja
