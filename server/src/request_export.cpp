// The four "Copy as…" requests: one body per server's parameter names, the curl command
// around it, and the notes on what differs from Hearth. Facts about the other servers come
// from their documentation (llama.cpp tools/server/README.md and common.h's defaults, vLLM's
// SamplingParams, Ollama's API and Modelfile docs).
#include "hearth/server/request_export.h"

#include "hearth/server/openai_request.h"

#include <fmt/format.h>
#include <limits>
#include <string>

namespace hearth::server {
namespace {

using Json = nlohmann::ordered_json;

// A float setting as the user typed it: 0.7f goes out as 0.7, not 0.699999988079071 (fmt
// prints a float's shortest round-trip form, which reads back as the same float).
double tidy(float value) {
    return std::stod(fmt::format("{}", value));
}

// Hearth's server reads the seed as a signed 64-bit integer and keeps its bits.
Json seed_value(uint64_t seed, bool signed_only) {
    if (signed_only && seed > uint64_t(std::numeric_limits<int64_t>::max())) {
        return static_cast<int64_t>(seed);
    }
    return seed;
}

// The conversation in OpenAI's form; an assistant's reasoning under `reasoning_key` ("" to
// leave it out).
Json chat_messages(const RequestExportInput& input, std::string_view reasoning_key) {
    Json messages = Json::array();
    if (!input.system_prompt.empty()) {
        messages.push_back({{"role", "system"}, {"content", input.system_prompt}});
    }
    for (const ExportMessage& message : input.messages) {
        Json m = {{"role", message.role}, {"content", message.content}};
        if (!reasoning_key.empty() && !message.reasoning.empty()) {
            m[std::string(reasoning_key)] = message.reasoning;
        }
        messages.push_back(std::move(m));
    }
    return messages;
}

bool has_reasoning(const RequestExportInput& input) {
    for (const ExportMessage& message : input.messages) {
        if (!message.reasoning.empty()) {
            return true;
        }
    }
    return false;
}

std::string model_file(const RequestExportInput& input) {
    return input.model_file.empty() ? std::string("MODEL.gguf") : input.model_file;
}

std::string context_or(const RequestExportInput& input, std::string_view unknown) {
    return input.context_length > 0 ? std::to_string(input.context_length) : std::string(unknown);
}

// The shared OpenAI-style fields; `repeat_name` is the server's name for the penalty.
void add_openai_sampling(Json& body, const RequestExportInput& input, std::string_view repeat_name,
                         bool signed_seed) {
    const SamplingParams& s = input.sampling;
    body["temperature"] = tidy(s.temperature);
    body["top_p"] = tidy(s.top_p);
    body["top_k"] = s.top_k;
    body["min_p"] = tidy(s.min_p);
    body[std::string(repeat_name)] = tidy(s.repeat_penalty);
    body["presence_penalty"] = tidy(s.presence_penalty);
    body["frequency_penalty"] = tidy(s.frequency_penalty);
    if (input.fixed_seed) {
        body["seed"] = seed_value(s.seed, signed_seed);
    }
    if (input.max_tokens) {
        body["max_tokens"] = *input.max_tokens;
    }
    if (!input.stop.empty()) {
        body["stop"] = input.stop;
    }
    body["stream"] = false;
}

void add_common_notes(std::vector<std::string>& notes, const RequestExportInput& input,
                      std::string_view server) {
    if (input.fixed_seed) {
        notes.push_back(fmt::format("The same seed does not give Hearth's text on {}: each server "
                                    "draws its random numbers its own way.",
                                    server));
    } else {
        notes.push_back("The chat draws a new seed for each reply, so no seed is sent.");
    }
    if (!input.template_name.empty()) {
        notes.push_back(fmt::format("The chat uses the template '{}'; {} uses the model's own "
                                    "unless told otherwise when it starts.",
                                    input.template_name, server));
    }
}

ExportedRequest hearth_request(const RequestExportInput& input) {
    ExportedRequest r{RequestTarget::hearth, "Hearth", {}, {}, {}};
    r.body["model"] = input.model;
    r.body["messages"] = chat_messages(input, "reasoning_content");
    add_openai_sampling(r.body, input, "repeat_penalty", true);
    if (!input.hearth_url.empty()) {
        r.command = fmt::format("# Hearth's local server is running at {}{}\n", input.hearth_url,
                                input.hearth_api_key ? " (its key in $HEARTH_API_KEY)" : "");
        if (input.hearth_api_key) {
            r.notes.push_back("The server asks for its API key: export HEARTH_API_KEY=<the key "
                              "the app showed> before running the command.");
        }
        if (!input.template_name.empty()) {
            r.notes.push_back(fmt::format("The chat uses the template '{}'; the local server "
                                          "uses the model's own.",
                                          input.template_name));
        }
    } else {
        std::string start = fmt::format("hearth-cli serve {}", shell_quote(model_file(input)));
        if (input.context_length > 0) {
            start += fmt::format(" --ctx {}", input.context_length);
        }
        if (!input.template_name.empty()) {
            start += fmt::format(" --template {}", shell_quote(input.template_name));
        }
        r.command = fmt::format("# Start the server: {}\n", start);
    }
    r.notes.push_back("The context length is the server's, set when it starts (--ctx); a "
                      "request cannot change it.");
    if (input.sampling.repeat_last_n != default_server_sampling().repeat_last_n) {
        r.notes.push_back(fmt::format(
            "The server's penalties look back {} tokens (repeat_last_n is not a request field); "
            "the chat's look back {}.",
            default_server_sampling().repeat_last_n, input.sampling.repeat_last_n));
    }
    r.notes.push_back("Every setting is sent: the server gives a field left out llama.cpp's "
                      "server default (temperature 0.8, top_p 0.95, min_p 0.05, "
                      "repeat_penalty 1.0), not the chat's.");
    r.notes.push_back("repeat_penalty is also accepted as repetition_penalty (vLLM's name).");
    if (input.fixed_seed) {
        r.notes.push_back("With the same model, template and seed, the server gives the chat's "
                          "reply token for token.");
    } else {
        r.notes.push_back("The chat draws a new seed for each reply, so no seed is sent.");
    }
    return r;
}

ExportedRequest llama_server_request(const RequestExportInput& input) {
    ExportedRequest r{RequestTarget::llama_server, "llama.cpp (llama-server)", {}, {}, {}};
    r.body["model"] = input.model;
    r.body["messages"] = chat_messages(input, "reasoning_content");
    add_openai_sampling(r.body, input, "repeat_penalty", false);
    r.body["repeat_last_n"] = input.sampling.repeat_last_n;
    r.command = fmt::format("# Start the server: llama-server -m {} -c {}\n",
                            shell_quote(model_file(input)), context_or(input, "0"));
    r.notes.push_back("Context: llama-server's -c (--ctx-size); 0, its default, takes the "
                      "context the model was trained with.");
    r.notes.push_back("max_tokens is also accepted as n_predict (llama-server's own name; -1: "
                      "no limit).");
    r.notes.push_back("Defaults match Hearth's server (temperature 0.8, top_k 40, top_p 0.95, "
                      "min_p 0.05, repeat_penalty 1.0, repeat_last_n 64), not the chat's.");
    if (input.fixed_seed && input.sampling.seed > std::numeric_limits<uint32_t>::max()) {
        r.notes.push_back("llama-server's seed is 32-bit: a larger one does not survive.");
    }
    add_common_notes(r.notes, input, "llama-server");
    return r;
}

ExportedRequest vllm_request(const RequestExportInput& input) {
    ExportedRequest r{RequestTarget::vllm, "vLLM", {}, {}, {}};
    r.body["model"] = input.model;
    r.body["messages"] = chat_messages(input, "reasoning_content");
    add_openai_sampling(r.body, input, "repetition_penalty", false);
    // vLLM's "off" for top-k is -1 (0 is refused by older releases).
    if (input.sampling.top_k <= 0) {
        r.body["top_k"] = -1;
    }
    r.command = fmt::format("# Start the server: vllm serve {} --max-model-len {}\n",
                            shell_quote(model_file(input)), context_or(input, "N"));
    r.notes.push_back("repeat_penalty is repetition_penalty here; top_k and min_p are vLLM "
                      "extras beyond OpenAI's fields (extra_body in OpenAI's clients).");
    r.notes.push_back("vLLM has no repeat_last_n: its repetition_penalty covers the whole "
                      "prompt and reply, its presence and frequency penalties the reply only.");
    r.notes.push_back("Context: --max-model-len when starting vLLM; without it, the model's "
                      "trained context.");
    r.notes.push_back("vLLM's defaults differ: temperature 1.0, top_p 1.0, top_k off (-1), "
                      "min_p 0, repetition_penalty 1.0.");
    r.notes.push_back("'model' must be the name vLLM serves (--served-model-name, else the "
                      "path or repository it started with). A GGUF also needs --tokenizer "
                      "naming the original model.");
    add_common_notes(r.notes, input, "vLLM");
    return r;
}

ExportedRequest ollama_request(const RequestExportInput& input) {
    ExportedRequest r{RequestTarget::ollama, "Ollama", {}, {}, {}};
    const SamplingParams& s = input.sampling;
    r.body["model"] = input.model;
    r.body["messages"] = chat_messages(input, "thinking");
    r.body["stream"] = false;
    Json options;
    options["temperature"] = tidy(s.temperature);
    options["top_k"] = s.top_k;
    options["top_p"] = tidy(s.top_p);
    options["min_p"] = tidy(s.min_p);
    options["repeat_penalty"] = tidy(s.repeat_penalty);
    options["repeat_last_n"] = s.repeat_last_n;
    options["presence_penalty"] = tidy(s.presence_penalty);
    options["frequency_penalty"] = tidy(s.frequency_penalty);
    if (input.fixed_seed) {
        options["seed"] = s.seed;
    }
    options["num_predict"] = input.max_tokens.value_or(-1);
    if (!input.stop.empty()) {
        options["stop"] = input.stop;
    }
    if (input.context_length > 0) {
        options["num_ctx"] = input.context_length;
    }
    r.body["options"] = std::move(options);
    r.command = fmt::format("# Import the model: printf 'FROM %s\\n' {} > Modelfile && ollama "
                            "create {} -f Modelfile\n",
                            shell_quote(model_file(input)), shell_quote(input.model));
    r.notes.push_back("Ollama's own API (/api/chat): the settings go in 'options'; max_tokens "
                      "is num_predict (-1: no limit), the context num_ctx.");
    r.notes.push_back("num_ctx is per request here; Ollama's default is far below most models' "
                      "(2048 or 4096 tokens by version).");
    r.notes.push_back("Ollama's defaults differ: repeat_penalty 1.1, top_p 0.9, min_p 0; "
                      "repeat_last_n -1 means num_ctx tokens (Hearth: all).");
    if (has_reasoning(input)) {
        r.notes.push_back("An assistant's reasoning goes in the message's 'thinking' field.");
    }
    r.notes.push_back("'model' is the name Ollama knows the model by (ollama create, above); "
                      "Ollama formats the chat with the Modelfile's TEMPLATE.");
    add_common_notes(r.notes, input, "Ollama");
    return r;
}

std::string endpoint(const RequestExportInput& input, RequestTarget target) {
    switch (target) {
    case RequestTarget::hearth:
        if (!input.hearth_url.empty()) {
            return input.hearth_url + "/chat/completions";
        }
        [[fallthrough]];
    case RequestTarget::llama_server:
        return "http://127.0.0.1:8080/v1/chat/completions";
    case RequestTarget::vllm:
        return "http://127.0.0.1:8000/v1/chat/completions";
    case RequestTarget::ollama:
        return "http://127.0.0.1:11434/api/chat";
    }
    return {};
}

// The comment that starts the server stays one line whatever the names hold: a newline in a
// path would end the comment and run the rest of the line when the command is pasted.
std::string one_line(std::string comment) {
    for (size_t i = 0; i + 1 < comment.size(); ++i) {
        const auto c = static_cast<unsigned char>(comment[i]);
        if (c < 0x20 || c == 0x7f) {
            comment[i] = '?';
        }
    }
    return comment;
}

} // namespace

std::string shell_quote(std::string_view text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

ExportedRequest export_request(const RequestExportInput& input, RequestTarget target) {
    ExportedRequest r = [&] {
        switch (target) {
        case RequestTarget::llama_server:
            return llama_server_request(input);
        case RequestTarget::vllm:
            return vllm_request(input);
        case RequestTarget::ollama:
            return ollama_request(input);
        case RequestTarget::hearth:
            break;
        }
        return hearth_request(input);
    }();
    // Text that is not UTF-8 goes out with U+FFFD rather than failing the whole export.
    const std::string body = r.body.dump(2, ' ', false, Json::error_handler_t::replace);
    r.body = Json::parse(body); // the body as sent
    r.command = one_line(std::move(r.command));
    // The key stays in the environment: a placeholder the shell fills, never the key itself.
    const std::string auth = target == RequestTarget::hearth && input.hearth_api_key
                                 ? "  -H \"Authorization: Bearer $HEARTH_API_KEY\" \\\n"
                                 : "";
    r.command +=
        fmt::format("curl -sS {} \\\n  -H 'Content-Type: application/json' \\\n{}  -d {}\n",
                    endpoint(input, target), auth, shell_quote(body));
    return r;
}

} // namespace hearth::server
