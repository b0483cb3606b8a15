// Perplexity and the comparison of two models' token distributions, as llama.cpp's
// llama-perplexity computes them (plain and with --kl-divergence): the text cut into windows
// of n_ctx tokens, only the second half of each window scored.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace hearth {

class Session;

// The text cut into non-overlapping windows of `n_ctx` tokens (the tail that does not fill
// one is dropped), at most `max_windows` of them (0: all); when `bos` is set it replaces the
// first token of each window (llama-perplexity does so for models that add BOS). Fails with
// `invalid_argument`, giving both counts, when not even one window fits, and for n_ctx < 4.
Result<std::vector<std::vector<int32_t>>> perplexity_windows(std::span<const int32_t> tokens,
                                                             uint32_t n_ctx, size_t max_windows,
                                                             std::optional<int32_t> bos);

// The positions of a window whose predictions are scored: i in [n_ctx/2, n_ctx-1), each
// predicting token i+1.
inline size_t first_scored_position(size_t n_ctx) {
    return n_ctx / 2;
}
inline size_t scored_per_window(size_t n_ctx) {
    return n_ctx - 1 - n_ctx / 2;
}

// -log softmax(logits)[token], with llama-perplexity's arithmetic (float exponentials summed
// in double).
double token_nll(std::span<const float> logits, int32_t token);

// Runs every window through `session` and returns the perplexity over the scored positions.
// `on_window(done, total, running_ppl)` after each window; returning false cancels (the
// result is then `cancelled`).
using PerplexityProgressFn = std::function<bool(size_t done, size_t total, double running)>;
Result<double> measure_perplexity(Session& session, std::span<const std::vector<int32_t>> windows,
                                  const PerplexityProgressFn& on_window = {});

} // namespace hearth
