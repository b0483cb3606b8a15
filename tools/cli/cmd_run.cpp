// `hearth-cli run MODEL -p PROMPT [...]`: one completion streamed to stdout, timings to
// stderr. Without --raw the prompt is one user message in the model's chat template.
#include "commands.h"
#include "generation_args.h"
#include "hearth/prompt.h"
#include "hearth/session.h"

#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

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
}

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads) {
    return Model::load(path, {.n_threads = n_threads, .on_progress = {}});
}

int cmd_run(int argc, char** argv) {
    ArgSpec spec{.options = {"--prompt", "--file"},
                 .flags = {"--raw", "--show-prompt"},
                 .repeatable = {},
                 .short_names = {{"-p", "--prompt"}, {"-f", "--file"}}};
    add_generation_options(spec);
    auto args = parse_args(argc, argv, 0, spec);
    if (!args) {
        std::fprintf(stderr, "hearth-cli run: %s\n", args.error().message.c_str());
        return 2;
    }
    if (args->positionals.size() != 1 || (!args->get("--prompt") && !args->get("--file"))) {
        std::fprintf(stderr,
                     "usage: hearth-cli run MODEL (-p PROMPT | -f FILE) [-n N] [--temp T] "
                     "[--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] "
                     "[--repeat-last-n N] [--seed S] [--ctx N] [--kv-type f16|q8_0] "
                     "[--device cpu|cuda[:N]|auto] [--gpu-layers all|auto|N] [--threads N] [--raw] "
                     "[--template NAME|FILE] [--system TEXT] [--show-prompt]\n");
        return 2;
    }
    auto options = read_generation_args(*args);
    if (!options) {
        return report_error(options.error().message.c_str());
    }
    std::string prompt_text;
    if (auto file = args->get("--file")) {
        std::ifstream in(*file, std::ios::binary);
        if (!in) {
            return report_error(fmt::format("cannot read {}", *file).c_str());
        }
        std::stringstream text;
        text << in.rdbuf();
        prompt_text = text.str();
    } else {
        prompt_text = *args->get("--prompt");
    }
    if (prompt_text.empty()) {
        return report_error("the prompt is empty");
    }
    auto model = load_model_for_cli(args->positionals[0], options->n_threads);
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    std::string rendered = prompt_text;
    GenerateOptions generate{.max_tokens = options->max_tokens, .stop_strings = {}};
    if (!args->has("--raw")) {
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
        auto text = render_prompt(*format, messages, true);
        if (!text) {
            return report_error(text.error().message.c_str());
        }
        rendered = std::move(*text);
        generate.stop_strings = format->stop_strings;
    }
    if (args->has("--show-prompt")) {
        std::fprintf(stderr, "%s", rendered.c_str());
    }
    auto tokens = tokenize_prompt((*model)->tokenizer(), rendered);
    if (!tokens) {
        return report_error(tokens.error().message.c_str());
    }
    auto sessions = create_cli_sessions(*model, options->session, options->device);
    if (!sessions) {
        return report_error(sessions.error().message.c_str());
    }
    Session* session = &sessions->front();
    auto stats =
        session->generate(*tokens, options->sampling, generate, [](const TokenEvent& event) {
            std::fwrite(event.text.data(), 1, event.text.size(), stdout);
            std::fflush(stdout);
            return true;
        });
    if (!stats) {
        return report_error(stats.error().message.c_str());
    }
    print_generation_stats(*stats);
    return 0;
}

} // namespace hearth::cli
