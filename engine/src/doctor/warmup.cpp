// The warm-up measured: the same prompt generated twice on one session.
#include "hearth/preflight.h"

namespace hearth {
namespace {

WarmupRun run_of(const GenerationStats& stats) {
    return {.prefill_tokens_per_second = stats.prefill_tokens_per_second(),
            .decode_tokens_per_second = stats.decode_tokens_per_second(),
            .ttft_ms = stats.ttft_ms,
            .n_prompt = stats.n_prompt,
            .n_generated = stats.n_generated};
}

} // namespace

Result<WarmupMeasurement> measure_warmup(Session& session, double load_ms,
                                         std::span<const int32_t> prompt, int32_t max_tokens) {
    SamplingParams greedy;
    greedy.temperature = 0; // both runs make the same tokens
    const GenerateOptions generate{.max_tokens = max_tokens, .stop_strings = {}};
    WarmupMeasurement measured;
    for (WarmupRun* run : {&measured.first, &measured.second}) {
        session.clear();
        auto stats = session.generate(prompt, greedy, generate);
        if (!stats) {
            return std::unexpected(stats.error());
        }
        *run = run_of(*stats);
    }
    measured.first.load_ms = load_ms;
    return measured;
}

} // namespace hearth
