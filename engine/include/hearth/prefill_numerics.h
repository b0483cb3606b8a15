// Which matrix kernels a prompt batch runs on the CPU: the exact ones (ggml's AVX2 operation
// order, bit for bit; the library's default, which the differential tests rely on) or the fast
// int8 path (weights re-expressed as 8-row int8 blocks; within the tolerance stated in
// docs/ARCHITECTURE.md, "Fast prefill numerics"). Fast is opt-in (HEARTH_PREFILL=fast) for
// programs too: a prompt's short batches (a reused prefix's remainder, under 32 tokens) run
// the exact kernels, so with fast numerics a reply would depend on what the cache held.
#pragma once

#include <string_view>

namespace hearth {

enum class PrefillNumerics { exact, fast };

// The setting in use: set_prefill_numerics()'s, else HEARTH_PREFILL=fast|exact from the
// environment (read once), else exact. Process-wide, as the CPU kernel level is.
PrefillNumerics prefill_numerics();
// Not thread-safe against running forward passes: set it before loading or between calls.
void set_prefill_numerics(PrefillNumerics numerics);

std::string_view prefill_numerics_name(PrefillNumerics numerics);

} // namespace hearth
