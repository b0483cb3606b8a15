// hearth-bench --requests 1,2,4,8: the Scheduler under N concurrent requests. For each count
// N, N requests with different prompts (each a count from its own start, so greedy decoding
// goes on counting and none stops early) are submitted at once to a scheduler of N slots.
#pragma once

#include <string>
#include <vector>

namespace hearth::bench {

struct RequestsOptions {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int repetitions = 5;
    int n_threads = 0;
    std::vector<int> counts; // concurrent requests to measure, e.g. {1, 2, 4, 8}
};

// The prompt of request `index`: "k, k+1, ..." from its own start, cut to n_prompt tokens
// (bench/compare_requests.py builds the same text for llama.cpp).
std::string request_prompt_text(int index, int n_numbers);

// Prints a Markdown table: per N, generated tokens/s of all requests together (first submit
// to last end), the mean time to first token and the mean and worst total latency. Returns
// the process exit status.
int bench_requests(const RequestsOptions& options);

} // namespace hearth::bench
