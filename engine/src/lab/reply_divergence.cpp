// Compare's divergence of two models along one reply: both teacher-forced along the same
// tokens, scored with the lab's KL (KlDivergenceAccumulator) position by position.
#include "hearth/reply_divergence.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

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

    // Both sessions step together, so that one compressed row of the reference's
    // distribution is all that is kept, whatever the reply's length and the vocabulary's size.
    // The prompt in one pass, then the reply one token at a time: the steps generation took,
    // so that each distribution is the one the reply was sampled from (one pass over prompt
    // and reply takes the batched kernels, whose rounding moves a step's KL by a few percent).
    std::vector<uint16_t> row;
    ReplyDivergence out;
    out.tokens.resize(reply.size());
    KlDivergenceAccumulator accumulator;
    reference.clear();
    candidate.clear();
    auto reference_logits = reference.append(prompt);
    auto candidate_logits = candidate.append(prompt);
    for (size_t k = 0; k < reply.size(); ++k) {
        if (!reference_logits) {
            return std::unexpected(reference_logits.error());
        }
        if (!candidate_logits) {
            return std::unexpected(candidate_logits.error());
        }
        // Rows as wide as the logits (a model's output may be wider than its tokenizer).
        if (candidate_logits->size() != reference_logits->size()) {
            return fail(ErrorCode::bad_format,
                        fmt::format("the two models give {} and {} logits: their token "
                                    "distributions cannot be compared",
                                    reference_logits->size(), candidate_logits->size()));
        }
        if (static_cast<size_t>(reply[k]) >= reference_logits->size()) {
            return fail(ErrorCode::bad_format, fmt::format("token {} is past the model's {} logits",
                                                           reply[k], reference_logits->size()));
        }
        row.resize(compressed_log_probs_size(reference_logits->size()));
        ReplyTokenDivergence& t = out.tokens[k];
        t.token = reply[k];
        compress_log_probs(*reference_logits, row);
        const Softmaxed r = softmax_norm(*reference_logits);
        t.reference_top = r.top;
        t.reference_p = probability(*reference_logits, r, reply[k]);
        t.kl = accumulator.add(*candidate_logits, row, reply[k]);
        const Softmaxed c = softmax_norm(*candidate_logits);
        t.candidate_top = c.top;
        t.candidate_p = probability(*candidate_logits, c, reply[k]);
        if (k + 1 < reply.size()) {
            reference_logits = reference.append(reply.subspan(k, 1));
            candidate_logits = candidate.append(reply.subspan(k, 1));
        }
    }
    out.summary = accumulator.summary();
    return out;
}

} // namespace hearth
