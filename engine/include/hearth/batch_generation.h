// Several sessions on one Model generating together (compare mode, the server): each step
// runs one forward pass over one token of every sequence still going, so the weights are
// read once per step for all of them; on the CPU, the prompt prefix the sequences share is
// computed once, in one session, and its KV cells copied into the others. On CUDA, sessions
// made by one Session::create_group share one forward (one weight read per step); sessions
// created apart run one pass per forward each step. All sessions must be on one device.
//
// Each sequence keeps its own sampling parameters (and seed), stop strings, token limit and
// streaming callback, and gets its own statistics and stop reason; one stopping (end of
// generation, stop string, max tokens, its context full, its session cancelled or its
// callback returning false) leaves the others running.
//
// The result is the same, token for token, as generating each sequence alone with
// Session::generate from the same cache contents: a token's forward pass does not depend on
// the other tokens in its batch (the matrix products give each row what a one-row product
// gives, and attention keeps the kernels the token would have had alone).
//
// Thread-safety: as Session; generate_together() runs on the calling thread, and
// Session::cancel() of any member may be called from another thread to stop that sequence.
#pragma once

#include "hearth/error.h"
#include "hearth/sampling.h"
#include "hearth/session.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace hearth {

// Sequences generated together by one call, at most.
inline constexpr size_t kMaxSequencesTogether = 16;

struct SequenceRequest {
    Session* session = nullptr;      // distinct per request, all on the same Model
    std::span<const int32_t> prompt; // the whole conversation so far, as tokens
    SamplingParams sampling;
    GenerateOptions options;
    std::function<bool(const TokenEvent&)> on_token; // may be empty; false stops this one
};

struct BatchGenerationStats {
    std::vector<GenerationStats> sequences; // in request order
    int32_t n_shared_prefix = 0; // prompt tokens computed once and copied into the others
    uint64_t n_computed = 0;     // tokens run through the model by the call (all sequences)
    int32_t n_steps = 0;         // decode forward passes
    double prefill_ms = 0;       // all prompts
    double decode_ms = 0;        // first decode pass to the last sequence finishing

    int32_t n_generated() const {
        int32_t n = 0;
        for (const auto& s : sequences) {
            n += s.n_generated;
        }
        return n;
    }
    // Tokens generated per second by all sequences together, after the first of each.
    double decode_tokens_per_second() const {
        int32_t n = 0;
        for (const auto& s : sequences) {
            n += s.n_generated > 1 ? s.n_generated - 1 : 0;
        }
        return decode_ms > 0 ? n * 1000.0 / decode_ms : 0;
    }
};

// Generates every request. Fails before generating anything with `invalid_argument` (no
// requests, more than kMaxSequencesTogether, a missing or repeated session, sessions on
// different models or devices, an empty prompt, bad sampling parameters or token limit; the message
// names the sequence) or `context_full` (a prompt that does not fit its session's context).
// A failure of the forward pass itself ends the call with that error.
Result<BatchGenerationStats> generate_together(std::span<const SequenceRequest> requests);

} // namespace hearth
