// Typed reads of values from the JSON files the app saves and reads back (conversations,
// compare sessions), which may have been edited, cut short or written by anyone: a value is
// taken only when it has the type and range asked for, never converted with a cast that
// could overflow.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

// `value` as a whole number when it is one within [low, high]; nullopt otherwise (a float,
// a string, a number out of range).
inline std::optional<int64_t> wholeNumberIn(const nlohmann::ordered_json& value, int64_t low,
                                            int64_t high) {
    if (value.is_number_unsigned()) {
        const uint64_t n = value.get<uint64_t>();
        if (high >= 0 && n <= uint64_t(high) && int64_t(n) >= low) {
            return int64_t(n);
        }
        return std::nullopt;
    }
    if (value.is_number_integer()) {
        const int64_t n = value.get<int64_t>();
        if (n >= low && n <= high) {
            return n;
        }
    }
    return std::nullopt;
}
