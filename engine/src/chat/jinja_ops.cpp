// Jinja operators with Python's semantics: int/float arithmetic, str and list concatenation
// and repetition, `in`, slicing, and printf-style `%` formatting, with Python's messages.
#include "chat/jinja_interp.h"
#include "chat/jinja_utf8.h"

#include <cmath>
#include <cstdio>
#include <optional>

namespace hearth::jinja {

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
    raise("TypeError", "unsupported operand type(s) for " + std::string(op) + ": '" +
                           a.type_name() + "' and '" + b.type_name() + "'");
}

// Python integers do not overflow; Hearth's are exact to 128 bits and say so past them.
void check_overflow(bool overflow) {
    if (overflow) {
        raise("OverflowError", "integer result too large");
    }
}

Value repeat(const Value& seq, int64_t times, const Limits& limits) {
    size_t n = times > 0 ? static_cast<size_t>(times) : 0;
    if (seq.is_string() ? seq.as_string().empty() : seq.as_list().items.empty()) {
        n = 0; // '' * 2**62 is '' at once, not 2**62 empty appends
    }
    // Compared by division: size * n can wrap around and pass a multiplied check.
    if (seq.is_string()) {
        if (n > 0 && seq.as_string().size() > limits.max_output_bytes / n) {
            raise("MemoryError", "string repetition result is too large");
        }
        const size_t total = seq.as_string().size() * n;
        charge_copy(total);
        // By doubling: block copies, not one small append per repetition.
        std::string out;
        out.reserve(total);
        if (n > 0) {
            out = seq.as_string();
        }
        while (out.size() < total) {
            out.append(out, 0, std::min(out.size(), total - out.size()));
        }
        return Value(std::move(out));
    }
    const auto& items = seq.as_list().items;
    if (n > 0 && items.size() > kMaxListItems / n) {
        raise("MemoryError", "list repetition result is too large");
    }
    charge_items(items.size() * n);
    std::vector<Value> out;
    out.reserve(items.size() * n);
    for (size_t i = 0; i < n; ++i) {
        out.insert(out.end(), items.begin(), items.end());
    }
    return Value::list(std::move(out), seq.is_tuple());
}

// Flags, width and precision of one printf conversion ("%-08.3"), checked as Python reads
// them: flags, then a width, then a precision. Both numbers come from the template, so they
// are bounded by the output limit before anything is formatted.
struct FormatSpec {
    bool left = false;      // '-'
    bool plus = false;      // '+'
    bool space = false;     // ' '
    bool zero = false;      // '0'
    bool alternate = false; // '#'
    size_t width = 0;
    std::optional<size_t> precision;
};

FormatSpec parse_format_spec(std::string_view spec, const Limits& limits) {
    FormatSpec f;
    size_t i = 1; // past '%'
    while (i < spec.size() && std::string_view("-+ #0").find(spec[i]) != std::string_view::npos) {
        f.left = f.left || spec[i] == '-';
        f.plus = f.plus || spec[i] == '+';
        f.space = f.space || spec[i] == ' ';
        f.zero = f.zero || spec[i] == '0';
        f.alternate = f.alternate || spec[i] == '#';
        ++i;
    }
    auto number = [&] {
        size_t v = 0;
        for (; i < spec.size() && spec[i] >= '0' && spec[i] <= '9'; ++i) {
            v = v * 10 + static_cast<size_t>(spec[i] - '0');
            check_string_size(v, limits);
        }
        return v;
    };
    f.width = number();
    if (i < spec.size() && spec[i] == '.') {
        ++i;
        f.precision = number();
    }
    if (i < spec.size()) {
        raise("ValueError", std::string("unsupported format character '") + spec[i] + "'");
    }
    return f;
}

// %d %i %x %X %o of an exact integer, as Python formats it: the sign ('-', or '+' / ' ' by
// flag), the '#' prefix (0x, 0X, 0o), zeros up to the precision, then the width, filled with
// zeros after the prefix ('0') or with spaces on the left or, for '-', the right.
std::string format_integer(const FormatSpec& f, char conv, Int128 v) {
    const unsigned base = conv == 'x' || conv == 'X' ? 16 : conv == 'o' ? 8 : 10;
    std::string digits = int128_digits(v, base, conv == 'X', /*sign=*/false);
    if (f.precision && digits.size() < *f.precision) {
        digits.insert(0, *f.precision - digits.size(), '0');
    }
    std::string prefix = v < 0 ? "-" : f.plus ? "+" : f.space ? " " : "";
    if (f.alternate && base != 10) {
        prefix += conv == 'x' ? "0x" : conv == 'X' ? "0X" : "0o";
    }
    const size_t length = prefix.size() + digits.size();
    const size_t pad = f.width > length ? f.width - length : 0;
    charge_bytes(length + pad);
    if (f.left) {
        return prefix + digits + std::string(pad, ' ');
    }
    if (f.zero) {
        return prefix + std::string(pad, '0') + digits;
    }
    return std::string(pad, ' ') + prefix + digits;
}

