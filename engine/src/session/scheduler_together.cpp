// run_together: requests that start together on one scheduler, the first's prompt prefilled
// before the others are submitted so that they copy the prefix they share with it.
#include "hearth/scheduler_together.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>

namespace hearth {

namespace {

using Outcome = Result<GenerationStats>;

void add_figures(TogetherOutcome& together) {
    for (const Outcome& outcome : together.sequences) {
        if (!outcome) {
            continue;
        }
        together.n_generated += outcome->n_generated;
        together.n_shared_prefix = std::max(together.n_shared_prefix, outcome->n_shared);
        together.prefill_ms = std::max(together.prefill_ms, outcome->prefill_ms);
        // The last token sampled is never run through the model.
        together.n_computed += static_cast<uint64_t>(outcome->n_prefilled) +
                               static_cast<uint64_t>(std::max(outcome->n_generated - 1, 0));
    }
}

} // namespace

TogetherOutcome run_together(Scheduler& scheduler, std::vector<SchedulerRequest> requests) {
    TogetherOutcome together;
    const size_t n = requests.size();
    if (n == 0) {
        return together;
    }
    std::vector<std::promise<Outcome>> done(n);
    std::vector<std::future<Outcome>> finished;
    finished.reserve(n);
    for (std::promise<Outcome>& promise : done) {
        finished.push_back(promise.get_future());
    }
    std::promise<void> prefilled;
    std::future<void> first_prefilled = prefilled.get_future();
    std::once_flag told;
    auto tell = [&] { std::call_once(told, [&] { prefilled.set_value(); }); };
    for (size_t k = 0; k < n; ++k) {
        requests[k].on_done = [&, k](RequestId, const Outcome& outcome) {
            if (k == 0) {
                tell();
            }
            done[k].set_value(outcome);
        };
    }
    requests[0].on_token = [&, first = std::move(requests[0].on_token)](const TokenEvent& event) {
        tell();
        return first ? first(event) : true;
    };
    auto submit = [&](size_t k) {
        if (auto id = scheduler.submit(std::move(requests[k])); !id) {
            done[k].set_value(std::unexpected(id.error())); // its on_done is not called
            if (k == 0) {
                tell();
            }
        }
    };
    const uint64_t steps_before = scheduler.metrics().steps;
    const auto start = std::chrono::steady_clock::now();
    submit(0);
    first_prefilled.wait();
    for (size_t k = 1; k < n; ++k) {
        submit(k);
    }
    together.sequences.reserve(n);
    for (std::future<Outcome>& outcome : finished) {
        together.sequences.push_back(outcome.get());
    }
    together.elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    together.n_steps = scheduler.metrics().steps - steps_before;
    add_figures(together);
    return together;
}

} // namespace hearth
