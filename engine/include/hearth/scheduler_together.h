// Requests that start together on one scheduler and are waited for together (Compare's
// columns in the app, `hearth-cli compare`): the first runs alone until its prompt is
// prefilled, so that the others find the prefix they share with it in its cache and copy it
// (computed once) rather than compute it again; then they all decode in the scheduler's steps.
#pragma once

#include "hearth/scheduler.h"

#include <cstdint>
#include <vector>

namespace hearth {

struct TogetherOutcome {
    // Each request's statistics or error (submit's refusal included), in the requests' order.
    std::vector<Result<GenerationStats>> sequences;
    uint64_t n_steps = 0;        // the scheduler's steps while they ran
    int32_t n_shared_prefix = 0; // the longest prompt prefix one copied from another's cache
    // Tokens run through the model: the prompts' computed ones and the decoded ones.
    uint64_t n_computed = 0;
    double elapsed_ms = 0; // from the first submit to the last end
    double prefill_ms = 0; // the longest prefill
    int32_t n_generated = 0;

    double tokens_per_second() const {
        return elapsed_ms > 0 ? n_generated * 1000.0 / elapsed_ms : 0;
    }
};

// Submits `requests` to `scheduler` and waits for them all; their own on_done is not called
// (the outcome has it). Not from a scheduler's callback. The figures count the scheduler's
// steps, so they are those of these requests only when nothing else runs on it.
TogetherOutcome run_together(Scheduler& scheduler, std::vector<SchedulerRequest> requests);

} // namespace hearth
