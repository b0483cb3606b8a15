// Filters on strings and numbers: case, trim, replace, indent, wordcount, escape, format,
// center, int, float, abs, round, as jinja2.filters defines them.
#include "chat/jinja_text_filters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace hearth::jinja::filters {

namespace {

// Python's int() of a finite float: truncation toward zero, exact. Beyond 128 bits Python's
// int keeps growing; Hearth's says so rather than wrapping (the conversion would be undefined).
Value float_to_int(double d) {
    if (!(d >= -0x1p127 && d < 0x1p127)) {
        raise("OverflowError", "integer result too large");
    }
    return Value::integer(static_cast<Int128>(d));
}

std::string title_case(const std::string& s) {
    // jinja2's do_title: words begin after runs of whitespace, '-', '(', '{', '[', '<'.
    charge_bytes(3 * s.size()); // each character classified and mapped
    std::string out;
    bool word_start = true;
    for (auto ch : utf8_chars(s)) {
        bool sep =
            is_python_space(ch) || ch == "-" || ch == "(" || ch == "{" || ch == "[" || ch == "<";
        if (sep) {
            out += ch;
            word_start = true;
        } else if (ch.size() == 1) { // ASCII without a string per character: a long text
            unsigned char c = static_cast<unsigned char>(ch[0]);
            out += static_cast<char>(word_start ? std::toupper(c) : std::tolower(c));
            word_start = false;
        } else {
            out += word_start ? utf8_upper(ch) : utf8_lower(ch);
            word_start = false;
        }
    }
    return out;
}

std::string escape_html(const std::string& s) {
    charge_bytes(s.size());
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&#34;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace

std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right) {
    auto chs = utf8_chars(s);
    std::vector<std::string_view> set;
    bool whitespace = chars.is_undefined() || chars.is_none();
    std::string chars_str = whitespace ? std::string() : chars.str();
    if (!whitespace) {
        set = utf8_chars(chars_str);
    }
    auto strip = [&](std::string_view c) {
        return whitespace ? is_python_space(c) : std::find(set.begin(), set.end(), c) != set.end();
    };
    size_t lo = 0;
    size_t hi = chs.size();
    while (left && lo < hi && strip(chs[lo])) {
        ++lo;
    }
    while (right && hi > lo && strip(chs[hi - 1])) {
        --hi;
    }
    std::string out;
    for (size_t i = lo; i < hi; ++i) {
        out += chs[i];
    }
    charge_bytes(out.size());
    return out;
}

Value f_string(Interpreter&, Value& v, Args&) {
    return Value(v.str());
}
Value f_trim(Interpreter&, Value& v, Args& a) {
    return Value(strip_chars(v.str(), a.get(0, "chars"), true, true));
}
Value f_upper(Interpreter&, Value& v, Args&) {
    return Value(utf8_upper(v.str()));
}
Value f_lower(Interpreter&, Value& v, Args&) {
    return Value(utf8_lower(v.str()));
}
Value f_title(Interpreter&, Value& v, Args&) {
    return Value(title_case(v.str()));
}
Value f_capitalize(Interpreter&, Value& v, Args&) {
    std::string text = v.str();
    auto chars = utf8_chars(text);
    std::string out;
    for (size_t i = 0; i < chars.size(); ++i) {
        out += i == 0 ? utf8_upper(chars[i]) : utf8_lower(chars[i]);
    }
    charge_bytes(3 * out.size()); // a string made for each character
    return Value(std::move(out));
}
Value f_escape(Interpreter&, Value& v, Args&) {
    return Value(escape_html(v.str()));
}
Value f_safe(Interpreter&, Value& v, Args&) {
    return v.is_string() ? v : Value(v.str());
}

Value f_replace(Interpreter& in, Value& v, Args& a) {
    std::string s = v.str();
    std::string old = a.string(0, "old");
    std::string repl = a.string(1, "new");
    Value count_v = a.get(2, "count", Value(nullptr));
    int64_t count = count_v.is_int() ? count_v.as_int() : -1;
    std::string out;
    if (old.empty()) {
        auto chars = utf8_chars(s);
        int64_t done = 0;
        for (auto ch : chars) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            out += ch;
            check_string_size(out.size(), in.limits());
        }
        if (count < 0 || done < count) {
            out += repl;
        }
        charge_bytes(out.size());
        return Value(std::move(out));
    }
    size_t pos = 0;
    for (int64_t done = 0; count < 0 || done < count; ++done) {
        size_t hit = find_text(s, old, pos);
        if (hit == std::string::npos) {
            break;
        }
        charge_copy(repl.size());
        out.append(s, pos, hit - pos);
        out += repl;
        pos = hit + old.size();
        check_string_size(out.size(), in.limits());
    }
    out.append(s, pos);
    return Value(std::move(out));
}

Value f_int(Interpreter&, Value& v, Args& a) {
    Value fallback = a.get(0, "default", Value(0));
    int64_t base = a.integer(1, "base", 10);
    v.require_defined(); // int(Undefined) fails with UndefinedError, which jinja2 lets through
    if (v.is_int() || v.is_bool()) {
        return Value::integer(v.as_wide());
    }
    if (v.is_float()) {
        return std::isfinite(v.as_double()) ? float_to_int(v.as_double()) : fallback;
    }
    if (v.is_string()) {
        std::string s = strip_chars(v.as_string(), Value(), true, true);
        charge_bytes(2 * s.size()); // parsed as a number
        char* end = nullptr;
        // Python's int(s, base) takes base 0 or 2..36; another is a ValueError, which jinja2
        // answers by trying float(s). strtoll would not even set `end` for it.
        if (base == 0 || (base >= 2 && base <= 36)) {
            errno = 0;
            long long i = std::strtoll(s.c_str(), &end, static_cast<int>(base));
            if (!s.empty() && end && *end == '\0' && errno == 0) {
                return Value(static_cast<int64_t>(i));
            }
            // Past 64 bits, decimal digits are still an exact int (Python's have no bound).
            if (errno == ERANGE && (base == 10 || base == 0)) {
                if (auto wide = parse_int128(s)) {
                    return Value::integer(*wide);
                }
            }
        }
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == '\0' && std::isfinite(d)) {
            return float_to_int(d);
        }
    }
    return fallback;
}

