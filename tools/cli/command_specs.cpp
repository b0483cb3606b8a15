// hearth-cli's command lines: every command's synopsis, summary and options with their --help
// lines, ranges and defaults, declared once. The parser (cli_args.cpp), `--help` and the tests
// that compare `--help` with the manual page (tests/tools/tst_cli_documented.cpp) read these.
#include "commands.h"
#include "generation_args.h"
#include "hearth/sampling.h"
#include "hearth/scheduler.h"
#include "hearth/session.h"

#include <fmt/format.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::cli {
namespace {

constexpr const char* kProgram = "hearth-cli";

// Ranges shared by several commands (docs/LIMITS.md, "The command line").
constexpr IntRange kContextRange{1, kMaxContextTokens};
constexpr IntRange kBatchRange{1, 4096};

OptionSpec batch_option() {
    return option("--batch", "N",
                  fmt::format("prompt tokens per forward pass, {} to {} (default {})",
                              kBatchRange.low, kBatchRange.high, SessionOptions{}.n_batch))
        .within(kBatchRange);
}

// --ctx (-c) within kContextRange, with each command's own help line.
OptionSpec context_option(std::string help) {
    return option("--ctx", "N", std::move(help)).alias("-c").within(kContextRange);
}

// The help of a --ctx bounded by the model's trained context, defaulting to it up to 4096.
std::string trained_context_help(std::string_view what) {
    return fmt::format("{}, {} to {} and at most the model's trained context (default: the "
                       "trained context, at most 4096)",
                       what, kContextRange.low, kContextRange.high);
}

void append_options(std::vector<OptionSpec>& to, std::vector<OptionSpec> more) {
    for (OptionSpec& each : more) {
        to.push_back(std::move(each));
    }
}

// Where the forward passes run: the KV cache type, the device and the GPU's share of layers.
std::vector<OptionSpec> placement_options() {
    return {
        option("--kv-type", "f16|q8_0",
               "the KV cache's type; q8_0 takes about half the memory (default f16)"),
        option("--device", "cpu|cuda[:N]|auto",
               "where the forward passes run; auto takes a GPU that holds the model, else the "
               "CPU (default auto)"),
        option("--gpu-layers", "all|auto|N",
               "with CUDA, how many layers go on the GPU, the rest on the CPU (default auto)"),
    };
}

std::vector<OptionSpec> sampling_options() {
    const SamplingParams defaults;
    return {
        option("--temp", "T",
               fmt::format("temperature, 0 or more; 0 picks the most likely token every time "
                           "(default {})",
                           defaults.temperature)),
        option("--top-k", "K",
               fmt::format("keep the K most likely tokens, 0 to {}; 0 turns it off (default {})",
                           1 << 30, defaults.top_k))
            .within(IntRange{0, 1 << 30}),
        option("--top-p", "P",
               fmt::format("keep the most likely tokens whose probabilities add up to P, in "
                           "(0, 1]; 1 turns it off (default {})",
                           defaults.top_p)),
        option("--min-p", "P",
               fmt::format("drop tokens less likely than P times the most likely one, in [0, 1] "
                           "(default {})",
                           defaults.min_p)),
        option("--repeat-penalty", "R",
               fmt::format("penalise the tokens in the last --repeat-last-n, more than 0; 1 "
                           "turns it off (default {})",
                           defaults.repeat_penalty)),
        option("--repeat-last-n", "N",
               fmt::format("tokens the penalties look back, -1 (all) to {}; 0 turns them off "
                           "(default {})",
                           1 << 30, defaults.repeat_last_n))
            .within(IntRange{-1, 1 << 30}),
        option("--presence-penalty", "P",
               fmt::format("subtracted once from a token's logit if it is in the window "
                           "(default {})",
                           defaults.presence_penalty)),
        option("--frequency-penalty", "P",
               fmt::format("subtracted from a token's logit once per time it is in the window "
                           "(default {})",
                           defaults.frequency_penalty)),
        option("--seed", "S",
               fmt::format("the seed of the random draw, 0 to {} (default {})", kMaxSeed,
                           defaults.seed))
            .alias("-s")
            .within(IntRange{0, kMaxSeed}),
    };
}

// The options of run, chat and compare (generation_args.h reads them).
std::vector<OptionSpec> generation_options() {
    std::vector<OptionSpec> options{
        option("--n-predict", "N",
               fmt::format("the most tokens to generate, 1 to {} (default {})", kMaxPredictTokens,
                           GenerationArgs{}.max_tokens))
            .alias("-n")
            .within(IntRange{1, kMaxPredictTokens}),
    };
    append_options(options, sampling_options());
    options.push_back(context_option(trained_context_help("context length in tokens")));
    options.push_back(threads_option());
    options.push_back(batch_option());
    options.push_back(option("--template", "NAME|FILE",
                             "a built-in chat template or a Jinja file instead of the model's "
                             "own (default: the model's own)"));
    options.push_back(option("--system", "TEXT", "a system prompt (default: none)"));
    append_options(options, placement_options());
    const SpeculationOptions speculation;
    options.push_back(option("--draft", "MODEL",
                             "speculative decoding with a draft model of the same vocabulary "
                             "(a smaller one of the family); CPU only"));
    options.push_back(option("--lookup", "N",
                             fmt::format("speculative decoding by prompt lookup: draft what "
                                         "followed the last N-gram (1 to {}) where it occurred "
                                         "before; CPU only",
                                         kMaxLookupNgram))
                          .within(IntRange{1, kMaxLookupNgram}));
    options.push_back(option("--draft-max", "N",
                             fmt::format("tokens drafted per step, 1 to {} (default {})",
                                         kMaxDraftTokens, speculation.draft_max))
                          .within(IntRange{1, kMaxDraftTokens}));
    options.push_back(option("--draft-min", "N",
                             fmt::format("a shorter draft is not verified, 0 to --draft-max "
                                         "(default {})",
                                         speculation.draft_min))
                          .within(IntRange{0, kMaxDraftTokens}));
    options.push_back(option("--draft-p-min", "P",
                             fmt::format("the draft model stops drafting at a token it gives a "
                                         "probability below P, 0 to 1 (default {:g})",
                                         speculation.draft_p_min)));
    return options;
}

// run's, chat's and compare's remote server instead of a local model (remote_generation.h).
std::vector<OptionSpec> endpoint_options() {
    return {
        option("--endpoint", "URL",
               "talk to an OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama, "
               "hearth-cli serve) at URL instead of a local MODEL"),
        option("--model", "NAME",
               "with --endpoint: the server's model (default: the first it lists)"),
        option("--api-key-env", "VAR",
               "with --endpoint: send the API key held in the environment variable VAR"),
    };
}

// run's, chat's and compare's switch of a reasoning model's thinking (reply_output.h and
// cmd_compare.cpp read it).
OptionSpec think_option() {
    return option("--think", "on|off|low|medium|high",
                  "turn the model's thinking on or off (templates with enable_thinking), or set "
                  "its effort (gpt-oss's reasoning_effort); default: the template's own");
}

CommandSpec with_generation_options(CommandSpec spec) {
    std::vector<OptionSpec> shared = generation_options();
    append_options(shared, endpoint_options());
    for (OptionSpec& each : shared) {
        if (!spec.find(each.name)) { // a command's own declaration of an option wins
            spec.options.push_back(std::move(each));
        }
    }
    return spec;
}

} // namespace

