// `hearth-cli compare MODEL -p PROMPT --template A --template B [--column SPEC ...]
// [--endpoint URL]`: one
// prompt under several templates or sampling settings, each column one request on one
// scheduler (hearth::run_together: the shared prompt prefix computed once), then printed column
// after column with the rendered prompts, token counts and timings. Every column starts from the
// shared options (same seed unless a column sets its own), so only the knobs a column changes
// differ.
// --endpoint URL adds a column answered by a remote server (or runs the columns marked
// remote=1 there): the prompt rendered with the column's template is sent as it is to
// /v1/completions, so templates can be compared on a served model too; a server without that
// endpoint gets the conversation as a chat and applies its own template, as the column says.
// --think (or a column's think=) sets the template's thinking switch; a reasoning reply's
// thinking is printed apart from its answer, marked, and kept apart in --json.
#include "commands.h"
#include "generation_args.h"
#include "hearth/prompt.h"
#include "hearth/prompt_diff.h"
#include "hearth/reasoning.h"
#include "hearth/scheduler_together.h"
#include "json_output.h"
#include "remote_generation.h"
#include "reply_output.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace hearth::cli {

Result<std::shared_ptr<const Model>> load_model_for_cli(const std::string& path, int n_threads);

namespace {

struct Column {
    std::string spec; // as the user wrote it, for the header
    std::string template_name;
    std::string system_prompt;
    SamplingParams sampling;
    int32_t max_tokens = 0;
    std::optional<std::string> think; // the thinking switch's choice: --think or think=
    bool think_is_own = false;        // set by the column's think=, not the shared --think
    bool remote = false;              // answered by --endpoint's server (remote=1)
    std::string remote_note = {};     // how the server was asked
    // Filled in when rendered.
    PromptFormat format;
    nlohmann::ordered_json variables = nlohmann::ordered_json::object(); // the switch's
    std::string rendered;
    std::vector<int32_t> tokens;
    bool opened = false; // the prompt opens the reply's reasoning
    // Filled in as it generates.
    std::string output;
    ReasoningSplitter splitter;
};

Result<double> parse_number(const std::string& key, const std::string& value) {
    try {
        size_t used = 0;
        const double number = std::stod(value, &used);
        if (used == value.size()) {
            return number;
        }
    } catch (const std::exception&) {
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("column option {} needs a number, got '{}'", key, value));
}

Result<long long> parse_integer(const std::string& key, const std::string& value, long long low,
                                long long high) {
    try {
        size_t used = 0;
        const long long number = std::stoll(value, &used);
        if (used == value.size() && number >= low && number <= high) {
            return number;
        }
    } catch (const std::exception&) {
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("column option {} needs a whole number from {} to {}, got '{}'", key,
                            low, high, value));
}

// Applies "key=value,key=value" to a column that starts as the shared settings.
Result<void> apply_column_spec(const std::string& spec, Column& column) {
    std::stringstream in(spec);
    std::string item;
    bool any = false;
    while (std::getline(in, item, ',')) {
        if (item.empty()) {
            continue;
        }
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(
                ErrorCode::invalid_argument,
                fmt::format("column option '{}' is not key=value (in --column '{}')", item, spec));
        }
        const std::string key = item.substr(0, eq);
        const std::string value = item.substr(eq + 1);
        any = true;
        SamplingParams& s = column.sampling;
        auto set_float = [&](float& target) -> Result<void> {
            auto number = parse_number(key, value);
            if (!number) {
                return std::unexpected(number.error());
            }
            target = static_cast<float>(*number);
            return {};
        };
        Result<void> ok;
        if (key == "template") {
            column.template_name = value;
        } else if (key == "remote") {
            if (value != "0" && value != "1") {
                return fail(ErrorCode::invalid_argument, "column option remote takes 0 or 1");
            }
            column.remote = value == "1";
        } else if (key == "system") {
            column.system_prompt = value;
        } else if (key == "think") {
            column.think = value;
            column.think_is_own = true;
        } else if (key == "temp" || key == "temperature") {
            ok = set_float(s.temperature);
        } else if (key == "top_p") {
            ok = set_float(s.top_p);
        } else if (key == "min_p") {
            ok = set_float(s.min_p);
        } else if (key == "repeat_penalty") {
            ok = set_float(s.repeat_penalty);
        } else if (key == "presence_penalty") {
            ok = set_float(s.presence_penalty);
        } else if (key == "frequency_penalty") {
            ok = set_float(s.frequency_penalty);
        } else if (key == "top_k" || key == "repeat_last_n" || key == "seed" || key == "n") {
            const long long low = key == "repeat_last_n" ? -1 : key == "n" ? 1 : 0;
            const long long high = key == "seed" ? (1ll << 62) : (1 << 24);
            auto number = parse_integer(key, value, low, high);
            if (!number) {
                return std::unexpected(number.error());
            }
            if (key == "top_k") {
                s.top_k = static_cast<int32_t>(*number);
            } else if (key == "repeat_last_n") {
                s.repeat_last_n = static_cast<int32_t>(*number);
            } else if (key == "seed") {
                s.seed = static_cast<uint64_t>(*number);
            } else {
                column.max_tokens = static_cast<int32_t>(*number);
            }
        } else {
            return fail(
                ErrorCode::invalid_argument,
                fmt::format("unknown column option '{}' (known: template, system, think, temp, "
                            "top_k, top_p, min_p, repeat_penalty, repeat_last_n, "
                            "presence_penalty, frequency_penalty, seed, n)",
                            key));
        }
        if (!ok) {
            return ok;
        }
    }
    if (!any) {
        return fail(ErrorCode::invalid_argument, "an empty --column; give key=value pairs");
    }
    if (auto valid = column.sampling.validate(); !valid) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("--column '{}': {}", spec, valid.error().message));
    }
    return {};
}

