// The drafters of speculative decoding (hearth/speculation.h): prompt lookup (the tokens that
// followed the most recent earlier occurrence of the sequence's last n-gram) and a draft
// model (its own session, kept beside the target's slot, decoding the proposal token by
// token with its own sampler).
#pragma once

#include "hearth/sampling.h"
#include "hearth/session.h"
#include "hearth/speculation.h"
#include "session/session_impl.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace hearth {

// A proposal: the draft tokens and, for a draft model that samples, the distribution each was
// drawn from (empty: every token was certain, as lookup's and a greedy draft's are).
struct Draft {
    std::vector<int32_t> tokens;
    std::vector<std::vector<TokenProbability>> q;

    void clear() {
        tokens.clear();
        q.clear();
    }
    std::span<const TokenProbability> q_at(size_t i) const {
        return i < q.size() ? std::span<const TokenProbability>(q[i])
                            : std::span<const TokenProbability>();
    }
};

// Prompt lookup: the longest n-gram ending `history` (ngram_max tokens down to 1) that also
// occurs earlier; its most recent earlier occurrence's continuation, up to `max` tokens.
void lookup_draft(std::span<const int32_t> history, size_t ngram_max, size_t max,
                  std::vector<int32_t>& out);

// The draft model's session, kept in the target slot's Session::Impl.
struct DraftSession {
    std::shared_ptr<const Model> model;
    Session session;
};

// Whether `slot` can run `speculation` (`unsupported`: a CUDA session, a draft model of
// another vocabulary; the options' own ranges as validate()). Hybrid models speculate as
// target and as draft: the step loop rewinds a target's recurrent state after each
// verification (BatchBackend::end_verify), a draft's resumes from its checkpoint.
Result<void> check_speculation(const Session::Impl& slot, const SpeculationOptions& speculation,
                               std::string_view who);

// One sequence's drafter.
class Speculator {
public:
    Speculator(const SpeculationOptions& options, const SamplingParams& sampling);

    // Proposes up to `max` tokens after `history` (the prompt and the reply so far, its last
    // token not yet run by the target) into `out`; fewer than draft_min: none. The draft model's
    // session is `slot.draft`, made or remade here. Fails when the draft's forward pass does.
    Result<void> propose(Session::Impl& slot, std::span<const int32_t> history, size_t max,
                         Draft& out);

private:
    Result<void> propose_with_model(Session::Impl& slot, std::span<const int32_t> history,
                                    size_t max, Draft& out);

    const SpeculationOptions& options_;
    Sampler sampler_; // the draft model's
    std::vector<int32_t> scratch_;
};

} // namespace hearth
