// The Python methods templates call on str, dict and list values, and the template globals
// of Hugging Face's environment (range, namespace, dict, raise_exception, strftime_now, ...).
// Mutating methods are refused as ImmutableSandboxedEnvironment refuses them.
#include "chat/jinja_args.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_text_filters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace hearth::jinja {

namespace {

using Method = Value (*)(Interpreter&, const Value& self, Args&);

Value m_strip(Interpreter&, const Value& s, Args& a) {
    return Value(filters::strip_chars(s.as_string(), a.get(0, "chars"), true, true));
}
Value m_lstrip(Interpreter&, const Value& s, Args& a) {
    return Value(filters::strip_chars(s.as_string(), a.get(0, "chars"), true, false));
}
Value m_rstrip(Interpreter&, const Value& s, Args& a) {
    return Value(filters::strip_chars(s.as_string(), a.get(0, "chars"), false, true));
}

Value split_impl(const std::string& s, const Value& sep_v, int64_t maxsplit, bool from_right) {
    std::vector<Value> parts;
    if (sep_v.is_undefined() || sep_v.is_none()) {
        // Runs of whitespace separate; leading and trailing whitespace is dropped.
        auto chars = utf8_chars(s);
        std::vector<std::pair<size_t, size_t>> words; // [begin, end) in chars
        for (size_t i = 0; i < chars.size();) {
            while (i < chars.size() && is_python_space(chars[i])) {
                ++i;
            }
            if (i == chars.size()) {
                break;
            }
            size_t begin = i;
            while (i < chars.size() && !is_python_space(chars[i])) {
                ++i;
            }
            words.emplace_back(begin, i);
        }
        auto text = [&](size_t b, size_t e) {
            std::string out;
            for (size_t k = b; k < e; ++k) {
                out += chars[k];
            }
            charge_bytes(out.size());
            return out;
        };
        check_list_size(words.size());
        size_t n = words.size();
        charge_items(3 * n); // a word's bounds, its text and its value
        if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= n) {
            for (auto [b, e] : words) {
                parts.emplace_back(text(b, e));
            }
        } else if (!from_right) {
            for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k) {
                parts.emplace_back(text(words[k].first, words[k].second));
            }
            size_t rest = words[static_cast<size_t>(maxsplit)].first;
            std::string tail = text(rest, chars.size());
            parts.emplace_back(filters::strip_chars(tail, Value(), false, true));
        } else {
            size_t keep = n - static_cast<size_t>(maxsplit);
            std::string head = text(0, words[keep - 1].second);
            parts.emplace_back(filters::strip_chars(head, Value(), true, false));
            for (size_t k = keep; k < n; ++k) {
                parts.emplace_back(text(words[k].first, words[k].second));
            }
        }
        return Value::list(std::move(parts));
    }
    std::string sep = sep_v.str();
    if (sep.empty()) {
        raise("ValueError", "empty separator");
    }
    std::vector<std::string> pieces;
    size_t pos = 0;
    for (;;) {
        size_t hit = find_text(s, sep, pos);
        if (hit == std::string::npos) {
            break;
        }
        check_list_size(pieces.size() + 2);
        charge_items(3); // the piece's text, its value and its place in the list
        pieces.push_back(s.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    pieces.push_back(s.substr(pos));
    if (maxsplit >= 0 && pieces.size() > static_cast<size_t>(maxsplit) + 1) {
        size_t keep = static_cast<size_t>(maxsplit);
        std::vector<std::string> joined;
        if (!from_right) {
            joined.assign(pieces.begin(), pieces.begin() + static_cast<long>(keep));
            std::string rest;
            for (size_t k = keep; k < pieces.size(); ++k) {
                rest += (k > keep ? sep : "") + pieces[k];
            }
            joined.push_back(rest);
        } else {
            size_t head_end = pieces.size() - keep;
            std::string head;
            for (size_t k = 0; k < head_end; ++k) {
                head += (k > 0 ? sep : "") + pieces[k];
            }
            joined.push_back(head);
            joined.insert(joined.end(), pieces.begin() + static_cast<long>(head_end), pieces.end());
        }
        pieces = std::move(joined);
    }
    for (auto& p : pieces) {
        parts.emplace_back(std::move(p));
    }
    return Value::list(std::move(parts));
}

Value m_split(Interpreter&, const Value& s, Args& a) {
    return split_impl(s.as_string(), a.get(0, "sep"), a.integer(1, "maxsplit", -1), false);
}
Value m_rsplit(Interpreter&, const Value& s, Args& a) {
    return split_impl(s.as_string(), a.get(0, "sep"), a.integer(1, "maxsplit", -1), true);
}

Value m_splitlines(Interpreter&, const Value& s, Args& a) {
    bool keepends = a.boolean(0, "keepends", false);
    const std::string& text = s.as_string();
    charge_copy(text.size());
    std::vector<Value> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find_first_of("\r\n", pos);
        if (nl == std::string::npos) {
            lines.emplace_back(text.substr(pos));
            break;
        }
        size_t end =
            nl + ((text[nl] == '\r' && nl + 1 < text.size() && text[nl + 1] == '\n') ? 2 : 1);
        check_list_size(lines.size() + 1);
        charge_items(3); // the line's text, its value and its place in the list
        lines.emplace_back(text.substr(pos, (keepends ? end : nl) - pos));
        pos = end;
    }
    return Value::list(std::move(lines));
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
    auto one = [&](const Value& v) {
        if (!v.is_string()) {
            raise("TypeError", std::string(prefix ? "startswith" : "endswith") +
                                   " first arg must be str or a tuple of str, not " +
                                   v.type_name());
        }
        const std::string& x = v.as_string();
        charge_copy(x.size());
        return x.size() <= s.size() && (prefix ? s.compare(0, x.size(), x) == 0
                                               : s.compare(s.size() - x.size(), x.size(), x) == 0);
    };
    if (affix.is_tuple()) {
        return std::any_of(affix.as_list().items.begin(), affix.as_list().items.end(), one);
    }
    return one(affix);
}

