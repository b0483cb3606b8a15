// Generation of several sessions together: validation, the shared prompt prefix computed
// once, the prompts' remaining tokens in shared forward passes, then one decode pass per
// step over every sequence still going.
#include "hearth/batch_generation.h"

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

// One sequence's state during the call.
struct Member {
    Session::Impl* s = nullptr;
    std::span<const int32_t> prompt;
    size_t start = 0;  // first prompt position computed by this call for the sequence alone
    size_t reused = 0; // prompt tokens found in its own cache
    size_t shared = 0; // prompt tokens copied from the donor's cache
    std::vector<float> logits;
};

// The attention kernels a prompt token would have had alone: Session prefills positions
// [start, end) in chunks of n_batch from `start`, and llama.cpp picks the kernels by the
// size of the chunk.
cpu::AttentionKernels prompt_kernels(size_t pos, size_t start, size_t end, size_t n_batch) {
    const size_t first = start + (pos - start) / n_batch * n_batch;
    const size_t last = std::min(end, first + n_batch);
    return last - first >= 2 ? cpu::AttentionKernels::prompt_batch
                             : cpu::AttentionKernels::single_token;
}

struct PendingRange {
    size_t member;
    size_t from, to;  // positions to compute
    size_t ref_start; // where the sequence's own chunking starts (see prompt_kernels)
    size_t ref_end;
};

