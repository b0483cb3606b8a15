// The Scheduler (hearth/scheduler.h): the queue, the slots and their requests under one
// mutex; the worker thread that admits requests between steps (slot choice, prefix copy),
// runs the step loop (session/step_loop.h) and reports the finished ones; the metrics
// snapshot it publishes after every step.
#include "hearth/scheduler.h"

#include "session/batch_backend.h"
#include "session/step_loop.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fmt/format.h>
#include <mutex>
#include <optional>
#include <thread>

namespace hearth {
namespace {

using Clock = std::chrono::steady_clock;

// Steps whose sizes the metrics keep.
constexpr size_t kRecentSteps = 32;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Queued {
    RequestId id = 0;
    SchedulerRequest request;
    Clock::time_point submitted;
    std::string why_dropped; // set when it ends without running
};

Result<void> check_options(const SchedulerOptions& options) {
    if (options.queue_capacity == 0 || options.queue_capacity > kMaxSchedulerQueue) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a scheduler's queue holds 1 to {} requests, not {}",
                                kMaxSchedulerQueue, options.queue_capacity));
    }
    if (options.step_prompt_budget == 0 || options.step_prompt_budget > kMaxStepPromptBudget) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a step's prompt budget is 1 to {} tokens, not {}",
                                kMaxStepPromptBudget, options.step_prompt_budget));
    }
    return {};
}

} // namespace

struct Scheduler::Impl {
    std::shared_ptr<const Model> model;
    SchedulerOptions options;
    std::vector<Session> sessions;
    std::unique_ptr<StepLoop> loop; // the worker's only

    // Shared with the callers, under `mu`.
    mutable std::mutex mu;
    std::condition_variable wake;
    std::deque<Queued> queue;
    std::vector<Queued> dropped;         // ended while queued: their on_done is due
    std::vector<RequestId> slot_request; // by slot; 0: free
    RequestId next_id = 1;
    bool stopping = false;

    // The worker's only, by slot.
    std::vector<std::function<void(RequestId, const Result<GenerationStats>&)>> slot_done;
    std::vector<Clock::time_point> slot_submitted;
    std::vector<uint64_t> slot_last_used;
    uint64_t use_clock = 0;
    uint64_t generated_done = 0; // tokens of the finished requests
    uint64_t requests_done = 0;
    uint64_t steps = 0;
    double step_seconds = 0;
    std::deque<std::pair<uint32_t, uint32_t>> recent; // (batch size, prompt tokens) per step

    // Finished requests whose on_done is due: called after the metrics that count them are
    // published, so that metrics() read in or after on_done includes their last step.
    struct Due {
        std::function<void(RequestId, const Result<GenerationStats>&)> done;
        RequestId id = 0;
        Result<GenerationStats> result;
    };
    std::vector<Due> due;

    mutable std::mutex metrics_mu;
    SchedulerMetrics snapshot;

    std::mutex join_mu; // shutdown() from several threads joins once
    std::thread worker;

    void run();
    size_t choose_slot(const std::vector<int32_t>& prompt, bool reserved) const;
    void start(size_t slot, Queued queued);
    void complete(size_t slot, const Result<GenerationStats>& result);
    void publish();
    void deliver();
};

// The free slot whose cache shares the longest prefix with the prompt (llama-server's
// choice), the least recently used among equals, among the reserved slots for a reserved
// request and the others otherwise; kMaxSchedulerSlots when none is free.
size_t Scheduler::Impl::choose_slot(const std::vector<int32_t>& prompt, bool reserved) const {
    size_t best = kMaxSchedulerSlots;
    size_t best_prefix = 0;
    const size_t n_reserved = options.reserved_slots;
    for (size_t slot = 0; slot < sessions.size(); ++slot) {
        if (slot_request[slot] != 0 || (n_reserved > 0 && (slot < n_reserved) != reserved)) {
            continue;
        }
        const size_t prefix = common_prefix(sessions[slot].cached_tokens(), prompt);
        if (best == kMaxSchedulerSlots || prefix > best_prefix ||
            (prefix == best_prefix && slot_last_used[slot] < slot_last_used[best])) {
            best = slot;
            best_prefix = prefix;
        }
    }
    return best;
}