Value m_startswith(Interpreter&, const Value& s, Args& a) {
    return Value(affix_match(s.as_string(), a.get(0, "prefix"), true));
}
Value m_endswith(Interpreter&, const Value& s, Args& a) {
    return Value(affix_match(s.as_string(), a.get(0, "suffix"), false));
}
Value m_upper(Interpreter&, const Value& s, Args&) {
    return Value(utf8_upper(s.as_string()));
}
Value m_lower(Interpreter&, const Value& s, Args&) {
    return Value(utf8_lower(s.as_string()));
}

// Python's str.title(): a letter after a letter is lowered, any other letter is raised.
Value m_title(Interpreter&, const Value& s, Args&) {
    charge_bytes(3 * s.as_string().size()); // each character classified and mapped
    std::string out;
    bool prev_cased = false;
    for (auto ch : utf8_chars(s.as_string())) {
        if (ch.size() == 1) { // ASCII without a string per character: a long text
            const auto c = static_cast<unsigned char>(ch[0]);
            const bool cased = std::isalpha(c) != 0;
            out += static_cast<char>(cased ? (prev_cased ? std::tolower(c) : std::toupper(c)) : c);
            prev_cased = cased;
            continue;
        }
        std::string up = utf8_upper(ch);
        std::string low = utf8_lower(ch);
        bool cased = up != low;
        out += cased ? (prev_cased ? low : up) : std::string(ch);
        prev_cased = cased;
    }
    return Value(std::move(out));
}

Value m_capitalize(Interpreter&, const Value& s, Args&) {
    charge_bytes(3 * s.as_string().size()); // a string made for each character
    auto chars = utf8_chars(s.as_string());
    std::string out;
    for (size_t i = 0; i < chars.size(); ++i) {
        out += i == 0 ? utf8_upper(chars[i]) : utf8_lower(chars[i]);
    }
    return Value(std::move(out));
}

Value m_replace(Interpreter& in, const Value& s, Args& a) {
    CallArgs args;
    args.positional = {a.get(0, "old"), a.get(1, "new"), a.get(2, "count", Value(nullptr))};
    Value self = s;
    return in.apply_filter("replace", self, args);
}

Value m_find(Interpreter&, const Value& s, Args& a) {
    size_t hit = find_text(s.as_string(), a.string(0, "sub"));
    if (hit == std::string::npos) {
        return Value(-1);
    }
    return Value(static_cast<int64_t>(utf8_length(std::string_view(s.as_string()).substr(0, hit))));
}