const CommandSpec& info_spec() {
    static const CommandSpec spec{
        .program = kProgram,
        .name = "info",
        .synopsis = "MODEL [OPTIONS]",
        .summary = "What a model is and what running it costs: hyper-parameters, quantization "
                   "mix and the memory arithmetic against this machine.",
        .options = {
            context_option(fmt::format("the context the memory is planned for, {} to {} tokens "
                                       "(default: the model's trained context)",
                                       kContextRange.low, kContextRange.high)),
            option("--gpu-free", "SIZE",
                   "plan a partial offload to a GPU with SIZE free (4GiB, 512MiB, 8000000000; "
                   "default: no plan)"),
            option("--gpu-layers", "all|auto|N",
                   "the layers the --gpu-free plan puts on the GPU (default auto: as many as "
                   "fit)"),
            flag("--json", "print the same facts as one JSON object"),
        }};
    return spec;
}

const CommandSpec& tensor_spec() {
    static const CommandSpec spec{
        .program = kProgram,
        .name = "tensor",
        .synopsis = "MODEL NAME --out FILE.npy",
        .summary = "One tensor of a model, dequantized to float32, written as a NumPy file.",
        .options = {
            option("--out", "FILE.npy", "where to write the tensor (required)").alias("-o"),
        }};
    return spec;
}

