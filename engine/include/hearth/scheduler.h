// Continuous batching for one loaded model: a fixed set of slots (each a Session with its own
// KV cache or recurrent state), a bounded queue of requests, and a worker thread that runs
// steps: each step is ONE forward pass over the next token of every decoding request plus up
// to `step_prompt_budget` prompt tokens of the requests still prefilling, so a long prompt is
// prefilled in chunks between the others' tokens. Requests arrive and leave at any time; a
// new one is admitted between steps, into the free slot whose cache shares the longest
// prefix with its prompt, and copies a longer prefix from another slot when one holds it.
//
// A request's tokens are the same as Session::generate gives on a fresh session (greedy and
// seeded sampling alike): its passes do not depend on the other requests in them, nor on the
// prefix a slot had cached (its prompt tokens take the attention kernels of a prefill from
// position 0, reused or not), so a repeated request repeats its answer. A prompt that
// continues a reply generated in the slot reuses that reply's cells as they were decoded.
//
// Threads: submit(), cancel(), metrics() and shutdown() may be called from any thread,
// including from inside a callback. The callbacks (on_token, on_done) run on the scheduler's
// worker thread, one at a time: they must return quickly, and must not destroy the Scheduler.
#pragma once

#include "hearth/error.h"
#include "hearth/model.h"
#include "hearth/sampling.h"
#include "hearth/session.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace hearth {

// Slots of one scheduler, at most (the sequences a CUDA forward's slots take together).
inline constexpr size_t kMaxSchedulerSlots = 16;
// Requests waiting for a slot, at most (SchedulerOptions::queue_capacity's ceiling).
inline constexpr size_t kMaxSchedulerQueue = 4096;
// Prompt tokens one step runs, at most (SchedulerOptions::step_prompt_budget's ceiling).
inline constexpr uint32_t kMaxStepPromptBudget = 4096;

using RequestId = uint64_t;

struct SchedulerOptions {
    size_t n_slots = 4;         // 1..kMaxSchedulerSlots, sized by the caller from the memory plan
    SessionOptions session;     // of every slot (context, cache type, device)
    size_t queue_capacity = 64; // 1..kMaxSchedulerQueue
    uint32_t step_prompt_budget = 512; // prompt tokens per step, 1..kMaxStepPromptBudget
    // Slots [0, reserved_slots) take only `reserved` requests, and those only them: the app's
    // chat keeps its slot (and its conversation's cache) while the server's requests fill the
    // others. Below the slot count; 0: every slot takes every request.
    size_t reserved_slots = 0;
};

struct SchedulerRequest {
    std::vector<int32_t> prompt; // the whole conversation so far, as tokens
    SamplingParams sampling;     // its seed and trace (the token inspector) included
    GenerateOptions options;     // max tokens, stop strings
    // Runs in a reserved slot (any slot when there is none), queued ahead of the others; a full
    // queue refuses it only past reserved_slots more requests.
    bool reserved = false;
    // Each generated piece; false stops this request (stop: cancelled). May be empty.
    std::function<bool(const TokenEvent&)> on_token;
    // Once, at the end: the statistics (stop says why it ended: cancelled too) or the error
    // (`cancelled` for a request cancelled while queued or refused at shutdown; a forward
    // pass's failure). May be empty.
    std::function<void(RequestId, const Result<GenerationStats>&)> on_done;
};

// One running request, in a metrics snapshot.
struct RequestMetrics {
    RequestId id = 0;
    size_t slot = 0;
    int32_t n_prompt = 0;
    int32_t n_prompt_left = 0; // prompt tokens still to prefill
    int32_t n_generated = 0;
    double tokens_per_second = 0; // generated since its first token
};

struct SchedulerMetrics {
    size_t n_slots = 0;
    size_t reserved_slots = 0; // the first slots, SchedulerOptions::reserved_slots
    size_t slots_busy = 0;
    size_t queue_length = 0;
    uint64_t steps = 0;            // forward steps run
    uint64_t tokens_generated = 0; // by every request so far
    uint64_t requests_done = 0;
    double tokens_per_second = 0;   // generated per second of steps, every request together
    std::vector<uint32_t> kv_cells; // per slot: positions its cache holds
    // Tokens in each of the last steps (decode tokens and prompt tokens), oldest first.
    std::vector<uint32_t> recent_batch_sizes;
    std::vector<uint32_t> recent_prompt_tokens; // of those, prompt tokens
    std::vector<RequestMetrics> running;
};

class Scheduler {
public:
    // Creates the slots (Session::create_group: on CUDA they share one forward pass) and
    // starts the worker. Fails with `invalid_argument` for a slot count, queue capacity or
    // budget out of range, or as Session::create_group does.
    static Result<std::unique_ptr<Scheduler>> create(std::shared_ptr<const Model> model,
                                                     const SchedulerOptions& options);
    // On sessions already made (place_sessions: the device fallback decided; one
    // Session::create_group, so that CUDA slots share a forward): they become the slots, and
    // keep what they have cached. `options.n_slots` and `options.session` are not used.
    static Result<std::unique_ptr<Scheduler>> create(std::vector<Session> slots,
                                                     const SchedulerOptions& options);
    // Cancels what is queued and running (their on_done is called, on the worker) and joins
    // the worker.
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a request. Fails at once with `busy` when the queue is full, `cancelled` after
    // shutdown(), `invalid_argument` / `context_full` for a request generate_together would
    // refuse (an empty prompt, bad sampling values or token limit, a prompt that does not fit
    // a slot's context).
    Result<RequestId> submit(SchedulerRequest request);
    // Stops a request: a running one frees its slot at the next step (on_done with stop
    // `cancelled`); a queued one is removed (on_done with the error `cancelled`). Fails with
    // `invalid_argument` for an id that is neither queued nor running.
    Result<void> cancel(RequestId id);
    // Submits and waits for the end: the one request's statistics or error (submit's
    // included). Not from a callback.
    Result<GenerationStats> generate(SchedulerRequest request);
    // Cancels everything and stops the worker; later submits fail. Idempotent.
    void shutdown();

    SchedulerMetrics metrics() const;
    const Model& model() const;
    size_t n_slots() const;
    uint32_t n_ctx() const; // each slot's context, in tokens
    DeviceKind device() const;

    struct Impl;

private:
    explicit Scheduler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace hearth
