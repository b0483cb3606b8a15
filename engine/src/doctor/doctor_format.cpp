// Formatting shared by the checks and diagnoses: counts, bytes, figures.
#include "doctor_internal.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace hearth::doctor {

std::string thousands(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

std::string bytes_text(uint64_t n) {
    return format_bytes(static_cast<double>(n));
}

Figure bytes_figure(std::string label, uint64_t bytes) {
    return {std::move(label), bytes_text(bytes), static_cast<double>(bytes), "B"};
}

Figure count_figure(std::string label, double value, std::string unit) {
    const bool whole = value == static_cast<double>(static_cast<int64_t>(value));
    std::string text =
        whole ? thousands(static_cast<uint64_t>(std::max(value, 0.0))) : fmt_number(value);
    if (!unit.empty()) {
        text += " " + unit;
    }
    return {std::move(label), std::move(text), value, std::move(unit)};
}

std::string fmt_number(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
    return buffer;
}

bool contains_ci(std::string_view text, std::string_view needle) {
    if (needle.empty()) {
        return true;
    }
    auto lower = [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    };
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                       [&](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

} // namespace hearth::doctor
