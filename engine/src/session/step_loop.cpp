// The step loop (see step_loop.h): sequences started in slots, prefix reuse and sharing,
// and the steps that sample every decoding sequence and run its token with a budget of
// prompt tokens in one forward pass.
#include "session/step_loop.h"

#include "model/model_impl.h"
#include "session/cuda_session.h"

#include <algorithm>
#include <atomic>
#include <fmt/format.h>

namespace hearth {
namespace {

double ms_since(StepLoop::Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(StepLoop::Clock::now() - start).count();
}

// The attention kernels a prompt token would have had alone: Session prefills positions
// [start, end) in chunks of n_batch from `start`, and llama.cpp picks the kernels by the
// size of the chunk.
cpu::AttentionKernels prompt_kernels(size_t pos, size_t start, size_t end, size_t n_batch) {
    const size_t first = start + (pos - start) / n_batch * n_batch;
    const size_t last = std::min(end, first + n_batch);
    return last - first >= 2 ? cpu::AttentionKernels::prompt_batch
                             : cpu::AttentionKernels::single_token;
}

} // namespace

Result<void> validate_sequence(std::span<const int32_t> prompt, const SamplingParams& sampling,
                               const GenerateOptions& options, uint32_t n_ctx,
                               std::string_view who) {
    if (prompt.empty()) {
        return fail(ErrorCode::invalid_argument, fmt::format("{}the prompt is empty", who));
    }
    if (auto valid = sampling.validate(); !valid) {
        return fail(valid.error().code, fmt::format("{}{}", who, valid.error().message));
    }
    if (options.max_tokens < 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{}max tokens must be 0 or more", who));
    }
    if (prompt.size() >= n_ctx) {
        return fail(ErrorCode::context_full,
                    fmt::format("{}the prompt has {} tokens but the context holds {}: "
                                "shorten the conversation or raise the context length",
                                who, prompt.size(), n_ctx));
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

StepLoop::StepLoop(std::vector<Session::Impl*> slots, std::unique_ptr<BatchBackend> backend)
    : members_(slots.size()), sequences_(slots.size()), backend_(std::move(backend)) {
    for (size_t i = 0; i < slots.size(); ++i) {
        members_[i].s = slots[i];
    }
    n_vocab_ = slots.empty() ? 0 : slots[0]->model->info().n_vocab;
}

bool StepLoop::any_running() const {
    return std::ranges::any_of(sequences_, [](const auto& seq) { return seq != nullptr; });
}

bool StepLoop::any_prefilling() const {
    return std::ranges::any_of(sequences_, [](const auto& seq) { return seq && seq->prefilling; });
}

void StepLoop::start(size_t slot, SequenceSpec spec, Clock::time_point start) {
    auto seq = std::make_unique<Sequence>();
    seq->spec = std::move(spec);
    seq->start = start;
    seq->order = started_++;
    BatchMember& m = members_[slot];
    m.prompt = seq->spec.prompt;
    m.shared = 0;
    // Reuse the cached prefix; at least the last prompt token is run again for its logits.
    m.reused = std::min(common_prefix(m.s->tokens, m.prompt), m.prompt.size() - 1);
    // A recurrent state cannot be cut back like the cache: it resumes from its checkpoint or
    // the start. It keeps one before this prompt's last token, where the next sequence
    // resumes when it regenerates this reply, or when the template renders this reply
    // differently in the next turn (a reasoning section dropped).
    m.reused = cuda_session::rewind_recurrent_state(*m.s, static_cast<uint32_t>(m.reused));
    m.s->state.request_checkpoint(static_cast<uint32_t>(m.prompt.size() - 1));
    m.s->tokens.resize(m.reused);
    seq->chunk_origin = kernel_origin_ == KernelOrigin::prompt_start ? 0 : m.reused;
    seq->run.emplace(m.s->model->tokenizer(), seq->spec.sampling, seq->spec.options, m.prompt,
                     seq->spec.on_token, start);
    if (seq->spec.options.speculation.enabled()) {
        seq->speculator.emplace(seq->spec.options.speculation, seq->spec.sampling);
    }
    GenerationStats& stats = seq->run->stats();
    stats.n_reused = static_cast<int32_t>(m.reused);
    stats.n_prefilled = static_cast<int32_t>(m.prompt.size() - m.reused);
    sequences_[slot] = std::move(seq);
}

Result<size_t> StepLoop::share_from(size_t slot, size_t donor, size_t limit) {
    BatchMember& m = members_[slot];
    const BatchMember& d = members_[donor];
    if (slot == donor || !sequences_[slot] || !sequences_[slot]->prefilling) {
        return 0;
    }
    const size_t from = m.s->tokens.size();
    const size_t length =
        std::min({common_prefix(d.s->tokens, m.prompt), m.prompt.size() - 1, limit});
    if (length <= from || !backend_->can_share(m, d)) {
        return 0;
    }
    auto copied = backend_->copy_prefix(m, d, from, length);
    if (!copied) {
        return std::unexpected(copied.error());
    }
    if (!*copied) {
        return 0;
    }
    m.s->tokens.assign(m.prompt.begin(), m.prompt.begin() + static_cast<std::ptrdiff_t>(length));
    m.shared = length - from;
    GenerationStats& stats = sequences_[slot]->run->stats();
    stats.n_shared = static_cast<int32_t>(m.shared);
    stats.n_prefilled = static_cast<int32_t>(m.prompt.size() - m.reused - m.shared);
    return m.shared;
}

Result<size_t> StepLoop::share_common_prefix(size_t max_batch, uint64_t& n_computed) {
    if (!std::ranges::all_of(sequences_, [](const auto& seq) { return seq != nullptr; })) {
        return 0;
    }
    const SharedPrefix plan = plan_shared_prefix(members_, [&](size_t taker, size_t donor) {
        return backend_->can_share(members_[taker], members_[donor]);
    });
    if (plan.takers.empty()) {
        return 0;
    }
    const size_t prefix = plan.length;
    const size_t have = members_[plan.donor].s->tokens.size();
    if (have < prefix) {
        if (auto ok = prefill_range(plan.donor, have, prefix, max_batch, n_computed); !ok) {
            return std::unexpected(ok.error());
        }
    }
    for (size_t taker : plan.takers) {
        // A taker whose recurrent state cannot take the donor's computes its own.
        if (auto shared = share_from(taker, plan.donor, prefix); !shared) {
            return std::unexpected(shared.error());
        }
    }
    return prefix;
}

Result<void> StepLoop::prefill_range(size_t slot, size_t from, size_t to, size_t max_batch,
                                     uint64_t& n_computed) {
    const Sequence& seq = *sequences_[slot];
    const BatchMember& m = members_[slot];
    for (size_t start = from; start < to; start += max_batch) {
        pass_.clear();
        for (size_t pos = start; pos < std::min(to, start + max_batch); ++pos) {
            pass_.push_back({.member = slot,
                             .token = m.prompt[pos],
                             .pos = static_cast<uint32_t>(pos),
                             .want_logits = pos + 1 == m.prompt.size(),
                             .decode = false,
                             .kernels = prompt_kernels(pos, seq.chunk_origin, m.prompt.size(),
                                                       m.s->options.n_batch)});
        }
        if (auto ok = run_pass(); !ok) {
            return ok;
        }
        n_computed += pass_.size();
    }
    return {};
}

Result<StepLoop::StepCounts> StepLoop::step(size_t prompt_budget, bool decode) {
    pass_.clear();
    StepCounts counts;
    for (size_t slot = 0; decode && slot < sequences_.size(); ++slot) {
        Sequence* seq = sequences_[slot].get();
        if (!seq || seq->prefilling) {
            continue;
        }
        BatchMember& m = members_[slot];
        SequenceRun& run = *seq->run;
        if (!run.wants_next(m.s->cancel_requested)) {
            finish(slot);
            continue;
        }
        // After a rejected draft the target's own token is taken already.
        if (!std::exchange(seq->last_unrun, false)) {
            auto token = backend_->next_token(m, run.sampler(), run.history());
            if (!token) {
                return std::unexpected(token.error());
            }
            if (!run.take(*token)) {
                finish(slot);
                continue;
            }
        }
        if (m.s->tokens.size() + 1 >= m.s->options.n_ctx) {
            run.stop_context_full();
            finish(slot);
            continue;
        }
        pass_.push_back({.member = slot,
                         .token = run.last_token(),
                         .pos = static_cast<uint32_t>(m.s->tokens.size()),
                         .want_logits = true,
                         .decode = true,
                         .kernels = cpu::AttentionKernels::single_token});
        counts.n_decode += 1;
        if (seq->speculator) {
            auto drafted = add_draft(slot);
            if (!drafted) {
                return std::unexpected(drafted.error());
            }
            counts.n_draft += *drafted;
        }
    }
    // The prompts still prefilling, oldest first, share the budget; a cancelled one ends.
    std::vector<size_t> prefilling;
    for (size_t slot = 0; slot < sequences_.size(); ++slot) {
        Sequence* seq = sequences_[slot].get();
        if (!seq || !seq->prefilling) {
            continue;
        }
        if (members_[slot].s->cancel_requested) {
            seq->run->wants_next(members_[slot].s->cancel_requested); // stop: cancelled
            finish(slot);
            continue;
        }
        prefilling.push_back(slot);
    }
    std::ranges::sort(prefilling, {}, [&](size_t slot) { return sequences_[slot]->order; });
    size_t budget = prompt_budget;
    for (size_t slot : prefilling) {
        const BatchMember& m = members_[slot];
        const size_t from = m.s->tokens.size();
        const size_t to = std::min(m.prompt.size(), from + budget);
        for (size_t pos = from; pos < to; ++pos) {
            pass_.push_back({.member = slot,
                             .token = m.prompt[pos],
                             .pos = static_cast<uint32_t>(pos),
                             .want_logits = pos + 1 == m.prompt.size(),
                             .decode = false,
                             .kernels = prompt_kernels(pos, sequences_[slot]->chunk_origin,
                                                       m.prompt.size(), m.s->options.n_batch)});
        }
        budget -= to - from;
        counts.n_prompt += to - from;
    }
    if (pass_.empty()) {
        return counts;
    }
    if (auto ok = run_pass(); !ok) {
        return std::unexpected(ok.error());
    }
    for (size_t slot = 0; slot < sequences_.size(); ++slot) {
        if (sequences_[slot] && !sequences_[slot]->draft.tokens.empty()) {
            verify_draft(slot);
        }
    }
    for (size_t slot : prefilling) {
        Sequence& seq = *sequences_[slot];
        if (members_[slot].s->tokens.size() == members_[slot].prompt.size()) {
            seq.prefilling = false;
            seq.run->stats().prefill_ms = ms_since(seq.start);
        }
    }
    return counts;
}

Result<void> StepLoop::run_pass() {
    const bool host_logits = !backend_->logits_on_device();
    const auto wanted =
        std::ranges::count_if(pass_, [](const StepToken& t) { return t.want_logits; });
    logits_.resize(host_logits ? static_cast<size_t>(wanted) * n_vocab_ : 0);
    if (auto ok = backend_->run(members_, pass_, logits_.data()); !ok) {
        // A recurrent state that took in part of the pass goes back to where it can; the
        // cache's cells past the recorded tokens are not read.
        for (const StepToken& t : pass_) {
            Session::Impl& s = *members_[t.member].s;
            s.tokens.resize(
                cuda_session::rewind_recurrent_state(s, static_cast<uint32_t>(s.tokens.size())));
        }
        return ok;
    }
    size_t row = 0;
    for (const StepToken& t : pass_) {
        BatchMember& m = members_[t.member];
        m.s->tokens.push_back(t.token);
        m.s->n_computed += 1;
        if (t.want_logits && host_logits) {
            const auto first = logits_.begin() + static_cast<std::ptrdiff_t>(row * n_vocab_);
            m.logits.assign(first, first + static_cast<std::ptrdiff_t>(n_vocab_));
        }
        row += t.want_logits ? 1 : 0;
    }
    return {};
}

Result<size_t> StepLoop::add_draft(size_t slot) {
    Sequence& seq = *sequences_[slot];
    BatchMember& m = members_[slot];
    SequenceRun& run = *seq.run;
    // Room: the draft's positions follow the next token's, inside the context, and no more
    // tokens than the reply may still take.
    const size_t next_pos = m.s->tokens.size();
    const size_t room = m.s->options.n_ctx - next_pos - 2;
    const size_t wanted =
        static_cast<size_t>(seq.spec.options.max_tokens - run.stats().n_generated);
    if (auto ok = seq.speculator->propose(*m.s, run.history(), std::min(room, wanted), seq.draft);
        !ok) {
        return std::unexpected(ok.error());
    }
    run.stats().n_drafted += static_cast<int32_t>(seq.draft.tokens.size());
    if (!seq.draft.tokens.empty()) {
        backend_->begin_verify(m, seq.draft.tokens.size() + 1); // the next token and the draft
    }
    // Decode rows come first in the pass and all want logits: the row is the pass index.
    seq.draft_row = pass_.size() - 1;
    for (size_t i = 0; i < seq.draft.tokens.size(); ++i) {
        // The single-token kernels: each position's logits are one-token decoding's, bit for bit.
        pass_.push_back({.member = slot,
                         .token = seq.draft.tokens[i],
                         .pos = static_cast<uint32_t>(next_pos + 1 + i),
                         .want_logits = true,
                         .decode = true,
                         .kernels = cpu::AttentionKernels::single_token});
    }
    return seq.draft.tokens.size();
}

void StepLoop::verify_draft(size_t slot) {
    Sequence& seq = *sequences_[slot];
    BatchMember& m = members_[slot];
    SequenceRun& run = *seq.run;
    const size_t n_draft = seq.draft.tokens.size();
    const size_t first = m.s->tokens.size() - n_draft; // where the draft's first token stands
    size_t accepted = 0;
    bool finished = false;
    bool ended_on_token = false; // the last token taken ended the sequence
    size_t taken = 0;
    for (size_t i = 0; i < n_draft; ++i) {
        if (!run.wants_next(m.s->cancel_requested)) {
            finished = true;
            break;
        }
        const std::span<const float> logits(logits_.data() + (seq.draft_row + i) * n_vocab_,
                                            n_vocab_);
        const Sampler::Verdict verdict =
            run.sampler().verify(logits, run.history(), seq.draft.tokens[i], seq.draft.q_at(i));
        run.stats().n_draft_accepted += verdict.accepted ? 1 : 0;
        accepted += verdict.accepted ? 1 : 0;
        taken += 1;
        if (!run.take(verdict.token)) {
            finished = ended_on_token = true;
            break;
        }
        if (!verdict.accepted) {
            seq.last_unrun = true;
            break;
        }
    }
    // The rejected tokens leave the cache; an accepted one stays, computed from its true
    // prefix. When all were accepted, the last row's logits (member.logits) come next. A
    // sequence that ends leaves what one-token decoding leaves: not its last token, which
    // the next turn's prompt runs with the prompt's kernels. A recurrent state is brought
    // back to the same tokens.
    size_t keep = first + accepted;
    if (ended_on_token) {
        keep = std::min(keep, first + taken - 1);
    }
    m.s->tokens.resize(keep);
    backend_->end_verify(m, keep);
    seq.draft.clear();
    if (finished) {
        finish(slot);
    }
}

void StepLoop::finish(size_t slot) {
    finished_.push_back({.slot = slot, .stats = sequences_[slot]->run->finish()});
    sequences_[slot].reset();
    members_[slot].prompt = {};
}

std::vector<StepLoop::Finished> StepLoop::take_finished() {
    return std::exchange(finished_, {});
}

void StepLoop::end(size_t slot) {
    if (sequences_[slot]) {
        const std::atomic<bool> cancel{true};
        sequences_[slot]->run->wants_next(cancel); // stop: cancelled
        finish(slot);
    }
}

std::vector<StepLoop::Finished> StepLoop::abandon_all() {
    for (size_t slot = 0; slot < sequences_.size(); ++slot) {
        end(slot);
    }
    return take_finished();
}

const GenerationStats* StepLoop::progress(size_t slot) const {
    return sequences_[slot] ? &sequences_[slot]->run->stats() : nullptr;
}

size_t StepLoop::prompt_left(size_t slot) const {
    if (!sequences_[slot] || !sequences_[slot]->prefilling) {
        return 0;
    }
    return members_[slot].prompt.size() - members_[slot].s->tokens.size();
}

} // namespace hearth