Value m_count(Interpreter&, const Value& s, Args& a) {
    std::string sub = a.string(0, "sub");
    if (sub.empty()) {
        return Value(static_cast<int64_t>(utf8_length(s.as_string()) + 1));
    }
    int64_t n = 0;
    for (size_t pos = find_text(s.as_string(), sub); pos != std::string::npos;
         pos = find_text(s.as_string(), sub, pos + sub.size())) {
        ++n;
    }
    return Value(n);
}

Value m_join(Interpreter& in, const Value& s, Args& a) {
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(a.get(0, "iterable"))) {
        if (!item.is_string()) {
            raise("TypeError",
                  "sequence item: expected str instance, " + item.type_name() + " found");
        }
        charge_copy((first ? 0 : s.as_string().size()) + item.as_string().size());
        out += (first ? "" : s.as_string()) + item.as_string();
        check_string_size(out.size(), in.limits());
        first = false;
    }
    return Value(std::move(out));
}

Value m_format(Interpreter& in, const Value& s, Args& a) {
    const std::string& f = s.as_string();
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '}') {
            if (i + 1 < f.size() && f[i + 1] == '}') {
                ++i;
            }
            out += '}';
            continue;
        }
        if (f[i] != '{') {
            out += f[i];
            continue;
        }
        if (i + 1 < f.size() && f[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t close = f.find('}', i);
        if (close == std::string::npos) {
            raise("ValueError", "Single '{' encountered in format string");
        }
        std::string field = f.substr(i + 1, close - i - 1);
        std::string spec;
        if (size_t colon = field.find(':'); colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field.resize(colon);
        }
        bool repr = field.size() >= 2 && field.compare(field.size() - 2, 2, "!r") == 0;
        if (repr || (field.size() >= 2 && field.compare(field.size() - 2, 2, "!s") == 0)) {
            field.resize(field.size() - 2);
        }
        Value v;
        bool numeric = std::all_of(field.begin(), field.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
        });
        // Python's int of the field, as text: no digit string is out of its range.
        std::string index_text = field.substr(
            std::min(field.find_first_not_of('0'), field.empty() ? 0 : field.size() - 1));
        if (field.empty()) {
            v = a.get(auto_index++, "\x01");
        } else if (numeric) {
            v = index_text.size() > 18
                    ? Value()
                    : a.get(static_cast<size_t>(std::stoull(index_text)), "\x01");
        } else {
            v = a.get(SIZE_MAX, field);
            if (v.is_undefined()) {
                raise("KeyError", python_repr(field));
            }
        }
        if (v.is_undefined() && (field.empty() || numeric)) {
            raise("IndexError", "Replacement index " +
                                    (field.empty() ? std::to_string(auto_index - 1) : index_text) +
                                    " out of range for positional args tuple");
        }
        std::string text = repr ? v.repr() : v.str();
        if (!spec.empty()) {
            if (v.is_number() && !v.is_bool() &&
                (spec.back() == 'f' || spec.back() == 'd' || spec.back() == 'e')) {
                text = percent_format("%" + spec, v, in.limits());
            } else {
                char align = '<';
                char fill = ' ';
                size_t k = 0;
                if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
                    fill = spec[0];
                    align = spec[1];
                    k = 2;
                } else if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') {
                    align = spec[0];
                    k = 1;
                } else if (v.is_number()) {
                    align = '>';
                }
                size_t width = static_cast<size_t>(std::max(0, std::atoi(spec.c_str() + k)));
                check_string_size(width, in.limits());
                size_t len = utf8_length(text);
                if (width > len) {
                    size_t pad = width - len;
                    size_t left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
                    text = std::string(left, fill) + text + std::string(pad - left, fill);
                }
            }
        }
        charge_copy(text.size());
        out += text;
        check_string_size(out.size(), in.limits());
        i = close;
    }
    charge_bytes(f.size());
    return Value(std::move(out));
}

Value m_items(Interpreter&, const Value& d, Args&) {
    charge_items(d.as_dict().items.size());
    std::vector<Value> out;
    for (const auto& [k, v] : d.as_dict().items) {
        out.push_back(Value::list({k, v}, true));
    }
    return Value::list(std::move(out));
}
Value m_keys(Interpreter&, const Value& d, Args&) {
    charge_items(d.as_dict().items.size());
    std::vector<Value> out;
    for (const auto& [k, v] : d.as_dict().items) {
        out.push_back(k);
    }
    return Value::list(std::move(out));
}
Value m_values(Interpreter&, const Value& d, Args&) {
    charge_items(d.as_dict().items.size());
    std::vector<Value> out;
    for (const auto& [k, v] : d.as_dict().items) {
        out.push_back(v);
    }
    return Value::list(std::move(out));
}
Value m_get(Interpreter&, const Value& d, Args& a) {
    const Value* v = d.as_dict().find(a.get(0, "key"));
    return v ? *v : a.get(1, "default", Value(nullptr));
}
Value m_copy(Interpreter&, const Value& self, Args&) {
    charge_items(self.is_dict() ? self.as_dict().items.size() : self.as_list().items.size());
    return self.is_dict() ? Value::dict(self.as_dict().items) : Value::list(self.as_list().items);
}