// wdiff-style markup of a prompt against the first column's: [-removed-]{+inserted+}.
// Special tokens come whole (see special_tokens), so "[-<|im_start|>-]{+<|begin|>+}" rather
// than a change of the characters between "<|" and "|>"; a special token's span and the
// ordinary text beside it in the same change share one bracket.
std::string diff_markup(const std::vector<TextDiffSpan>& spans) {
    std::string out;
    auto close = [&](DiffOp op) {
        out += op == DiffOp::removed ? "-]" : op == DiffOp::inserted ? "+}" : "";
    };
    DiffOp open = DiffOp::equal;
    for (const auto& span : spans) {
        if (span.op != open) {
            close(open);
            out += span.op == DiffOp::removed ? "[-" : span.op == DiffOp::inserted ? "{+" : "";
            open = span.op;
        }
        out += span.text;
    }
    close(open);
    return out;
}

// The special tokens of both columns' templates, for the diff to keep whole.
std::vector<std::string> special_tokens(const Column& a, const Column& b) {
    std::vector<std::string> tokens;
    for (const Column* c : {&a, &b}) {
        std::vector<std::string> more = template_special_tokens(c->format.choice.source);
        more.push_back(c->format.bos_token);
        more.push_back(c->format.eos_token);
        for (std::string& token : more) {
            if (!token.empty() && std::find(tokens.begin(), tokens.end(), token) == tokens.end()) {
                tokens.push_back(std::move(token));
            }
        }
    }
    return tokens;
}

// The thinking switch's variables for column `i` (number i + 1): --think applies to the
// columns whose template has a switch, a column's own think= must suit its template.
Result<void> apply_thinking(Column& c, size_t i) {
    const ThinkingSwitch& thinking = c.format.reasoning.thinking_switch;
    if (!c.think || (thinking.kind == ThinkingSwitchKind::none && !c.think_is_own)) {
        c.think.reset(); // not this template's: its default
        return {};
    }
    auto variables = thinking.variables(*c.think);
    if (!variables) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("column {}: {}{}", i + 1,
                                c.think_is_own ? "" : "--think: ", variables.error().message));
    }
    c.variables = std::move(*variables);
    return {};
}

