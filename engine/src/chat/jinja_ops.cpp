// Jinja operators with Python's semantics: int/float arithmetic, str and list concatenation
// and repetition, `in`, slicing, and printf-style `%` formatting, with Python's messages.
#include "chat/jinja_interp.h"

#include <cmath>
#include <cstdio>

namespace hearth::jinja {

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
    raise("TypeError", "unsupported operand type(s) for " + std::string(op) + ": '" +
                           a.type_name() + "' and '" + b.type_name() + "'");
}

// Python integers do not overflow; Hearth's are 64-bit and say so instead of wrapping.
void check_overflow(bool overflow) {
    if (overflow) {
        raise("OverflowError", "integer result too large");
    }
}

Value repeat(const Value& seq, int64_t times, const Limits& limits) {
    size_t n = times > 0 ? static_cast<size_t>(times) : 0;
    if (seq.is_string()) {
        if (n > 0 && seq.as_string().size() * n > limits.max_output_bytes) {
            raise("MemoryError", "string repetition result is too large");
        }
        std::string out;
        out.reserve(seq.as_string().size() * n);
        for (size_t i = 0; i < n; ++i) {
            out += seq.as_string();
        }
        return Value(std::move(out));
    }
    const auto& items = seq.as_list().items;
    if (n > 0 && items.size() * n > limits.max_loop_iterations) {
        raise("MemoryError", "list repetition result is too large");
    }
    std::vector<Value> out;
    for (size_t i = 0; i < n; ++i) {
        out.insert(out.end(), items.begin(), items.end());
    }
    return Value::list(std::move(out), seq.is_tuple());
}

double python_fmod(double a, double b) {
    double m = std::fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0))) {
        m += b;
    }
    return m;
}

} // namespace

void check_string_size(size_t bytes, const Limits& limits) {
    if (bytes > limits.max_output_bytes) {
        raise("TemplateRuntimeError", "rendered output is too large (more than " +
                                          std::to_string(limits.max_output_bytes) + " bytes)");
    }
}

