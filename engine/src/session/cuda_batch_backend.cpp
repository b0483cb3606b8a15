// generate_together's forward passes on CUDA. Sessions made by one Session::create_group
// share a CudaForward (one upload of the weights, a KV slot each): their tokens go through
// it together, one run() per prefill and per decode step, and rows of different slots in one
// step give what each gives alone (tests/kernels/tst_cuda_forward.cpp). Sessions created
// separately have a forward each: a step then runs one pass per forward, one after another,
// so that they still stream together, without sharing the weight reads.
// As on the CPU, the prompt prefix the sequences share is computed once, in one slot, and its
// cells copied into the other slots of the same forward (CudaForward::copy_cells).
// One sequence alone samples on the GPU (gpu_sampling()): its steps bring back no logits, only
// the token CudaForward::sample draws with the sequence's own Sampler's draw, so that the
// tokens are the host sampler's; when the GPU cannot draw (a kept set past what it sorts) the
// last row's logits come back and the host samples them.
#include "session/batch_backend.h"

#include <algorithm>

namespace hearth {
namespace {

class CudaBatchBackend final : public BatchBackend {
public:
    CudaBatchBackend(size_t n_vocab, bool sample_on_gpu)
        : n_vocab_(n_vocab), sample_on_gpu_(sample_on_gpu) {}

    bool logits_on_device() const override { return sample_on_gpu_; }

    Result<int32_t> next_token(BatchMember& member, Sampler& sampler,
                               std::span<const int32_t> history) override {
        if (!sample_on_gpu_) {
            return BatchBackend::next_token(member, sampler, history);
        }
        CudaForward& forward = *member.s->cuda->forward;
        if (sampler.params().penalty_window(history.size()) <= kCudaSampleMaxHistory) {
            auto drawn =
                forward.sample(sampler.params(), history, sampler.peek_uniform().value_or(0.0));
            if (!drawn) {
                return std::unexpected(drawn.error());
            }
            if (!drawn->needs_host) {
                sampler.consume_draw();
                return drawn->token;
            }
        }
        // The host's chain over the last row, which draws from the sampler itself.
        member.logits.resize(n_vocab_);
        if (auto ok = forward.last_logits(member.logits.data()); !ok) {
            return std::unexpected(ok.error());
        }
        return sampler.sample(member.logits, history);
    }

    Result<void> prefill(std::vector<BatchMember>& members, BatchGenerationStats& result) override {
        if (auto ok = share_prefix(members, result); !ok) {
            return ok;
        }
        for (CudaForward* forward : forwards(members)) {
            batch_.clear();
            std::vector<size_t> wants; // members whose last prompt token is in the batch
            for (size_t i = 0; i < members.size(); ++i) {
                BatchMember& m = members[i];
                if (m.s->cuda->forward.get() != forward) {
                    continue;
                }
                for (size_t pos = m.s->tokens.size(); pos < m.prompt.size(); ++pos) {
                    // The last row's logits stay on the device for sample() either way.
                    const bool last = pos + 1 == m.prompt.size();
                    batch_.push_back({.token = m.prompt[pos],
                                      .pos = static_cast<uint32_t>(pos),
                                      .seq = m.s->cuda->seq,
                                      .want_logits = last && !sample_on_gpu_});
                }
                wants.push_back(i);
            }
            out_.resize(sample_on_gpu_ ? 0 : wants.size() * n_vocab_);
            if (auto ok = forward->run(batch_, sample_on_gpu_ ? nullptr : out_.data()); !ok) {
                return ok;
            }
            for (size_t w = 0; w < wants.size(); ++w) {
                BatchMember& m = members[wants[w]];
                const size_t n_new = m.prompt.size() - m.s->tokens.size();
                m.s->tokens.assign(m.prompt.begin(), m.prompt.end());
                m.s->n_computed += n_new;
                result.n_computed += n_new;
                if (sample_on_gpu_) {
                    continue;
                }
                m.logits.assign(out_.begin() + static_cast<std::ptrdiff_t>(w * n_vocab_),
                                out_.begin() + static_cast<std::ptrdiff_t>((w + 1) * n_vocab_));
            }
        }
        return {};
    }

