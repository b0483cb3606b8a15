// generate_together's forward passes on the CPU: the prompt prefix every sequence shares is
// computed once, by the member that has most of it cached, and its KV cells copied into the
// others; the prompts' remaining tokens run in shared forward passes of up to the largest
// n_batch; each decode step is one pass over one token of every sequence still going. Each
// token keeps the attention kernels it would have had alone (see batch_generation.h).
#include "session/batch_backend.h"

#include <algorithm>

namespace hearth {
namespace {

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
Result<void> prefill_ranges(cpu::Forward& forward, std::vector<BatchMember>& members,
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
            BatchMember& m = members[owner[t]];
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
        BatchMember& m = members[r.member];
        for (size_t pos = r.from; pos < r.to; ++pos) {
            const bool last = pos + 1 == m.prompt.size();
            batch.push_back(
                {.token = m.prompt[pos],
                 .pos = static_cast<uint32_t>(pos),
                 .cache = &m.s->cache,
                 .want_logits = last,
                 .kernels = prompt_kernels(pos, r.ref_start, r.ref_end, m.s->options.n_batch),
                 .state = m.s->state.empty() ? nullptr : &m.s->state});
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

class CpuBatchBackend final : public BatchBackend {
public:
    explicit CpuBatchBackend(size_t n_vocab) : n_vocab_(n_vocab) {}

    Result<void> prefill(std::vector<BatchMember>& members, BatchGenerationStats& result) override {
        size_t max_batch = 1;
        for (const BatchMember& m : members) {
            max_batch = std::max<size_t>(max_batch, m.s->options.n_batch);
        }
        // The prefix common to every prompt is computed once and copied into the others.
        const SharedPrefix plan = plan_shared_prefix(members, [&](size_t taker, size_t donor) {
            return members[taker].s->cache.same_layout(members[donor].s->cache);
        });
        if (!plan.takers.empty()) {
            const size_t prefix = plan.length;
            BatchMember& d = members[plan.donor];
            if (d.reused < prefix) {
                const PendingRange head{plan.donor, d.reused, prefix, d.reused, d.prompt.size()};
                if (auto ok = prefill_ranges(d.s->forward, members, {&head, 1}, max_batch, n_vocab_,
                                             result.n_computed);
                    !ok) {
                    return ok;
                }
            }
            for (size_t i : plan.takers) {
                BatchMember& m = members[i];
                // A recurrent state is taken whole, only where the donor's stands at the prefix;
                // a member that cannot take it computes its own.
                if (!m.s->state.empty() &&
                    !m.s->state.take_from(d.s->state, static_cast<uint32_t>(prefix))) {
                    continue;
                }
                m.s->cache.copy_cells_from(d.s->cache, static_cast<uint32_t>(m.reused),
                                           static_cast<uint32_t>(prefix));
                m.s->tokens.assign(m.prompt.begin(),
                                   m.prompt.begin() + static_cast<std::ptrdiff_t>(prefix));
                m.shared = prefix - m.reused;
            }
            result.n_shared_prefix = static_cast<int32_t>(prefix);
        }
        std::vector<PendingRange> ranges;
        for (size_t i = 0; i < members.size(); ++i) {
            const BatchMember& m = members[i];
            ranges.push_back({i, m.s->tokens.size(), m.prompt.size(), m.reused, m.prompt.size()});
        }
        return prefill_ranges(members[0].s->forward, members, ranges, max_batch, n_vocab_,
                              result.n_computed);
    }

    Result<void> decode(std::vector<BatchMember>& members, std::span<const DecodeToken> tokens,
                        float* logits) override {
        batch_.clear();
        for (const DecodeToken& t : tokens) {
            batch_.push_back({.token = t.token,
                              .pos = t.pos,
                              .cache = &members[t.member].s->cache,
                              .want_logits = true,
                              .kernels = cpu::AttentionKernels::single_token,
                              .state = members[t.member].s->state.empty()
                                           ? nullptr
                                           : &members[t.member].s->state});
        }
        return members[0].s->forward.run(batch_, logits);
    }

private:
    size_t n_vocab_;
    std::vector<cpu::BatchToken> batch_;
};

} // namespace

std::unique_ptr<BatchBackend> make_cpu_batch_backend(size_t n_vocab) {
    return std::make_unique<CpuBatchBackend>(n_vocab);
}

} // namespace hearth
