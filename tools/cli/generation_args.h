// Options shared by hearth-cli's generating commands (run, chat, compare): model loading,
// context, KV cache type, threads, template and the sampling chain.
#pragma once

#include "cli_args.h"
#include "hearth/sampling.h"
#include "hearth/session.h"

#include <string>

namespace hearth::cli {

// Adds the shared options to a command's spec.
void add_generation_options(ArgSpec& spec);

struct GenerationArgs {
    SamplingParams sampling;
    SessionOptions session;
    int n_threads = 0;
    int32_t max_tokens = 256;
    std::string template_name; // "" = the model's choice
    std::string system_prompt;
};

// Reads and validates them; messages name the option and the allowed range.
Result<GenerationArgs> read_generation_args(const Args& args);

} // namespace hearth::cli
