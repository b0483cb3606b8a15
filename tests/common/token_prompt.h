// Made-up prompts for the scheduler's tests: token ids below a model's vocabulary, the same
// for the same seed, each seed's first token its own (so that two prompts share no prefix
// unless a test builds one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::test {

// A prompt of `n` tokens, below `n_vocab`, distinct from the others by its first token.
inline std::vector<int32_t> prompt_of(size_t n, uint32_t seed, int32_t n_vocab) {
    std::vector<int32_t> p(n);
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        p[i] = static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(n_vocab - 8)) + 4;
    }
    if (!p.empty()) {
        p[0] = static_cast<int32_t>(4 + seed % static_cast<uint32_t>(n_vocab - 8));
    }
    return p;
}

} // namespace hearth::test
