// Compare's divergence of two models along one reply: both teacher-forced along the same
// tokens, scored with the lab's KL (KlDivergenceAccumulator) position by position.
#include "hearth/reply_divergence.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>

namespace hearth {
namespace {

struct Softmaxed {
    int32_t top = 0;
    float log_norm = 0; // max + log(sum exp(logit - max))
};

Softmaxed softmax_norm(std::span<const float> logits) {
    Softmaxed s;
    float max_logit = logits[0];
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > max_logit) {
            max_logit = logits[i];
            s.top = static_cast<int32_t>(i);
        }
    }
    double sum_exp = 0.0;
    for (float l : logits) {
        sum_exp += std::exp(l - max_logit);
    }
    s.log_norm = max_logit + static_cast<float>(std::log(sum_exp));
    return s;
}

float probability(std::span<const float> logits, const Softmaxed& s, int32_t token) {
    return std::exp(logits[static_cast<size_t>(token)] - s.log_norm);
}

Result<void> check_fits(const Session& session, size_t n_tokens, const char* which) {
    if (n_tokens > session.n_ctx()) {
        return fail(ErrorCode::context_full,
                    fmt::format("the {}'s prompt and reply ({} tokens) do not fit its context "
                                "of {} tokens",
                                which, n_tokens, session.n_ctx()));
    }
    return {};
}

// Runs the prompt in one pass, then the reply one token at a time: the steps generation took,
// so that each distribution is the one the reply was sampled from (one pass over prompt and
// reply takes the batched kernels, whose rounding moves a step's KL by a few percent).
Result<void> teacher_force(Session& session, std::span<const int32_t> prompt,
                           std::span<const int32_t> reply,
                           const std::function<void(size_t, std::span<const float>)>& on_step) {
    session.clear();
    auto logits = session.append(prompt);
    for (size_t k = 0; k < reply.size(); ++k) {
        if (!logits) {
            return std::unexpected(logits.error());
        }
        on_step(k, *logits);
        if (k + 1 < reply.size()) {
            logits = session.append(reply.subspan(k, 1));
        }
    }
    return {};
}

} // namespace

std::optional<size_t> first_divergence(std::span<const int32_t> a, std::span<const int32_t> b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end() && ib == b.end()) {
        return std::nullopt;
    }
    return static_cast<size_t>(ia - a.begin());
}

Result<ReplyDivergence> reply_divergence(Session& reference, Session& candidate,
                                         std::span<const int32_t> prompt,
                                         std::span<const int32_t> reply) {
    if (auto same = check_same_vocabulary(reference.model(), candidate.model()); !same) {
        return std::unexpected(same.error());
    }
    if (prompt.empty() || reply.empty()) {
        return fail(ErrorCode::invalid_argument,
                    "a reply's divergence needs a prompt and at least one reply token");
    }
    const int32_t n_vocab = reference.model().tokenizer().n_vocab();
    std::vector<int32_t> tokens(prompt.begin(), prompt.end());
    tokens.insert(tokens.end(), reply.begin(), reply.end());
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token {} at position {} is not in the vocabulary of {} "
                                    "tokens",
                                    tokens[i], i, n_vocab));
        }
    }
    if (auto fits = check_fits(reference, tokens.size(), "reference"); !fits) {
        return std::unexpected(fits.error());
    }
    if (auto fits = check_fits(candidate, tokens.size(), "candidate"); !fits) {
        return std::unexpected(fits.error());
    }

    const size_t row = compressed_log_probs_size(static_cast<size_t>(n_vocab));
    std::vector<uint16_t> rows(reply.size() * row);
    ReplyDivergence out;
    out.tokens.resize(reply.size());
    auto on_reference = [&](size_t k, std::span<const float> logits) {
        compress_log_probs(logits, std::span(rows).subspan(k * row, row));
        const Softmaxed s = softmax_norm(logits);
        ReplyTokenDivergence& t = out.tokens[k];
        t.token = reply[k];
        t.reference_top = s.top;
        t.reference_p = probability(logits, s, reply[k]);
    };
    if (auto done = teacher_force(reference, prompt, reply, on_reference); !done) {
        return std::unexpected(done.error());
    }
    KlDivergenceAccumulator accumulator;
    auto on_candidate = [&](size_t k, std::span<const float> logits) {
        ReplyTokenDivergence& t = out.tokens[k];
        t.kl = accumulator.add(logits, std::span(rows).subspan(k * row, row), reply[k]);
        const Softmaxed s = softmax_norm(logits);
        t.candidate_top = s.top;
        t.candidate_p = probability(logits, s, reply[k]);
    };
    if (auto done = teacher_force(candidate, prompt, reply, on_candidate); !done) {
        return std::unexpected(done.error());
    }
    out.summary = accumulator.summary();
    return out;
}

} // namespace hearth