Value binary_op(std::string_view op, const Value& a, const Value& b, const Limits& limits) {
    if (op == "==") {
        return Value(a.equals(b));
    }
    if (op == "!=") {
        return Value(!a.equals(b));
    }
    if (op == "<") {
        return Value(a.less_than(b, "<"));
    }
    if (op == ">") {
        return Value(b.less_than(a, ">"));
    }
    if (op == "<=") {
        return Value(!b.less_than(a, "<=")); // total orders only: numbers, strings, sequences
    }
    if (op == ">=") {
        return Value(!a.less_than(b, ">="));
    }
    if (op == "~") {
        std::string out = a.str();
        b.append_str(out);
        check_string_size(out.size(), limits);
        return Value(std::move(out));
    }
    a.require_defined();
    b.require_defined();
    bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
    bool numbers = a.is_number() && b.is_number();
    int64_t r = 0;
    if (op == "+") {
        if (ints) {
            check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (numbers) {
            return Value(a.as_double() + b.as_double());
        }
        if (a.is_string() && b.is_string()) {
            check_string_size(a.as_string().size() + b.as_string().size(), limits);
            return Value(a.as_string() + b.as_string());
        }
        if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
            if (a.as_list().items.size() + b.as_list().items.size() > limits.max_loop_iterations) {
                raise("MemoryError", "list concatenation result is too large");
            }
            std::vector<Value> items = a.as_list().items;
            items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
            return Value::list(std::move(items), a.is_tuple());
        }
        if (a.is_string() || a.is_list()) {
            std::string t = a.type_name();
            raise("TypeError",
                  "can only concatenate " + t + " (not \"" + b.type_name() + "\") to " + t);
        }
        unsupported("+", a, b);
    }
    if (op == "-") {
        if (ints) {
            check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (numbers) {
            return Value(a.as_double() - b.as_double());
        }
        unsupported("-", a, b);
    }
    if (op == "*") {
        if (ints) {
            check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r));
            return Value(r);
        }
        if (numbers) {
            return Value(a.as_double() * b.as_double());
        }
        if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) {
            return repeat(a, b.as_int(), limits);
        }
        if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) {
            return repeat(b, a.as_int(), limits);
        }
        if (a.is_string() || a.is_list() || b.is_string() || b.is_list()) {
            raise("TypeError", "can't multiply sequence by non-int of type '" +
                                   (a.is_string() || a.is_list() ? b : a).type_name() + "'");
        }
        unsupported("*", a, b);
    }
    if (op == "/") {
        if (!numbers) {
            unsupported("/", a, b);
        }
        if (b.as_double() == 0) {
            raise("ZeroDivisionError", "division by zero");
        }
        return Value(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (a.is_string() && op == "%") {
            return Value(percent_format(a.as_string(), b));
        }
        if (!numbers) {
            unsupported(op, a, b);
        }
        if (ints) {
            int64_t x = a.as_int();
            int64_t y = b.as_int();
            if (y == 0) {
                raise("ZeroDivisionError", "integer division or modulo by zero");
            }
            int64_t q = x / y;
            int64_t m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                --q;
                m += y;
            }
            return Value(op == "//" ? q : m);
        }
        double x = a.as_double();
        double y = b.as_double();
        if (y == 0) {
            raise("ZeroDivisionError",
                  op == "//" ? "float floor division by zero" : "float modulo");
        }
        return Value(op == "//" ? std::floor(x / y) : python_fmod(x, y));
    }
    if (op == "**") {
        if (ints && b.as_int() >= 0) {
            int64_t base = a.as_int();
            int64_t result = 1;
            for (int64_t e = b.as_int(); e > 0; --e) {
                check_overflow(__builtin_mul_overflow(result, base, &result));
                if (result == 0 || result == 1) {
                    break;
                }
            }
            return Value(result);
        }
        if (numbers) {
            if (a.as_double() == 0 && b.as_double() < 0) {
                raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
            }
            return Value(std::pow(a.as_double(), b.as_double()));
        }
        unsupported("** or pow()", a, b);
    }
    raise("TemplateRuntimeError", "unknown operator " + std::string(op));
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
    case Kind::undefined:
        return false;
    case Kind::string:
        if (!item.is_string()) {
            if (item.is_undefined()) {
                item.require_defined();
            }
            raise("TypeError",
                  "'in <string>' requires string as left operand, not " + item.type_name());
        }
        return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::list:
        for (const auto& v : container.as_list().items) {
            if (v.equals(item)) {
                return true;
            }
        }
        return false;
    case Kind::dict:
        if (!container.is_namespace()) {
            return container.as_dict().find(item) != nullptr;
        }
        break;
    default:
        break;
    }
    raise("TypeError", "argument of type '" + container.type_name() + "' is not iterable");
}

Value slice(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
    object.require_defined();
    auto as_index = [](const Value& v) -> std::optional<int64_t> {
        if (v.is_none()) {
            return std::nullopt;
        }
        if (!(v.is_int() || v.is_bool())) {
            v.require_defined();
            raise("TypeError",
                  "slice indices must be integers or None or have an __index__ method");
        }
        return v.as_int();
    };
    std::optional<int64_t> start = as_index(start_v);
    std::optional<int64_t> stop = as_index(stop_v);
    int64_t step = as_index(step_v).value_or(1);
    if (step == 0) {
        raise("ValueError", "slice step cannot be zero");
    }
    std::vector<std::string_view> chars;
    int64_t n = 0;
    if (object.is_string()) {
        chars = utf8_chars(object.as_string());
        n = static_cast<int64_t>(chars.size());
    } else if (object.is_list()) {
        n = static_cast<int64_t>(object.as_list().items.size());
    } else {
        raise("TypeError", "'" + object.type_name() + "' object is not subscriptable");
    }
    // Python's PySlice_AdjustIndices.
    auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) {
            return dflt;
        }
        int64_t i = *v;
        if (i < 0) {
            i += n;
            if (i < 0) {
                i = step < 0 ? -1 : 0;
            }
        } else if (i >= n) {
            i = step < 0 ? n - 1 : n;
        }
        return i;
    };
    int64_t lo = adjust(start, step < 0 ? n - 1 : 0);
    int64_t hi = adjust(stop, step < 0 ? -1 : n);
    std::vector<int64_t> picks;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
        picks.push_back(i);
    }
    if (object.is_string()) {
        std::string out;
        for (int64_t i : picks) {
            out += chars[static_cast<size_t>(i)];
        }
        return Value(std::move(out));
    }
    std::vector<Value> out;
    for (int64_t i : picks) {
        out.push_back(object.as_list().items[static_cast<size_t>(i)]);
    }
    return Value::list(std::move(out), object.is_tuple());
}

