// Generation of several sessions together: validation, the cached prefixes reused, the
// prompts prefilled by the device's backend (session/batch_backend.h: the CPU computes a
// prefix the prompts share once), then one decode pass per step over every sequence still
// going, sampled, streamed and stopped by each sequence's SequenceRun.
#include "hearth/batch_generation.h"

#include "session/batch_backend.h"
#include "session/sequence_run.h"
#include "session/session_impl.h"

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
        if (r.prompt.empty()) {
            return fail(ErrorCode::invalid_argument, who + "the prompt is empty");
        }
        if (auto valid = r.sampling.validate(); !valid) {
            return fail(valid.error().code, who + valid.error().message);
        }
        if (r.options.max_tokens < 0) {
            return fail(ErrorCode::invalid_argument, who + "max tokens must be 0 or more");
        }
        if (r.prompt.size() >= r.session->n_ctx()) {
            return fail(ErrorCode::context_full,
                        fmt::format("{}the prompt has {} tokens but the context holds {}: "
                                    "shorten the conversation or raise the context length",
                                    who, r.prompt.size(), r.session->n_ctx()));
        }
    }
    return {};
}

size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) {
        ++n;
    }
    return n;
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
    const size_t n_vocab = requests[0].session->model().info().n_vocab;
    std::vector<BatchMember> members(n);
    for (size_t i = 0; i < n; ++i) {
        BatchMember& m = members[i];
        m.s = &SessionAccess::impl(*requests[i].session);
        m.s->cancel_requested = false;
        m.prompt = requests[i].prompt;
        // Reuse the cached prefix; at least the last prompt token is run again for its logits.
        m.reused = std::min(common_prefix(m.s->tokens, m.prompt), m.prompt.size() - 1);
        // A recurrent state cannot be cut back like the cache: it resumes from its checkpoint
        // or the start. It keeps one before this prompt's last token, where the next call
        // resumes when it regenerates this reply, or when the template renders this reply
        // differently in the next turn (a reasoning section dropped).
        m.reused = m.s->state.rewind(static_cast<uint32_t>(m.reused));
        m.s->state.request_checkpoint(static_cast<uint32_t>(m.prompt.size() - 1));
        m.s->tokens.resize(m.reused);
    }
    const std::unique_ptr<BatchBackend> backend =
        members[0].s->cuda ? make_cuda_batch_backend(n_vocab, gpu_sampling(members, requests))
                           : make_cpu_batch_backend(n_vocab);

    BatchGenerationStats result;
    if (auto ok = backend->prefill(members, result); !ok) {
        return std::unexpected(ok.error());
    }
    result.prefill_ms = ms_since(start);

    std::vector<SequenceRun> runs;
    runs.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const SequenceRequest& r = requests[i];
        runs.emplace_back(members[i].s->model->tokenizer(), r.sampling, r.options, r.prompt,
                          r.on_token, start);
        GenerationStats& stats = runs.back().stats();
        stats.n_reused = static_cast<int32_t>(members[i].reused);
        stats.n_shared = static_cast<int32_t>(members[i].shared);
        stats.n_prefilled =
            static_cast<int32_t>(r.prompt.size() - members[i].reused - members[i].shared);
        stats.prefill_ms = result.prefill_ms;
    }

    // Decode: every step samples each running sequence's next token from its logits (on the
    // host, or where the backend keeps them) and runs all the new tokens in one pass.
    std::vector<size_t> running(n);
    for (size_t i = 0; i < n; ++i) {
        running[i] = i;
    }
    std::vector<DecodeToken> step;
    std::vector<size_t> order;
    std::vector<float> out(backend->logits_on_device() ? 0 : n * n_vocab);
    Clock::time_point decode_start = Clock::now();
    while (!running.empty()) {
        step.clear();
        order.clear();
        for (size_t i : running) {
            BatchMember& m = members[i];
            SequenceRun& run = runs[i];
            if (!run.wants_next(m.s->cancel_requested)) {
                continue;
            }
            auto token = backend->next_token(m, run.sampler(), run.history());
            if (!token) {
                return std::unexpected(token.error());
            }
            if (!run.take(*token)) {
                continue;
            }
            if (m.s->tokens.size() + 1 >= m.s->options.n_ctx) {
                run.stop_context_full();
                continue;
            }
            step.push_back({.member = i,
                            .token = run.last_token(),
                            .pos = static_cast<uint32_t>(m.s->tokens.size())});
            order.push_back(i);
        }
        running = order;
        if (step.empty()) {
            break;
        }
        if (result.n_steps == 0) {
            decode_start = Clock::now();
        }
        if (auto ok = backend->decode(members, step, out.data()); !ok) {
            return std::unexpected(ok.error());
        }
        result.n_steps += 1;
        result.n_computed += step.size();
        for (size_t k = 0; k < step.size(); ++k) {
            BatchMember& m = members[step[k].member];
            m.s->tokens.push_back(step[k].token);
            m.s->n_computed += 1;
            if (!backend->logits_on_device()) {
                std::copy_n(out.begin() + static_cast<std::ptrdiff_t>(k * n_vocab), n_vocab,
                            m.logits.begin());
            }
        }
    }
    result.decode_ms = result.n_steps > 0 ? ms_since(decode_start) : 0;
    for (auto& run : runs) {
        result.sequences.push_back(run.finish());
    }
    return result;
}

} // namespace hearth