const CommandSpec& tokenize_spec() {
    static const CommandSpec spec{
        .program = kProgram,
        .name = "tokenize",
        .synopsis = "MODEL (--file FILE | TEXT) [OPTIONS]",
        .summary = "The tokens of a text: id, piece and bytes of each (MODEL is a GGUF file or a "
                   "Hugging Face tokenizer folder).",
        .options = {
            option("--file", "FILE", "tokenize FILE's text").alias("-f"),
            flag("--ids", "print the ids only, as one JSON array"),
            flag("--no-add-special", "leave out the beginning-of-sequence token the model adds"),
            flag("--parse-special", "recognise special tokens written in the text"),
            flag("--time", "say on stderr how long tokenization took"),
        }};
    return spec;
}

const CommandSpec& run_spec() {
    static const CommandSpec spec = with_generation_options({
        .program = kProgram,
        .name = "run",
        .synopsis = "(MODEL | --endpoint URL) (-p PROMPT | -f FILE) [OPTIONS]",
        .summary = "One completion, streamed to stdout (timings on stderr); the prompt is one "
                   "user message in the chat template unless --raw.",
        .options =
            {
                option("--prompt", "PROMPT", "the prompt").alias("-p"),
                option("--file", "FILE", "read the prompt from FILE").alias("-f"),
                flag("--raw", "send the prompt as it is, without a chat template"),
                flag("--show-prompt", "print the rendered prompt on stderr first"),
                think_option(),
                flag("--json",
                     "print the reply at the end as one JSON object: reasoning, answer, text "
                     "and timings"),
                flag("--timings",
                     "also print on stderr how long each step of loading and starting took"),
            },
    });
    return spec;
}

const CommandSpec& compare_spec() {
    static const CommandSpec spec = with_generation_options({
        .program = kProgram,
        .name = "compare",
        .synopsis = "MODEL -p PROMPT (--template NAME | --column SPEC)... [--endpoint URL] "
                    "[OPTIONS]",
        .summary = fmt::format("One prompt under 2 to {} templates or sampling settings, "
                               "generated together in one batch, printed column after column.",
                               kMaxCompareColumns),
        .options =
            {
                option("--prompt", "PROMPT", "the prompt").alias("-p"),
                option("--template", "NAME|FILE", "a column with this chat template (repeatable)")
                    .repeated(),
                option("--column", "SPEC",
                       "a column with its own settings: key=value,... of template, system, think, "
                       "temp, "
                       "top_k, top_p, min_p, repeat_penalty, repeat_last_n, presence_penalty, "
                       "frequency_penalty, seed, n, remote (1: answered by --endpoint's server) "
                       "(repeatable)")
                    .repeated(),
                flag("--show-prompts",
                     "print each column's rendered prompt and its diff against the first"),
                think_option(),
                flag("--json",
                     "print the columns at the end as one JSON object: each column's reasoning, "
                     "answer, text and figures, and the batch's"),
            },
    });
    return spec;
}

const CommandSpec& chat_spec() {
    static const CommandSpec spec = with_generation_options({
        .program = kProgram,
        .name = "chat",
        .synopsis = "(MODEL | --endpoint URL) [OPTIONS]",
        .summary = "A multi-turn chat in the terminal: each line of stdin is a user turn; /exit, "
                   "/quit or the end of input leaves.",
        .options =
            {
                flag("--quiet", "no timings after each reply"),
                think_option(),
            },
    });
    return spec;
}

