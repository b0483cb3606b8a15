// The step loop's forward passes on the CPU: every token of a step, from any sequence, runs
// in one pass of the first session's cpu::Forward into each sequence's own KvCache (and
// recurrent state), with the attention kernels the loop chose for it; a shared prompt prefix
// is copied cell by cell between caches of the same layout; a speculating hybrid sequence's
// recurrent state is brought back to its kept tokens after a verification pass.
#include "session/batch_backend.h"

namespace hearth {
namespace {

class CpuBatchBackend final : public BatchBackend {
public:
    Result<void> run(std::vector<BatchMember>& members, std::span<const StepToken> tokens,
                     float* logits) override {
        batch_.clear();
        for (const StepToken& t : tokens) {
            Session::Impl& s = *members[t.member].s;
            batch_.push_back({.token = t.token,
                              .pos = t.pos,
                              .cache = &s.cache,
                              .want_logits = t.want_logits,
                              .kernels = t.kernels,
                              .state = s.state.empty() ? nullptr : &s.state});
        }
        return members[0].s->forward.run(batch_, logits);
    }

    bool can_share(const BatchMember& taker, const BatchMember& donor) const override {
        return taker.s->cache.same_layout(donor.s->cache);
    }

    Result<bool> copy_prefix(BatchMember& taker, const BatchMember& donor, size_t from,
                             size_t to) override {
        // A recurrent state is taken whole, only where the donor's stands at the prefix's end.
        if (!taker.s->state.empty() &&
            !taker.s->state.take_from(donor.s->state, static_cast<uint32_t>(to))) {
            return false;
        }
        taker.s->cache.copy_cells_from(donor.s->cache, static_cast<uint32_t>(from),
                                       static_cast<uint32_t>(to));
        return true;
    }

    // A hybrid model's state: the copy and log of cpu::RecurrentState::begin_verify, and the
    // replay of the kept tokens (cpu::DeltaNet::replay_verified).
    void begin_verify(BatchMember& member, size_t n_tokens) override {
        member.s->state.begin_verify(static_cast<uint32_t>(n_tokens));
    }
    void end_verify(BatchMember& member, size_t position) override {
        member.s->forward.rewind_verified(member.s->state, static_cast<uint32_t>(position));
    }

private:
    std::vector<cpu::BatchToken> batch_;
};

} // namespace

std::unique_ptr<BatchBackend> make_cpu_batch_backend() {
    return std::make_unique<CpuBatchBackend>();
}

} // namespace hearth
