// The response bodies of the OpenAI-compatible endpoints: a whole completion, the chunks of a
// streamed one (server-sent events ending in `data: [DONE]`), the model list, and the mapping
// from Hearth's stop reasons to `finish_reason`. Only building JSON: no I/O.
#pragma once

#include "hearth/session.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// What the server says of itself in every response.
struct ResponseContext {
    std::string id;      // "chatcmpl-…" / "cmpl-…", one per request
    int64_t created = 0; // Unix seconds
    std::string model;   // the name the server lists the model under
    std::string system_fingerprint;
};

// One token's log probability and its most likely alternatives (OpenAI's logprobs content).
struct TokenLogprob {
    std::string token; // its text (may be part of a UTF-8 character)
    float logprob = 0;
    struct Alternative {
        std::string token;
        float logprob = 0;
    };
    std::vector<Alternative> top;
};

struct Usage {
    int32_t prompt_tokens = 0;
    int32_t completion_tokens = 0;
    int32_t cached_tokens = 0;    // of the prompt, found in a slot's cache (prompt_tokens_details)
    int32_t reasoning_tokens = 0; // of the completion (completion_tokens_details)
};

// One choice of a finished request.
struct ChoiceResult {
    int32_t index = 0;
    std::string text;      // the answer
    std::string reasoning; // the model's reasoning, "" when none (reasoning_content)
    StopReason stop = StopReason::end_of_generation;
    std::vector<TokenLogprob> logprobs; // empty unless asked for
    bool logprobs_requested = false;
};

// "stop" or "length" (OpenAI's finish reasons): a full context is a length limit too.
const char* finish_reason(StopReason reason);

// A body as text. Never throws: a string that is not valid UTF-8 (a token cut inside a
// character, a parser message quoting the client's bytes) has those bytes replaced by U+FFFD.
std::string json_text(const nlohmann::ordered_json& value);

// "data: <json>\n\n", and the stream's end.
std::string sse_event(const nlohmann::ordered_json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

nlohmann::ordered_json usage_json(const Usage& usage);

// POST /v1/chat/completions, not streamed.
nlohmann::ordered_json chat_completion(const ResponseContext& context,
                                       const std::vector<ChoiceResult>& choices,
                                       const Usage& usage);

// One streamed chat chunk: a choice's first chunk carries the role; later ones the new
// text and reasoning; the last one the finish reason (`finish` set, no text).
struct ChatDelta {
    int32_t index = 0;
    bool first = false;
    std::string content = {};
    std::string reasoning = {};
    std::vector<TokenLogprob> logprobs = {}; // of the tokens in this chunk, when asked for
    bool logprobs_requested = false;
    std::optional<StopReason> finish = {};
};
nlohmann::ordered_json chat_completion_chunk(const ResponseContext& context,
                                             const ChatDelta& delta);
// The last chunk of a stream with stream_options.include_usage: no choices, the usage.
nlohmann::ordered_json usage_chunk(const ResponseContext& context, std::string_view object,
                                   const Usage& usage);

// POST /v1/completions, whole and streamed (`finish` unset until the last chunk).
nlohmann::ordered_json completion(const ResponseContext& context,
                                  const std::vector<ChoiceResult>& choices, const Usage& usage);
nlohmann::ordered_json completion_chunk(const ResponseContext& context, int32_t index,
                                        std::string_view text,
                                        const std::vector<TokenLogprob>& logprobs,
                                        bool logprobs_requested, std::optional<StopReason> finish);

// GET /v1/models.
struct ListedModel {
    std::string id;
    int64_t created = 0;
    std::string owned_by = "hearth";
    uint32_t context_length = 0; // in "meta", as llama.cpp's server reports it
};
nlohmann::ordered_json model_list(const std::vector<ListedModel>& models);

} // namespace hearth::server
