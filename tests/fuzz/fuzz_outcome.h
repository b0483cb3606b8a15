// What the fuzz targets' entry functions share: the render options they use, and a short,
// deterministic description of a result (an error verbatim, a text as its length and hash)
// that the regression tests record and compare.
#pragma once

#include "hearth/chat_template.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace hearth::fuzz {

inline constexpr int64_t kFrozenNow = 1736937045; // 2025-01-15 10:30:45 UTC: reproducible

// The default depth bounds (stack overflow is what they guard against, and the fuzzer must
// see it as the app does), with a smaller output bound and work budget than the app's so that
// one input runs in milliseconds: libFuzzer needs many runs per second to explore, and an
// input past 5 s counts as a hang (timeout-nested-list-loop.input).
inline RenderOptions fuzz_render_options() {
    RenderOptions options;
    options.limits.max_output_bytes = 1u << 20;
    options.limits.max_work = 5'000'000;
    options.now_unix = kFrozenNow;
    return options;
}

// One tool schema, for the renders that pass tools.
inline nlohmann::ordered_json fuzz_tools() {
    using Json = nlohmann::ordered_json;
    return Json::array({{{"type", "function"},
                         {"function",
                          {{"name", "get_time"},
                           {"description", "The time now"},
                           {"parameters",
                            {{"type", "object"},
                             {"properties", {{"tz", {{"type", "string"}}}}},
                             {"required", Json::array({"tz"})}}}}}}});
}

// FNV-1a: a stable digest of a rendered text, so that recorded outcomes stay small.
inline uint64_t fnv1a(std::string_view text) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char c : text) {
        h = (h ^ c) * 0x100000001b3ull;
    }
    return h;
}

inline std::string describe_error(const Error& error) {
    return std::string("error (") + error_code_name(error.code) + "): " + error.message;
}

inline std::string describe(const Result<std::string>& result) {
    if (!result) {
        return describe_error(result.error());
    }
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a(*result)));
    return "ok, " + std::to_string(result->size()) + " bytes, fnv1a " + hash;
}

} // namespace hearth::fuzz
