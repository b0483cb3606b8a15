// The sampling chain. Stages follow llama.cpp's llama-sampling.cpp semantics:
// penalties scale a seen token's logit (÷ r when positive, × r when negative) and subtract
// count × frequency + presence; top-k keeps the k largest logits; top-p keeps the smallest
// prefix whose probability reaches p; min-p keeps logits ≥ max + ln(min_p); temperature
// divides the logits; the draw walks the cumulative distribution with a seeded generator.
#include "hearth/sampling.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <unordered_map>

namespace hearth {

size_t SamplingParams::penalty_window(size_t history_size) const {
    return repeat_last_n < 0 ? history_size
                             : std::min(history_size, static_cast<size_t>(repeat_last_n));
}

Result<void> SamplingParams::validate() const {
    auto bad = [](std::string message) { return fail(ErrorCode::invalid_argument, message); };
    if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
        return bad(fmt::format("temperature must be 0 or more, got {}", temperature));
    }
    if (!(top_p > 0.0f && top_p <= 1.0f)) {
        return bad(fmt::format("top-p must be in (0, 1], got {}", top_p));
    }
    if (!(min_p >= 0.0f && min_p <= 1.0f)) {
        return bad(fmt::format("min-p must be in [0, 1], got {}", min_p));
    }
    if (top_k < 0) {
        return bad(fmt::format("top-k must be 0 (off) or more, got {}", top_k));
    }
    if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) {
        return bad(fmt::format("repeat penalty must be more than 0, got {}", repeat_penalty));
    }
    if (repeat_last_n < -1) {
        return bad(
            fmt::format("repeat-last-n must be -1 (all), 0 (off) or more, got {}", repeat_last_n));
    }
    if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty)) {
        return bad("presence and frequency penalties must be finite numbers");
    }
    return {};
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

void Sampler::reseed(uint64_t seed) {
    params_.seed = seed;
    rng_.seed(static_cast<std::mt19937::result_type>(seed));
}

// Probabilities of the remaining candidates (sorted or not), in float as llama.cpp does.
void Sampler::softmax(std::vector<Candidate>& candidates) const {
    float max_logit = -INFINITY;
    for (const auto& c : candidates) {
        max_logit = std::max(max_logit, c.logit);
    }
    double sum = 0.0;
    for (auto& c : candidates) {
        c.p = std::exp(c.logit - max_logit);
        sum += c.p;
    }
    for (auto& c : candidates) {
        c.p = static_cast<float>(c.p / sum);
    }
}

void Sampler::record(const char* stage, std::vector<Candidate>& candidates) {
    if (!trace_) {
        return;
    }
    softmax(candidates);
    std::vector<Candidate> top = candidates;
    const size_t n =
        std::min<size_t>(top.size(), static_cast<size_t>(std::max(params_.trace_top_n, 1)));
    std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(n), top.end(),
                      [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; });
    SamplingStage out{
        .name = stage, .top = {}, .n_remaining = static_cast<int32_t>(candidates.size())};
    for (size_t i = 0; i < n; ++i) {
        out.top.push_back({top[i].token, top[i].logit, top[i].p});
    }
    trace_->stages.push_back(std::move(out));
}

namespace {

// log softmax(logits)[token], computed in double from the largest logit.
float log_probability(std::span<const float> logits, int32_t token) {
    const float max_logit = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float logit : logits) {
        sum += std::exp(static_cast<double>(logit) - max_logit);
    }
    const double logit = logits[static_cast<size_t>(token)];
    return static_cast<float>(logit - max_logit - std::log(sum));
}

// The seeded draw: a uniform double from two 32-bit outputs of mt19937, so the result does not
// depend on the standard library's distribution implementation (kernels/sampling.cuh's
// sample_uniform is the same formula).
double draw_uniform(std::mt19937& rng) {
    const uint64_t high = rng();
    const uint64_t low = rng();
    const uint64_t bits = (high << 21) | (low >> 11);
    return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

} // namespace

std::optional<double> Sampler::peek_uniform() const {
    if (!draws()) {
        return std::nullopt;
    }
    std::mt19937 copy = rng_;
    return draw_uniform(copy);
}

void Sampler::consume_draw() {
    trace_.reset();
    if (draws()) {
        draw_uniform(rng_);
    }
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
    // Only the draw's stage reads u: drawing it first consumes the generator as before.
    const double u = draws() ? draw_uniform(rng_) : 0.0;
    return sample_with_uniform(logits, history, u);
}

int32_t Sampler::sample_with_uniform(std::span<const float> logits,
                                     std::span<const int32_t> history, double u) {
    if (const int32_t greedy = run_chain(logits, history); greedy >= 0) {
        note_chosen(logits, greedy);
        return greedy;
    }
    // The draw walks the cumulative distribution.
    double cumulative = 0.0;
    int32_t chosen = candidates_.back().token;
    for (const auto& candidate : candidates_) {
        cumulative += candidate.p;
        if (u < cumulative) {
            chosen = candidate.token;
            break;
        }
    }
    note_chosen(logits, chosen);
    return chosen;
}

