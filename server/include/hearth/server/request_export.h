// "Copy as…": the current conversation and its settings as a request to a server — Hearth's
// own (hearth-cli serve), llama.cpp's llama-server, vLLM and Ollama — each a shell command
// (curl) with the notes a user needs where the servers name or default a setting differently.
//
// Every request carries the full set of sampling settings, not only those that differ from
// Hearth's server defaults: each server has its own defaults (vLLM: temperature 1, no top-k or
// min-p; Ollama: repeat_penalty 1.1, top_p 0.9), and they move between versions, so only the
// full set reproduces the chat's settings everywhere; a user can delete what they do not want.
// Qt-free and without I/O, so the app, the CLI and the tests share it.
#pragma once

#include "hearth/sampling.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

struct ExportMessage {
    std::string role; // "user" or "assistant" (the system prompt is RequestExportInput's)
    std::string content;
    std::string reasoning; // an assistant reply's thinking, "" when none
};

struct RequestExportInput {
    std::string model;         // the name the request asks for (Hearth's server: the file's stem)
    std::string model_file;    // the GGUF's path, for the comment that starts the server
    std::string template_name; // the chat's template when not the model's own, else ""
    std::string system_prompt;
    std::vector<ExportMessage> messages;
    SamplingParams sampling;
    bool fixed_seed = true; // false: a new random seed per reply, so none is sent
    std::optional<int32_t> max_tokens;
    std::vector<std::string> stop;
    int32_t context_length = 0; // tokens; 0 when unknown (no model loaded)
    // Hearth's server when one runs already (the app's Local server): its base URL
    // ("http://127.0.0.1:8080/v1"; "": the command says how to start hearth-cli serve), and
    // whether it asks for a key, which the command reads from $HEARTH_API_KEY (the key itself
    // never goes into the text).
    std::string hearth_url;
    bool hearth_api_key = false;
};

enum class RequestTarget { hearth, llama_server, vllm, ollama };

struct ExportedRequest {
    RequestTarget target;
    std::string name;               // "Hearth", "llama.cpp (llama-server)", "vLLM", "Ollama"
    std::string command;            // comment lines that start the server, then the curl command
    nlohmann::ordered_json body;    // what the curl command sends
    std::vector<std::string> notes; // names and defaults that differ from Hearth's
};

inline constexpr RequestTarget kRequestTargets[] = {
    RequestTarget::hearth, RequestTarget::llama_server, RequestTarget::vllm, RequestTarget::ollama};

ExportedRequest export_request(const RequestExportInput& input, RequestTarget target);

// `text` as one bash word: single-quoted, each ' written as '\''. Any bytes survive.
std::string shell_quote(std::string_view text);

} // namespace hearth::server
