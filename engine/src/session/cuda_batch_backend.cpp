// The step loop's forward passes on CUDA. Sessions made by one Session::create_group
// share a CudaForward (one upload of the weights, a KV slot each): a step's tokens go through
// it together, its prompt rows in one run() and its decode rows in another, and rows of
// different slots in one run give what each gives alone (tests/kernels/tst_cuda_forward.cpp).
// Sessions created separately have a forward each: a step then runs the passes of each
// forward one after another, so that they still stream together, without sharing the weight
// reads. A shared prompt prefix is copied between slots of one forward (copy_cells).
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

    // Per forward, the prompt rows and the decode rows of the step run as two passes (the
    // shapes the forward's prefill and batched decode take); a row's logits land where its
    // token's place among the wanting tokens says.
    Result<void> run(std::vector<BatchMember>& members, std::span<const StepToken> tokens,
                     float* logits) override {
        std::vector<size_t> out_row(tokens.size());
        size_t n_wanted = 0;
        for (size_t k = 0; k < tokens.size(); ++k) {
            out_row[k] = n_wanted;
            n_wanted += tokens[k].want_logits ? 1 : 0;
        }
        for (CudaForward* forward : forwards(members)) {
            for (const bool decode : {false, true}) {
                batch_.clear();
                std::vector<size_t> rows; // index in `tokens` of each row that wants logits
                for (size_t k = 0; k < tokens.size(); ++k) {
                    const CudaSlot& slot = *members[tokens[k].member].s->cuda;
                    if (slot.forward.get() != forward || tokens[k].decode != decode) {
                        continue;
                    }
                    // With GPU sampling the last row's logits stay on the device for sample().
                    const bool want = tokens[k].want_logits && !sample_on_gpu_;
                    batch_.push_back({.token = tokens[k].token,
                                      .pos = tokens[k].pos,
                                      .seq = slot.seq,
                                      .want_logits = want});
                    if (want) {
                        rows.push_back(k);
                    }
                }
                if (batch_.empty()) {
                    continue;
                }
                out_.resize(rows.size() * n_vocab_);
                if (auto ok = forward->run(batch_, rows.empty() ? nullptr : out_.data()); !ok) {
                    return ok;
                }
                for (size_t r = 0; r < rows.size(); ++r) {
                    std::copy_n(out_.begin() + static_cast<std::ptrdiff_t>(r * n_vocab_), n_vocab_,
                                logits + out_row[rows[r]] * n_vocab_);
                }
            }
        }
        return {};
    }

    // Slots of one forward copy cells on the device (they depend only on the tokens and
    // their positions, so each slot holds what it would have computed itself).
    bool can_share(const BatchMember& taker, const BatchMember& donor) const override {
        // qwen35: a slot's recurrent state is not copied on the device (yet): each computes
        // its own prompt.
        return taker.s->cuda->forward == donor.s->cuda->forward &&
               taker.s->model->info().recurrent_layers.empty();
    }

    Result<bool> copy_prefix(BatchMember& taker, const BatchMember& donor, size_t from,
                             size_t to) override {
        const CudaSlot& slot = *donor.s->cuda;
        if (auto ok =
                slot.forward->copy_cells(slot.seq, taker.s->cuda->seq, static_cast<uint32_t>(from),
                                         static_cast<uint32_t>(to));
            !ok) {
            return std::unexpected(ok.error());
        }
        return true;
    }

private:
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

bool gpu_sampling(std::span<Session::Impl* const> sessions,
                  std::span<const SequenceRequest> requests) {
    // CudaForward::sample reads one row, the last of the last run(): a step of several
    // sequences brings their logits to the host and samples there.
    if (sessions.size() != 1 || requests.size() != 1 || !sessions[0]->cuda) {
        return false;
    }
    // The trace is the host sampler's; a partial offload computes the logits on the CPU.
    return !requests[0].sampling.trace && sessions[0]->cuda->forward->memory().head_on_gpu;
}

} // namespace hearth
