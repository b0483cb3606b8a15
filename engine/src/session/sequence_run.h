// The token-by-token part of generating one sequence, independent of how its forward passes
// are batched: sample from the logits, detokenize, find stop strings (held back until they
// are decided), stream the text and keep the statistics.
#pragma once

#include "hearth/sampling.h"
#include "hearth/session.h"
#include "hearth/tokenizer.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace hearth {

class SequenceRun {
public:
    using Clock = std::chrono::steady_clock;

    // `on_token` may be empty; the references must outlive the run. `start` is when the
    // generate call began (for ttft and event times).
    SequenceRun(const Tokenizer& tokenizer, const SamplingParams& sampling,
                const GenerateOptions& options, std::span<const int32_t> prompt,
                const std::function<bool(const TokenEvent&)>& on_token, Clock::time_point start);

    // Samples the next token from `logits`, streams its text and decides whether to go on:
    // wants_next(cancel), then take(sampler().sample(logits, history())). Returns true when
    // the token must be run through the model for the next logits; false when the sequence has
    // finished (stats().stop says why).
    bool step(std::span<const float> logits, const std::atomic<bool>& cancel);

    // The two halves of step() for a token chosen elsewhere (on the GPU, with sampler()'s
    // draw). wants_next: whether the sequence wants another token; false at max_tokens or when
    // `cancel` is set (stop: cancelled). take: the chosen token, streamed and checked for the
    // end and the stop strings; returns as step() does.
    bool wants_next(const std::atomic<bool>& cancel);
    bool take(int32_t token);

    // The sequence stopped for want of room in the KV cache.
    void stop_context_full() { stats_.stop = StopReason::context_full; }

    // Flushes held-back text and completes the statistics. Call once, after the last step.
    GenerationStats finish();

    int32_t last_token() const { return history_.back(); }
    std::span<const int32_t> history() const { return history_; } // prompt and generated
    Sampler& sampler() { return sampler_; }
    GenerationStats& stats() { return stats_; }

private:
    const Tokenizer& tokenizer_;
    const GenerateOptions& options_;
    const std::function<bool(const TokenEvent&)>& on_token_;
    Clock::time_point start_, decode_start_;
    Sampler sampler_;
    StreamingDetokenizer detokenizer_;
    std::vector<int32_t> history_; // prompt and generated tokens (for the penalties)
    // Complete characters generated so far: decode(prompt + generated) minus decode(prompt),
    // so a SentencePiece continuation keeps its leading space.
    std::string text_;
    size_t emitted_ = 0; // bytes of text_ handed to on_token
    GenerationStats stats_;
};

} // namespace hearth
