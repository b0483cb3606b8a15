// JSON text for hearth-cli's and hearth-bench's --json output, valid for every input: strings
// that are not UTF-8 (a GGUF's metadata, a file name with byte 0xFF) are written with each
// invalid sequence replaced by U+FFFD, as Python's errors="replace" does, rather than making
// nlohmann throw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hearth::cli {

inline std::string json_text(const nlohmann::json& value) {
    return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace hearth::cli