// One column's reply and figures as text: a reasoning reply's thinking marked apart (dimmed
// on a terminal), then the answer as "--- output ---".
void print_column_reply(const Column& c, const GenerationStats& s) {
    const SplitReply reply = split_reasoning(c.format.reasoning, c.opened, c.output);
    const ReplyTiming timing = reply_timing(c.splitter, s.n_generated, s.decode_ms);
    if (!reply.reasoning.empty() || timing.reasoning_tokens > 0) {
        const bool terminal = isatty(fileno(stdout)) != 0;
        std::printf("--- thinking: %d tokens, %.1f tokens/s%s ---\n%s%s%s\n",
                    timing.reasoning_tokens, timing.reasoning_tokens_per_second(),
                    reply.reasoning_closed ? "" : ", not closed", terminal ? "\033[2m" : "",
                    reply.reasoning.c_str(), terminal ? "\033[0m" : "");
    }
    std::printf("--- output ---\n%s\n", reply.answer.c_str());
    std::printf("--- prompt %d tokens (%d shared, %d computed); generated %d tokens, "
                "%.1f tokens/s; first token after %.1f ms; stopped: %s ---\n\n",
                s.n_prompt, s.n_shared, s.n_prefilled, s.n_generated, s.decode_tokens_per_second(),
                s.ttft_ms, stop_reason_name(s.stop));
}

// --json: one column as an object: its settings, then its reply as run --json gives it
// (reply_json) with the batch's figures for it.
nlohmann::json column_json(const Column& c, const GenerationStats& s, bool with_prompt) {
    nlohmann::json out = reply_json(s, split_reasoning(c.format.reasoning, c.opened, s.text),
                                    reply_timing(c.splitter, s.n_generated, s.decode_ms));
    const SamplingParams& p = c.sampling;
    nlohmann::json warnings = nlohmann::json::array();
    for (const auto& warning : c.format.warnings) {
        warnings.push_back(warning.message);
    }
    out["spec"] = c.spec;
    out["template"] = c.format.choice.name;
    out["remote"] = c.remote ? nlohmann::json(c.remote_note) : nlohmann::json();
    out["think"] = c.think ? nlohmann::json(*c.think) : nlohmann::json();
    out["sampling"] = {{"temperature", p.temperature},
                       {"top_k", p.top_k},
                       {"top_p", p.top_p},
                       {"min_p", p.min_p},
                       {"repeat_penalty", p.repeat_penalty},
                       {"seed", p.seed}};
    out["warnings"] = std::move(warnings);
    out["shared_tokens"] = s.n_shared;
    out["computed_tokens"] = s.n_prefilled;
    out["decode_tokens_per_second"] = s.decode_tokens_per_second();
    if (with_prompt) {
        out["prompt"] = c.rendered;
    }
    return out;
}

// One column on the remote server: its rendered prompt sent raw to /v1/completions where the
// server has it (the template under test applies), else the conversation as a chat (the
// server's template applies, which the column says).
Result<GenerationStats> run_remote_column(const CliEndpoint& endpoint, Column& c,
                                          const std::string& prompt_text) {
    remote::RemoteGeneration generation;
    generation.sampling = c.sampling;
    generation.max_tokens = c.max_tokens;
    const auto start = std::chrono::steady_clock::now();
    const remote::DeltaHandler on_delta = [&](const remote::RemoteDelta& d) {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        c.output.append(d.content);
        c.splitter.feed_token(std::string(d.content), ms);
        return true;
    };
    remote::RemoteResult reply;
    if (endpoint.probe.has_completions) {
        generation.stop = c.format.stop_strings;
        c.remote_note = fmt::format("{} '{}' at {}: the rendered prompt sent as it is "
                                    "(/v1/completions)",
                                    endpoint.probe.description, endpoint.model,
                                    endpoint.client.url().display());
        reply = endpoint.client.complete({endpoint.model, c.rendered, generation}, on_delta);
    } else {
        c.remote_note = fmt::format("{} '{}' at {}: no /v1/completions, so the server applies "
                                    "its own template to the chat (this column's template is "
                                    "not used)",
                                    endpoint.probe.description, endpoint.model,
                                    endpoint.client.url().display());
        remote::RemoteChatRequest chat;
        chat.model = endpoint.model;
        chat.system_prompt = c.system_prompt;
        chat.messages = {{"user", prompt_text, ""}};
        chat.generation = generation;
        reply = endpoint.client.chat(chat, on_delta);
    }
    if (!reply) {
        return std::unexpected(reply.error().error.error);
    }
    return remote_stats(*reply);
}

} // namespace