Value f_float(Interpreter&, Value& v, Args& a) {
    Value fallback = a.get(0, "default", Value(0.0));
    v.require_defined(); // as f_int
    if (v.is_number()) {
        return Value(v.as_double());
    }
    if (v.is_string()) {
        std::string s = strip_chars(v.as_string(), Value(), true, true);
        charge_bytes(2 * s.size()); // parsed as a number
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == '\0') {
            return Value(d);
        }
    }
    return fallback;
}

Value f_abs(Interpreter&, Value& v, Args&) {
    if (v.is_int() || v.is_bool()) {
        const Int128 x = v.as_wide();
        if (x == kInt128Min) {
            raise("OverflowError", "integer result too large");
        }
        return Value::integer(x < 0 ? -x : x);
    }
    if (v.is_float()) {
        return Value(std::fabs(v.as_double()));
    }
    raise("TypeError", "bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(Interpreter&, Value& v, Args& a) {
    int64_t precision = a.integer(0, "precision", 0);
    std::string method = a.string(1, "method", "common");
    if (method != "common" && method != "ceil" && method != "floor") {
        raise("FilterArgumentError", "method must be common, ceil or floor");
    }
    if (!v.is_number()) {
        raise("TypeError", "type " + v.type_name() + " doesn't define __round__ method");
    }
    double x = v.as_double();
    if (method == "common") {
        if (v.is_int() || v.is_bool()) {
            // Python: round(int, n) is an int
            return precision >= 0 ? Value::integer(v.as_wide()) : Value(x);
        }
        // Python rounds the exact binary value half-to-even, as glibc's printf does.
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f",
                      static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), x);
        return Value(std::strtod(buf, nullptr));
    }
    double scale = std::pow(10.0, static_cast<double>(precision));
    return Value((method == "ceil" ? std::ceil(x * scale) : std::floor(x * scale)) / scale);
}

Value f_indent(Interpreter& in, Value& v, Args& a) {
    Value width = a.get(0, "width", Value(4));
    bool first = a.boolean(1, "first", false);
    bool blank = a.boolean(2, "blank", false);
    // The width comes from the template: bounded before the indentation string is built.
    if (!width.is_string()) {
        check_string_size(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), in.limits());
    }
    // jinja2 appends "\n" to the value and splits its lines: only text has them.
    v.require_defined();
    if (v.is_list() && !v.is_tuple()) {
        raise("AttributeError", "'list' object has no attribute 'splitlines'");
    }
    if (v.is_tuple()) {
        raise("TypeError", "can only concatenate tuple (not \"str\") to tuple");
    }
    if (!v.is_string()) {
        raise("TypeError", "unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
    }
    std::string indention =
        width.is_string()
            ? width.as_string()
            : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
    std::string s = v.str() + "\n";
    charge_copy(s.size());
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t nl = s.find_first_of("\r\n", pos);
        charge_items(1);
        lines.push_back(s.substr(pos, nl - pos));
        pos = nl + ((s[nl] == '\r' && nl + 1 < s.size() && s[nl + 1] == '\n') ? 2 : 1);
    }
    std::string rv;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            rv += "\n";
            if (blank || !lines[i].empty()) {
                rv += indention;
            }
        }
        rv += lines[i];
        check_string_size(rv.size() + indention.size(), in.limits());
    }
    charge_copy(rv.size());
    return Value(first ? indention + rv : rv);
}

Value f_wordcount(Interpreter&, Value& v, Args&) {
    int64_t count = 0;
    bool in_word = false;
    std::string text = v.str();
    charge_bytes(2 * text.size()); // each character classified
    for (auto ch : utf8_chars(text)) {
        unsigned char c = static_cast<unsigned char>(ch[0]);
        bool word = c >= 0x80 ? !is_python_space(ch) : (std::isalnum(c) || c == '_');
        if (word && !in_word) {
            ++count;
        }
        in_word = word;
    }
    return Value(count);
}

Value f_format(Interpreter& in, Value& v, Args& a) {
    if (!a.raw().keywords.empty()) {
        std::vector<std::pair<Value, Value>> items;
        for (auto& [k, x] : a.raw().keywords) {
            items.emplace_back(Value(k), x);
        }
        return Value(percent_format(v.str(), Value::dict(std::move(items)), in.limits()));
    }
    return Value(percent_format(v.str(), Value::list(a.raw().positional, true), in.limits()));
}

Value f_center(Interpreter& in, Value& v, Args& a) {
    std::string s = v.str();
    int64_t width = a.integer(0, "width", 80);
    check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)), in.limits());
    int64_t n = static_cast<int64_t>(utf8_length(s));
    if (width <= n) {
        return Value(s);
    }
    int64_t total = width - n;
    int64_t left = total / 2 + (total & width & 1);
    charge_bytes(static_cast<size_t>(width)); // new text, a fresh allocation
    return Value(std::string(static_cast<size_t>(left), ' ') + s +
                 std::string(static_cast<size_t>(total - left), ' '));
}

} // namespace hearth::jinja::filters
