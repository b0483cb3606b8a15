// The forward passes of generate_together (batch_generation.cpp), by device: the loop there
// (prefix reuse, sampling, stop conditions, statistics) is the same for every session; how
// the prompts are prefilled and each decode step is run is the backend's. The CPU runs
// every sequence's tokens in one pass of the first session's cpu::Forward into each
// session's own KvCache; CUDA runs them through the sessions' CudaForward slots, one pass per
// forward (sessions of one Session::create_group share one).
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

// One sequence's state during a generate_together call.
struct BatchMember {
    Session::Impl* s = nullptr;
    std::span<const int32_t> prompt;
    size_t reused = 0;         // prompt tokens found in its own cache (s->tokens holds them)
    size_t shared = 0;         // prompt tokens copied from another sequence's cache
    std::vector<float> logits; // of its last token run (n_vocab; unused while on the device)
};

// A token of one decode step: the next token of members[member], at position `pos`.
struct DecodeToken {
    size_t member = 0;
    int32_t token = 0;
    uint32_t pos = 0;
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

    // Runs every member's prompt after its cached tokens, appending them to s->tokens and
    // counting them (s->n_computed, result.n_computed); leaves the last prompt token's logits
    // in `logits`. May compute a shared prefix once and copy it (setting `shared` and
    // result.n_shared_prefix).
    virtual Result<void> prefill(std::vector<BatchMember>& members,
                                 BatchGenerationStats& result) = 0;

    // Runs one step: each token at the end of its member's cache. Writes n_vocab logits per
    // token, in order, into `logits`. The caller records the tokens.
    virtual Result<void> decode(std::vector<BatchMember>& members,
                                std::span<const DecodeToken> tokens, float* logits) = 0;

    // Whether prefill() and decode() leave the logits on the device instead (decode() then
    // writes nothing to `logits`, member.logits stays unused): next_token() reads them there.
    virtual bool logits_on_device() const { return false; }

    // The next token of `member` by `sampler` (`history`: its sequence so far) from the
    // logits the last prefill() or decode() left: here the host's, in member.logits.
    virtual Result<int32_t> next_token(BatchMember& member, Sampler& sampler,
                                       std::span<const int32_t> history) {
        return sampler.sample(member.logits, history);
    }
};

// The CPU backend; all members are CPU sessions (validated by the caller).
std::unique_ptr<BatchBackend> make_cpu_batch_backend(size_t n_vocab);
// The CUDA backend; all members are CUDA sessions. With `sample_on_gpu` (gpu_sampling()), the
// logits stay on the GPU and next_token() runs the chain there (CudaForward::sample), bringing
// back the token only, or the logits when the GPU cannot draw it.
std::unique_ptr<BatchBackend> make_cuda_batch_backend(size_t n_vocab, bool sample_on_gpu);

// Whether generate_together samples the CUDA sessions' tokens on the GPU: one member, whose
// forward has the output head on the GPU (not a partial offload) and whose sampling wants no
// trace (the UI's trace comes from the host sampler).
bool gpu_sampling(const std::vector<BatchMember>& members,
                  std::span<const SequenceRequest> requests);

} // namespace hearth
