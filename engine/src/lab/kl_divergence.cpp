// The KL divergence of a candidate's token distributions from the reference's, with
// llama-perplexity --kl-divergence's arithmetic (tools/perplexity/perplexity.cpp): the
// reference's log-probabilities compressed to 16 bits, KL(reference || candidate) summed
// over the tokens within 16 nats of the reference's top, float terms summed in double.
#include "hearth/quant_lab.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth {
namespace {

// The floor of the compressed log-probabilities below the top: lower ones are stored as the
// floor and left out of the sum.
constexpr float kLogProbRange = 16.0f;

// ggml's round-to-nearest through the float mantissa (valid below 2^22).
int nearest_int(float value) {
    float biased = value + 12582912.f;
    int bits = 0;
    std::memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

} // namespace

size_t compressed_log_probs_size(size_t n_vocab) {
    return n_vocab + 4; // two floats, then the values
}

void compress_log_probs(std::span<const float> logits, std::span<uint16_t> out) {
    float max_logit = logits[0];
    float min_logit = logits[0];
    for (float l : logits) {
        max_logit = std::max(max_logit, l);
        min_logit = std::min(min_logit, l);
    }
    min_logit = std::max(min_logit, max_logit - kLogProbRange);
    double sum_exp = 0.0;
    for (float l : logits) {
        sum_exp += std::exp(l - max_logit);
    }
    const auto log_sum_exp = static_cast<float>(std::log(sum_exp));
    const float min_log_prob = min_logit - max_logit - log_sum_exp;
    const float scale = (max_logit - min_logit) / 65535.f;
    std::memcpy(out.data(), &scale, sizeof scale);
    std::memcpy(out.data() + 2, &min_log_prob, sizeof min_log_prob);
    std::span<uint16_t> values = out.subspan(4, logits.size());
    if (scale == 0.0f) {
        std::fill(values.begin(), values.end(), uint16_t{0});
        return;
    }
    const float inv_scale = 1 / scale;
    for (size_t i = 0; i < logits.size(); ++i) {
        values[i] = logits[i] > min_logit
                        ? static_cast<uint16_t>(nearest_int(inv_scale * (logits[i] - min_logit)))
                        : uint16_t{0};
    }
}

double KlDivergenceAccumulator::add(std::span<const float> logits,
                                    std::span<const uint16_t> reference, int32_t next_token) {
    float max_logit = logits[0];
    size_t top = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > max_logit) {
            max_logit = logits[i];
            top = i;
        }
    }
    double sum_exp = 0.0;
    for (float l : logits) {
        sum_exp += std::exp(l - max_logit);
    }
    const auto log_sum_exp = static_cast<float>(std::log(sum_exp));
    float scale = 0;
    float min_log_prob = 0;
    std::memcpy(&scale, reference.data(), sizeof scale);
    std::memcpy(&min_log_prob, reference.data() + 2, sizeof min_log_prob);
    const std::span<const uint16_t> base = reference.subspan(4, logits.size());
    const auto token = static_cast<size_t>(next_token);

    const float nll = max_logit + log_sum_exp - logits[token];
    sum_nll_ += nll;
    const float nll_base = -(scale * base[token] + min_log_prob);
    sum_nll_base_ += nll_base;

    const float log_norm = max_logit + log_sum_exp;
    double kld = 0;
    size_t top_base = 0;
    float top_base_log_prob = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        const float log_p_base = scale * base[i] + min_log_prob;
        if (i == 0 || log_p_base > top_base_log_prob) {
            top_base_log_prob = log_p_base;
            top_base = i;
        }
        if (log_p_base > -kLogProbRange) {
            kld += std::exp(log_p_base) * (log_p_base - logits[i] + log_norm);
        }
    }
    sum_kld_ += kld;
    sum_kld2_ += kld * kld;
    same_top_ += top == top_base ? 1 : 0;
    kld_values_.push_back(static_cast<float>(kld));
    return kld;
}

double sorted_percentile(std::span<const float> sorted, double fraction) {
    if (sorted.empty()) {
        return 0;
    }
    if (fraction <= 0) {
        return sorted.front();
    }
    if (fraction >= 1) {
        return sorted.back();
    }
    // In float, as llama-perplexity's lambda.
    float p = static_cast<float>(fraction) * static_cast<float>(sorted.size() - 1);
    const auto rank = static_cast<size_t>(p);
    p -= static_cast<float>(rank);
    return (1 - p) * sorted[rank] + p * sorted[std::min(rank + 1, sorted.size() - 1)];
}

KlDivergenceSummary KlDivergenceAccumulator::summary() const {
    KlDivergenceSummary s;
    s.count = kld_values_.size();
    if (s.count == 0) {
        return s;
    }
    const auto n = static_cast<double>(s.count);
    s.perplexity = std::exp(sum_nll_ / n);
    s.reference_perplexity = std::exp(sum_nll_base_ / n);
    s.mean_kld = sum_kld_ / n;
    if (s.count > 1) {
        const double variance = sum_kld2_ / n - s.mean_kld * s.mean_kld;
        s.mean_kld_uncertainty = std::sqrt(std::max(variance, 0.0) / (n - 1));
    }
    std::vector<float> sorted = kld_values_;
    std::sort(sorted.begin(), sorted.end());
    const size_t mid = sorted.size() / 2;
    s.median_kld = sorted.size() % 2 == 0 ? 0.5f * (sorted[mid] + sorted[mid - 1]) : sorted[mid];
    s.p99_kld = sorted_percentile(sorted, 0.99);
    s.max_kld = sorted.back();
    s.same_top = static_cast<double>(same_top_) / n;
    return s;
}

} // namespace hearth