// printf-style formatting: %s %r %d %i %f %e %g %x %o %c %% with flags, width and precision,
// and %(name)s with a dict.
std::string percent_format(const std::string& format, const Value& args) {
    std::vector<Value> positional;
    if (args.is_tuple()) {
        positional = args.as_list().items;
    } else if (!args.is_dict()) {
        positional.push_back(args);
    }
    size_t next_arg = 0;
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out += format[i];
            continue;
        }
        if (++i >= format.size()) {
            raise("ValueError", "incomplete format");
        }
        Value arg;
        bool have_arg = false;
        if (format[i] == '(') {
            size_t close = format.find(')', i);
            if (close == std::string::npos || !args.is_dict()) {
                raise("TypeError", "format requires a mapping");
            }
            const Value* v =
                args.as_dict().find(std::string_view(format).substr(i + 1, close - i - 1));
            if (!v) {
                raise("KeyError", python_repr(format.substr(i + 1, close - i - 1)));
            }
            arg = *v;
            have_arg = true;
            i = close + 1;
        }
        std::string spec = "%";
        while (i < format.size() &&
               std::string_view("-+ #0123456789.").find(format[i]) != std::string_view::npos) {
            spec += format[i++];
        }
        if (i >= format.size()) {
            raise("ValueError", "incomplete format");
        }
        char conv = format[i];
        if (conv == '%') {
            out += '%';
            continue;
        }
        if (!have_arg) {
            if (next_arg >= positional.size()) {
                raise("TypeError", "not enough arguments for format string");
            }
            arg = positional[next_arg++];
        }
        char buf[512];
        switch (conv) {
        case 's':
        case 'r': {
            std::string s = conv == 's' ? arg.str() : arg.repr();
            spec += 's';
            std::snprintf(buf, sizeof buf, spec.c_str(), s.c_str());
            out += s.size() + 64 > sizeof buf ? s : std::string(buf);
            break;
        }
        case 'd':
        case 'i':
        case 'x':
        case 'X':
        case 'o':
            if (!arg.is_number()) {
                raise("TypeError", std::string("%") + conv +
                                       " format: a real number is required, not " +
                                       arg.type_name());
            }
            spec += conv == 'i' ? std::string("lld") : std::string("ll") + conv;
            std::snprintf(buf, sizeof buf, spec.c_str(),
                          static_cast<long long>(arg.is_float()
                                                     ? std::trunc(arg.as_double())
                                                     : static_cast<double>(arg.as_int())));
            out += buf;
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (!arg.is_number()) {
                raise("TypeError", "must be real number, not " + arg.type_name());
            }
            spec += conv;
            std::snprintf(buf, sizeof buf, spec.c_str(), arg.as_double());
            out += buf;
            break;
        default:
            raise("ValueError", std::string("unsupported format character '") + conv + "'");
        }
    }
    if (next_arg < positional.size() && !args.is_dict()) {
        raise("TypeError", "not all arguments converted during string formatting");
    }
    return out;
}

} // namespace hearth::jinja