// snprintf into a string of the size it needs (the spec's numbers are bounded already).
template <class T>
std::string c_format(const std::string& spec, T value) {
    int n = std::snprintf(nullptr, 0, spec.c_str(), value);
    if (n < 0) {
        raise("ValueError", "invalid format " + spec);
    }
    charge_bytes(static_cast<size_t>(n));
    std::string out(static_cast<size_t>(n) + 1, '\0');
    std::snprintf(out.data(), out.size(), spec.c_str(), value);
    out.resize(static_cast<size_t>(n));
    return out;
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
        return Value(b.less_than(a, ">", true));
    }
    if (op == "<=") {
        return Value(!b.less_than(a, "<=", true)); // total orders: numbers, strings, sequences
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
    Int128 r = 0;
    if (op == "+") {
        if (ints) {
            check_overflow(__builtin_add_overflow(a.as_wide(), b.as_wide(), &r));
            return Value::integer(r);
        }
        if (numbers) {
            return Value(a.as_double() + b.as_double());
        }
        if (a.is_string() && b.is_string()) {
            check_string_size(a.as_string().size() + b.as_string().size(), limits);
            charge_copy(a.as_string().size() + b.as_string().size());
            return Value(a.as_string() + b.as_string());
        }
        if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
            if (a.as_list().items.size() + b.as_list().items.size() > kMaxListItems) {
                raise("MemoryError", "list concatenation result is too large");
            }
            charge_items(a.as_list().items.size() + b.as_list().items.size());
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
            check_overflow(__builtin_sub_overflow(a.as_wide(), b.as_wide(), &r));
            return Value::integer(r);
        }
        if (numbers) {
            return Value(a.as_double() - b.as_double());
        }
        unsupported("-", a, b);
    }
    if (op == "*") {
        if (ints) {
            check_overflow(__builtin_mul_overflow(a.as_wide(), b.as_wide(), &r));
            return Value::integer(r);
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
        if (ints) {
            return Value(int_true_divide(a.as_wide(), b.as_wide())); // rounded once, as Python
        }
        return Value(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (a.is_string() && op == "%") {
            return Value(percent_format(a.as_string(), b, limits));
        }
        if (!numbers) {
            unsupported(op, a, b);
        }
        if (ints) {
            const Int128 x = a.as_wide();
            const Int128 y = b.as_wide();
            if (y == 0) {
                raise("ZeroDivisionError", "integer division or modulo by zero");
            }
            if (y == -1) { // x / -1 overflows for the most negative x
                if (op == "%") {
                    return Value(int64_t{0});
                }
                check_overflow(__builtin_sub_overflow(Int128{0}, x, &r));
                return Value::integer(r);
            }
            Int128 q = x / y;
            Int128 m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { // Python floors
                --q;
                m += y;
            }
            return Value::integer(op == "//" ? q : m);
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
        if (ints && b.as_wide() >= 0) {
            // Square and multiply: a few steps for any exponent, with -1, 0 and 1 as bases
            // that never overflow however large the exponent.
            Int128 base = a.as_wide();
            Int128 result = 1;
            for (Int128 e = b.as_wide(); e > 0; e >>= 1) {
                if (e & 1) {
                    check_overflow(__builtin_mul_overflow(result, base, &result));
                }
                if (e > 1) {
                    check_overflow(__builtin_mul_overflow(base, base, &base));
                }
            }
            return Value::integer(result);
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

void require_hashable(const Value& v) {
    if ((v.is_list() && !v.is_tuple()) || (v.is_dict() && !v.is_namespace())) {
        raise("TypeError", "unhashable type: '" + v.type_name() + "'");
    }
    if (v.is_tuple()) {
        NestingGuard guard(" while hashing a tuple");
        for (const Value& item : v.as_list().items) {
            charge_items(1);
            require_hashable(item);
        }
    }
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
        return find_text(container.as_string(), item.as_string()) != std::string_view::npos;
    case Kind::list:
        for (const auto& v : container.as_list().items) {
            charge_items(1);
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
    charge_items(picks.size());
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
std::string percent_format(const std::string& format, const Value& args, const Limits& limits) {
    charge_bytes(format.size());
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
        check_string_size(out.size(), limits);
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
        FormatSpec f = parse_format_spec(spec, limits);
        switch (conv) {
        case 's':
        case 'r': {
            // Python counts characters, not bytes, and the text may hold NULs: not snprintf.
            std::string s = conv == 's' ? arg.str() : arg.repr();
            if (f.precision) {
                auto chars = utf8_chars(s);
                if (chars.size() > *f.precision) {
                    s.resize(static_cast<size_t>(chars[*f.precision].data() - s.data()));
                }
            }
            size_t length = utf8_length(s);
            std::string pad(length < f.width ? f.width - length : 0, ' ');
            charge_bytes(pad.size() + s.size()); // new text, a fresh allocation
            out += f.left ? s + pad : pad + s;
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
            if (arg.is_float()) {
                if (conv != 'd' && conv != 'i') {
                    raise("TypeError",
                          std::string("%") + conv + " format: an integer is required, not float");
                }
                // Python's int(): past 128 bits it keeps growing; Hearth's says so.
                const double d = std::trunc(arg.as_double());
                if (!(d >= -0x1p127 && d < 0x1p127)) {
                    raise("OverflowError", "integer result too large");
                }
                out += format_integer(f, conv, static_cast<Int128>(d));
            } else {
                out += format_integer(f, conv, arg.as_wide());
            }
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
            out += c_format(spec, arg.as_double());
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