void Sampler::note_chosen(std::span<const float> logits, int32_t token) {
    if (trace_) {
        trace_->chosen = token;
        trace_->chosen_logprob = log_probability(logits, token);
    }
}

namespace {

// The penalised logit of a token seen `count` times in the window.
float penalised_logit(const SamplingParams& params, float logit, int count) {
    logit = logit <= 0 ? logit * params.repeat_penalty : logit / params.repeat_penalty;
    return logit - (static_cast<float>(count) * params.frequency_penalty + params.presence_penalty);
}

} // namespace

void Sampler::select_best(std::span<const float> logits, std::span<const Candidate> penalised,
                          size_t k) {
    // A heap of the best k so far whose front is the worst of them; a logit enters when it
    // ranks before that one. Most do not, so the pass is a load and a compare per logit.
    const auto before = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
    };
    std::vector<Candidate>& heap = candidates_;
    heap.clear();
    const auto offer = [&](Candidate c) {
        if (heap.size() < k) {
            heap.push_back(c);
            std::push_heap(heap.begin(), heap.end(), before);
        } else if (before(c, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), before);
            heap.back() = c;
            std::push_heap(heap.begin(), heap.end(), before);
        }
    };
    for (const Candidate& c : penalised) {
        offer(c);
    }
    const auto by_token = [](const Candidate& c, int32_t token) { return c.token < token; };
    const auto offer_unpenalised = [&](size_t i) {
        // A penalised token took part above with its changed logit.
        const auto token = static_cast<int32_t>(i);
        const auto it = std::lower_bound(penalised.begin(), penalised.end(), token, by_token);
        if (it == penalised.end() || it->token != token) {
            offer({token, logits[i], 0.0f});
        }
    };
    size_t i = 0;
    for (; i < logits.size() && heap.size() < k; ++i) {
        offer_unpenalised(i);
    }
    // The heap is full: only a logit at least the worst one's can enter (a NaN never ranks
    // before it, nor does anything when the worst is a NaN). Blocks of 16 with none such are
    // passed over in a few vector compares; the others, and the last few logits, one by one.
    constexpr size_t kBlock = 16;
    float worst = heap.empty() ? 0.0f : heap.front().logit;
    const auto consider = [&](size_t j) {
        if (logits[j] >= worst) {
            offer_unpenalised(j);
            worst = heap.front().logit;
        }
    };
    for (; i + kBlock <= logits.size(); i += kBlock) {
        const float* block = logits.data() + i;
        const float threshold = worst; // a copy: the loop then vectorizes
        int any = 0;
        for (size_t j = 0; j < kBlock; ++j) {
            any += block[j] >= threshold ? 1 : 0;
        }
        for (size_t j = i; any && j < i + kBlock; ++j) {
            consider(j);
        }
    }
    for (; i < logits.size(); ++i) {
        consider(i);
    }
    // Heap operations only (no unguarded insertion sort): a NaN logit cannot run off the ends.
    std::sort_heap(heap.begin(), heap.end(), before);
}

int32_t Sampler::run_chain(std::span<const float> logits, std::span<const int32_t> history) {
    if (params_.trace) {
        trace_ = SamplingTrace{};
    } else {
        trace_.reset();
    }
    // Repetition, presence and frequency penalties over the last repeat_last_n tokens: the
    // tokens seen there with their changed logits, by token.
    penalised_.clear();
    const bool penalise = (params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                           params_.frequency_penalty != 0.0f) &&
                          params_.repeat_last_n != 0 && !history.empty();
    if (penalise) {
        const size_t window = params_.penalty_window(history.size());
        std::unordered_map<int32_t, int> counts;
        for (size_t i = history.size() - window; i < history.size(); ++i) {
            counts[history[i]] += 1;
        }
        for (const auto& [token, count] : counts) {
            if (token >= 0 && static_cast<size_t>(token) < logits.size()) {
                penalised_.push_back(
                    {token, penalised_logit(params_, logits[static_cast<size_t>(token)], count),
                     0});
            }
        }
        std::sort(penalised_.begin(), penalised_.end(),
                  [](const Candidate& a, const Candidate& b) { return a.token < b.token; });
    }

    // top-k: the k largest logits, sorted (greedy: the largest). Without a trace to record,
    // one pass over the logits finds them (select_best); with one, every candidate goes
    // through each stage, as the trace lists them.
    const size_t k = !draws()            ? 1
                     : params_.top_k > 0 ? std::min(logits.size(), size_t(params_.top_k))
                                         : logits.size();
    auto& c = candidates_;
    if (!trace_ && k < logits.size()) {
        select_best(logits, penalised_, k);
    } else {
        c.resize(logits.size());
        for (size_t i = 0; i < logits.size(); ++i) {
            c[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
        }
        record("logits", c);
        for (const Candidate& p : penalised_) {
            c[static_cast<size_t>(p.token)].logit = p.logit;
        }
        if (penalise) {
            record("penalties", c);
        }
        auto by_logit = [](const Candidate& a, const Candidate& b) {
            return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
        };
        if (!draws()) {
            return std::min_element(c.begin(), c.end(), by_logit)->token;
        }
        std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), by_logit);
        c.resize(k);
    }
    if (!draws()) {
        return c.front().token;
    }
    if (params_.top_k > 0) {
        record("top-k", c);
    }

    // top-p: the smallest prefix whose probability mass reaches p.
    if (params_.top_p < 1.0f) {
        softmax(c);
        double cumulative = 0.0;
        size_t keep = c.size();
        for (size_t i = 0; i < c.size(); ++i) {
            cumulative += c[i].p;
            if (cumulative >= params_.top_p) {
                keep = i + 1;
                break;
            }
        }
        c.resize(keep);
        record("top-p", c);
    }

    // min-p: logits at least max + ln(min_p), i.e. p ≥ min_p × p_max.
    if (params_.min_p > 0.0f) {
        const float min_logit = c.front().logit + std::log(params_.min_p);
        size_t keep = 0;
        while (keep < c.size() && c[keep].logit >= min_logit) {
            ++keep;
        }
        c.resize(std::max<size_t>(keep, 1));
        record("min-p", c);
    }

    for (auto& candidate : c) {
        candidate.logit /= params_.temperature;
    }
    softmax(c);
    record("temperature", c);
    return -1;
}

} // namespace hearth

