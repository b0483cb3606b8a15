// Bounded parsing of JSON from outside: size and nesting checked before nlohmann parses.
#include "hearth/json_input.h"

#include <algorithm>
#include <fmt/format.h>
#include <utility>
#include <vector>

namespace hearth {

size_t json_nesting_depth(std::string_view text) {
    size_t depth = 0;
    size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

namespace {

// A SAX pass that finds the first integer nlohmann could not keep exactly: it reaches
// number_float with text that has no fraction or exponent.
struct InexactIntegerFinder : nlohmann::json_sax<nlohmann::ordered_json> {
    std::string found;

    bool number_float(number_float_t, const string_t& text) override {
        if (found.empty() && text.find_first_of(".eE") == string_t::npos) {
            found = text;
        }
        return true;
    }
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }
};

// Whether the text has 19 digits in a row anywhere: an integer outside nlohmann's exact range
// has at least that many, and most texts (a tokenizer.json of 20 MB) have none, so they skip
// the second pass.
bool has_long_digit_run(std::string_view text) {
    size_t run = 0;
    for (const char c : text) {
        run = c >= '0' && c <= '9' ? run + 1 : 0;
        if (run >= 19) {
            return true;
        }
    }
    return false;
}

} // namespace

size_t json_value_depth(const nlohmann::ordered_json& value) {
    std::vector<std::pair<const nlohmann::ordered_json*, size_t>> pending{{&value, 0}};
    size_t deepest = 0;
    while (!pending.empty()) {
        const auto [item, depth] = pending.back();
        pending.pop_back();
        if (!item->is_array() && !item->is_object()) {
            continue;
        }
        deepest = std::max(deepest, depth + 1);
        for (const auto& child : *item) {
            pending.emplace_back(&child, depth + 1);
        }
    }
    return deepest;
}

Result<nlohmann::ordered_json> parse_json_input(std::string_view text, std::string_view what,
                                                const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} is {} bytes, over the limit of {} bytes for JSON input", what,
                                text.size(), limits.max_bytes));
    }
    if (const size_t depth = json_nesting_depth(text); depth > limits.max_depth) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} nests arrays and objects {} deep, over the limit of {}", what,
                                depth, limits.max_depth));
    }
    try {
        nlohmann::ordered_json value = nlohmann::ordered_json::parse(text);
        InexactIntegerFinder finder;
        if (has_long_digit_run(text)) {
            nlohmann::ordered_json::sax_parse(text, &finder);
        }
        if (!finder.found.empty()) {
            const std::string shown =
                finder.found.size() > 48 ? finder.found.substr(0, 45) + "..." : finder.found;
            return fail(ErrorCode::bad_format,
                        fmt::format("{} holds the integer {}, outside the range Hearth keeps "
                                    "exactly (-2^63 to 2^64 - 1)",
                                    what, shown));
        }
        return value;
    } catch (const nlohmann::json::exception& error) {
        // nlohmann's message names the byte and what it expected there.
        return fail(ErrorCode::bad_format,
                    fmt::format("{} is not valid JSON: {}", what, error.what()));
    }
}

} // namespace hearth