Value m_index(Interpreter&, const Value& l, Args& a) {
    Value x = a.get(0, "value");
    const auto& items = l.as_list().items;
    for (size_t i = 0; i < items.size(); ++i) {
        charge_items(1);
        if (items[i].equals(x)) {
            return Value(static_cast<int64_t>(i));
        }
    }
    raise("ValueError", x.repr() + " is not in list");
}
Value m_list_count(Interpreter&, const Value& l, Args& a) {
    Value x = a.get(0, "value");
    const auto& items = l.as_list().items;
    charge_items(items.size());
    return Value(static_cast<int64_t>(
        std::count_if(items.begin(), items.end(), [&](const Value& v) { return v.equals(x); })));
}

struct MethodEntry {
    Kind kind;
    const char* name;
    Method fn;
};

constexpr MethodEntry kMethods[] = {
    {Kind::string, "strip", m_strip},
    {Kind::string, "lstrip", m_lstrip},
    {Kind::string, "rstrip", m_rstrip},
    {Kind::string, "split", m_split},
    {Kind::string, "rsplit", m_rsplit},
    {Kind::string, "splitlines", m_splitlines},
    {Kind::string, "startswith", m_startswith},
    {Kind::string, "endswith", m_endswith},
    {Kind::string, "upper", m_upper},
    {Kind::string, "lower", m_lower},
    {Kind::string, "title", m_title},
    {Kind::string, "capitalize", m_capitalize},
    {Kind::string, "replace", m_replace},
    {Kind::string, "format", m_format},
    {Kind::string, "find", m_find},
    {Kind::string, "count", m_count},
    {Kind::string, "join", m_join},
    {Kind::dict, "items", m_items},
    {Kind::dict, "keys", m_keys},
    {Kind::dict, "values", m_values},
    {Kind::dict, "get", m_get},
    {Kind::dict, "copy", m_copy},
    {Kind::list, "index", m_index},
    {Kind::list, "count", m_list_count},
    {Kind::list, "copy", m_copy},
};

// What ImmutableSandboxedEnvironment refuses (jinja2.sandbox._mutable_spec).
constexpr const char* kUnsafeDict[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr const char* kUnsafeList[] = {"append", "clear", "pop",    "reverse",
                                       "insert", "sort",  "extend", "remove"};

std::string strftime_at(const std::string& format, std::optional<int64_t> now_unix) {
    std::time_t t = now_unix ? static_cast<std::time_t>(*now_unix) : std::time(nullptr);
    std::tm tm{};
    if (now_unix) {
        gmtime_r(&t, &tm);
    } else {
        localtime_r(&t, &tm);
    }
    charge_bytes(format.size() * 4 + 64);
    std::string out(format.size() * 4 + 64, '\0');
    size_t n = std::strftime(out.data(), out.size(), format.c_str(), &tm);
    out.resize(n);
    return out;
}

Value make_namespace(CallArgs& args, const char* what) {
    Value ns = Value::dict({}, std::string_view(what) == "namespace");
    for (const Value& p : args.positional) {
        if (!p.is_dict()) {
            raise("TypeError", "'" + p.type_name() + "' object is not iterable");
        }
        for (const auto& [k, v] : p.as_dict().items) {
            ns.as_dict().set(k, v);
        }
    }
    for (auto& [k, v] : args.keywords) {
        if (ns.is_namespace() && !k.empty() && k[0] == '_') {
            raise("SecurityError", "Chat templates cannot store underscore-prefixed attributes on "
                                   "a namespace, but got '" +
                                       k + "'. Please rename the attribute.");
        }
        ns.as_dict().set(Value(k), v);
    }
    return ns;
}

} // namespace

