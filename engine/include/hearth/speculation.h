// Speculative decoding, a per-request option: a drafter proposes the next few tokens (prompt
// lookup: the continuation of an earlier occurrence of the last n-gram; or a small draft model
// with the target's vocabulary), the target runs them in one forward pass and keeps the
// longest prefix its own sampling agrees with (greedy: the same argmax; sampling: the
// accept/reject rule of Leviathan et al. 2023 / Chen et al. 2023, which keeps the target's
// distribution), plus one token of its own.
//
// What is guaranteed: greedy output is token for token the output without speculation (each
// verified position runs the single-token kernels one-token decoding runs, so its logits are
// bit-identical). Seeded sampling gives the same output for the same seed, settings and
// drafter, but not the output of the same seed without speculation (the rule draws its own
// uniforms). Refused on CUDA sessions. A hybrid target (qwen35, qwen35moe) rewinds its
// recurrent state after each verification from a copy taken at the pass's start; a hybrid
// draft resumes from a checkpoint at the last history it drafted after.
#pragma once

#include "hearth/error.h"
#include "hearth/model.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace hearth {

// Draft tokens one step proposes, at most: a verify pass of 1 + this many tokens.
inline constexpr int32_t kMaxDraftTokens = 32;
// Longest n-gram prompt lookup matches.
inline constexpr int32_t kMaxLookupNgram = 16;

enum class SpeculationMode {
    off,
    lookup,      // n-gram lookup in the prompt and the reply so far
    draft_model, // a small model with the same vocabulary
};
const char* speculation_mode_name(SpeculationMode mode);

struct SpeculationOptions {
    SpeculationMode mode = SpeculationMode::off;
    int32_t draft_max = 8;    // tokens proposed per step, 1..kMaxDraftTokens
    int32_t draft_min = 1;    // a shorter proposal is not verified (plain decoding that step)
    int32_t lookup_ngram = 3; // lookup: the longest n-gram matched (then shorter), 1..max
    // A draft model stops drafting at a token its own top probability is below this, in
    // [0, 1] (llama.cpp's --draft-p-min default): an unsure draft is mostly rejected.
    float draft_p_min = 0.75f;
    std::shared_ptr<const Model> draft_model = nullptr; // draft_model mode

    bool enabled() const { return mode != SpeculationMode::off; }
    // Ranges, and a draft model where the mode needs one (`invalid_argument`).
    Result<void> validate() const;
};

// Whether `draft` can draft for `target`: the same vocabulary, token by token (`unsupported`
// naming the first differing token otherwise).
Result<void> check_draft_model(const Model& target, const Model& draft);

} // namespace hearth
