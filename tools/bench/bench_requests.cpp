// See bench_requests.h. Each repetition makes a fresh scheduler (no prefix reuse between
// repetitions); the first repetition is a warm-up and is not counted.
#include "bench_requests.h"

#include "hearth/model.h"
#include "hearth/scheduler.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fmt/format.h>
#include <mutex>

namespace hearth::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Run {
    double total_ms = 0;                  // first submit to the last request's end
    std::vector<double> ttft_ms, done_ms; // per request, from the submits
    int64_t generated = 0;
};

Result<Run> run_once(const std::shared_ptr<const Model>& model,
                     const std::vector<std::vector<int32_t>>& prompts, int n_gen, uint32_t n_ctx) {
    SchedulerOptions options;
    options.n_slots = prompts.size();
    options.session.n_ctx = n_ctx;
    auto scheduler = Scheduler::create(model, options);
    if (!scheduler) {
        return std::unexpected(scheduler.error());
    }
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    greedy.repeat_penalty = 1.0f;
    std::mutex mu;
    std::condition_variable cv;
    size_t ended = 0;
    std::optional<Error> failure;
    Run run;
    run.done_ms.assign(prompts.size(), 0.0);
    run.ttft_ms.assign(prompts.size(), 0.0);
    const auto start = Clock::now();
    for (size_t i = 0; i < prompts.size(); ++i) {
        SchedulerRequest request;
        request.prompt = prompts[i];
        request.sampling = greedy;
        request.options.max_tokens = n_gen;
        request.on_done = [&, i](RequestId, const Result<GenerationStats>& result) {
            std::lock_guard lock(mu);
            run.done_ms[i] =
                std::chrono::duration<double, std::milli>(Clock::now() - start).count();
            if (result) {
                run.ttft_ms[i] = result->ttft_ms;
                run.generated += result->n_generated;
            } else {
                failure = result.error();
            }
            ++ended;
            cv.notify_all();
        };
        if (auto id = (*scheduler)->submit(std::move(request)); !id) {
            return std::unexpected(id.error());
        }
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return ended == prompts.size(); });
    if (failure) {
        return std::unexpected(*failure);
    }
    run.total_ms = *std::ranges::max_element(run.done_ms);
    return run;
}

double mean(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) {
        sum += x;
    }
    return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

} // namespace

std::string request_prompt_text(int index, int n_numbers) {
    std::string text;
    for (int k = 0; k < n_numbers; ++k) {
        text += fmt::format("{}, ", 1 + 1000 * index + k);
    }
    return text;
}

int bench_requests(const RequestsOptions& o) {
    auto model = Model::load(o.model, {.n_threads = o.n_threads, .on_progress = {}});
    if (!model) {
        std::fprintf(stderr, "hearth-bench: %s\n", model.error().message.c_str());
        return 1;
    }
    const int max_count = *std::ranges::max_element(o.counts);
    const size_t n_prompt = static_cast<size_t>(std::max(o.n_prompt, 2));
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < max_count; ++i) {
        // A count has at least one token per number: n_prompt numbers are enough.
        auto tokens = (*model)->tokenizer().encode(request_prompt_text(i, int(n_prompt)),
                                                   {.add_special = true, .parse_special = false});
        if (!tokens) {
            std::fprintf(stderr, "hearth-bench: %s\n", tokens.error().message.c_str());
            return 1;
        }
        tokens->resize(std::min(tokens->size(), n_prompt));
        prompts.push_back(std::move(*tokens));
    }
    const uint32_t n_ctx = std::min<uint32_t>(static_cast<uint32_t>(n_prompt + o.n_gen + 8),
                                              (*model)->info().n_ctx_train);
    std::printf("| requests | generated t/s, all requests | per request | mean TTFT ms | mean "
                "latency ms | worst latency ms |\n|---|---|---|---|---|---|\n");
    for (int n : o.counts) {
        const std::vector<std::vector<int32_t>> batch(prompts.begin(), prompts.begin() + n);
        std::vector<double> rates, ttft, latency, worst;
        for (int r = 0; r <= o.repetitions; ++r) {
            auto run = run_once(*model, batch, o.n_gen, n_ctx);
            if (!run) {
                std::fprintf(stderr, "hearth-bench: %s\n", run.error().message.c_str());
                return 1;
            }
            if (run->generated != int64_t(n) * o.n_gen) {
                std::fprintf(stderr, "hearth-bench: %lld of %lld tokens generated\n",
                             static_cast<long long>(run->generated),
                             static_cast<long long>(int64_t(n) * o.n_gen));
            }
            if (r == 0) {
                continue; // warm-up
            }
            rates.push_back(double(run->generated) * 1000.0 / run->total_ms);
            ttft.push_back(mean(run->ttft_ms));
            latency.push_back(mean(run->done_ms));
            worst.push_back(run->total_ms);
        }
        std::printf("| %d | %.1f | %.1f | %.0f | %.0f | %.0f |\n", n, mean(rates), mean(rates) / n,
                    mean(ttft), mean(latency), mean(worst));
        std::fflush(stdout);
    }
    return 0;
}

} // namespace hearth::bench
