// Memory arithmetic before loading: what a model needs at a context, and what we have.
#include "hearth/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace hearth {

MemoryPlan plan_memory(const ModelInfo& info, const MemoryPlanOptions& options) {
    MemoryPlan plan;
    plan.n_ctx = options.n_ctx ? options.n_ctx : info.n_ctx_train;
    plan.n_seq = std::max<uint32_t>(options.n_seq, 1);
    plan.weights_bytes = info.weights_bytes;

    // Q8_0 stores 32 values in 34 bytes; F16 two bytes a value.
    const double bytes_per_element = options.kv_type == KvCacheType::q8_0 ? 34.0 / 32.0 : 2.0;
    plan.kv_bytes_per_token = static_cast<double>(info.n_layer) * info.n_head_kv *
                              (info.head_dim_k + info.head_dim_v) * bytes_per_element;
    plan.kv_bytes = static_cast<uint64_t>(plan.kv_bytes_per_token * plan.n_ctx * plan.n_seq);

    // One batch of activations in float32: the residual stream and its normalised copy,
    // Q/K/V, the attention output, the feed-forward gate and up projections, plus one
    // row of attention scores per head over the whole context, and one row of logits
    // per sequence.
    const uint64_t n_batch = std::max<uint32_t>(options.n_batch, 1);
    const uint64_t q_width = static_cast<uint64_t>(info.n_head) * info.head_dim_k;
    const uint64_t kv_width =
        static_cast<uint64_t>(info.n_head_kv) * (info.head_dim_k + info.head_dim_v);
    const uint64_t per_token = 3ull * info.n_embd + q_width + kv_width + 2ull * info.n_ff;
    const uint64_t scores = static_cast<uint64_t>(info.n_head) * plan.n_ctx;
    plan.scratch_bytes =
        4 * (n_batch * per_token + scores + static_cast<uint64_t>(info.n_vocab) * plan.n_seq);

    // A CUDA context and cuBLAS workspace cost a few hundred MiB of device memory.
    plan.overhead_bytes = options.device == DeviceKind::cuda ? 400ull << 20 : 0;
    plan.total_bytes =
        plan.weights_bytes + plan.kv_bytes + plan.scratch_bytes + plan.overhead_bytes;
    return plan;
}

Fit assess_fit(uint64_t needed_bytes, uint64_t available_bytes) {
    if (needed_bytes > available_bytes) {
        return Fit::wont_fit;
    }
    return needed_bytes * 100 > available_bytes * 85 ? Fit::tight : Fit::fits;
}

const char* fit_name(Fit fit) {
    switch (fit) {
    case Fit::fits:
        return "fits";
    case Fit::tight:
        return "tight";
    case Fit::wont_fit:
        return "will not fit";
    }
    return "?";
}

std::optional<HostMemory> read_host_memory() {
    std::ifstream meminfo("/proc/meminfo");
    if (!meminfo) {
        return std::nullopt;
    }
    HostMemory memory;
    std::string line;
    while (std::getline(meminfo, line)) {
        std::istringstream fields(line);
        std::string key;
        uint64_t kib = 0;
        fields >> key >> kib;
        if (key == "MemTotal:") {
            memory.total_bytes = kib * 1024;
        } else if (key == "MemAvailable:") {
            memory.available_bytes = kib * 1024;
        }
    }
    if (memory.total_bytes == 0) {
        return std::nullopt;
    }
    return memory;
}

std::string format_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char buffer[32];
    if (unit == 0) {
        std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
    } else {
        std::snprintf(buffer, sizeof buffer, "%.2f %s", bytes, units[unit]);
    }
    return buffer;
}

} // namespace hearth
