// hearth-bench MODEL --draft DRAFT | --lookup N: speculative decoding measured. Greedy
// replies to one chat prompt (by default a code edit whose reply repeats the prompt's code,
// where prompt lookup helps), decoded without speculation and with it, alternating, each from
// an empty cache: decode tokens/s of both, the speed-up, the acceptance rate, and whether the
// replies are the same (greedy speculation must not change them).
#pragma once

#include "hearth/speculation.h"

#include <string>

namespace hearth::bench {

struct SpeculationBenchOptions {
    std::string model;
    std::string draft; // --draft: a draft model file; else lookup
    SpeculationOptions speculation;
    std::string prompt; // the user message; empty: the built-in code edit
    int n_gen = 128;
    int repetitions = 5;
    int n_threads = 0;
    bool json = false;
};

// Prints a Markdown table (or JSON); returns the process exit status.
int bench_speculation(const SpeculationBenchOptions& options);

} // namespace hearth::bench
