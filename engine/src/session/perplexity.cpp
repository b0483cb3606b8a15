// Perplexity as llama-perplexity computes it: windows of n_ctx tokens, the second half of
// each scored (hearth/perplexity.h).
#include "hearth/perplexity.h"

#include "hearth/session.h"

#include <cmath>
#include <fmt/format.h>

namespace hearth {

Result<std::vector<std::vector<int32_t>>> perplexity_windows(std::span<const int32_t> tokens,
                                                             uint32_t n_ctx, size_t max_windows,
                                                             std::optional<int32_t> bos) {
    if (n_ctx < 4) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a window of {} tokens scores nothing: at least 4", n_ctx));
    }
    size_t n_windows = tokens.size() / n_ctx;
    if (max_windows > 0) {
        n_windows = std::min(n_windows, max_windows);
    }
    if (n_windows == 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the text has {} tokens, fewer than one window of {}",
                                tokens.size(), n_ctx));
    }
    std::vector<std::vector<int32_t>> windows;
    windows.reserve(n_windows);
    for (size_t w = 0; w < n_windows; ++w) {
        const auto begin = tokens.begin() + static_cast<std::ptrdiff_t>(w * n_ctx);
        auto& window = windows.emplace_back(begin, begin + n_ctx);
        if (bos) {
            window[0] = *bos;
        }
    }
    return windows;
}

double token_nll(std::span<const float> logits, int32_t token) {
    float max_logit = logits[0];
    for (float l : logits) {
        max_logit = std::max(max_logit, l);
    }
    double sum_exp = 0.0;
    for (float l : logits) {
        sum_exp += std::exp(l - max_logit); // float, as llama-perplexity's expf
    }
    return -(static_cast<double>(logits[static_cast<size_t>(token)] - max_logit) -
             std::log(sum_exp));
}

Result<double> measure_perplexity(Session& session, std::span<const std::vector<int32_t>> windows,
                                  const PerplexityProgressFn& on_window) {
    double nll = 0.0;
    size_t count = 0;
    for (size_t w = 0; w < windows.size(); ++w) {
        const std::vector<int32_t>& window = windows[w];
        const size_t first = first_scored_position(window.size());
        auto ok = session.evaluate(window, [&](size_t i, std::span<const float> logits) {
            if (i >= first && i + 1 < window.size()) {
                nll += token_nll(logits, window[i + 1]);
                ++count;
            }
        });
        if (!ok) {
            return std::unexpected(ok.error());
        }
        if (on_window && !on_window(w + 1, windows.size(), std::exp(nll / count))) {
            return fail(ErrorCode::cancelled, "perplexity cancelled");
        }
    }
    return std::exp(nll / static_cast<double>(count));
}

} // namespace hearth
