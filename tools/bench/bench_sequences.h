// hearth-bench --sequences 1,2,4: compare mode's batched generation measured. For each
// count N, N sessions continue one shared prompt together (generate_together): the prompt
// is computed once and copied, then every decode step runs one forward pass over N tokens.
#pragma once

#include <string>
#include <vector>

namespace hearth::bench {

struct SequencesOptions {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int repetitions = 5;
    int n_threads = 0;
    std::vector<int> counts; // sequence counts to measure, e.g. {1, 2, 4}
};

// Parses "1,2,4" (each 1..16); empty on a bad list.
std::vector<int> parse_sequence_counts(const std::string& list);

// Prints a Markdown table: per N, the prompt tokens computed (against N × prompt length
// without sharing), prefill time, total decode tokens/s and its ratio to one sequence.
// Returns the process exit status.
int bench_sequences(const SequencesOptions& options);

} // namespace hearth::bench
