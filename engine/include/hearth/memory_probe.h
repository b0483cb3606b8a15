// Measurements of this machine's memory that the doctor and hearth-bench share: the streaming
// read bandwidth (the decode roofline's denominator), the process's resident memory (the plan's
// prediction against the truth), and the KV cache's cost across context lengths.
#pragma once

#include "hearth/error.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hearth {

// The buffer the bandwidth probe streams: far larger than any CPU's last-level cache, so that
// the reads come from DRAM (docs/LIMITS.md).
inline constexpr size_t kBandwidthProbeBytes = size_t{256} << 20;

// Streaming read bandwidth of host memory in GB/s (10^9 bytes/s): `threads` threads each sum
// their slice of a `bytes` buffer (touched first, so that page faults are not timed), the best of
// `repetitions` passes. threads 0: one per physical core. Fails with `out_of_memory` when the
// buffer cannot be allocated, `invalid_argument` for a buffer under 1 MiB or no repetitions.
// Takes about a second at the defaults; for tools, never a test's assertion.
Result<double> measure_memory_bandwidth_gbs(int threads = 0, size_t bytes = kBandwidthProbeBytes,
                                            int repetitions = 5);

// The process's resident set (VmRSS of /proc/self/status) in bytes; nullopt when unreadable.
std::optional<uint64_t> read_resident_bytes();

// The plan's prediction against what the process holds after loading a model and creating its
// session (CPU): resident growth from `resident_before` (before Model::load) through
// `resident_after_load` to `resident_after` (the session created and run), compared part by
// part: the load against the weights, the session against the KV cache, state and scratch.
struct MemoryTruth {
    uint64_t predicted_bytes = 0;         // the plan's total
    uint64_t predicted_load_bytes = 0;    // the plan's weights
    uint64_t predicted_session_bytes = 0; // the plan's KV cache, recurrent state and scratch
    uint64_t resident_before = 0;
    uint64_t resident_after_load = 0;
    uint64_t resident_after = 0;
    uint64_t measured_bytes() const { return grew(resident_before, resident_after); }
    uint64_t measured_load_bytes() const { return grew(resident_before, resident_after_load); }
    uint64_t measured_session_bytes() const { return grew(resident_after_load, resident_after); }
    double difference() const; // (measured - predicted) / predicted; 0 when nothing predicted
    // "within 5%", or which part differs and why: the file's header and the tokenizer's tables
    // beside the weights, pages of the cache not yet written, ...
    std::string explanation = {};

private:
    static uint64_t grew(uint64_t from, uint64_t to) { return to > from ? to - from : 0; }
};
// The tolerance the memory truth is held to (docs/DOCTOR.md).
inline constexpr double kMemoryTruthTolerance = 0.05;
MemoryTruth compare_memory(const MemoryPlan& plan, uint64_t resident_before,
                           uint64_t resident_after_load, uint64_t resident_after);

// The KV cache (and recurrent state) at a context length, for the context-cost table and plot.
struct ContextCostPoint {
    uint32_t n_ctx = 0;
    uint64_t kv_bytes = 0;
    uint64_t total_bytes = 0;    // the whole plan at that context
    bool beyond_trained = false; // n_ctx is past the model's trained context
};
// The standard points: 2K, 8K, 32K, 128K tokens (kContextCostPoints), whether or not the model
// was trained that long (beyond_trained says).
inline constexpr uint32_t kContextCostPoints[] = {2048, 8192, 32768, 131072};
std::vector<ContextCostPoint> context_cost(const ModelInfo& info, KvCacheType kv_type,
                                           uint32_t n_seq = 1);

} // namespace hearth