    Result<void> decode(std::vector<BatchMember>& members, std::span<const DecodeToken> tokens,
                        float* logits) override {
        for (CudaForward* forward : forwards(members)) {
            batch_.clear();
            std::vector<size_t> rows; // index in `tokens` of each batch row
            for (size_t k = 0; k < tokens.size(); ++k) {
                const CudaSlot& slot = *members[tokens[k].member].s->cuda;
                if (slot.forward.get() == forward) {
                    batch_.push_back({.token = tokens[k].token,
                                      .pos = tokens[k].pos,
                                      .seq = slot.seq,
                                      .want_logits = !sample_on_gpu_});
                    rows.push_back(k);
                }
            }
            if (batch_.empty()) {
                continue;
            }
            if (sample_on_gpu_) { // one row, whose logits next_token() samples on the device
                if (auto ok = forward->run(batch_, nullptr); !ok) {
                    return ok;
                }
                continue;
            }
            out_.resize(batch_.size() * n_vocab_);
            if (auto ok = forward->run(batch_, out_.data()); !ok) {
                return ok;
            }
            for (size_t r = 0; r < rows.size(); ++r) {
                std::copy_n(out_.begin() + static_cast<std::ptrdiff_t>(r * n_vocab_), n_vocab_,
                            logits + rows[r] * n_vocab_);
            }
        }
        return {};
    }

private:
    // The prefix the prompts share, computed once in the donor's slot and copied into the
    // slots of the sessions on the same forward (cells depend only on the tokens and their
    // positions, so each slot holds what it would have computed itself).
    Result<void> share_prefix(std::vector<BatchMember>& members, BatchGenerationStats& result) {
        const SharedPrefix plan = plan_shared_prefix(members, [&](size_t taker, size_t donor) {
            return members[taker].s->cuda->forward == members[donor].s->cuda->forward;
        });
        if (plan.takers.empty()) {
            return {};
        }
        const size_t prefix = plan.length;
        BatchMember& d = members[plan.donor];
        const CudaSlot& donor = *d.s->cuda;
        if (d.reused < prefix) {
            batch_.clear();
            for (size_t pos = d.reused; pos < prefix; ++pos) {
                batch_.push_back({.token = d.prompt[pos],
                                  .pos = static_cast<uint32_t>(pos),
                                  .seq = donor.seq,
                                  .want_logits = false});
            }
            if (auto ok = donor.forward->run(batch_, nullptr); !ok) {
                return ok;
            }
            d.s->tokens.assign(d.prompt.begin(),
                               d.prompt.begin() + static_cast<std::ptrdiff_t>(prefix));
            d.s->n_computed += prefix - d.reused;
            result.n_computed += prefix - d.reused;
        }
        for (size_t i : plan.takers) {
            BatchMember& m = members[i];
            if (auto ok = donor.forward->copy_cells(donor.seq, m.s->cuda->seq,
                                                    static_cast<uint32_t>(m.reused),
                                                    static_cast<uint32_t>(prefix));
                !ok) {
                return ok;
            }
            m.s->tokens.assign(m.prompt.begin(),
                               m.prompt.begin() + static_cast<std::ptrdiff_t>(prefix));
            m.shared = prefix - m.reused;
        }
        result.n_shared_prefix = static_cast<int32_t>(prefix);
        return {};
    }

    // The distinct forwards of the members, in order of first appearance.
    static std::vector<CudaForward*> forwards(const std::vector<BatchMember>& members) {
        std::vector<CudaForward*> out;
        for (const BatchMember& m : members) {
            CudaForward* f = m.s->cuda->forward.get();
            if (std::find(out.begin(), out.end(), f) == out.end()) {
                out.push_back(f);
            }
        }
        return out;
    }

    size_t n_vocab_;
    bool sample_on_gpu_;
    std::vector<CudaBatchToken> batch_;
    std::vector<float> out_;
};

} // namespace

std::unique_ptr<BatchBackend> make_cuda_batch_backend(size_t n_vocab, bool sample_on_gpu) {
    return std::make_unique<CudaBatchBackend>(n_vocab, sample_on_gpu);
}

bool gpu_sampling(const std::vector<BatchMember>& members,
                  std::span<const SequenceRequest> requests) {
    // CudaForward::sample reads one row, the last of the last run(): a step of several
    // sequences brings their logits to the host and samples there.
    if (members.size() != 1 || requests.size() != 1 || !members[0].s->cuda) {
        return false;
    }
    // The trace is the host sampler's; a partial offload computes the logits on the CPU.
    return !requests[0].sampling.trace && members[0].s->cuda->forward->memory().head_on_gpu;
}

} // namespace hearth
