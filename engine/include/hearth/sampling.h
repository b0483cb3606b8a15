// Choosing the next token from the logits: the sampling chain in llama.cpp's default
// order — repetition penalties, top-k, top-p, min-p, temperature, then a seeded draw
// (greedy at temperature 0) — with an optional trace of the candidates after each stage.
//
// A Sampler is a plain value: the same parameters, seed and logits give the same tokens
// on every run and machine. Not thread-safe; one per sequence.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace hearth {

struct SamplingParams {
    float temperature = 0.7f;       // 0: greedy
    int32_t top_k = 40;             // 0: off
    float top_p = 0.9f;             // 1: off; must be in (0, 1]
    float min_p = 0.0f;             // 0: off; a token needs min_p × the top probability
    float repeat_penalty = 1.1f;    // 1: off; divides positive logits, multiplies negative ones
    int32_t repeat_last_n = 64;     // tokens looked back for the penalties; 0: off, -1: all
    float presence_penalty = 0.0f;  // subtracted once from a token seen in the window
    float frequency_penalty = 0.0f; // subtracted per occurrence in the window
    uint64_t seed = 0xC0FFEE;
    bool trace = false; // record candidates after each stage
    int32_t trace_top_n = 10;

    // Checks ranges; the message names the parameter and the allowed range.
    Result<void> validate() const;
    // How many of the last `history_size` tokens the penalties look at: repeat_last_n of them
    // (all for -1, none for 0), never more than there are. The CPU and GPU samplers share it.
    size_t penalty_window(size_t history_size) const;
};

// One stage of the chain as the UI shows it: the top candidates and their probabilities
// (softmax over what remains after the stage, at temperature 1 before the temperature stage).
struct SamplingStage {
    std::string name; // "logits", "penalties", "top-k", "top-p", "min-p", "temperature"
    struct Candidate {
        int32_t token;
        float logit;
        float probability;
    };
    std::vector<Candidate> top;
    int32_t n_remaining = 0;
};

struct SamplingTrace {
    std::vector<SamplingStage> stages;
    int32_t chosen = -1;
    // The natural log of the chosen token's probability in the model's own distribution (the
    // "logits" stage: softmax of the raw logits), what OpenAI's logprobs report.
    float chosen_logprob = 0;
    // Speculative decoding: the token the drafter proposed at this position (-1: none) and
    // whether the target accepted it (chosen == drafted) or chose `chosen` instead.
    int32_t drafted = -1;
    bool draft_accepted = false;
};

// A token and its probability in a sampling distribution.
struct TokenProbability {
    int32_t token;
    float p;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& params);

    // Picks a token from `logits` (n_vocab values); `history` is the sequence so far (the
    // penalties look at its last repeat_last_n tokens). Fills the trace when asked.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

    // The chain of sample() with the draw `u` in [0, 1) given (ignored when greedy); neither
    // draws from nor advances the generator. sample() is this with the generator's next draw.
    int32_t sample_with_uniform(std::span<const float> logits, std::span<const int32_t> history,
                                double u);

    // For a chain run elsewhere (the GPU): the draw the next sample() would make, or none when
    // it makes none (greedy); and, once that token is chosen, the generator advanced exactly as
    // sample() would have. consume_draw() leaves no trace (last_trace() is empty after it).
    std::optional<double> peek_uniform() const;
    void consume_draw();

    // Speculative decoding (speculative_sampling.cpp). distribution: what sample() would draw
    // from (the chain's survivors and their probabilities; greedy: the argmax with p 1). draw:
    // a token from such a distribution with the generator's next draw (none when greedy).
    std::vector<TokenProbability> distribution(std::span<const float> logits,
                                               std::span<const int32_t> history);
    int32_t draw(std::span<const TokenProbability> distribution);
    // Checks the drafted token against the target's `logits`: greedy accepts it when it is the
    // argmax, else chooses the argmax; sampling accepts it with probability min(1, p/q) and
    // otherwise draws from the residual max(p - q, 0), normalised, so the token returned is
    // distributed as sample()'s. `draft_q`: the distribution the draft was drawn from; empty
    // for a deterministic drafter (q is 1 at `drafted`). Fills the trace when asked.
    struct Verdict {
        int32_t token;
        bool accepted;
    };
    Verdict verify(std::span<const float> logits, std::span<const int32_t> history, int32_t drafted,
                   std::span<const TokenProbability> draft_q);

    const SamplingParams& params() const { return params_; }
    const std::optional<SamplingTrace>& last_trace() const { return trace_; }
    void reseed(uint64_t seed);

private:
    struct Candidate {
        int32_t token;
        float logit;
        float p;
    };
    void softmax(std::vector<Candidate>& candidates) const;
    // candidates_ = the k best of `logits` by (logit descending, token ascending), sorted: what
    // sorting every candidate and keeping k leaves, in one pass over the logits. `penalised`:
    // the tokens whose logits the penalties changed, with the changed logits, sorted by token.
    void select_best(std::span<const float> logits, std::span<const Candidate> penalised, size_t k);
    void record(const char* stage, std::vector<Candidate>& candidates);
    bool draws() const { return params_.temperature > 0.0f; }
    // The chain on `logits` into candidates_ (final probabilities); returns the greedy choice,
    // or -1 when a draw decides.
    int32_t run_chain(std::span<const float> logits, std::span<const int32_t> history);
    void note_chosen(std::span<const float> logits, int32_t token);

    SamplingParams params_;
    std::mt19937 rng_;
    std::vector<Candidate> candidates_;
    std::vector<Candidate> penalised_; // run_chain's, kept so that a step does not allocate
    std::optional<SamplingTrace> trace_;
    std::vector<float> dense_q_; // verify's draft distribution by token
};

} // namespace hearth
