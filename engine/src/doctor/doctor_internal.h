// Helpers the doctor's files share: formatting of figures and fixes, and the memory fixes that
// both the checklist and the out-of-memory diagnosis offer.
#pragma once

#include "hearth/preflight.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::doctor {

// "8,192"
std::string thousands(uint64_t n);
// "0.7", "1.23e+03": a short number
std::string fmt_number(double value);
// format_bytes of an integer
std::string bytes_text(uint64_t n);
Figure bytes_figure(std::string label, uint64_t bytes);
Figure count_figure(std::string label, double value, std::string unit);

// Case-insensitive substring search.
bool contains_ci(std::string_view text, std::string_view needle);

nlohmann::ordered_json fix_json(const Fix& fix);

// The memory the plan must fit on the CPU side: the budget when stated, else MemAvailable;
// nullopt when neither is known.
std::optional<uint64_t> host_budget(const PreflightSettings& settings, const MachineFacts& machine);

// The changes that make the settings' plan fit `available` bytes on the CPU, computed: the
// largest context, a Q8_0 cache, a smaller quantization; best (smallest change) first.
std::vector<Fix> memory_fixes(const ModelInfo& info, const PreflightSettings& settings,
                              uint64_t available, const std::vector<QuantSibling>& siblings);

// The plan options the settings mean on the CPU.
MemoryPlanOptions plan_options(const ModelInfo& info, const PreflightSettings& settings);

} // namespace hearth::doctor