std::optional<Value> find_method(const Value& self, const std::string& name) {
    if (self.is_dict() || self.is_list()) {
        const auto& unsafe =
            self.is_dict()
                ? std::vector<std::string_view>(std::begin(kUnsafeDict), std::end(kUnsafeDict))
                : std::vector<std::string_view>(std::begin(kUnsafeList), std::end(kUnsafeList));
        if (std::find(unsafe.begin(), unsafe.end(), name) != unsafe.end()) {
            raise("SecurityError", "access to attribute '" + name + "' of '" + self.type_name() +
                                       "' object is unsafe.");
        }
    }
    for (const auto& m : kMethods) {
        if (m.kind == self.kind() && name == m.name) {
            Method fn = m.fn;
            std::string fn_name = m.name;
            return Value::callable(m.name, [self, fn, fn_name](Interpreter& in, CallArgs& args) {
                Args a(args, fn_name);
                return fn(in, self, a);
            });
        }
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, Value>> make_globals() {
    std::vector<std::pair<std::string, Value>> g;
    g.emplace_back(
        "range", Value::callable("range", [](Interpreter&, CallArgs& args) {
            std::vector<Int128> p;
            for (const Value& v : args.positional) {
                v.require_defined();
                if (!(v.is_int() || v.is_bool())) {
                    raise("TypeError",
                          "'" + v.type_name() + "' object cannot be interpreted as an integer");
                }
                p.push_back(v.as_wide());
            }
            if (p.empty() || p.size() > 3) {
                raise("TypeError",
                      "range expected at most 3 arguments, got " + std::to_string(p.size()));
            }
            const Int128 start = p.size() == 1 ? 0 : p[0];
            const Int128 stop = p.size() == 1 ? p[0] : p[1];
            const Int128 step = p.size() == 3 ? p[2] : 1;
            if (step == 0) {
                raise("ValueError", "range() arg 3 must not be zero");
            }
            // The count, exactly: the distance between the ends fits an unsigned 128 bits.
            UInt128 count = 0;
            if (step > 0 && start < stop) {
                const UInt128 span = static_cast<UInt128>(stop) - static_cast<UInt128>(start);
                count = (span - 1) / static_cast<UInt128>(step) + 1;
            } else if (step < 0 && start > stop) {
                const UInt128 span = static_cast<UInt128>(start) - static_cast<UInt128>(stop);
                count = (span - 1) / (UInt128{0} - static_cast<UInt128>(step)) + 1;
            }
            if (count > 100000) { // jinja2.sandbox.MAX_RANGE
                raise("OverflowError",
                      "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            }
            charge_items(static_cast<size_t>(count));
            std::vector<Value> items;
            items.reserve(static_cast<size_t>(count));
            for (UInt128 i = 0; i < count; ++i) {
                // Every item lies between start and stop, but i * step alone can overflow:
                // computed modulo 2**128, the sum comes out exact.
                items.push_back(Value::integer(static_cast<Int128>(
                    static_cast<UInt128>(start) + i * static_cast<UInt128>(step))));
            }
            return Value::list(std::move(items));
        }));
    g.emplace_back("namespace", Value::callable("namespace", [](Interpreter& in, CallArgs& args) {
                       Value ns = make_namespace(args, "namespace");
                       in.track_namespace(ns);
                       return ns;
                   }));
    g.emplace_back("dict", Value::callable("dict", [](Interpreter&, CallArgs& args) {
                       return make_namespace(args, "dict");
                   }));
    g.emplace_back("raise_exception",
                   Value::callable("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
                       if (args.positional.empty()) {
                           raise("TypeError", "raise_exception() missing 1 required positional "
                                              "argument: 'message'");
                       }
                       raise("TemplateError", args.positional[0].str());
                   }));
    g.emplace_back("strftime_now",
                   Value::callable("strftime_now", [](Interpreter& in, CallArgs& args) {
                       Args a(args, "strftime_now");
                       return Value(strftime_at(a.string(0, "format"), in.now_unix()));
                   }));
    g.emplace_back("joiner", Value::callable("joiner", [](Interpreter&, CallArgs& args) {
                       Args a(args, "joiner");
                       auto used = std::make_shared<bool>(false);
                       std::string sep = a.string(0, "sep", ", ");
                       return Value::callable("joiner", [used, sep](Interpreter&, CallArgs&) {
                           bool first = !*used;
                           *used = true;
                           return Value(first ? std::string() : sep);
                       });
                   }));
    return g;
}

} // namespace hearth::jinja
