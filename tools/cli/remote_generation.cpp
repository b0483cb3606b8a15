// run and chat through a remote server: the same prompt, sampling options and output shapes
// as the local commands, with the server's template (or none: run --raw goes to
// /v1/completions) and the server's figures.
#include "remote_generation.h"

#include "commands.h"
#include "generation_args.h"
#include "hearth/file_input.h"
#include "json_output.h"
#include "reply_output.h"

#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace hearth::cli {
namespace {

using remote::RemoteReply;

// --think's value as the template variables the big servers' templates read (llama.cpp and
// vLLM pass chat_template_kwargs to the template; Qwen3's enable_thinking, gpt-oss's
// reasoning_effort).
Result<nlohmann::ordered_json> remote_thinking(const Args& args) {
    const auto choice = args.get("--think");
    if (!choice) {
        return nlohmann::ordered_json();
    }
    if (*choice == "on" || *choice == "off") {
        return nlohmann::ordered_json{{"enable_thinking", *choice == "on"}};
    }
    if (*choice == "low" || *choice == "medium" || *choice == "high") {
        return nlohmann::ordered_json{{"reasoning_effort", *choice}};
    }
    return fail(ErrorCode::invalid_argument, "--think: on, off, low, medium or high");
}

StopReason stop_of(const RemoteReply& reply) {
    if (reply.finish_reason == "length") {
        return StopReason::max_tokens;
    }
    return StopReason::end_of_generation;
}

nlohmann::json endpoint_json(const CliEndpoint& endpoint, const RemoteReply& reply) {
    return {
        {"url", endpoint.client.url().display()},
        {"server", endpoint.probe.description},
        {"model", reply.model.empty() ? endpoint.model : reply.model},
        {"system_fingerprint", reply.system_fingerprint},
        {"finish_reason", reply.finish_reason},
        {"tokens_counted_by_server", reply.tokens_counted_by_server},
        {"client_tokens_per_second", reply.timings.tokens_per_second},
    };
}

void print_remote_stats(const RemoteReply& reply) {
    std::fprintf(stderr, "\n\nprompt: %s; first token after %.1f ms (server and network)\n",
                 reply.usage ? fmt::format("{} tokens", reply.usage->prompt_tokens).c_str()
                             : "not counted by the server",
                 reply.timings.time_to_first_token_s * 1000);
    std::fprintf(stderr, "generated: %d tokens%s, %.1f tokens/s at the client; stopped: %s\n",
                 reply.completion_tokens,
                 reply.tokens_counted_by_server ? "" : " (one per streamed piece)",
                 reply.timings.tokens_per_second,
                 reply.finish_reason.empty() ? "(no reason given)" : reply.finish_reason.c_str());
    if (!reply.reasoning.empty()) {
        std::fprintf(stderr, "thinking: %zu bytes of reasoning\n", reply.reasoning.size());
    }
}

// The failure, and what arrived before it, which stays on stdout.
int report_remote_failure(const remote::RemoteFailure& failure) {
    if (!failure.partial.content.empty() || !failure.partial.reasoning.empty()) {
        std::fprintf(stdout, "\n");
        std::fflush(stdout);
    }
    return report_error(failure.error.error.message.c_str());
}

remote::RemoteGeneration generation_of(const GenerationArgs& options) {
    remote::RemoteGeneration generation;
    generation.sampling = options.sampling;
    generation.max_tokens = options.max_tokens;
    generation.stream = true;
    return generation;
}

} // namespace

GenerationStats remote_stats(const RemoteReply& reply) {
    GenerationStats stats;
    stats.n_prompt = reply.usage ? reply.usage->prompt_tokens : 0;
    stats.n_reused = reply.usage ? reply.usage->cached_tokens : 0;
    stats.n_prefilled = stats.n_prompt - stats.n_reused;
    stats.n_generated = reply.completion_tokens;
    stats.ttft_ms = reply.timings.time_to_first_token_s * 1000;
    stats.prefill_ms = stats.ttft_ms; // the server's prompt time and the network, together
    stats.decode_ms = (reply.timings.total_s - reply.timings.time_to_first_token_s) * 1000;
    stats.stop = stop_of(reply);
    stats.text = reply.content;
    return stats;
}

std::optional<std::string> local_only_option(const Args& args) {
    for (const char* option :
         {"--ctx", "--threads", "--batch", "--device", "--gpu-layers", "--kv-type", "--template"}) {
        if (args.get(option)) {
            return fmt::format("{} is for a local model: with --endpoint the server has its own",
                               option);
        }
    }
    return std::nullopt;
}

std::optional<CliEndpoint> connect_cli_endpoint(const Args& args, int& status) {
    remote::EndpointConfig config;
    config.url = *args.get("--endpoint");
    if (auto var = args.get("--api-key-env")) {
        const char* key = std::getenv(var->c_str());
        if (!key || !*key) {
            status = usage_error(
                *args.spec, fmt::format("--api-key-env: the environment variable {} is not set or "
                                        "empty",
                                        *var));
            return std::nullopt;
        }
        config.api_key = key;
    }
    auto client = remote::RemoteClient::create(config);
    if (!client) {
        status = report_error(client.error().error.message.c_str());
        return std::nullopt;
    }
    auto probe = client->probe();
    if (!probe) {
        status = report_error(probe.error().error.message.c_str());
        return std::nullopt;
    }
    client->set_family(probe->family);
    std::string model = args.get("--model").value_or("");
    if (model.empty()) {
        if (probe->models.empty()) {
            status = report_error(
                fmt::format("{} lists no model (GET /v1/models); name one with --model",
                            client->url().display())
                    .c_str());
            return std::nullopt;
        }
        model = probe->models.front().id;
    }
    std::fprintf(stderr, "endpoint: %s at %s, model '%s'\n", probe->description.c_str(),
                 client->url().display().c_str(), model.c_str());
    if (const auto ignored = remote::ignored_knobs(probe->family); !ignored.empty()) {
        std::string list;
        for (const std::string& name : ignored) {
            list += (list.empty() ? "" : ", ") + name;
        }
        std::fprintf(stderr, "endpoint: %s ignores %s (not sent)\n", probe->description.c_str(),
                     list.c_str());
    }
    return CliEndpoint{std::move(*client), std::move(*probe), std::move(model)};
}

