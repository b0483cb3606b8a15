// One HTTP request's generation: its `n` choices submitted to the scheduler as requests of
// their own, the pieces they stream (pushed from the scheduler's thread) and their results,
// handed to the connection's thread that writes the response.
#pragma once

#include "hearth/scheduler.h"
#include "hearth/server/openai_response.h"
#include "hearth/tokenizer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hearth::server {

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
public:
    // One generated token of one choice: its text as the scheduler streamed it (possibly
    // empty, possibly several tokens' worth) and, when asked for, its log probability.
    struct Piece {
        int32_t choice = 0;
        std::string text;
        double ms = 0;
        std::optional<TokenLogprob> logprob;
    };

    // `request` is each choice's request without callbacks; choice i samples with seed + i so
    // that the choices differ. `top_logprobs` < 0: no log probabilities. Each generated token
    // adds one to `tokens_generated` (the server's count; it outlives the job).
    GenerationJob(const Tokenizer& tokenizer, SchedulerRequest request, int32_t n_choices,
                  int32_t top_logprobs, std::atomic<uint64_t>& tokens_generated);

    // Submits every choice. When the scheduler refuses one, the choices already submitted are
    // cancelled and the refusal returned.
    Result<void> submit(Scheduler& scheduler);

    // The pieces that arrived, waiting up to `timeout` for the first; `finished` says whether
    // every choice has ended (no more pieces will come).
    std::vector<Piece> take(std::chrono::milliseconds timeout, bool& finished);
    // Waits until every choice has ended.
    void wait_finished();
    // The client is gone: every choice stops at its next token and is cancelled.
    void abandon(Scheduler& scheduler);

    // Each choice's end, once finished.
    const std::vector<std::optional<Result<GenerationStats>>>& results() const { return results_; }

private:
    bool on_token(int32_t choice, const TokenEvent& event);
    void on_done(int32_t choice, const Result<GenerationStats>& result);

    const Tokenizer& tokenizer_;
    SchedulerRequest request_;
    int32_t n_choices_;
    int32_t top_logprobs_;
    std::atomic<uint64_t>& tokens_generated_;
    std::vector<RequestId> ids_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Piece> pieces_;
    std::vector<std::optional<Result<GenerationStats>>> results_;
    int32_t n_finished_ = 0;
    bool abandoned_ = false;
};

} // namespace hearth::server
