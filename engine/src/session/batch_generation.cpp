// Generation of several sessions together: validation, then the step loop (step_loop.h)
// over the sessions as its slots: the cached prefixes reused, the prefix the prompts share
// computed once, every prompt prefilled, then one decode pass per step over every sequence
// still going, sampled, streamed and stopped by each sequence's SequenceRun.
#include "hearth/batch_generation.h"

#include "session/batch_backend.h"
#include "session/step_loop.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <unordered_set>

namespace hearth {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Result<void> validate(std::span<const SequenceRequest> requests) {
    if (requests.empty()) {
        return fail(ErrorCode::invalid_argument, "no sequences to generate");
    }
    if (requests.size() > kMaxSequencesTogether) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{} sequences requested; at most {} generate together",
                                requests.size(), kMaxSequencesTogether));
    }
    const bool several = requests.size() > 1;
    std::unordered_set<const Session*> seen;
    for (size_t i = 0; i < requests.size(); ++i) {
        const SequenceRequest& r = requests[i];
        const std::string who = several ? fmt::format("sequence {}: ", i + 1) : std::string();
        if (!r.session) {
            return fail(ErrorCode::invalid_argument, who + "no session");
        }
        if (!seen.insert(r.session).second) {
            return fail(ErrorCode::invalid_argument,
                        who + "the same session appears twice; give each sequence its own");
        }
        if (&r.session->model() != &requests[0].session->model()) {
            return fail(ErrorCode::invalid_argument,
                        who + "its session is on another model; only sessions on one model "
                              "generate together");
        }
        if (r.session->device() != requests[0].session->device()) {
            return fail(ErrorCode::invalid_argument,
                        who + "its session is on another device; sessions on the CPU and on "
                              "CUDA do not generate together");
        }
        if (auto ok = validate_sequence(r.prompt, r.sampling, r.options, r.session->n_ctx(), who);
            !ok) {
            return ok;
        }
        if (auto ok =
                check_speculation(SessionAccess::impl(*r.session), r.options.speculation, who);
            !ok) {
            return ok;
        }
    }
    return {};
}

} // namespace

SharedPrefix plan_shared_prefix(const std::vector<BatchMember>& members,
                                const std::function<bool(size_t taker, size_t donor)>& compatible) {
    SharedPrefix plan;
    const size_t n = members.size();
    if (n < 2) {
        return plan;
    }
    size_t prefix = members[0].prompt.size() - 1;
    for (const BatchMember& m : members) {
        prefix =
            std::min({prefix, m.prompt.size() - 1, common_prefix(m.prompt, members[0].prompt)});
    }
    size_t donor = 0;
    for (size_t i = 1; i < n; ++i) {
        if (std::min(members[i].reused, prefix) > std::min(members[donor].reused, prefix)) {
            donor = i;
        }
    }
    plan.length = prefix;
    plan.donor = donor;
    for (size_t i = 0; i < n; ++i) {
        if (i != donor && members[i].reused < prefix && compatible(i, donor)) {
            plan.takers.push_back(i);
        }
    }
    return plan;
}

Result<BatchGenerationStats> generate_together(std::span<const SequenceRequest> requests) {
    if (auto ok = validate(requests); !ok) {
        return std::unexpected(ok.error());
    }
    const auto start = Clock::now();
    const size_t n = requests.size();
    std::vector<Session::Impl*> sessions(n);
    size_t max_batch = 1;
    for (size_t i = 0; i < n; ++i) {
        sessions[i] = &SessionAccess::impl(*requests[i].session);
        sessions[i]->cancel_requested = false;
        max_batch = std::max<size_t>(max_batch, sessions[i]->options.n_batch);
    }
    const size_t n_vocab = sessions[0]->model->info().n_vocab;
    StepLoop loop(sessions, sessions[0]->cuda
                                ? make_cuda_batch_backend(n_vocab, gpu_sampling(sessions, requests))
                                : make_cpu_batch_backend());
    for (size_t i = 0; i < n; ++i) {
        const SequenceRequest& r = requests[i];
        loop.start(i,
                   SequenceSpec{.prompt = {r.prompt.begin(), r.prompt.end()},
                                .sampling = r.sampling,
                                .options = r.options,
                                .on_token = r.on_token},
                   start);
    }
    BatchGenerationStats result;
    std::vector<GenerationStats> done(n);
    auto collect = [&] {
        for (auto& f : loop.take_finished()) {
            done[f.slot] = std::move(f.stats);
        }
    };
    auto shared = loop.share_common_prefix(max_batch, result.n_computed);
    if (!shared) {
        return std::unexpected(shared.error());
    }
    result.n_shared_prefix = static_cast<int32_t>(*shared);
    // Every prompt first, in passes of up to the largest n_batch; then one decode pass per step.
    while (loop.any_prefilling()) {
        auto counts = loop.step(max_batch, false);
        if (!counts) {
            return std::unexpected(counts.error());
        }
        result.n_computed += counts->n_prompt;
    }
    result.prefill_ms = ms_since(start);
    collect(); // sequences cancelled while prefilling
    Clock::time_point decode_start = Clock::now();
    while (loop.any_running()) {
        auto counts = loop.step(0, true);
        if (!counts) {
            return std::unexpected(counts.error());
        }
        if (counts->n_decode > 0) {
            if (result.n_steps == 0) {
                decode_start = Clock::now();
            }
            result.n_steps += 1;
            result.n_computed += counts->n_decode + counts->n_draft;
        }
        collect();
    }
    result.decode_ms = result.n_steps > 0 ? ms_since(decode_start) : 0;
    collect();
    for (GenerationStats& stats : done) {
        stats.prefill_ms = result.prefill_ms;
    }
    result.sequences = std::move(done);
    return result;
}

} // namespace hearth