int cmd_run_remote(const Args& args) {
    if (!args.positionals.empty() ||
        args.get("--prompt").has_value() == args.get("--file").has_value()) {
        return usage_error(*args.spec,
                           "with --endpoint: no MODEL, and either -p PROMPT or -f FILE");
    }
    if (auto local = local_only_option(args)) {
        return usage_error(*args.spec, *local);
    }
    auto options = read_generation_args(args);
    if (!options) {
        return usage_error(*args.spec, options.error().message);
    }
    auto thinking = remote_thinking(args);
    if (!thinking) {
        return usage_error(*args.spec, thinking.error().message);
    }
    if (args.has("--raw") && args.get("--think")) {
        return usage_error(*args.spec, "--think sets a chat template's switch: not with --raw");
    }
    std::string prompt;
    if (auto file = args.get("--file")) {
        auto text = read_file_input(*file, "the prompt file", kMaxTextInputBytes);
        if (!text) {
            return report_error(text.error().message.c_str());
        }
        prompt = std::move(*text);
    } else {
        prompt = *args.get("--prompt");
    }
    if (prompt.empty()) {
        return report_error("the prompt is empty");
    }
    int status = 1;
    auto endpoint = connect_cli_endpoint(args, status);
    if (!endpoint) {
        return status;
    }
    const bool json = args.has("--json");
    ReplyPrinter printer(ReasoningFormat{}, false, stdout, !json);
    const remote::DeltaHandler on_delta = [&](const remote::RemoteDelta& d) {
        printer.on_delta({std::string(d.reasoning), std::string(d.content)});
        return true;
    };
    remote::RemoteResult result;
    if (args.has("--raw")) {
        if (!endpoint->probe.has_completions) {
            return report_error(fmt::format("{} has no /v1/completions, so it cannot take a raw "
                                            "prompt; leave out --raw to send a chat",
                                            endpoint->probe.description)
                                    .c_str());
        }
        remote::RemoteCompletionRequest request{endpoint->model, prompt, generation_of(*options)};
        result = endpoint->client.complete(request, on_delta);
    } else {
        remote::RemoteChatRequest request;
        request.model = endpoint->model;
        request.system_prompt = options->system_prompt;
        request.messages = {{"user", prompt, ""}};
        request.template_variables = *thinking;
        request.generation = generation_of(*options);
        result = endpoint->client.chat(request, on_delta);
    }
    printer.finish();
    if (!result) {
        return report_remote_failure(result.error());
    }
    if (json) {
        const GenerationStats stats = remote_stats(*result);
        SplitReply split{result->reasoning, result->content, !result->reasoning.empty()};
        ReplyTiming timing;
        timing.answer_tokens = stats.n_generated;
        timing.answer_ms = stats.decode_ms;
        nlohmann::json out = reply_json(stats, split, timing);
        out["endpoint"] = endpoint_json(*endpoint, *result);
        std::printf("%s\n", json_text(out).c_str());
        return 0;
    }
    print_remote_stats(*result);
    return 0;
}

int cmd_chat_remote(const Args& args) {
    if (!args.positionals.empty()) {
        return usage_error(*args.spec, "with --endpoint: no MODEL");
    }
    if (auto local = local_only_option(args)) {
        return usage_error(*args.spec, *local);
    }
    auto options = read_generation_args(args);
    if (!options) {
        return usage_error(*args.spec, options.error().message);
    }
    auto thinking = remote_thinking(args);
    if (!thinking) {
        return usage_error(*args.spec, thinking.error().message);
    }
    int status = 1;
    auto endpoint = connect_cli_endpoint(args, status);
    if (!endpoint) {
        return status;
    }
    const bool interactive = isatty(STDIN_FILENO);
    const bool quiet = args.has("--quiet");
    remote::RemoteChatRequest request;
    request.model = endpoint->model;
    request.system_prompt = options->system_prompt;
    request.template_variables = *thinking;
    request.generation = generation_of(*options);
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
        request.messages.push_back({"user", line, ""});
        ReplyPrinter printer(ReasoningFormat{}, false, stdout, true);
        auto result = endpoint->client.chat(request, [&](const remote::RemoteDelta& d) {
            printer.on_delta({std::string(d.reasoning), std::string(d.content)});
            return true;
        });
        printer.finish();
        if (!result) {
            // The turn stays out of the conversation, so that the next line retries cleanly.
            request.messages.pop_back();
            return report_remote_failure(result.error());
        }
        request.messages.push_back({"assistant", result->content, result->reasoning});
        std::fprintf(stdout, "\n");
        if (!quiet) {
            print_remote_stats(*result);
        }
    }
    return 0;
}

} // namespace hearth::cli
