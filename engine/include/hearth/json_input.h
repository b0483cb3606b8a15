// JSON that comes from outside Hearth (a messages file, --tools and --var values, a
// conversation file, a request body): parsed with explicit bounds on size and nesting, so
// that no input can exhaust the stack or memory of a later recursive walk over the value
// (nlohmann's dump, the Jinja interpreter's conversion). Never throws.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

namespace hearth {

// docs/LIMITS.md, "JSON input".
struct JsonLimits {
    size_t max_bytes = size_t{64} << 20; // the whole text
    size_t max_depth = 512;              // arrays and objects inside one another
};

// The deepest nesting of arrays and objects in `text`, counted by one scan that skips
// strings (no recursion, no allocation). Text that is not JSON still gets a count.
size_t json_nesting_depth(std::string_view text);

// The deepest nesting of arrays and objects in a parsed value (a scalar is 0, `[]` is 1),
// found without recursion: for values that a caller built rather than parsed here.
size_t json_value_depth(const nlohmann::ordered_json& value);

// Parses `text` as one JSON value. `what` names the input in the error message ("the
// messages file", "--var tools"). Fails with bad_format on malformed JSON, invalid UTF-8,
// text past either limit (the message names the limit), or an integer outside -2**63 to
// 2**64 - 1: nlohmann would keep it only as a rounded float, and a template would print a
// different number than the file holds (Python keeps it exactly).
Result<nlohmann::ordered_json> parse_json_input(std::string_view text, std::string_view what,
                                                const JsonLimits& limits = {});

} // namespace hearth
