// Host memory measured: streaming read bandwidth, the process's resident set, the plan against
// it, and the KV cache's cost across context lengths.
#include "hearth/memory_probe.h"

#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <new>
#include <thread>
#include <vector>

namespace hearth {
namespace {

// Sums a slice: the compiler vectorises it into a stream of wide loads.
uint64_t sum_words(const uint64_t* words, size_t n) {
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a += words[i];
        b += words[i + 1];
        c += words[i + 2];
        d += words[i + 3];
    }
    for (; i < n; ++i) {
        a += words[i];
    }
    return a + b + c + d;
}

} // namespace

Result<double> measure_memory_bandwidth_gbs(int threads, size_t bytes, int repetitions) {
    if (bytes < (size_t{1} << 20) || repetitions < 1) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the bandwidth probe needs at least 1 MiB and one repetition "
                                "(got {} bytes, {} repetitions)",
                                bytes, repetitions));
    }
    const size_t n_words = bytes / sizeof(uint64_t);
    std::unique_ptr<uint64_t[]> buffer(new (std::nothrow) uint64_t[n_words]);
    if (!buffer) {
        return fail(ErrorCode::out_of_memory,
                    fmt::format("the bandwidth probe could not allocate {} bytes", bytes));
    }
    for (size_t i = 0; i < n_words; ++i) { // touch every page before timing
        buffer[i] = i;
    }
    const int n_threads = threads > 0 ? threads : cpu::default_thread_count();
    std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
    double best_seconds = 0;
    for (int rep = 0; rep < repetitions; ++rep) {
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (int t = 0; t < n_threads; ++t) {
            workers.emplace_back([&, t] {
                const size_t begin = n_words * size_t(t) / size_t(n_threads);
                const size_t end = n_words * size_t(t + 1) / size_t(n_threads);
                sums[size_t(t)] += sum_words(buffer.get() + begin, end - begin);
            });
        }
        for (std::thread& worker : workers) {
            worker.join();
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best_seconds = rep == 0 ? seconds : std::min(best_seconds, seconds);
    }
    // The sums must be used, or the reads could be optimised away.
    volatile uint64_t sink = 0;
    for (uint64_t s : sums) {
        sink = sink + s;
    }
    return double(n_words * sizeof(uint64_t)) / std::max(best_seconds, 1e-9) / 1e9;
}

std::optional<uint64_t> read_resident_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmRSS:")) {
            uint64_t kib = 0;
            if (std::sscanf(line.c_str() + 6, "%lu", &kib) == 1) {
                return kib * 1024;
            }
        }
    }
    return std::nullopt;
}

double MemoryTruth::difference() const {
    if (predicted_bytes == 0) {
        return 0;
    }
    return (double(measured_bytes()) - double(predicted_bytes)) / double(predicted_bytes);
}

namespace {

// "+3.2% (+1.50 MiB)"
std::string deviation(uint64_t measured, uint64_t predicted) {
    const double delta = double(measured) - double(predicted);
    return fmt::format("{:+.1f}% ({}{})", predicted ? 100 * delta / double(predicted) : 0.0,
                       delta < 0 ? "-" : "+", format_bytes(std::abs(delta)));
}

} // namespace

MemoryTruth compare_memory(const MemoryPlan& plan, uint64_t resident_before,
                           uint64_t resident_after_load, uint64_t resident_after) {
    MemoryTruth truth{.predicted_bytes = plan.total_bytes,
                      .predicted_load_bytes = plan.weights_bytes,
                      .predicted_session_bytes =
                          plan.kv_bytes + plan.recurrent_bytes + plan.scratch_bytes,
                      .resident_before = resident_before,
                      .resident_after_load = resident_after_load,
                      .resident_after = resident_after};
    const std::string parts = fmt::format(
        "the load grew {} against {} of weights, {}; the session grew {} against {} of KV cache, "
        "state and scratch, {}",
        format_bytes(double(truth.measured_load_bytes())),
        format_bytes(double(truth.predicted_load_bytes)),
        deviation(truth.measured_load_bytes(), truth.predicted_load_bytes),
        format_bytes(double(truth.measured_session_bytes())),
        format_bytes(double(truth.predicted_session_bytes)),
        deviation(truth.measured_session_bytes(), truth.predicted_session_bytes));
    const double difference = truth.difference();
    if (std::abs(difference) <= kMemoryTruthTolerance) {
        truth.explanation = fmt::format("within {:.0f}%: {}", 100 * kMemoryTruthTolerance, parts);
    } else if (difference > 0) {
        truth.explanation = fmt::format(
            "{:.1f}% above the plan: {}. Beyond the weights the load keeps the file's header "
            "(the vocabulary and metadata, mapped and read) and the tokenizer's tables; the "
            "session adds the sampler's candidates and the threads' stacks; none of these are "
            "in the plan",
            100 * difference, parts);
    } else {
        truth.explanation = fmt::format(
            "{:.1f}% below the plan: {}. Pages not yet touched are not resident: mapped weights "
            "count once read, and a buffer once written",
            -100 * difference, parts);
    }
    return truth;
}

std::vector<ContextCostPoint> context_cost(const ModelInfo& info, KvCacheType kv_type,
                                           uint32_t n_seq) {
    std::vector<ContextCostPoint> points;
    for (uint32_t n_ctx : kContextCostPoints) {
        const MemoryPlan plan =
            plan_memory(info, {.n_ctx = n_ctx, .n_seq = n_seq, .kv_type = kv_type});
        points.push_back({.n_ctx = n_ctx,
                          .kv_bytes = plan.kv_bytes + plan.recurrent_bytes,
                          .total_bytes = plan.total_bytes,
                          .beyond_trained = n_ctx > info.n_ctx_train});
    }
    return points;
}

} // namespace hearth