// Starts a request in its slot; then copies a longer prefix from the slot that holds the
// longest one, busy or not, when the caches can share cells.
void Scheduler::Impl::start(size_t slot, Queued queued) {
    slot_done[slot] = std::move(queued.request.on_done);
    slot_submitted[slot] = queued.submitted;
    slot_last_used[slot] = ++use_clock;
    const std::vector<int32_t>& prompt = queued.request.prompt;
    size_t donor = slot;
    size_t donor_prefix = common_prefix(sessions[slot].cached_tokens(), prompt);
    for (size_t other = 0; other < sessions.size(); ++other) {
        const size_t prefix = common_prefix(sessions[other].cached_tokens(), prompt);
        if (prefix > donor_prefix) {
            donor = other;
            donor_prefix = prefix;
        }
    }
    loop->start(slot,
                SequenceSpec{.prompt = std::move(queued.request.prompt),
                             .sampling = queued.request.sampling,
                             .options = std::move(queued.request.options),
                             .on_token = std::move(queued.request.on_token)},
                queued.submitted);
    if (donor != slot) {
        if (auto shared = loop->share_from(slot, donor); !shared) {
            // The copy failed on the device: the request cannot go on.
            loop->end(slot);
            loop->take_finished();
            complete(slot, std::unexpected(shared.error()));
        }
    }
}

void Scheduler::Impl::complete(size_t slot, const Result<GenerationStats>& result) {
    RequestId id = 0;
    {
        std::lock_guard lock(mu);
        id = std::exchange(slot_request[slot], 0);
    }
    requests_done += 1;
    if (result) {
        generated_done += static_cast<uint64_t>(result->n_generated);
    }
    if (auto done = std::exchange(slot_done[slot], {})) {
        due.push_back({.done = std::move(done), .id = id, .result = result});
    }
}

void Scheduler::Impl::deliver() {
    for (Due& d : std::exchange(due, {})) {
        d.done(d.id, d.result);
    }
}

void Scheduler::Impl::run() {
    for (;;) {
        std::vector<Queued> ended;
        std::vector<std::pair<size_t, Queued>> admitted;
        bool stop = false;
        {
            std::unique_lock lock(mu);
            wake.wait(lock, [&] {
                return stopping || !queue.empty() || !dropped.empty() || loop->any_running();
            });
            ended = std::exchange(dropped, {});
            stop = stopping;
            while (stop && !queue.empty()) {
                queue.front().why_dropped = "the scheduler shut down before it started";
                ended.push_back(std::move(queue.front()));
                queue.pop_front();
            }
            while (!queue.empty()) {
                // Reserved requests queue first: the front waits only for its own kind of slot.
                const size_t slot =
                    choose_slot(queue.front().request.prompt, queue.front().request.reserved);
                if (slot == kMaxSchedulerSlots) {
                    break;
                }
                slot_request[slot] = queue.front().id;
                SessionAccess::impl(sessions[slot]).cancel_requested = false;
                admitted.emplace_back(slot, std::move(queue.front()));
                queue.pop_front();
            }
        }
        for (Queued& q : ended) {
            if (q.request.on_done) {
                q.request.on_done(q.id, fail(ErrorCode::cancelled,
                                             fmt::format("request {}: {}", q.id, q.why_dropped)));
            }
        }
        for (auto& [slot, queued] : admitted) {
            start(slot, std::move(queued));
        }
        if (stop) {
            for (auto& f : loop->abandon_all()) {
                complete(f.slot, std::move(f.stats));
            }
            publish();
            deliver();
            return;
        }
        if (!loop->any_running()) {
            publish();
            deliver();
            continue;
        }
        const auto step_start = Clock::now();
        auto counts = loop->step(options.step_prompt_budget, true);
        step_seconds += seconds_since(step_start);
        for (auto& f : loop->take_finished()) {
            complete(f.slot, std::move(f.stats));
        }
        if (!counts) {
            // The pass failed: every running request ends with its error.
            std::vector<size_t> failed;
            for (auto& f : loop->abandon_all()) {
                failed.push_back(f.slot);
            }
            for (size_t slot : failed) {
                complete(slot, std::unexpected(counts.error()));
            }
        } else if (counts->n_decode + counts->n_draft + counts->n_prompt > 0) {
            steps += 1;
            recent.emplace_back(
                static_cast<uint32_t>(counts->n_decode + counts->n_draft + counts->n_prompt),
                static_cast<uint32_t>(counts->n_prompt));
            if (recent.size() > kRecentSteps) {
                recent.pop_front();
            }
        }
        publish();
        deliver();
    }
}

