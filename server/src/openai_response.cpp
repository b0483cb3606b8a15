// JSON of the OpenAI-compatible responses, field for field as OpenAI's reference documents
// them (and llama.cpp's server and vLLM send them).
#include "hearth/server/openai_response.h"

namespace hearth::server {
namespace {

using Json = nlohmann::ordered_json;

Json bytes_of(std::string_view text) {
    Json bytes = Json::array();
    for (unsigned char c : text) {
        bytes.push_back(static_cast<int>(c));
    }
    return bytes;
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
size_t utf8_sequence(std::string_view s) {
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = b(0);
    size_t n = 0;
    uint32_t min = 0;
    if (lead < 0x80) {
        return 1;
    } else if ((lead & 0xE0) == 0xC0) {
        n = 2, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        n = 3, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        n = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (s.size() < n) {
        return 0;
    }
    uint32_t code = lead & (0x7F >> n);
    for (size_t i = 1; i < n; ++i) {
        if ((b(i) & 0xC0) != 0x80) {
            return 0;
        }
        code = (code << 6) | (b(i) & 0x3F);
    }
    const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
    return code >= min && code <= 0x10FFFF && !surrogate ? n : 0;
}

// A token's text may end inside a UTF-8 character, and JSON strings need whole characters:
// each byte that starts no valid sequence becomes U+FFFD (the exact bytes are in "bytes").
std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const size_t n = utf8_sequence(text);
        out.append(n ? text.substr(0, n) : std::string_view("\xEF\xBF\xBD"));
        text.remove_prefix(n ? n : 1);
    }
    return out;
}

Json chat_logprobs(const std::vector<TokenLogprob>& tokens) {
    Json content = Json::array();
    for (const TokenLogprob& t : tokens) {
        Json entry;
        entry["token"] = printable(t.token);
        entry["logprob"] = t.logprob;
        entry["bytes"] = bytes_of(t.token);
        Json top = Json::array();
        for (const auto& alt : t.top) {
            Json a;
            a["token"] = printable(alt.token);
            a["logprob"] = alt.logprob;
            a["bytes"] = bytes_of(alt.token);
            top.push_back(std::move(a));
        }
        entry["top_logprobs"] = std::move(top);
        content.push_back(std::move(entry));
    }
    Json out;
    out["content"] = std::move(content);
    return out;
}

// The legacy endpoint's shape: parallel lists, the alternatives as {text: logprob}.
Json completion_logprobs(const std::vector<TokenLogprob>& tokens, size_t text_offset) {
    Json out;
    Json texts = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
    for (const TokenLogprob& t : tokens) {
        texts.push_back(printable(t.token));
        lps.push_back(t.logprob);
        Json top = Json::object();
        for (const auto& alt : t.top) {
            top[printable(alt.token)] = alt.logprob;
        }
        tops.push_back(std::move(top));
        offsets.push_back(text_offset);
        text_offset += t.token.size();
    }
    out["tokens"] = std::move(texts);
    out["token_logprobs"] = std::move(lps);
    out["top_logprobs"] = std::move(tops);
    out["text_offset"] = std::move(offsets);
    return out;
}

Json envelope(const ResponseContext& context, std::string_view object) {
    Json out;
    out["id"] = context.id;
    out["object"] = object;
    out["created"] = context.created;
    out["model"] = context.model;
    out["system_fingerprint"] = context.system_fingerprint;
    return out;
}

} // namespace

const char* finish_reason(StopReason reason) {
    switch (reason) {
    case StopReason::max_tokens:
    case StopReason::context_full:
        return "length";
    default:
        return "stop";
    }
}

std::string json_text(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string sse_event(const Json& data) {
    return "data: " + json_text(data) + "\n\n";
}

Json usage_json(const Usage& usage) {
    Json out;
    out["prompt_tokens"] = usage.prompt_tokens;
    out["completion_tokens"] = usage.completion_tokens;
    out["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
    out["prompt_tokens_details"] = Json{{"cached_tokens", usage.cached_tokens}};
    out["completion_tokens_details"] = Json{{"reasoning_tokens", usage.reasoning_tokens}};
    return out;
}

Json chat_completion(const ResponseContext& context, const std::vector<ChoiceResult>& choices,
                     const Usage& usage) {
    Json out = envelope(context, "chat.completion");
    Json list = Json::array();
    for (const ChoiceResult& c : choices) {
        Json message;
        message["role"] = "assistant";
        message["content"] = c.text;
        if (!c.reasoning.empty()) {
            message["reasoning_content"] = c.reasoning;
        }
        Json choice;
        choice["index"] = c.index;
        choice["message"] = std::move(message);
        choice["logprobs"] = c.logprobs_requested ? chat_logprobs(c.logprobs) : Json();
        choice["finish_reason"] = finish_reason(c.stop);
        list.push_back(std::move(choice));
    }
    out["choices"] = std::move(list);
    out["usage"] = usage_json(usage);
    return out;
}

Json chat_completion_chunk(const ResponseContext& context, const ChatDelta& delta) {
    Json out = envelope(context, "chat.completion.chunk");
    Json d = Json::object();
    if (delta.first) {
        d["role"] = "assistant";
        d["content"] = "";
    }
    if (!delta.content.empty()) {
        d["content"] = delta.content;
    }
    if (!delta.reasoning.empty()) {
        d["reasoning_content"] = delta.reasoning;
    }
    Json choice;
    choice["index"] = delta.index;
    choice["delta"] = std::move(d);
    choice["logprobs"] = delta.logprobs_requested && !delta.logprobs.empty()
                             ? chat_logprobs(delta.logprobs)
                             : Json();
    choice["finish_reason"] = delta.finish ? Json(finish_reason(*delta.finish)) : Json();
    out["choices"] = Json::array({std::move(choice)});
    return out;
}

Json usage_chunk(const ResponseContext& context, std::string_view object, const Usage& usage) {
    Json out = envelope(context, object);
    out["choices"] = Json::array();
    out["usage"] = usage_json(usage);
    return out;
}

Json completion(const ResponseContext& context, const std::vector<ChoiceResult>& choices,
                const Usage& usage) {
    Json out = envelope(context, "text_completion");
    Json list = Json::array();
    for (const ChoiceResult& c : choices) {
        Json choice;
        choice["index"] = c.index;
        choice["text"] = c.text;
        choice["logprobs"] = c.logprobs_requested ? completion_logprobs(c.logprobs, 0) : Json();
        choice["finish_reason"] = finish_reason(c.stop);
        list.push_back(std::move(choice));
    }
    out["choices"] = std::move(list);
    out["usage"] = usage_json(usage);
    return out;
}

Json completion_chunk(const ResponseContext& context, int32_t index, std::string_view text,
                      const std::vector<TokenLogprob>& logprobs, bool logprobs_requested,
                      std::optional<StopReason> finish) {
    Json out = envelope(context, "text_completion");
    Json choice;
    choice["index"] = index;
    choice["text"] = text;
    choice["logprobs"] =
        logprobs_requested && !logprobs.empty() ? completion_logprobs(logprobs, 0) : Json();
    choice["finish_reason"] = finish ? Json(finish_reason(*finish)) : Json();
    out["choices"] = Json::array({std::move(choice)});
    return out;
}

Json model_list(const std::vector<ListedModel>& models) {
    Json data = Json::array();
    for (const ListedModel& m : models) {
        Json entry;
        entry["id"] = m.id;
        entry["object"] = "model";
        entry["created"] = m.created;
        entry["owned_by"] = m.owned_by;
        if (m.context_length > 0) {
            entry["meta"] = Json{{"n_ctx_train", m.context_length}};
        }
        data.push_back(std::move(entry));
    }
    Json out;
    out["object"] = "list";
    out["data"] = std::move(data);
    return out;
}

} // namespace hearth::server
