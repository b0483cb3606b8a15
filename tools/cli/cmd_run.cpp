// `hearth-cli run MODEL -p PROMPT [...]`: one completion streamed to stdout, timings to
// stderr. Without --raw the prompt is one user message in the model's chat template.
#include "commands.h"
#include "generation_args.h"
#include "hearth/file_input.h"
#include "hearth/prompt.h"
#include "hearth/session.h"
#include "remote_generation.h"
#include "reply_output.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace hearth::cli {

void print_generation_stats(const GenerationStats& stats) {
    std::fprintf(stderr,
                 "\n\nprompt: %d tokens (%d reused, %d computed) in %.1f ms, %.1f tokens/s\n",
                 stats.n_prompt, stats.n_reused, stats.n_prefilled, stats.prefill_ms,
                 stats.prefill_tokens_per_second());
    std::fprintf(stderr,
                 "generated: %d tokens in %.1f ms, %.1f tokens/s; first token after %.1f ms; "
                 "stopped: %s\n",
                 stats.n_generated, stats.decode_ms, stats.decode_tokens_per_second(),
                 stats.ttft_ms, stop_reason_name(stats.stop));
    if (stats.n_drafted > 0) {
        std::fprintf(stderr, "drafted: %d tokens, %d accepted (%.1f%%)\n", stats.n_drafted,
                     stats.n_draft_accepted, 100.0 * stats.draft_acceptance_rate());
    }
}

namespace {

// The steps before the first forward pass, timed for --timings.
class StartupTimes {
public:
    void mark(const char* name) {
        const auto now = std::chrono::steady_clock::now();
        steps_.push_back({name, std::chrono::duration<double, std::milli>(now - last_).count()});
        last_ = now;
    }
    // "load 41.2 ms (header 0.2, checks 0.1, tokenizer 30.1, ...), prompt 1.0 ms, ...".
    void print(const Model& model) const {
        std::fprintf(stderr, "startup:");
        for (const auto& [name, ms] : steps_) {
            std::fprintf(stderr, " %s %.1f ms", name, ms);
            if (std::string_view(name) == "load") {
                const char* separator = " (";
                for (const LoadPhase& phase : model.load_phases()) {
                    std::fprintf(stderr, "%s%.*s %.1f", separator,
                                 static_cast<int>(phase.name.size()), phase.name.data(), phase.ms);
                    separator = ", ";
                }
                std::fprintf(stderr, ")");
            }
            std::fprintf(stderr, ";");
        }
        std::fprintf(stderr, "\n");
    }

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::vector<std::pair<const char*, double>> steps_;
};

// Sanitizer builds keep the whole teardown, so that LeakSanitizer checks the destructors the
// app relies on when it unloads a model.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kFullTeardown = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(leak_sanitizer)
constexpr bool kFullTeardown = true;
#else
constexpr bool kFullTeardown = false;
#endif
#else
constexpr bool kFullTeardown = false;
#endif

// A finished run ends the process at once: stopping the scheduler's and the pool's threads,
// unmapping the model and freeing the tokenizer's tables is work the exit does anyway (57 ms of
// a 340 ms run on the default model, measured in session 10).
int end_of_run(int status) {
    if constexpr (!kFullTeardown) {
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(status);
    }
    return status;
}

} // namespace

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads) {
    return Model::load(path, {.n_threads = n_threads, .on_progress = {}});
}

int cmd_run(const Args& args) {
    if (args.get("--endpoint")) {
        return cmd_run_remote(args);
    }
    if (args.positionals.size() != 1 ||
        args.get("--prompt").has_value() == args.get("--file").has_value()) {
        return usage_error(*args.spec, "expects one MODEL and either -p PROMPT or -f FILE");
    }
    auto options = read_generation_args(args);
    if (!options) {
        return usage_error(*args.spec, options.error().message);
    }
    if (args.has("--raw") && args.get("--think")) {
        return usage_error(*args.spec, "--think sets a chat template's switch: not with --raw");
    }
    std::string prompt_text;
    if (auto file = args.get("--file")) {
        auto text = read_file_input(*file, "the prompt file", kMaxTextInputBytes);
        if (!text) {
            return report_error(text.error().message.c_str());
        }
        prompt_text = std::move(*text);
    } else {
        prompt_text = *args.get("--prompt");
    }
    if (prompt_text.empty()) {
        return report_error("the prompt is empty");
    }
    StartupTimes startup;
    auto model = load_model_for_cli(args.positionals[0], options->n_threads);
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    startup.mark("load");
    if (auto draft = load_cli_draft(*options); !draft) {
        return report_error(draft.error().message.c_str());
    }
    std::string rendered = prompt_text;
    GenerateOptions generate{
        .max_tokens = options->max_tokens, .stop_strings = {}, .speculation = options->speculation};
    ReasoningFormat reasoning; // none with --raw: the text is printed as the model writes it
    if (!args.has("--raw")) {
        auto format = resolve_cli_template(**model, options->template_name);
        if (!format) {
            return report_error(format.error().message.c_str());
        }
        for (const auto& warning : format->warnings) {
            std::fprintf(stderr, "warning: %s\n", warning.message.c_str());
        }
        std::vector<ChatMessage> messages;
        if (!options->system_prompt.empty()) {
            messages.push_back({"system", options->system_prompt});
        }
        messages.push_back({"user", prompt_text});
        auto thinking = read_thinking(args, *format);
        if (!thinking) {
            return usage_error(*args.spec, thinking.error().message);
        }
        auto text = render_prompt(*format, messages, true, *thinking);
        if (!text) {
            return report_error(text.error().message.c_str());
        }
        rendered = std::move(*text);
        generate.stop_strings = format->stop_strings;
        reasoning = format->reasoning;
    }
    if (args.has("--show-prompt")) {
        std::fprintf(stderr, "%s", rendered.c_str());
    }
    auto tokens = tokenize_prompt((*model)->tokenizer(), rendered);
    if (!tokens) {
        return report_error(tokens.error().message.c_str());
    }
    startup.mark("prompt");
    auto scheduler = create_cli_scheduler(*model, options->session, options->device);
    if (!scheduler) {
        return report_error(scheduler.error().message.c_str());
    }
    startup.mark("context");
    const bool json = args.has("--json");
    const bool opened = prompt_opens_reasoning(reasoning, rendered);
    ReplyPrinter printer(reasoning, opened, stdout, !json);
    // The printer is used by the scheduler's thread while this one waits.
    auto stats = (*scheduler)
                     ->generate({.prompt = std::move(*tokens),
                                 .sampling = options->sampling,
                                 .options = generate,
                                 .on_token =
                                     [&printer](const TokenEvent& event) {
                                         printer.on_token(event);
                                         return true;
                                     },
                                 .on_done = {}});
    if (!stats) {
        return report_error(stats.error().message.c_str());
    }
    printer.finish();
    if (args.has("--timings")) {
        startup.print(**model);
    }
    if (json) {
        print_reply_json(*stats, split_reasoning(reasoning, opened, stats->text),
                         reply_timing(printer.splitter(), stats->n_generated, stats->decode_ms));
        return end_of_run(0);
    }
    print_generation_stats(*stats);
    print_reasoning_stats(printer.splitter(), *stats);
    return end_of_run(0);
}

} // namespace hearth::cli
