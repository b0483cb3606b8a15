// The memory arithmetic of running a model, computed before loading: weights, KV cache,
// scratch and runtime overhead, and whether that fits the memory this machine has.
#pragma once

#include "hearth/model_info.h"

#include <cstdint>
#include <optional>
#include <string>

namespace hearth {

enum class KvCacheType { f16, q8_0 };
enum class DeviceKind { cpu, cuda };

struct MemoryPlanOptions {
    uint32_t n_ctx = 0;     // tokens per sequence; 0 means the trained context
    uint32_t n_seq = 1;     // sequences decoded together (compare mode, server)
    uint32_t n_batch = 512; // prompt tokens processed per forward pass
    KvCacheType kv_type = KvCacheType::f16;
    DeviceKind device = DeviceKind::cpu;
};

struct MemoryPlan {
    uint32_t n_ctx = 0;
    uint32_t n_seq = 1;
    uint64_t weights_bytes = 0;
    // 2 (K and V) × layers × KV heads × head size × bytes per element
    double kv_bytes_per_token = 0;
    uint64_t kv_bytes = 0;       // kv_bytes_per_token × n_ctx × n_seq
    uint64_t scratch_bytes = 0;  // activations of one batch and the logits
    uint64_t overhead_bytes = 0; // runtime: CUDA context and cuBLAS workspace on a GPU
    uint64_t total_bytes = 0;
};

MemoryPlan plan_memory(const ModelInfo& info, const MemoryPlanOptions& options);

enum class Fit { fits, tight, wont_fit };

// Compares a need with what is available: `tight` above 85% of it.
Fit assess_fit(uint64_t needed_bytes, uint64_t available_bytes);
const char* fit_name(Fit fit);

// Physical memory: total and currently available (MemAvailable), from /proc/meminfo.
struct HostMemory {
    uint64_t total_bytes = 0;
    uint64_t available_bytes = 0;
};
std::optional<HostMemory> read_host_memory();

// "1.23 GiB", "512.0 MiB", "900 B".
std::string format_bytes(double bytes);

} // namespace hearth
