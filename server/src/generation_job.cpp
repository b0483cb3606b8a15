// A request's choices on the scheduler, and the hand-over of their pieces between threads.
#include "generation_job.h"

#include <algorithm>
#include <cmath>

namespace hearth::server {
namespace {

// OpenAI's floor for a log probability too small to write (a probability that underflowed).
constexpr float kMinLogprob = -9999.0f;

float log_of(float probability) {
    return probability > 0 ? std::max(std::log(probability), kMinLogprob) : kMinLogprob;
}

} // namespace

GenerationJob::GenerationJob(const Tokenizer& tokenizer, SchedulerRequest request,
                             int32_t n_choices, int32_t top_logprobs,
                             std::atomic<uint64_t>& tokens_generated)
    : tokenizer_(tokenizer), request_(std::move(request)), n_choices_(n_choices),
      top_logprobs_(top_logprobs), tokens_generated_(tokens_generated),
      results_(static_cast<size_t>(n_choices)) {
    if (top_logprobs_ >= 0) {
        request_.sampling.trace = true;
        request_.sampling.trace_top_n = std::max(top_logprobs_, 1);
    }
}

Result<void> GenerationJob::submit(Scheduler& scheduler) {
    // The callbacks hold the job: the scheduler calls on_done for every request it took, even
    // cancelled, so the job lives until the last choice has ended.
    const std::shared_ptr<GenerationJob> self = shared_from_this();
    for (int32_t i = 0; i < n_choices_; ++i) {
        SchedulerRequest r = request_;
        r.sampling.seed = request_.sampling.seed + static_cast<uint64_t>(i);
        r.on_token = [self, i](const TokenEvent& event) { return self->on_token(i, event); };
        r.on_done = [self, i](RequestId, const Result<GenerationStats>& result) {
            self->on_done(i, result);
        };
        auto id = scheduler.submit(std::move(r));
        if (!id) {
            abandon(scheduler);
            // The refused choice and those never submitted end here.
            std::lock_guard lock(mutex_);
            n_finished_ += n_choices_ - i;
            return std::unexpected(id.error());
        }
        std::lock_guard lock(mutex_);
        ids_.push_back(*id);
    }
    return {};
}

bool GenerationJob::on_token(int32_t choice, const TokenEvent& event) {
    Piece piece{.choice = choice, .text = event.text, .ms = event.ms, .logprob = std::nullopt};
    if (top_logprobs_ >= 0 && event.trace) {
        TokenLogprob lp;
        lp.token = tokenizer_.token_to_piece(event.token);
        lp.logprob = std::max(event.trace->chosen_logprob, kMinLogprob);
        if (!event.trace->stages.empty()) {
            const auto& top = event.trace->stages.front().top; // the raw distribution
            for (size_t k = 0; k < top.size() && k < static_cast<size_t>(top_logprobs_); ++k) {
                lp.top.push_back(
                    {tokenizer_.token_to_piece(top[k].token), log_of(top[k].probability)});
            }
        }
        piece.logprob = std::move(lp);
    }
    std::lock_guard lock(mutex_);
    if (abandoned_) {
        return false;
    }
    if (event.token >= 0) {
        tokens_generated_ += 1;
    }
    pieces_.push_back(std::move(piece));
    changed_.notify_all();
    return true;
}

void GenerationJob::on_done(int32_t choice, const Result<GenerationStats>& result) {
    std::lock_guard lock(mutex_);
    results_[static_cast<size_t>(choice)] = result;
    n_finished_ += 1;
    changed_.notify_all();
}

std::vector<GenerationJob::Piece> GenerationJob::take(std::chrono::milliseconds timeout,
                                                      bool& finished) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return !pieces_.empty() || n_finished_ == n_choices_; });
    std::vector<Piece> out(std::make_move_iterator(pieces_.begin()),
                           std::make_move_iterator(pieces_.end()));
    pieces_.clear();
    finished = n_finished_ == n_choices_;
    return out;
}

void GenerationJob::wait_finished() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return n_finished_ == n_choices_; });
}

void GenerationJob::abandon(Scheduler& scheduler) {
    std::vector<RequestId> ids;
    {
        std::lock_guard lock(mutex_);
        abandoned_ = true;
        ids = ids_;
    }
    for (RequestId id : ids) {
        (void)scheduler.cancel(id); // one that already ended is not an error here
    }
}

} // namespace hearth::server
