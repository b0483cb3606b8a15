// Where two models' choices diverge along one reply: both teacher-forced along the same
// prompt and the reference's reply, with, per reply token, the KL divergence of their
// distributions (the lab's KlDivergenceAccumulator, llama-perplexity --kl-divergence's
// arithmetic), each model's probability of the token and each one's most likely token.
// Compare's two-quantization view uses it; Qt-free.
#pragma once

#include "hearth/error.h"
#include "hearth/quant_lab.h"
#include "hearth/session.h"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hearth {

struct ReplyTokenDivergence {
    int32_t token = -1;         // the reference's reply token at this step
    double kl = 0;              // KL(reference || candidate) in nats
    float reference_p = 0;      // the reference's probability of `token`
    float candidate_p = 0;      // the candidate's
    int32_t reference_top = -1; // each model's most likely token at this step
    int32_t candidate_top = -1;
};

struct ReplyDivergence {
    std::vector<ReplyTokenDivergence> tokens; // one per reply token
    KlDivergenceSummary summary; // mean and p99 KL, same_top (top-1 agreement) over the reply
};

// Runs `prompt` then `reply` (the reference's tokens) through both sessions, step by step
// together: each clears its cache, takes the prompt in one pass and then the reply one token
// at a time, as generation did, so that the reference's distributions are the ones its reply
// was sampled from. The distributions are the models' own (softmax of the logits), before
// any sampling stage; memory beyond the sessions is one vocabulary's row. Fails with
// `bad_format` when the vocabularies differ (check_same_vocabulary), `invalid_argument` for
// an empty prompt or reply or a token outside the vocabulary, `context_full` when prompt and
// reply do not fit a session's context, and a forward pass's own errors.
Result<ReplyDivergence> reply_divergence(Session& reference, Session& candidate,
                                         std::span<const int32_t> prompt,
                                         std::span<const int32_t> reply);

// The first step where two replies' tokens differ (where the shorter ends, when one is the
// other's beginning); nullopt when they are the same.
std::optional<size_t> first_divergence(std::span<const int32_t> a, std::span<const int32_t> b);

} // namespace hearth
