// hearth-bench --device cuda. Measured as the CPU bench measures (tools/bench/main.cpp): pp<N>
// is one batch of N random prompt tokens from position 0 (the KV cells are overwritten, so
// no clearing is needed), tg<N> generates N tokens one step at a time with the logits copied
// back; one warm-up run, then -r timed runs. Also reported: the load time (file mapping and
// upload to the GPU) and time to the first token, and for tg the bytes one decode step reads
// (weights + the KV cache up to the average position) over its time, against the
// device-to-device copy bandwidth measured in the same run.
#include "bench_cuda.h"

#include "backend/cuda/cuda_forward.h"
#include "hearth/cuda_device.h"
#include "hearth/model.h"
#include "json_output.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

namespace hearth::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Series {
    std::string test;
    int n_tokens = 0;
    std::vector<double> tps;
    double mean() const {
        double s = 0;
        for (double v : tps)
            s += v;
        return tps.empty() ? 0.0 : s / double(tps.size());
    }
    double stddev() const {
        if (tps.size() < 2)
            return 0.0;
        const double m = mean();
        double s = 0;
        for (double v : tps)
            s += (v - m) * (v - m);
        return std::sqrt(s / double(tps.size() - 1));
    }
};

} // namespace

int bench_cuda(const CudaBenchOptions& o) {
    const auto devices = list_cuda_devices();
    if (!devices) {
        std::fprintf(stderr, "hearth-bench: skipped --device cuda: %s\n",
                     devices.error().message.c_str());
        return 0;
    }
    const CudaDeviceInfo& gpu = devices->front();
    const auto copy_gbs = measure_copy_bandwidth_gbs(gpu.index);
    if (!copy_gbs) {
        std::fprintf(stderr, "hearth-bench: bandwidth probe: %s\n",
                     copy_gbs.error().message.c_str());
        return 1;
    }

    const auto load_start = Clock::now();
    auto model = Model::load(o.model);
    if (!model) {
        std::fprintf(stderr, "hearth-bench: %s\n", model.error().message.c_str());
        return 1;
    }
    const ModelInfo& info = (*model)->info();
    const uint32_t n_ctx = uint32_t(std::max(o.n_prompt, o.n_gen + 1) + 1);
    auto forward = CudaForward::create(**model, {.n_ctx = n_ctx,
                                                 .n_seq = 1,
                                                 .device = gpu.index,
                                                 .use_graphs = true,
                                                 .gpu_layers = o.gpu_layers});
    if (!forward) {
        std::fprintf(stderr, "hearth-bench: %s\n", forward.error().message.c_str());
        return 1;
    }
    const double load_s = seconds_since(load_start);
    std::vector<float> logits(size_t(info.n_vocab) * size_t(std::max(o.n_prompt, 1)));
    const int32_t first = (*model)->tokenizer().bos_id().value_or(0);
    CudaBatchToken t0{first, 0, 0, true};
    const auto first_start = Clock::now();
    if (auto ok = (*forward)->run({&t0, 1}, logits.data()); !ok) {
        std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
        return 1;
    }
    const double first_token_s = seconds_since(first_start);

    std::mt19937 rng(1234);
    auto random_token = [&] { return int32_t(rng() % info.n_vocab); };
    std::vector<Series> results;
    if (o.n_prompt > 0) {
        Series pp{fmt::format("pp{}", o.n_prompt), o.n_prompt, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {
            std::vector<CudaBatchToken> batch;
            for (int i = 0; i < o.n_prompt; ++i) {
                batch.push_back(
                    {i == 0 ? first : random_token(), uint32_t(i), 0, i + 1 == o.n_prompt});
            }
            const auto start = Clock::now();
            if (auto ok = (*forward)->run(batch, logits.data()); !ok) {
                std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                return 1;
            }
            if (rep >= 0)
                pp.tps.push_back(o.n_prompt / seconds_since(start));
        }
        results.push_back(pp);
    }
    double decode_gbs = 0.0;
    if (o.n_gen > 0) {
        Series tg{fmt::format("tg{}", o.n_gen), o.n_gen, {}};
        for (int rep = -1; rep < o.repetitions; ++rep) {
            int32_t token = first;
            const auto start = Clock::now();
            for (int i = 0; i < o.n_gen; ++i) {
                const CudaBatchToken t{token, uint32_t(i), 0, true};
                if (auto ok = (*forward)->run({&t, 1}, logits.data()); !ok) {
                    std::fprintf(stderr, "hearth-bench: %s\n", ok.error().message.c_str());
                    return 1;
                }
                token = random_token();
            }
            if (rep >= 0)
                tg.tps.push_back(o.n_gen / seconds_since(start));
        }
        // Bytes per decode step: the weights it reads, and K and V of every layer for the
        // cells attended, on average (n_gen + 1) / 2 of them.
        const double kv_per_cell =
            double(info.n_layer) * info.n_head_kv * (info.head_dim_k + info.head_dim_v) * 2.0;
        const double bytes =
            double((*forward)->memory().decode_weight_bytes) + kv_per_cell * (o.n_gen + 1) / 2.0;
        decode_gbs = bytes * tg.mean() / 1e9;
        results.push_back(tg);
    }

    const CudaMemoryReport mem = (*forward)->memory();
    if (o.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : results) {
            out.push_back({{"model", o.model},
                           {"model_type", info.file_type},
                           {"n_params", info.n_params},
                           {"model_size", info.weights_bytes},
                           {"device", gpu.name},
                           {"backend", "cuda"},
                           {"graphs", (*forward)->graph_status()},
                           {"prefill", (*forward)->prefill_status()},
                           {"test", r.test},
                           {"n_tokens", r.n_tokens},
                           {"avg_ts", r.mean()},
                           {"stddev_ts", r.stddev()},
                           {"samples_ts", r.tps},
                           {"load_s", load_s},
                           {"first_token_s", first_token_s},
                           {"copy_gbs", *copy_gbs},
                           {"decode_gbs", r.test.starts_with("tg") ? decode_gbs : 0.0},
                           {"weights_bytes", mem.weights_bytes},
                           {"kv_bytes", mem.kv_bytes},
                           {"scratch_bytes", mem.scratch_bytes},
                           {"gpu_layers", mem.gpu_layers},
                           {"n_layers", mem.n_layers},
                           {"host_kv_bytes", mem.host_kv_bytes}});
        }
        std::printf("%s\n", hearth::cli::json_text(out).c_str()); // valid for any model path
        return 0;
    }
    std::printf("| model | size | params | device | test | t/s |\n|---|---|---|---|---|---|\n");
    for (const auto& r : results) {
        std::printf("| %s %s | %.2f MiB | %.2f M | %s | %s | %.2f ± %.2f |\n",
                    info.architecture.c_str(), info.file_type.c_str(),
                    double(info.weights_bytes) / (1 << 20), double(info.n_params) / 1e6,
                    gpu.name.c_str(), r.test.c_str(), r.mean(), r.stddev());
    }
    std::printf("\nload (map + upload) %.2f s, first token %.1f ms, %s, %s\n", load_s,
                first_token_s * 1e3, (*forward)->graph_status().c_str(),
                (*forward)->prefill_status().c_str());
    std::printf("GPU memory: weights %.1f MiB, KV cache %.1f MiB, scratch %.1f MiB\n",
                double(mem.weights_bytes) / (1 << 20), double(mem.kv_bytes) / (1 << 20),
                double(mem.scratch_bytes) / (1 << 20));
    if (!mem.head_on_gpu) {
        std::printf("partial offload: %u of %u layers on the GPU, the rest and the output head on "
                    "the CPU (their KV cache %.1f MiB in RAM); the roofline below counts the "
                    "GPU's bytes only\n",
                    mem.gpu_layers, mem.n_layers, double(mem.host_kv_bytes) / (1 << 20));
    }
    if (o.n_gen > 0) {
        std::printf(
            "decode roofline: %.0f GB/s read = %.0f%% of the measured copy bandwidth %.0f GB/s "
            "(theoretical peak %.0f GB/s)\n",
            decode_gbs, 100.0 * decode_gbs / *copy_gbs, *copy_gbs, gpu.memory_bandwidth_gbs);
    }
    return 0;
}

} // namespace hearth::bench