const CommandSpec& perplexity_spec() {
    static const CommandSpec spec = [] {
        CommandSpec s{
            .program = kProgram,
            .name = "perplexity",
            .synopsis = "MODEL --file TEXT [OPTIONS]",
            .summary = "The perplexity of a model over a text, in windows of the context length, "
                       "as llama-perplexity computes it.",
            .options = {
                option("--file", "TEXT", "the text file (required)").alias("-f"),
                option("--ctx", "N",
                       fmt::format("tokens per window, {} to {} (default {})",
                                   kMinPerplexityContext, kContextRange.high,
                                   kDefaultPerplexityContext))
                    .alias("-c")
                    .within(IntRange{kMinPerplexityContext, kContextRange.high}),
                option("--chunks", "N",
                       fmt::format("score at most N windows, 1 to {} (default: every whole "
                                   "window in the text)",
                                   kContextRange.high))
                    .within(IntRange{1, kContextRange.high}),
                threads_option(),
                batch_option(),
            }};
        append_options(s.options, placement_options());
        return s;
    }();
    return spec;
}

const CommandSpec& template_list_spec() {
    static const CommandSpec spec{.program = kProgram,
                                  .name = "template list",
                                  .synopsis = "",
                                  .summary = "The chat templates built into Hearth.",
                                  .options = {}};
    return spec;
}

const CommandSpec& template_render_spec() {
    static const CommandSpec spec{
        .program = kProgram,
        .name = "template render",
        .synopsis = "(--model MODEL | --template NAME | --template-file FILE) --messages FILE.json "
                    "[OPTIONS]",
        .summary = "A conversation (a JSON array of messages) rendered with a chat template, "
                   "exactly as the model sees it; stdout holds the prompt and nothing else.",
        .options = {
            option("--model", "MODEL", "the template of a GGUF model"),
            option("--template", "NAME", "a built-in template"),
            option("--template-file", "FILE", "a Jinja template file"),
            option("--messages", "FILE.json", "the conversation (required)"),
            flag("--add-generation-prompt", "end with the assistant's header"),
            option("--bos-token", "S",
                   "the BOS token's text (default: the model's or the template's)"),
            option("--eos-token", "S",
                   "the EOS token's text (default: the model's or the template's)"),
            option("--tools", "FILE.json", "tool definitions (a JSON array)"),
            option("--var", "NAME=JSON", "an extra template variable (repeatable)").repeated(),
        }};
    return spec;
}

const CommandSpec& pull_spec() {
    static const CommandSpec spec{
        .program = kProgram,
        .name = "pull",
        .synopsis = "(URL | OWNER/REPO[:FILE] | CATALOG-ID) [OPTIONS]",
        .summary = "Downloads a GGUF model as the app does, with a progress bar; the file "
                   "appears once its size and SHA-256 match. `pull --list` lists the catalog.",
        .options = {
            option("--dir", "D", "the folder to download into (default: the models folder)"),
            option("--quant", "Q", "the quantization to pick from a catalog entry or a repository"),
            option("--sha256", "X",
                   "the file's expected SHA-256, 64 hexadecimal digits (default: the "
                   "repository's)"),
            option("--token-env", "VAR",
                   "read the Hugging Face token from the variable VAR (default HF_TOKEN)"),
            flag("--force", "download a model Hearth cannot run yet (its architecture is read "
                            "from the file's header first)"),
            flag("--list", "list the model catalog: id, architecture, repository, "
                           "quantizations"),
        }};
    return spec;
}