void Scheduler::Impl::publish() {
    SchedulerMetrics m;
    m.n_slots = sessions.size();
    m.reserved_slots = options.reserved_slots;
    m.steps = steps;
    m.requests_done = requests_done;
    m.tokens_generated = generated_done;
    for (size_t slot = 0; slot < sessions.size(); ++slot) {
        m.kv_cells.push_back(static_cast<uint32_t>(sessions[slot].cached_tokens().size()));
        const GenerationStats* stats = loop->progress(slot);
        if (!stats) {
            continue;
        }
        m.slots_busy += 1;
        m.tokens_generated += static_cast<uint64_t>(stats->n_generated);
        const double decode_s = seconds_since(slot_submitted[slot]) - stats->ttft_ms / 1000;
        std::lock_guard lock(mu);
        m.running.push_back({.id = slot_request[slot],
                             .slot = slot,
                             .n_prompt = stats->n_prompt,
                             .n_prompt_left = static_cast<int32_t>(loop->prompt_left(slot)),
                             .n_generated = stats->n_generated,
                             .tokens_per_second = stats->n_generated > 1 && decode_s > 0
                                                      ? (stats->n_generated - 1) / decode_s
                                                      : 0});
    }
    m.tokens_per_second =
        step_seconds > 0 ? static_cast<double>(m.tokens_generated) / step_seconds : 0;
    for (const auto& [size, prompt] : recent) {
        m.recent_batch_sizes.push_back(size);
        m.recent_prompt_tokens.push_back(prompt);
    }
    std::lock_guard lock(metrics_mu);
    snapshot = std::move(m);
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::shared_ptr<const Model> model,
                                                     const SchedulerOptions& options) {
    if (options.n_slots == 0 || options.n_slots > kMaxSchedulerSlots) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a scheduler has 1 to {} slots, not {}", kMaxSchedulerSlots,
                                options.n_slots));
    }
    if (auto ok = check_options(options); !ok) {
        return std::unexpected(ok.error());
    }
    auto sessions = Session::create_group(model, options.session, options.n_slots);
    if (!sessions) {
        return std::unexpected(sessions.error());
    }
    return create(std::move(*sessions), options);
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::vector<Session> slots,
                                                     const SchedulerOptions& options) {
    if (slots.empty() || slots.size() > kMaxSchedulerSlots) {
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("a scheduler has 1 to {} slots, not {}", kMaxSchedulerSlots, slots.size()));
    }
    if (auto ok = check_options(options); !ok) {
        return std::unexpected(ok.error());
    }
    if (options.reserved_slots >= slots.size() && options.reserved_slots > 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{} reserved slots of {}: at least one must take every request",
                                options.reserved_slots, slots.size()));
    }
    for (const Session& s : slots) {
        if (&s.model() != &slots[0].model() || s.device() != slots[0].device()) {
            return fail(ErrorCode::invalid_argument,
                        "a scheduler's slots must be sessions on one model and one device");
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->model = SessionAccess::impl(slots[0]).model;
    impl->options = options;
    impl->options.n_slots = slots.size();
    impl->sessions = std::move(slots);
    const size_t n_slots = impl->sessions.size();
    std::vector<Session::Impl*> impls;
    for (Session& s : impl->sessions) {
        impls.push_back(&SessionAccess::impl(s));
    }
    const size_t n_vocab = impl->model->info().n_vocab;
    impl->loop = std::make_unique<StepLoop>(
        impls, impls[0]->cuda ? make_cuda_batch_backend(n_vocab, false) : make_cpu_batch_backend());
    // A request's logits must not depend on what the slots happened to cache.
    impl->loop->set_kernel_origin(KernelOrigin::prompt_start);
    impl->slot_request.assign(n_slots, 0);
    impl->slot_done.resize(n_slots);
    impl->slot_submitted.resize(n_slots);
    impl->slot_last_used.assign(n_slots, 0);
    impl->publish();
    Impl* raw = impl.get();
    impl->worker = std::thread([raw] { raw->run(); });
    return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Scheduler::~Scheduler() {
    shutdown();
    std::lock_guard lock(impl_->join_mu);
    if (impl_->worker.joinable()) {
        impl_->worker.join();
    }
}

Result<RequestId> Scheduler::submit(SchedulerRequest request) {
    if (auto ok = validate_sequence(request.prompt, request.sampling, request.options,
                                    impl_->sessions[0].n_ctx(), "");
        !ok) {
        return std::unexpected(ok.error());
    }
    if (auto ok = check_speculation(SessionAccess::impl(impl_->sessions[0]),
                                    request.options.speculation, "");
        !ok) {
        return std::unexpected(ok.error());
    }
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
        return fail(ErrorCode::cancelled, "the scheduler has shut down: it takes no requests");
    }
    const size_t room =
        impl_->options.queue_capacity + (request.reserved ? impl_->options.reserved_slots : 0);
    if (impl_->queue.size() >= room) {
        return fail(ErrorCode::busy,
                    fmt::format("the queue is full ({} requests wait for {} slots): try again "
                                "later",
                                impl_->queue.size(), impl_->sessions.size()));
    }
    const RequestId id = impl_->next_id++;
    // A reserved request goes behind the other reserved ones, ahead of the rest.
    const auto place =
        request.reserved ? std::ranges::find_if(impl_->queue,
                                                [](const Queued& q) { return !q.request.reserved; })
                         : impl_->queue.end();
    impl_->queue.insert(
        place,
        {.id = id, .request = std::move(request), .submitted = Clock::now(), .why_dropped = {}});
    impl_->wake.notify_one();
    return id;
}

Result<void> Scheduler::cancel(RequestId id) {
    std::lock_guard lock(impl_->mu);
    auto queued = std::ranges::find(impl_->queue, id, &Queued::id);
    if (queued != impl_->queue.end()) {
        queued->why_dropped = "cancelled before it started";
        impl_->dropped.push_back(std::move(*queued));
        impl_->queue.erase(queued);
        impl_->wake.notify_one();
        return {};
    }
    auto running = std::ranges::find(impl_->slot_request, id);
    if (id != 0 && running != impl_->slot_request.end()) {
        impl_->sessions[static_cast<size_t>(running - impl_->slot_request.begin())].cancel();
        return {};
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("no request {} is queued or running (it finished, was cancelled or "
                            "never existed)",
                            id));
}

Result<GenerationStats> Scheduler::generate(SchedulerRequest request) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<GenerationStats>> outcome;
    request.on_done = [&](RequestId, const Result<GenerationStats>& result) {
        std::lock_guard lock(mu);
        outcome = result;
        cv.notify_all();
    };
    if (auto id = submit(std::move(request)); !id) {
        return std::unexpected(id.error());
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outcome.has_value(); });
    return std::move(*outcome);
}

void Scheduler::shutdown() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->wake.notify_one();
    // From a callback (the worker itself) the worker cannot be joined: it stops after the
    // callback returns and the destructor joins it.
    std::lock_guard lock(impl_->join_mu);
    if (impl_->worker.joinable() && impl_->worker.get_id() != std::this_thread::get_id()) {
        impl_->worker.join();
    }
}

SchedulerMetrics Scheduler::metrics() const {
    SchedulerMetrics m;
    {
        std::lock_guard lock(impl_->metrics_mu);
        m = impl_->snapshot;
    }
    std::lock_guard lock(impl_->mu);
    m.queue_length = impl_->queue.size();
    return m;
}

const Model& Scheduler::model() const {
    return *impl_->model;
}
size_t Scheduler::n_slots() const {
    return impl_->sessions.size();
}
uint32_t Scheduler::n_ctx() const {
    return impl_->sessions[0].n_ctx();
}
DeviceKind Scheduler::device() const {
    return impl_->sessions[0].device();
}

} // namespace hearth
