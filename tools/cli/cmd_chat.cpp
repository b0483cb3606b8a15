// `hearth-cli chat MODEL [...]`: multi-turn chat in the terminal. Each turn re-renders the
// conversation; the session reuses the cached prefix, so only the new turn is computed.
// When the context is full, the oldest turns are dropped (hearth::fit_prompt: the system
// prompt and the last message are kept).
#include "commands.h"
#include "generation_args.h"
#include "hearth/prompt.h"
#include "hearth/session.h"
#include "remote_generation.h"
#include "reply_output.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

namespace hearth::cli {

void print_generation_stats(const GenerationStats& stats);
Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

int cmd_chat(const Args& args) {
    if (args.get("--endpoint")) {
        return cmd_chat_remote(args);
    }
    if (args.positionals.size() != 1) {
        return usage_error(*args.spec, "expects one MODEL");
    }
    auto options = read_generation_args(args);
    if (!options) {
        return usage_error(*args.spec, options.error().message);
    }
    auto model = load_model_for_cli(args.positionals[0], options->n_threads);
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    if (auto draft = load_cli_draft(*options); !draft) {
        return report_error(draft.error().message.c_str());
    }
    auto format = resolve_cli_template(**model, options->template_name);
    if (!format) {
        return report_error(format.error().message.c_str());
    }
    for (const auto& warning : format->warnings) {
        std::fprintf(stderr, "warning: %s\n", warning.message.c_str());
    }
    auto thinking = read_thinking(args, *format);
    if (!thinking) {
        return usage_error(*args.spec, thinking.error().message);
    }
    // One slot, reused across turns: each turn reuses the conversation's cached prefix.
    auto scheduler = create_cli_scheduler(*model, options->session, options->device);
    if (!scheduler) {
        return report_error(scheduler.error().message.c_str());
    }
    const bool interactive = isatty(STDIN_FILENO);
    const bool quiet = args.has("--quiet");
    std::vector<ChatMessage> messages;
    if (!options->system_prompt.empty()) {
        messages.push_back({"system", options->system_prompt});
    }
    const size_t first_turn = messages.size();
    const GenerateOptions generate{.max_tokens = options->max_tokens,
                                   .stop_strings = format->stop_strings,
                                   .speculation = options->speculation};
    std::string line;
    while (true) {
        if (interactive) {
            std::fprintf(stdout, "> ");
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line) || line == "/exit" || line == "/quit") {
            break;
        }
        if (line.empty()) {
            continue;
        }
        messages.push_back({"user", line});
        auto prompt =
            fit_prompt(*format, (*model)->tokenizer(), messages, (*scheduler)->n_ctx(),
                       reply_reserve(options->max_tokens, (*scheduler)->n_ctx()), *thinking);
        if (!prompt) {
            return report_error(prompt.error().message.c_str());
        }
        if (prompt->dropped_messages > 0) {
            // Left out for good: the next turn starts from what was sent.
            messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first_turn),
                           messages.begin() +
                               static_cast<std::ptrdiff_t>(first_turn + prompt->dropped_messages));
            std::fprintf(stderr, "(context full: dropped the %zu oldest messages)\n",
                         prompt->dropped_messages);
        }
        const bool opened = prompt_opens_reasoning(format->reasoning, prompt->text);
        ReplyPrinter printer(format->reasoning, opened, stdout, true);
        Result<GenerationStats> stats = (*scheduler)
                                            ->generate({.prompt = std::move(prompt->tokens),
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
        // The template decides what earlier turns' reasoning becomes (reasoning_content).
        SplitReply reply = split_reasoning(format->reasoning, opened, stats->text);
        messages.push_back({"assistant", std::move(reply.answer), std::move(reply.reasoning)});
        std::fprintf(stdout, "\n");
        if (!quiet) {
            print_generation_stats(*stats);
            print_reasoning_stats(printer.splitter(), *stats);
        }
    }
    return 0;
}

} // namespace hearth::cli