const CommandSpec& serve_spec() {
    static const CommandSpec spec = [] {
        CommandSpec s{
            .program = kProgram,
            .name = "serve",
            .synopsis = "MODEL [OPTIONS]",
            .summary = "An OpenAI-compatible HTTP server for the model (/v1/chat/completions, "
                       "/v1/completions, /v1/models, /health), until interrupted.",
            .options = {
                option("--host", "HOST",
                       "the address to listen on (default 127.0.0.1); any other than loopback "
                       "needs --api-key-env"),
                option("--port", "N", "the TCP port, 0 for any free one (default 8080)")
                    .within(IntRange{0, 65535}),
                option("--slots", "N",
                       fmt::format("requests generated at once, each with its own KV cache, 1 "
                                   "to {} (default 4)",
                                   kMaxSchedulerSlots))
                    .within(IntRange{1, static_cast<long long>(kMaxSchedulerSlots)}),
                option("--queue", "N",
                       fmt::format("requests waiting for a slot before new ones get 503, 1 to "
                                   "{} (default 64)",
                                   kMaxSchedulerQueue))
                    .within(IntRange{1, static_cast<long long>(kMaxSchedulerQueue)}),
                context_option(trained_context_help("each slot's context in tokens")),
                threads_option(),
                option("--api-key-env", "VAR",
                       "require the API key held in environment variable VAR (Authorization: "
                       "Bearer KEY)"),
                option("--cors", "ORIGIN",
                       "let web pages from ORIGIN call the server (default: no CORS headers)"),
                option("--name", "NAME",
                       "the model's name in /v1/models (default: the file name without .gguf)"),
                option("--template", "NAME|FILE",
                       "the chat template: model, raw, a built-in's name or a Jinja file "
                       "(default: the model's own)"),
            }};
        append_options(s.options, placement_options());
        s.options.push_back(batch_option());
        return s;
    }();
    return spec;
}

const CommandSpec& doctor_spec() {
    static const CommandSpec spec = [] {
        CommandSpec s{
            .program = kProgram,
            .name = "doctor",
            .synopsis = "MODEL [OPTIONS]",
            .summary = "The pre-flight checklist: memory, format, runtime and sampling checked "
                       "against this machine, with the fixes; --warmup runs the model and "
                       "diagnoses a reply.",
            .options = {
                context_option(fmt::format("the context to check, {} to {} tokens (default: the "
                                           "trained context, at most 4096)",
                                           kContextRange.low, kContextRange.high)),
                option("--slots", "N",
                       "sequences decoded together, as the server's slots, 1 to 64 (default 1)")
                    .within(IntRange{1, 64}),
                option("--memory-budget", "SIZE",
                       "the memory to fit in (4GiB, 512MiB, 8000000000) instead of the free "
                       "RAM (default: MemAvailable)"),
                threads_option(),
                option("--template", "NAME",
                       "a built-in chat template, or raw, instead of the model's own (default: "
                       "the model's own)"),
                option("--system", "TEXT", "a system prompt (default: none)"),
                option("--n-predict", "N",
                       fmt::format("tokens of each --warmup reply, 1 to {} (default 64)",
                                   kMaxPredictTokens))
                    .alias("-n")
                    .within(IntRange{1, kMaxPredictTokens}),
                flag("--warmup", "load the model and run it: the first and second run, the "
                                 "plan against resident memory, and the diagnoses of a reply"),
                flag("--calibrate", "measure the token-stream thresholds on replies under "
                                    "healthy and broken sampling"),
                flag("--json", "print the checklist and findings as one JSON object"),
            }};
        for (OptionSpec& each : sampling_options()) {
            if (each.name == "--temp" || each.name == "--top-k" || each.name == "--top-p" ||
                each.name == "--repeat-penalty") {
                s.options.push_back(std::move(each));
            }
        }
        append_options(s.options, placement_options());
        return s;
    }();
    return spec;
}

std::span<const Command> commands() {
    static const Command all[] = {
        {info_spec, cmd_info},
        {tensor_spec, cmd_tensor},
        {tokenize_spec, cmd_tokenize},
        {run_spec, cmd_run},
        {compare_spec, cmd_compare},
        {chat_spec, cmd_chat},
        {perplexity_spec, cmd_perplexity},
        {template_list_spec, cmd_template_list},
        {template_render_spec, cmd_template_render},
        {pull_spec, cmd_pull},
        {serve_spec, cmd_serve},
        {quantize_spec, cmd_quantize},
        {quant_lab_spec, cmd_quant_lab},
        {imatrix_spec, cmd_imatrix},
        {doctor_spec, cmd_doctor},
    };
    return all;
}

} // namespace hearth::cli
