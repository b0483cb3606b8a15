// The forward passes of the step loop (step_loop.h), by device: the loop (prefix reuse,
// chunked prefill, sampling, stop conditions, statistics) is the same for every session; how
// a step's tokens run and cells are copied is the backend's. The CPU runs every sequence's
// tokens in one pass of the first session's cpu::Forward into each session's own KvCache;
// CUDA runs them through the sessions' CudaForward slots (sessions of one
// Session::create_group share one), prompt rows and decode rows in two passes.
#pragma once

#include "hearth/batch_generation.h"
#include "hearth/sampling.h"
#include "session/session_impl.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace hearth {

// One slot's state in the step loop.
struct BatchMember {
    Session::Impl* s = nullptr;
    std::span<const int32_t> prompt;
    size_t reused = 0;         // prompt tokens found in its own cache (s->tokens holds them)
    size_t shared = 0;         // prompt tokens copied from another sequence's cache
    std::vector<float> logits; // of its last token run (n_vocab; unused while on the device)
};

// A token of one step's forward pass: a prompt token or a sequence's next token
// (`decode`), at position `pos` of members[member]'s cache.
struct StepToken {
    size_t member = 0;
    int32_t token = 0;
    uint32_t pos = 0;
    bool want_logits = false;
    bool decode = false;
    cpu::AttentionKernels kernels = cpu::AttentionKernels::single_token; // on the CPU
};

// The prompt prefix all members share (short of each one's last token), computed once by
// the donor (the member with most of it cached) and copied into the takers (the others with
// less of it whose caches can take the donor's cells: `compatible(taker, donor)`). No takers:
// nothing to share (one member, or every member has the prefix already).
struct SharedPrefix {
    size_t length = 0;
    size_t donor = 0;
    std::vector<size_t> takers;
};
SharedPrefix plan_shared_prefix(const std::vector<BatchMember>& members,
                                const std::function<bool(size_t taker, size_t donor)>& compatible);

class BatchBackend {
public:
    virtual ~BatchBackend() = default;

    // Runs the tokens (each after its member's cached ones, a member's in position order)
    // and writes n_vocab logits per token that wants them, in order, into `logits`. The
    // caller records the tokens.
    virtual Result<void> run(std::vector<BatchMember>& members, std::span<const StepToken> tokens,
                             float* logits) = 0;

    // Whether `taker`'s cache can take `donor`'s cells.
    virtual bool can_share(const BatchMember& taker, const BatchMember& donor) const = 0;
    // Copies positions [from, to) of `donor`'s cache into `taker`'s; false, and nothing
    // changed, when the taker's recurrent state cannot take the donor's (which must stand at
    // `to`). The caller records the tokens.
    virtual Result<bool> copy_prefix(BatchMember& taker, const BatchMember& donor, size_t from,
                                     size_t to) = 0;

    // Speculation: before the pass that verifies `n_tokens` tokens of `member` (its next token
    // and the draft), keeps what bringing its recurrent state back to any of them needs;
    // after the pass, brings the state back to `position` (the tokens kept, past the first).
    // Nothing for a model without recurrent layers. Only the CPU speculates
    // (check_speculation refuses CUDA sessions), so only it overrides these.
    virtual void begin_verify(BatchMember& /*member*/, size_t /*n_tokens*/) {}
    virtual void end_verify(BatchMember& /*member*/, size_t /*position*/) {}

    // Whether run() leaves the logits on the device instead (it then writes nothing to
    // `logits`, member.logits stays unused): next_token() reads them there.
    virtual bool logits_on_device() const { return false; }

    // The next token of `member` by `sampler` (`history`: its sequence so far) from the
    // logits the last run() left: here the host's, in member.logits.
    virtual Result<int32_t> next_token(BatchMember& member, Sampler& sampler,
                                       std::span<const int32_t> history) {
        return sampler.sample(member.logits, history);
    }
};

// The CPU backend; all members are CPU sessions (validated by the caller).
std::unique_ptr<BatchBackend> make_cpu_batch_backend();
// The CUDA backend; all members are CUDA sessions. With `sample_on_gpu` (gpu_sampling()), the
// logits stay on the GPU and next_token() runs the chain there (CudaForward::sample), bringing
// back the token only, or the logits when the GPU cannot draw it.
std::unique_ptr<BatchBackend> make_cuda_batch_backend(size_t n_vocab, bool sample_on_gpu);

// Whether generate_together samples the CUDA sessions' tokens on the GPU: one session, whose
// forward has the output head on the GPU (not a partial offload) and whose sampling wants no
// trace (the UI's trace comes from the host sampler).
bool gpu_sampling(std::span<Session::Impl* const> sessions,
                  std::span<const SequenceRequest> requests);

} // namespace hearth
