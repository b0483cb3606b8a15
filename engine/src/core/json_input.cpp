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
        return nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& error) {
        // nlohmann's message names the byte and what it expected there.
        return fail(ErrorCode::bad_format,
                    fmt::format("{} is not valid JSON: {}", what, error.what()));
    }
}

} // namespace hearth