// Speculative decoding's side of the sampler (hearth/speculation.h).
namespace hearth {

std::vector<TokenProbability> Sampler::distribution(std::span<const float> logits,
                                                    std::span<const int32_t> history) {
    if (const int32_t greedy = run_chain(logits, history); greedy >= 0) {
        return {{greedy, 1.0f}};
    }
    std::vector<TokenProbability> out;
    out.reserve(candidates_.size());
    for (const Candidate& c : candidates_) {
        out.push_back({c.token, c.p});
    }
    return out;
}

int32_t Sampler::draw(std::span<const TokenProbability> distribution) {
    if (!draws() || distribution.size() == 1) {
        consume_draw();
        return distribution.front().token;
    }
    const double u = draw_uniform(rng_);
    double cumulative = 0.0;
    for (const TokenProbability& t : distribution) {
        cumulative += t.p;
        if (u < cumulative) {
            return t.token;
        }
    }
    return distribution.back().token;
}

Sampler::Verdict Sampler::verify(std::span<const float> logits, std::span<const int32_t> history,
                                 int32_t drafted, std::span<const TokenProbability> draft_q) {
    if (drafted < 0 || static_cast<size_t>(drafted) >= logits.size()) {
        return {.token = sample(logits, history), .accepted = false}; // not a token: no draft
    }
    Verdict verdict{.token = run_chain(logits, history), .accepted = false};
    if (verdict.token >= 0) {
        verdict.accepted = verdict.token == drafted;
    } else {
        // q as a dense vector: a deterministic drafter put all its mass on `drafted`.
        dense_q_.assign(logits.size(), 0.0f);
        if (draft_q.empty()) {
            dense_q_[static_cast<size_t>(drafted)] = 1.0f;
        }
        for (const TokenProbability& t : draft_q) {
            if (t.token >= 0 && static_cast<size_t>(t.token) < dense_q_.size()) {
                dense_q_[static_cast<size_t>(t.token)] = t.p;
            }
        }
        double p_drafted = 0.0;
        for (const Candidate& c : candidates_) {
            p_drafted = c.token == drafted ? c.p : p_drafted;
        }
        const double q_drafted = dense_q_[static_cast<size_t>(drafted)];
        // Accept with probability min(1, p/q): u·q < p.
        if (draw_uniform(rng_) * q_drafted < p_drafted) {
            verdict = {.token = drafted, .accepted = true};
        } else {
            double residual = 0.0;
            for (Candidate& c : candidates_) {
                c.p = std::max(0.0f, c.p - dense_q_[static_cast<size_t>(c.token)]);
                residual += c.p;
            }
            // Rounding can leave no residual where p and q agree; p itself is then exact.
            const double u = draw_uniform(rng_);
            double cumulative = 0.0;
            verdict.token = candidates_.back().token;
            for (const Candidate& c : candidates_) {
                cumulative += residual > 0.0 ? c.p / residual : 0.0;
                if (u < cumulative) {
                    verdict.token = c.token;
                    break;
                }
            }
            if (residual <= 0.0) {
                verdict.token = drafted;
                verdict.accepted = true;
            }
        }
    }
    note_chosen(logits, verdict.token);
    if (trace_) {
        trace_->drafted = drafted;
        trace_->draft_accepted = verdict.accepted;
    }
    return verdict;
}

} // namespace hearth
