// The bodies of POST /v1/chat/completions and POST /v1/completions, read and checked: every
// field the server honours, with its type and range, and a 400 naming the field for anything
// else a client could get wrong. Fields the server cannot honour (images, JSON mode, logit
// bias) are refused by name rather than ignored, so a client never gets an answer to a request
// it did not make; fields that change nothing here (user, metadata, store) are accepted.
//
// Unset sampling fields take llama.cpp's server defaults (temperature 0.8, top-k 40, top-p
// 0.95, min-p 0.05, no repetition penalty), so a client moving between the two gets the same
// behaviour. The body is untrusted: parse_json_input's bounds, and the limits below.
#pragma once

#include "hearth/sampling.h"
#include "hearth/server/api_error.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// docs/LIMITS.md, "Local server".
struct RequestLimits {
    size_t max_body_bytes = size_t{8} << 20; // larger bodies get 413
    size_t max_messages = 4096;
    size_t max_stop_strings = 16;               // OpenAI takes 4; llama.cpp's server any number
    size_t max_stop_bytes = 1024;               // one stop string
    int32_t max_choices = 8;                    // `n`
    int32_t max_tokens = 1 << 20;               // the server also caps it at the context
    int32_t max_top_logprobs = 20;              // OpenAI's bound
    size_t max_prompt_tokens = size_t{1} << 22; // a /v1/completions prompt given as tokens
};

// What one request asks of the generation, either endpoint.
struct GenerationRequest {
    SamplingParams sampling;
    std::optional<int32_t> max_tokens; // unset: until the end or the context is full
    std::vector<std::string> stop;
    int32_t n = 1; // choices
    bool stream = false;
    bool include_usage = false; // stream_options.include_usage
    bool logprobs = false;
    int32_t top_logprobs = 0;
};

// The server's sampling when the request sets nothing (llama.cpp's server's defaults).
SamplingParams default_server_sampling();

struct ChatCompletionRequest {
    std::string model; // "" when the client named none
    // The conversation as the template receives it: each message's content a string (text
    // parts joined), roles system/user/assistant/tool ("developer" becomes "system"),
    // assistant tool_calls and reasoning_content and a tool's tool_call_id kept as given.
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    nlohmann::ordered_json tools;              // null when none
    nlohmann::ordered_json template_variables; // chat_template_kwargs: an object, or null
    GenerationRequest generation;
};

struct CompletionRequest {
    std::string model;
    // A prompt as text, or as token ids (then `prompt_text` is empty).
    std::string prompt_text;
    std::vector<int32_t> prompt_tokens;
    bool prompt_is_tokens = false;
    GenerationRequest generation;
};

std::expected<ChatCompletionRequest, ApiError>
parse_chat_completion_request(std::string_view body, const RequestLimits& limits = {});

std::expected<CompletionRequest, ApiError>
parse_completion_request(std::string_view body, const RequestLimits& limits = {});

} // namespace hearth::server
