// The engine's one generation loop: a fixed set of slots (sessions on one model and device),
// sequences started in them at any time, and steps that each run ONE forward pass over the
// next token of every decoding sequence plus a budget of prompt tokens of the sequences still
// prefilling. generate_together (all sequences start together) and the Scheduler (requests
// that come and go) both drive it; Session::generate is generate_together with one sequence.
//
// A sequence's tokens do not depend on the other tokens of its passes: each prompt token keeps
// the attention kernels it would have had prefilled alone in chunks of n_batch from its
// slot's reused prefix (prompt_kernels), each decode token the single-token ones, and every
// sequence samples with its own Sampler (SequenceRun).
#pragma once

#include "hearth/sampling.h"
#include "hearth/session.h"
#include "session/batch_backend.h"
#include "session/drafter.h"
#include "session/sequence_run.h"
#include "session/session_impl.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace hearth {

// What one sequence generates.
struct SequenceSpec {
    std::vector<int32_t> prompt; // the whole conversation so far
    SamplingParams sampling;
    GenerateOptions options;
    std::function<bool(const TokenEvent&)> on_token; // may be empty; false stops it
};

// The checks every sequence passes before it starts (generate_together's and the
// Scheduler's): a prompt that is not empty and fits a context of `n_ctx` (`context_full`),
// valid sampling parameters and token limit (`invalid_argument`). `who` prefixes the message.
Result<void> validate_sequence(std::span<const int32_t> prompt, const SamplingParams& sampling,
                               const GenerateOptions& options, uint32_t n_ctx,
                               std::string_view who);

size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b);

// Where a prompt's chunks of n_batch are counted from when its tokens' attention kernels are
// chosen (prompt_kernels). reused_prefix: from the slot's reused prefix, as Session::generate
// and llama.cpp prefill the new tokens. prompt_start: from position 0, as a fresh session
// would, so that a request gets the same logits whatever the slots happened to cache: the
// Scheduler's choice, where a server's repeated request must repeat its answer.
enum class KernelOrigin { reused_prefix, prompt_start };

class StepLoop {
public:
    using Clock = std::chrono::steady_clock;

    // `slots`: sessions on one model and device, outliving the loop; their forward passes go
    // through `backend`.
    StepLoop(std::vector<Session::Impl*> slots, std::unique_ptr<BatchBackend> backend);

    void set_kernel_origin(KernelOrigin origin) { kernel_origin_ = origin; }

    size_t n_slots() const { return members_.size(); }
    bool busy(size_t slot) const { return sequences_[slot] != nullptr; }
    bool any_running() const;
    bool any_prefilling() const;
    const Session::Impl& session(size_t slot) const { return *members_[slot].s; }

    // Starts `spec` (validated) in the free slot `slot`, reusing the prefix of the prompt
    // found in its cache (a recurrent state rewinds to its checkpoint or the start). Event
    // times and the time to first token count from `start`. The slot's cancel flag is left
    // as it is (the caller clears it when it hands out the slot).
    void start(size_t slot, SequenceSpec spec, Clock::time_point start);

    // For a sequence just started in `slot`: copies from slot `donor` (busy or not) the cells
    // of the prompt prefix the donor holds, when longer than what `slot` reused and the
    // backend can copy them; at most `limit` positions. Returns the tokens copied
    // (n_shared), 0 when none.
    Result<size_t> share_from(size_t slot, size_t donor, size_t limit = SIZE_MAX);

    // generate_together: the prompt prefix every started sequence shares (short of each one's
    // last token) is computed once, by the one with most of it cached, and copied into the
    // others. Returns its length when shared (0: nothing shared); counts the tokens run.
    Result<size_t> share_common_prefix(size_t max_batch, uint64_t& n_computed);

    struct StepCounts {
        size_t n_decode = 0; // sequences that ran their next token
        size_t n_prompt = 0; // prompt tokens run
        size_t n_draft = 0;  // draft tokens run for verification (speculation)
    };
    // One step: samples the next token of every sequence done prefilling (when `decode`; each
    // may finish instead) and, for a sequence that speculates, drafts the tokens after it,
    // then runs those tokens and up to `prompt_budget` prompt tokens of
    // the sequences still prefilling (oldest first) in one forward pass. A prefilling sequence
    // whose slot was cancelled finishes. Drafted tokens are verified after the pass: the
    // accepted ones and the target's own next one are taken, the rejected ones leave the cache
    // and the recurrent state.
    // No pass runs when there is nothing to run. On a failed pass the sequences' caches are put
    // back where they stood; the caller ends them (abandon_all).
    Result<StepCounts> step(size_t prompt_budget, bool decode);

    struct Finished {
        size_t slot = 0;
        GenerationStats stats;
    };
    // The sequences that finished since the last call, their slots free again.
    std::vector<Finished> take_finished();
    // Ends the sequence in `slot` now (stop: cancelled), freeing the slot.
    void end(size_t slot);
    // Ends every running sequence now (stop: cancelled), freeing the slots.
    std::vector<Finished> abandon_all();

    // A running sequence's statistics so far (nullptr for a free slot).
    const GenerationStats* progress(size_t slot) const;
    // Prompt tokens of the sequence in `slot` not yet run (0 for a free or decoding slot).
    size_t prompt_left(size_t slot) const;

private:
    KernelOrigin kernel_origin_ = KernelOrigin::reused_prefix;

    struct Sequence {
        SequenceSpec spec;
        std::optional<SequenceRun> run;
        Clock::time_point start;
        uint64_t order = 0;      // start order: the oldest prefills first
        bool prefilling = true;  // the prompt has tokens not yet run
        size_t chunk_origin = 0; // where prefilling it alone would start (prompt_kernels)
        // Speculation: the drafter, this step's draft and its first logits row in the pass,
        // and whether the last token taken is still to run (the target chose it at a rejected
        // draft's position, so no sampling precedes it).
        std::optional<Speculator> speculator;
        Draft draft;
        size_t draft_row = 0;
        bool last_unrun = false;
    };

    void finish(size_t slot);
    // The decoding sequence in `slot` speculates: drafts after its next token (just added to
    // the pass) and adds the draft to the pass. Returns the draft tokens added.
    Result<size_t> add_draft(size_t slot);
    // After the pass: takes the accepted draft tokens and the target's next one, and drops
    // the rejected ones from the cache (and from a hybrid's recurrent state: end_verify).
    void verify_draft(size_t slot);
    // Runs pass_ and records its tokens and logits.
    Result<void> run_pass();
    Result<void> prefill_range(size_t slot, size_t from, size_t to, size_t max_batch,
                               uint64_t& n_computed);

    std::vector<BatchMember> members_;
    std::vector<std::unique_ptr<Sequence>> sequences_; // by slot; null: free
    std::unique_ptr<BatchBackend> backend_;
    std::vector<Finished> finished_;
    std::vector<StepToken> pass_;
    std::vector<float> logits_;
    size_t n_vocab_ = 0;
    uint64_t started_ = 0;
};

} // namespace hearth
