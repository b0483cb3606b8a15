// The process-wide prefill numerics setting (hearth/prefill_numerics.h).
#include "hearth/prefill_numerics.h"

#include <atomic>
#include <cstdlib>
#include <string_view>

namespace hearth {
namespace {

PrefillNumerics from_environment() {
    const char* env = std::getenv("HEARTH_PREFILL");
    return env != nullptr && std::string_view(env) == "fast" ? PrefillNumerics::fast
                                                             : PrefillNumerics::exact;
}

std::atomic<PrefillNumerics>& setting() {
    static std::atomic<PrefillNumerics> value{from_environment()};
    return value;
}

} // namespace

PrefillNumerics prefill_numerics() {
    return setting().load(std::memory_order_relaxed);
}

void set_prefill_numerics(PrefillNumerics numerics) {
    setting().store(numerics, std::memory_order_relaxed);
}

std::string_view prefill_numerics_name(PrefillNumerics numerics) {
    return numerics == PrefillNumerics::fast ? "fast" : "exact";
}

} // namespace hearth
