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
    void record(const char* stage, std::vector<Candidate>& candidates);
    bool draws() const { return params_.temperature > 0.0f; }

    SamplingParams params_;
    std::mt19937 rng_;
    std::vector<Candidate> candidates_;
    std::optional<SamplingTrace> trace_;
};

} // namespace hearth
