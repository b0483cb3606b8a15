// Python's ints as Hearth keeps them: exact to 128 bits (jinja_value.h), printed in any base,
// parsed from decimal text, divided into a correctly rounded float, compared with floats
// exactly.
#include "chat/jinja_value.h"

#include <algorithm>
#include <cmath>

namespace hearth::jinja {

std::string int128_digits(Int128 v, unsigned base, bool upper, bool sign) {
    const char* digits =
        upper ? "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" : "0123456789abcdefghijklmnopqrstuvwxyz";
    UInt128 magnitude = v < 0 ? UInt128{0} - static_cast<UInt128>(v) : static_cast<UInt128>(v);
    std::string out;
    do {
        out += digits[static_cast<unsigned>(magnitude % base)];
        magnitude /= base;
    } while (magnitude != 0);
    if (v < 0 && sign) {
        out += '-';
    }
    std::reverse(out.begin(), out.end());
    return out;
}

std::optional<Int128> parse_int128(std::string_view text) {
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty()) {
        return std::nullopt;
    }
    // Accumulated negatively: the most negative value has no positive counterpart.
    Int128 value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_sub_overflow(value, c - '0', &value)) {
            return std::nullopt;
        }
    }
    if (!negative) {
        if (value == kInt128Min) {
            return std::nullopt;
        }
        value = -value;
    }
    return value;
}

double int_true_divide(Int128 x, Int128 y) {
    const bool negative = (x < 0) != (y < 0);
    const auto magnitude = [](Int128 v) {
        return v < 0 ? UInt128{0} - static_cast<UInt128>(v) : static_cast<UInt128>(v);
    };
    const UInt128 a = magnitude(x);
    const UInt128 b = magnitude(y);
    constexpr UInt128 exact = UInt128{1} << 53;
    if (a <= exact && b <= exact) { // both exact as doubles: one correctly rounded division
        const double q = static_cast<double>(a) / static_cast<double>(b);
        return negative ? -q : q;
    }
    // Long division to at least 55 significant bits, then a sticky bit for what remains:
    // converting that integer to double rounds exactly as the true quotient would round.
    UInt128 q = a / b;
    UInt128 r = a % b;
    int shift = 0;
    while (q < (UInt128{1} << 55)) {
        r <<= 1;
        q <<= 1;
        if (r >= b) {
            r -= b;
            q |= 1;
        }
        ++shift;
    }
    if (r != 0) {
        q |= 1;
    }
    const double result = std::ldexp(static_cast<double>(q), -shift);
    return negative ? -result : result;
}

int compare_int_float(Int128 v, double d) {
    if (d >= 0x1p127) {
        return -1;
    }
    if (d < -0x1p127) {
        return 1;
    }
    const double whole = std::trunc(d);
    const auto w = static_cast<Int128>(whole); // exact: |whole| < 2**127
    if (v != w) {
        return v < w ? -1 : 1;
    }
    return d > whole ? -1 : (d < whole ? 1 : 0);
}

} // namespace hearth::jinja