// Runs the ranges through the model, up to `max_batch` tokens per forward pass, keeping the
// logits of every sequence's last prompt token.
Result<void> prefill(cpu::Forward& forward, std::vector<Member>& members,
                     std::span<const PendingRange> ranges, size_t max_batch, size_t n_vocab,
                     uint64_t& n_computed) {
    std::vector<cpu::BatchToken> batch;
    std::vector<size_t> owner; // member of each batch token
    std::vector<size_t> wants; // members whose logits the pass returns, in order
    std::vector<float> out;
    auto flush = [&]() -> Result<void> {
        if (batch.empty()) {
            return {};
        }
        out.resize(wants.size() * n_vocab);
        if (auto ok = forward.run(batch, out.data()); !ok) {
            return ok;
        }
        for (size_t t = 0; t < batch.size(); ++t) {
            Member& m = members[owner[t]];
            m.s->tokens.push_back(batch[t].token);
            m.s->n_computed += 1;
        }
        n_computed += batch.size();
        for (size_t w = 0; w < wants.size(); ++w) {
            members[wants[w]].logits.assign(out.begin() + static_cast<std::ptrdiff_t>(w * n_vocab),
                                            out.begin() +
                                                static_cast<std::ptrdiff_t>((w + 1) * n_vocab));
        }
        batch.clear();
        owner.clear();
        wants.clear();
        return {};
    };
    for (const PendingRange& r : ranges) {
        Member& m = members[r.member];
        for (size_t pos = r.from; pos < r.to; ++pos) {
            const bool last = pos + 1 == m.prompt.size();
            batch.push_back(
                {.token = m.prompt[pos],
                 .pos = static_cast<uint32_t>(pos),
                 .cache = &m.s->cache,
                 .want_logits = last,
                 .kernels = prompt_kernels(pos, r.ref_start, r.ref_end, m.s->options.n_batch)});
            owner.push_back(r.member);
            if (last) {
                wants.push_back(r.member);
            }
            if (batch.size() == max_batch) {
                if (auto ok = flush(); !ok) {
                    return ok;
                }
            }
        }
    }
    return flush();
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

Result<BatchGenerationStats> generate_together(std::span<const SequenceRequest> requests) {
    if (auto ok = validate(requests); !ok) {
        return std::unexpected(ok.error());
    }
    const auto start = Clock::now();
    const size_t n = requests.size();
    const size_t n_vocab = requests[0].session->model().info().n_vocab;
    std::vector<Member> members(n);
    size_t max_batch = 1;
    for (size_t i = 0; i < n; ++i) {
        Member& m = members[i];
        m.s = &SessionAccess::impl(*requests[i].session);
        m.s->cancel_requested = false;
        m.prompt = requests[i].prompt;
        // Reuse the cached prefix; at least the last prompt token is run again for its logits.
        m.reused = std::min(common_prefix(m.s->tokens, m.prompt), m.prompt.size() - 1);
        m.s->tokens.resize(m.reused);
        m.start = m.reused;
        max_batch = std::max<size_t>(max_batch, m.s->options.n_batch);
    }

    // The prefix common to every prompt (short of each one's last token) is computed once,
    // by the member that has most of it cached, and copied into those with less of it.
    BatchGenerationStats result;
    std::vector<PendingRange> ranges;
    if (n > 1) {
        size_t prefix = members[0].prompt.size() - 1;
        for (const Member& m : members) {
            prefix =
                std::min({prefix, m.prompt.size() - 1, common_prefix(m.prompt, members[0].prompt)});
        }
        size_t donor = 0;
        for (size_t i = 1; i < n; ++i) {
            if (std::min(members[i].reused, prefix) > std::min(members[donor].reused, prefix)) {
                donor = i;
            }
        }
        Member& d = members[donor];
        std::vector<size_t> takers;
        for (size_t i = 0; i < n; ++i) {
            if (i != donor && members[i].reused < prefix &&
                members[i].s->cache.same_layout(d.s->cache)) {
                takers.push_back(i);
            }
        }
        if (!takers.empty()) {
            if (d.reused < prefix) {
                const PendingRange head{donor, d.reused, prefix, d.start, d.prompt.size()};
                if (auto ok = prefill(d.s->forward, members, {&head, 1}, max_batch, n_vocab,
                                      result.n_computed);
                    !ok) {
                    return std::unexpected(ok.error());
                }
            }
            for (size_t i : takers) {
                Member& m = members[i];
                m.s->cache.copy_cells_from(d.s->cache, static_cast<uint32_t>(m.reused),
                                           static_cast<uint32_t>(prefix));
                m.s->tokens.assign(m.prompt.begin(),
                                   m.prompt.begin() + static_cast<std::ptrdiff_t>(prefix));
                m.shared = prefix - m.reused;
            }
            result.n_shared_prefix = static_cast<int32_t>(prefix);
        }
    }
    for (size_t i = 0; i < n; ++i) {
        const Member& m = members[i];
        ranges.push_back({i, m.s->tokens.size(), m.prompt.size(), m.start, m.prompt.size()});
    }
    cpu::Forward& forward = members[0].s->forward;
    if (auto ok = prefill(forward, members, ranges, max_batch, n_vocab, result.n_computed); !ok) {
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

    // Decode: every step samples each running sequence's next token from its logits and
    // runs all the new tokens in one pass.
    std::vector<size_t> running(n);
    for (size_t i = 0; i < n; ++i) {
        running[i] = i;
    }
    std::vector<cpu::BatchToken> batch;
    std::vector<size_t> order;
    std::vector<float> out(n * n_vocab);
    Clock::time_point decode_start = Clock::now();
    while (!running.empty()) {
        batch.clear();
        order.clear();
        for (size_t i : running) {
            Member& m = members[i];
            if (!runs[i].step(m.logits, m.s->cancel_requested)) {
                continue;
            }
            if (m.s->tokens.size() + 1 >= m.s->options.n_ctx) {
                runs[i].stop_context_full();
                continue;
            }
            batch.push_back({.token = runs[i].last_token(),
                             .pos = static_cast<uint32_t>(m.s->tokens.size()),
                             .cache = &m.s->cache,
                             .want_logits = true,
                             .kernels = cpu::AttentionKernels::single_token});
            order.push_back(i);
        }
        running = order;
        if (batch.empty()) {
            break;
        }
        if (result.n_steps == 0) {
            decode_start = Clock::now();
        }
        if (auto ok = forward.run(batch, out.data()); !ok) {
            return std::unexpected(ok.error());
        }
        result.n_steps += 1;
        result.n_computed += batch.size();
        for (size_t k = 0; k < order.size(); ++k) {
            Member& m = members[order[k]];
            m.s->tokens.push_back(batch[k].token);
            m.s->n_computed += 1;
            std::copy_n(out.begin() + static_cast<std::ptrdiff_t>(k * n_vocab), n_vocab,
                        m.logits.begin());
        }
    }
    result.decode_ms = result.n_steps > 0 ? ms_since(decode_start) : 0;
    for (auto& run : runs) {
        result.sequences.push_back(run.finish());
    }
    return result;
}

} // namespace hearth
