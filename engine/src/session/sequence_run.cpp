// See sequence_run.h.
#include "session/sequence_run.h"

#include <algorithm>

namespace hearth {
namespace {

double ms_since(SequenceRun::Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(SequenceRun::Clock::now() - start).count();
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string: text
// that must be held back because the next token may complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
    size_t hold = 0;
    for (const auto& stop : stops) {
        for (size_t n = std::min(text.size(), stop.size() - 1); n > hold; --n) {
            if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
                hold = n;
                break;
            }
        }
    }
    return hold;
}

} // namespace

SequenceRun::SequenceRun(const Tokenizer& tokenizer, const SamplingParams& sampling,
                         const GenerateOptions& options, std::span<const int32_t> prompt,
                         const std::function<bool(const TokenEvent&)>& on_token,
                         Clock::time_point start)
    : tokenizer_(tokenizer), options_(options), on_token_(on_token), start_(start),
      sampler_(sampling), detokenizer_(tokenizer, {.skip_special = true}, prompt),
      history_(prompt.begin(), prompt.end()) {
    stats_.n_prompt = static_cast<int32_t>(prompt.size());
    stats_.stop = StopReason::max_tokens;
}

bool SequenceRun::step(std::span<const float> logits, const std::atomic<bool>& cancel) {
    return wants_next(cancel) && take(sampler_.sample(logits, history_));
}

bool SequenceRun::wants_next(const std::atomic<bool>& cancel) {
    if (stats_.n_generated >= options_.max_tokens) {
        return false;
    }
    if (cancel.load(std::memory_order_relaxed)) {
        stats_.stop = StopReason::cancelled;
        return false;
    }
    return true;
}

bool SequenceRun::take(int32_t token) {
    if (stats_.n_generated == 0) {
        stats_.ttft_ms = ms_since(start_);
        decode_start_ = Clock::now();
    }
    stats_.n_generated += 1;
    history_.push_back(token);
    const bool end = tokenizer_.is_end_of_generation(token);
    if (!end) {
        text_ += detokenizer_.push(token);
    }
    // Stop strings may span tokens: search the text not yet handed out.
    size_t stop_at = std::string::npos;
    for (const auto& stop : options_.stop_strings) {
        const size_t from = emitted_ > stop.size() ? emitted_ - stop.size() : 0;
        const size_t found = stop.empty() ? std::string::npos : text_.find(stop, from);
        stop_at = std::min(stop_at, found);
    }
    if (stop_at != std::string::npos) {
        text_.resize(stop_at);
    }
    const bool finished = end || stop_at != std::string::npos;
    if (end) {
        text_ += detokenizer_.flush();
    }
    const size_t safe =
        finished ? text_.size() : text_.size() - held_back(text_, options_.stop_strings);
    TokenEvent event{.token = token,
                     .text =
                         safe > emitted_ ? text_.substr(emitted_, safe - emitted_) : std::string(),
                     .ms = ms_since(start_),
                     .trace = sampler_.last_trace() ? &*sampler_.last_trace() : nullptr};
    emitted_ = std::max(emitted_, safe);
    if (on_token_ && !on_token_(event)) {
        stats_.stop = StopReason::cancelled;
        return false;
    }
    if (end) {
        stats_.stop = StopReason::end_of_generation;
        return false;
    }
    if (stop_at != std::string::npos) {
        stats_.stop = StopReason::stop_string;
        return false;
    }
    return stats_.n_generated < options_.max_tokens;
}

GenerationStats SequenceRun::finish() {
    if (stats_.stop != StopReason::end_of_generation && stats_.stop != StopReason::stop_string) {
        text_ += detokenizer_.flush();
        if (text_.size() > emitted_ && on_token_) {
            on_token_(TokenEvent{.token = -1,
                                 .text = text_.substr(emitted_),
                                 .ms = ms_since(start_),
                                 .trace = nullptr});
        }
    }
    if (stats_.n_generated > 0) {
        stats_.decode_ms = ms_since(decode_start_);
    }
    stats_.text = std::move(text_);
    return std::move(stats_);
}

} // namespace hearth
