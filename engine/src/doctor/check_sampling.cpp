// The checklist's sampling item (the settings against the usual starting point) and its
// warm-up item (the first and second run, measured).
#include "doctor_internal.h"

#include <cmath>
#include <fmt/format.h>

namespace hearth {
namespace {

// The usual starting point (llama.cpp's and most apps' defaults).
constexpr float kTemperature = 0.7f;
constexpr float kTopP = 0.9f;
constexpr int32_t kTopK = 40;
constexpr float kRepeatPenalty = 1.1f;
// Below this many parameters a model loops readily without a repetition penalty.
constexpr uint64_t kSmallModelParams = 3'000'000'000;

bool differs(float a, float b) {
    return std::fabs(a - b) > 1e-4f;
}

} // namespace

CheckItem check_sampling(const ModelInfo& info, const SamplingParams& sampling) {
    using doctor::fmt_number;
    CheckItem item{.id = "sampling", .title = "Sampling"};
    item.figures.push_back(
        {"Temperature", fmt_number(sampling.temperature), sampling.temperature, ""});
    item.figures.push_back({"Top-p", fmt_number(sampling.top_p), sampling.top_p, ""});
    item.figures.push_back({"Top-k", std::to_string(sampling.top_k), double(sampling.top_k), ""});
    item.figures.push_back(
        {"Repetition penalty", fmt_number(sampling.repeat_penalty), sampling.repeat_penalty, ""});
    if (sampling.temperature > 1.5f) {
        item.status = CheckStatus::amber;
        item.evidence.push_back(fmt::format(
            "Temperature {} is above 1.5: the draws flatten towards unlikely tokens and replies "
            "turn to gibberish.",
            fmt_number(sampling.temperature)));
        item.fixes.push_back({.label = "Use temperature 0.7",
                              .effect = "the usual starting point",
                              .change = {.temperature = kTemperature}});
    }
    if (sampling.top_k == 0 && sampling.top_p >= 1.0f && sampling.min_p <= 0.0f &&
        sampling.temperature > 0.0f) {
        item.status = CheckStatus::amber;
        item.evidence.push_back("Top-k 0 with top-p 1 draws from the whole vocabulary: a rare "
                                "token now and then derails the reply.");
        item.fixes.push_back({.label = "Use top-k 40 and top-p 0.9",
                              .effect = "only the likely tokens are drawn",
                              .change = {.top_k = kTopK, .top_p = kTopP}});
    }
    if (!differs(sampling.repeat_penalty, 1.0f) && info.n_params < kSmallModelParams &&
        sampling.repeat_last_n != 0) {
        item.status = CheckStatus::amber;
        item.evidence.push_back(fmt::format(
            "No repetition penalty (1.0) on a small model ({:.2g}B parameters): small models "
            "fall into loops, repeating a phrase over and over.",
            double(info.n_params) / 1e9));
        item.fixes.push_back({.label = "Use repetition penalty 1.1",
                              .effect = "tokens of the last 64 are made less likely",
                              .change = {.repeat_penalty = kRepeatPenalty}});
    }
    // The other differences, said but not flagged.
    if (sampling.temperature == 0.0f) {
        item.evidence.push_back("Temperature 0: greedy, the same reply every time.");
    } else if (differs(sampling.temperature, kTemperature) && sampling.temperature <= 1.5f) {
        item.evidence.push_back(fmt::format("Temperature {} (usual {}).",
                                            fmt_number(sampling.temperature),
                                            fmt_number(kTemperature)));
    }
    if (differs(sampling.top_p, kTopP) || sampling.top_k != kTopK) {
        item.evidence.push_back(fmt::format("Top-p {}, top-k {} (usual 0.9, 40).",
                                            fmt_number(sampling.top_p), sampling.top_k));
    }
    if (differs(sampling.repeat_penalty, kRepeatPenalty) &&
        differs(sampling.repeat_penalty, 1.0f)) {
        item.evidence.push_back(
            fmt::format("Repetition penalty {} (usual 1.1).", fmt_number(sampling.repeat_penalty)));
    }
    item.summary = item.status == CheckStatus::green
                       ? "Settings within the usual range"
                       : fmt::format("{} setting{} likely to hurt replies", item.fixes.size(),
                                     item.fixes.size() == 1 ? "" : "s");
    return item;
}

CheckItem check_warmup(const WarmupMeasurement& measured) {
    CheckItem item{.id = "warmup", .title = "Warm-up"};
    const WarmupRun& first = measured.first;
    const WarmupRun& second = measured.second;
    if (first.load_ms > 0) {
        item.figures.push_back(doctor::count_figure("Load", std::round(first.load_ms), "ms"));
    }
    item.figures.push_back({"First run: prompt",
                            fmt::format("{:.1f} tokens/s", first.prefill_tokens_per_second),
                            first.prefill_tokens_per_second, "tokens/s"});
    item.figures.push_back({"First run: decode",
                            fmt::format("{:.1f} tokens/s", first.decode_tokens_per_second),
                            first.decode_tokens_per_second, "tokens/s"});
    item.figures.push_back({"Second run: prompt",
                            fmt::format("{:.1f} tokens/s", second.prefill_tokens_per_second),
                            second.prefill_tokens_per_second, "tokens/s"});
    item.figures.push_back({"Second run: decode",
                            fmt::format("{:.1f} tokens/s", second.decode_tokens_per_second),
                            second.decode_tokens_per_second, "tokens/s"});
    item.figures.push_back(
        {"First token, first run", fmt::format("{:.0f} ms", first.ttft_ms), first.ttft_ms, "ms"});
    item.figures.push_back({"First token, second run", fmt::format("{:.0f} ms", second.ttft_ms),
                            second.ttft_ms, "ms"});
    const double ratio = second.decode_tokens_per_second > 0
                             ? first.decode_tokens_per_second / second.decode_tokens_per_second
                             : 1.0;
    const double ttft_ratio = second.ttft_ms > 0 ? first.ttft_ms / second.ttft_ms : 1.0;
    if (ratio < 0.8 || ttft_ratio > 1.25) {
        item.status = CheckStatus::amber;
        item.summary = fmt::format("The first run was slower: decode {:.0f}% of the second's, "
                                   "first token {:.1f}× as late",
                                   100.0 * ratio, ttft_ratio);
        item.evidence.push_back("The first generation faults the mapped file's pages into "
                                "memory and warms the caches; later ones run at full speed. "
                                "Judge speed by the second run.");
    } else {
        item.summary = fmt::format("Warm from the start: the first run decoded at {:.0f}% of "
                                   "the second's speed",
                                   100.0 * ratio);
        item.evidence.push_back("The weights were already in memory (the file's pages cached "
                                "by the system), so the first run was as fast as the second.");
    }
    return item;
}

} // namespace hearth
