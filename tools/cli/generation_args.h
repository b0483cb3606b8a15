// Options shared by hearth-cli's generating commands (run, chat, compare): model loading,
// context, KV cache type, device, threads, template and the sampling chain.
#pragma once

#include "cli_args.h"
#include "hearth/device_choice.h"
#include "hearth/prompt.h"
#include "hearth/sampling.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"

#include <string>

namespace hearth::cli {

// The command line's own bounds (docs/LIMITS.md, "The command line"); the options' --help
// lines (command_specs.cpp) state them.
inline constexpr long long kMaxContextTokens = 1 << 24;     // --ctx: the loader's largest context
inline constexpr long long kMaxPredictTokens = 1 << 24;     // -n: no reply needs more
inline constexpr long long kMaxSeed = 1ll << 62;            // --seed, as compare's columns take it
inline constexpr long long kMinPerplexityContext = 4;       // scores n_ctx/2 - 1 >= 1 tokens
inline constexpr long long kDefaultPerplexityContext = 512; // llama-perplexity's default

struct GenerationArgs {
    SamplingParams sampling;
    SessionOptions session;
    DeviceRequest device; // --device; SessionOptions' device is set by create_cli_sessions
    int n_threads = 0;
    int32_t max_tokens = 256;
    std::string template_name; // "" = the model's choice
    std::string system_prompt;
    // --draft FILE / --lookup N with --draft-max, --draft-min; the draft model is loaded by
    // load_cli_draft.
    SpeculationOptions speculation = {};
    std::string draft_path;
};

// Reads and validates the options command_specs.cpp declares for run, chat and compare; an
// error (a usage error: exit status 2) names the option and the allowed range.
Result<GenerationArgs> read_generation_args(const Args& args);

// The template --template names (hearth/prompt.h): "", "model", "raw" or a built-in's name;
// anything else is a Jinja file, read here at the user's request (at most
// kMaxTemplateFileBytes, a regular file) and labelled with its file name. The one place a
// template is read from a file: a name read from a saved file never reaches here.
Result<PromptFormat> resolve_cli_template(const Model& model, const std::string& name_or_file);

// Loads the --draft model (with the target's thread count) into `args.speculation`, and makes an
// automatic device choice the CPU when speculation is on (CUDA does not run it yet), saying so.
Result<void> load_cli_draft(GenerationArgs& args);

// --kv-type's value (f16 when absent).
Result<KvCacheType> read_kv_type(const Args& args);

// --device's value ("auto" when absent).
Result<DeviceRequest> read_device(const Args& args);

// --gpu-layers' value: all, auto (when absent) or a count (hearth/gpu_layers.h).
Result<int32_t> read_gpu_layers(const Args& args);

// `n` sessions (Session::create_group) on the requested device. "auto" says on stderr which
// device it chose and why, and falls back to the CPU (saying why) when the GPU cannot take the
// model; an explicit cuda[:N] fails instead.
Result<std::vector<Session>> create_cli_sessions(const std::shared_ptr<const Model>& model,
                                                 SessionOptions options,
                                                 const DeviceRequest& device, size_t n = 1);

// A scheduler of `n` slots on the sessions create_cli_sessions makes (the same device
// choice and messages), its step's prompt budget the session's --batch, its queue
// `queue_capacity` requests long.
Result<std::unique_ptr<Scheduler>>
create_cli_scheduler(const std::shared_ptr<const Model>& model, SessionOptions options,
                     const DeviceRequest& device, size_t n = 1,
                     size_t queue_capacity = SchedulerOptions{}.queue_capacity);

} // namespace hearth::cli