int cmd_compare(const Args& args) {
    if (args.positionals.size() != 1 || !args.get("--prompt")) {
        return usage_error(*args.spec, "expects one MODEL and -p PROMPT");
    }
    // The shared options; --template is per column here, so it is read separately.
    auto shared = read_generation_args(args);
    if (!shared) {
        return usage_error(*args.spec, shared.error().message);
    }
    const std::string prompt_text = *args.get("--prompt");
    if (prompt_text.empty()) {
        return report_error("the prompt is empty");
    }
    std::vector<Column> columns;
    const Column base{.spec = {},
                      .template_name = {},
                      .system_prompt = shared->system_prompt,
                      .sampling = shared->sampling,
                      .max_tokens = shared->max_tokens,
                      .think = args.get("--think"),
                      .think_is_own = false,
                      .remote = false,
                      .remote_note = {},
                      .format = {},
                      .variables = nlohmann::ordered_json::object(),
                      .rendered = {},
                      .tokens = {},
                      .opened = false,
                      .output = {},
                      .splitter = {}};
    for (const auto& name : args.all("--template")) {
        Column column = base;
        column.template_name = name;
        column.spec = "template=" + name;
        columns.push_back(std::move(column));
    }
    for (const auto& column_spec : args.all("--column")) {
        Column column = base;
        column.spec = column_spec;
        if (auto ok = apply_column_spec(column_spec, column); !ok) {
            return usage_error(*args.spec, ok.error().message);
        }
        columns.push_back(std::move(column));
    }
    const bool has_endpoint = args.get("--endpoint").has_value();
    const bool any_remote =
        std::any_of(columns.begin(), columns.end(), [](const Column& c) { return c.remote; });
    if (any_remote && !has_endpoint) {
        return usage_error(*args.spec, "a column with remote=1 needs --endpoint URL");
    }
    if (has_endpoint && !any_remote) { // the endpoint's own column, the model's template
        Column column = base;
        column.spec = "remote=1";
        column.remote = true;
        columns.push_back(std::move(column));
    }
    if (columns.size() < 2 || columns.size() > kMaxCompareColumns) {
        return usage_error(*args.spec,
                           fmt::format("compare needs 2 to {} columns (--template or --column); "
                                       "got {}",
                                       kMaxCompareColumns, columns.size()));
    }

    auto model = load_model_for_cli(args.positionals[0], shared->n_threads);
    if (!model) {
        return report_error(model.error().message.c_str());
    }
    for (size_t i = 0; i < columns.size(); ++i) {
        Column& c = columns[i];
        auto format = resolve_cli_template(**model, c.template_name);
        if (!format) {
            return report_error(
                fmt::format("column {}: {}", i + 1, format.error().message).c_str());
        }
        c.format = std::move(*format);
        if (auto ok = apply_thinking(c, i); !ok) {
            return usage_error(*args.spec, ok.error().message);
        }
        std::vector<ChatMessage> messages;
        if (!c.system_prompt.empty()) {
            messages.push_back({"system", c.system_prompt});
        }
        messages.push_back({"user", prompt_text});
        auto text = render_prompt(c.format, messages, true, c.variables);
        if (!text) {
            return report_error(fmt::format("column {}: {}", i + 1, text.error().message).c_str());
        }
        c.rendered = std::move(*text);
        auto tokens = tokenize_prompt((*model)->tokenizer(), c.rendered);
        if (!tokens) {
            return report_error(
                fmt::format("column {}: {}", i + 1, tokens.error().message).c_str());
        }
        c.tokens = std::move(*tokens);
        c.opened = prompt_opens_reasoning(c.format.reasoning, c.rendered);
        c.splitter = ReasoningSplitter(c.format.reasoning, c.opened);
    }
    if (args.get("--think") &&
        std::none_of(columns.begin(), columns.end(), [](const Column& c) { return c.think; })) {
        return usage_error(*args.spec, "--think: no column's template has a thinking switch");
    }

    std::optional<CliEndpoint> endpoint;
    if (has_endpoint) {
        int status = 1;
        endpoint = connect_cli_endpoint(args, status);
        if (!endpoint) {
            return status;
        }
    }
    std::vector<GenerationStats> sequences(columns.size());
    std::vector<size_t> local;
    for (size_t i = 0; i < columns.size(); ++i) {
        if (!columns[i].remote) {
            local.push_back(i);
        }
    }
    TogetherOutcome result;
    if (!local.empty()) {
        // A slot per local column on one scheduler (on CUDA they share one upload of the
        // weights), each column one request.
        auto scheduler =
            create_cli_scheduler(*model, shared->session, shared->device, local.size());
        if (!scheduler) {
            return report_error(scheduler.error().message.c_str());
        }
        std::vector<SchedulerRequest> requests;
        for (size_t i : local) {
            Column& c = columns[i];
            requests.push_back(
                {.prompt = c.tokens,
                 .sampling = c.sampling,
                 .options = {.max_tokens = c.max_tokens, .stop_strings = c.format.stop_strings},
                 .on_token =
                     [&c](const TokenEvent& event) {
                         c.output += event.text;
                         c.splitter.feed_token(event.text, event.ms);
                         return true;
                     },
                 .on_done = {}});
        }
        std::fprintf(stderr, "generating %zu columns together...\n", local.size());
        result = run_together(**scheduler, std::move(requests));
        for (size_t k = 0; k < local.size(); ++k) {
            if (!result.sequences[k]) {
                return report_error(
                    fmt::format("column {}: {}", local[k] + 1, result.sequences[k].error().message)
                        .c_str());
            }
            sequences[local[k]] = *result.sequences[k];
        }
    }
    for (size_t i = 0; i < columns.size(); ++i) {
        if (!columns[i].remote) {
            continue;
        }
        auto stats = run_remote_column(*endpoint, columns[i], prompt_text);
        if (!stats) {
            return report_error(fmt::format("column {}: {}", i + 1, stats.error().message).c_str());
        }
        sequences[i] = *stats;
    }

    const bool show_prompts = args.has("--show-prompts");
    if (args.has("--json")) {
        nlohmann::json out_columns = nlohmann::json::array();
        for (size_t i = 0; i < columns.size(); ++i) {
            out_columns.push_back(column_json(columns[i], sequences[i], show_prompts));
        }
        const nlohmann::json out = {{"columns", std::move(out_columns)},
                                    {"together",
                                     {{"generated_tokens", result.n_generated},
                                      {"steps", result.n_steps},
                                      {"tokens_per_second", result.tokens_per_second()},
                                      {"shared_prefix_tokens", result.n_shared_prefix},
                                      {"computed_tokens", result.n_computed},
                                      {"prefill_ms", result.prefill_ms}}}};
        std::printf("%s\n", json_text(out).c_str());
        return 0;
    }
    for (size_t i = 0; i < columns.size(); ++i) {
        const Column& c = columns[i];
        const SamplingParams& p = c.sampling;
        std::printf("=== column %zu: %s ===\n", i + 1, c.spec.c_str());
        std::printf("template: %s%s; temp %g, top_k %d, top_p %g, min_p %g, repeat_penalty %g, "
                    "seed %llu\n",
                    c.format.choice.name.c_str(),
                    c.think ? fmt::format(" (thinking {})", *c.think).c_str() : "",
                    double(p.temperature), p.top_k, double(p.top_p), double(p.min_p),
                    double(p.repeat_penalty), static_cast<unsigned long long>(p.seed));
        if (c.remote) {
            std::printf("remote: %s\n", c.remote_note.c_str());
        }
        for (const auto& warning : c.format.warnings) {
            std::printf("warning: %s\n", warning.message.c_str());
        }
        if (show_prompts) {
            std::printf("--- rendered prompt (%zu tokens) ---\n%s\n", c.tokens.size(),
                        c.rendered.c_str());
            if (i > 0) {
                const auto text_spans =
                    diff_text(columns[0].rendered, c.rendered, special_tokens(columns[0], c));
                const DiffCounts chars = count_text_diff(text_spans);
                const DiffCounts toks = count_token_diff(diff_tokens(columns[0].tokens, c.tokens));
                std::printf("--- against column 1: %zu characters removed, %zu inserted; "
                            "%zu tokens removed, %zu inserted ---\n%s\n",
                            chars.removed, chars.inserted, toks.removed, toks.inserted,
                            diff_markup(text_spans).c_str());
            }
        }
        print_column_reply(c, sequences[i]);
    }
    if (local.empty()) {
        return 0;
    }
    std::printf("together: %d tokens generated in %d steps, %.1f tokens/s in all; shared prompt "
                "prefix %d tokens computed once; %llu tokens run through the model; prefill "
                "%.1f ms\n",
                result.n_generated, static_cast<int>(result.n_steps), result.tokens_per_second(),
                result.n_shared_prefix, static_cast<unsigned long long>(result.n_computed),
                result.prefill_ms);
    return 0;
}

} // namespace hearth::cli
