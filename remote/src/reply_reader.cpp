// Reading OpenAI-compatible replies, streamed or whole. The shapes accepted, by server:
// - OpenAI / vLLM: a role-only first chunk, content deltas, a chunk with finish_reason, a
//   usage-only chunk (choices []) when stream_options.include_usage, then [DONE]; reasoning
//   in delta.reasoning_content (vLLM; newer vLLM: delta.reasoning).
// - llama.cpp's server: the same, with "timings" objects we do not need.
// - TGI: role "assistant" on every chunk, id "", finish_reason on the last token's chunk,
//   a usage-only chunk, [DONE] (router/src/chat.rs).
// - Ollama: role on every chunk, reasoning in delta.reasoning, fp_ollama (openai/openai.go).
// - Errors inside a stream: {"error": {...}} (OpenAI, llama.cpp), {"object": "error",
//   "message": ...} (older vLLM), {"error": "...", "error_type": ...} (TGI).
#include "reply_reader.h"

#include "hearth/json_input.h"
#include "hearth/remote/sse_parser.h"
#include "server_text.h"

#include <fmt/format.h>

namespace hearth::remote::detail {
namespace {

using Json = nlohmann::ordered_json;

// `object[key]`, or null when `object` is not an object or has no such member.
const Json* member(const Json& object, std::string_view key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

RemoteError malformed(std::string what) {
    return RemoteError{
        Error{ErrorCode::bad_format,
              fmt::format("The server's reply is not in the OpenAI format: {}.", what)},
        RemoteErrorKind::malformed_response, 0};
}

// A string field that may be absent or null; anything else is malformed.
std::optional<RemoteError> string_field(const Json& object, const char* key, std::string& out) {
    const Json* value = member(object, key);
    if (!value || value->is_null()) {
        return std::nullopt;
    }
    if (!value->is_string()) {
        return malformed(fmt::format("\"{}\" is a {}, not a string", key, value->type_name()));
    }
    out = value->get<std::string>();
    return std::nullopt;
}

int32_t count_field(const Json& object, const char* key) {
    const Json* found = member(object, key);
    if (!found || !found->is_number_integer()) {
        return 0;
    }
    const int64_t value = found->get<int64_t>();
    return value < 0 || value > INT32_MAX ? 0 : static_cast<int32_t>(value);
}

std::optional<server::Usage> read_usage(const Json& object) {
    const Json* found = member(object, "usage");
    if (!found || !found->is_object()) {
        return std::nullopt;
    }
    server::Usage usage;
    usage.prompt_tokens = count_field(*found, "prompt_tokens");
    usage.completion_tokens = count_field(*found, "completion_tokens");
    if (const Json* d = member(*found, "prompt_tokens_details")) {
        usage.cached_tokens = count_field(*d, "cached_tokens");
    }
    if (const Json* d = member(*found, "completion_tokens_details")) {
        usage.reasoning_tokens = count_field(*d, "reasoning_tokens");
    }
    return usage;
}

// The server's error object inside a stream or a 200 body, if this is one.
std::optional<RemoteError> error_object(const Json& object) {
    std::string message;
    const Json* error = member(object, "error");
    const Json* kind = member(object, "object");
    if (error && !error->is_null()) {
        if (error->is_string()) {
            message = error->get<std::string>();
        } else if (const Json* m = member(*error, "message"); m && m->is_string()) {
            message = m->get<std::string>();
        }
    } else if (kind && *kind == "error") {
        if (const Json* m = member(object, "message"); m && m->is_string()) {
            message = m->get<std::string>();
        }
    } else {
        return std::nullopt;
    }
    if (message.empty()) {
        message = "(no message)";
    }
    return RemoteError{Error{ErrorCode::io, fmt::format("The server stopped the reply with an "
                                                        "error: \"{}\"",
                                                        quote_server_text(message))},
                       RemoteErrorKind::error_in_stream, 0};
}

Result<Json> parse_object(std::string_view text) {
    auto parsed = parse_json_input(text, "the server's reply", JsonLimits{kMaxResponseBytes, 64});
    if (!parsed) {
        return std::unexpected(parsed.error());
    }
    if (!parsed->is_object()) {
        return fail(ErrorCode::bad_format, fmt::format("the server's reply is a JSON {}, not an "
                                                       "object",
                                                       parsed->type_name()));
    }
    return std::move(*parsed);
}

} // namespace

ReplyReader::ReplyReader(bool chat, const DeltaHandler& on_delta, Clock::time_point sent)
    : chat_(chat), on_delta_(on_delta), sent_(sent) {}

void ReplyReader::take_metadata(const Json& object) {
    // The first non-empty value wins: later chunks repeat it (or, from TGI, leave id empty).
    const auto keep = [&](const char* key, std::string& out) {
        if (!out.empty()) {
            return;
        }
        if (const Json* value = member(object, key); value && value->is_string()) {
            out = quote_server_text(value->get<std::string>(), 256);
        }
    };
    keep("id", reply_.id);
    keep("model", reply_.model);
    keep("system_fingerprint", reply_.system_fingerprint);
    if (auto usage = read_usage(object)) {
        reply_.usage = usage;
    }
}

std::optional<RemoteError> ReplyReader::add_text(std::string_view content,
                                                 std::string_view reasoning) {
    if (content.empty() && reasoning.empty()) {
        return std::nullopt;
    }
    if (reply_.content.size() + reply_.reasoning.size() + content.size() + reasoning.size() >
        kMaxReplyBytes) {
        return RemoteError{Error{ErrorCode::bad_format,
                                 fmt::format("The reply is longer than {} bytes; the rest was "
                                             "not read.",
                                             kMaxReplyBytes)},
                           RemoteErrorKind::too_large, 0};
    }
    const Clock::time_point now = Clock::now();
    if (!first_text_) {
        first_text_ = now;
    }
    last_text_ = now;
    ++reply_.timings.text_events;
    reply_.content.append(content);
    reply_.reasoning.append(reasoning);
    if (on_delta_ && !on_delta_(RemoteDelta{content, reasoning})) {
        return RemoteError{Error{ErrorCode::cancelled, "The request was cancelled."},
                           RemoteErrorKind::cancelled, 0};
    }
    return std::nullopt;
}

std::optional<RemoteError> ReplyReader::take_choice(const Json& choice, bool whole) {
    if (!choice.is_object()) {
        return malformed("a choice is not an object");
    }
    if (const Json* index = member(choice, "index");
        index && index->is_number_integer() && index->get<int64_t>() != 0) {
        return std::nullopt; // only one choice is asked for
    }
    std::string content;
    std::string reasoning;
    if (chat_) {
        const char* holder = whole ? "message" : "delta";
        const Json* message = member(choice, holder);
        if (message && !message->is_null()) {
            if (!message->is_object()) {
                return malformed(fmt::format("\"{}\" is not an object", holder));
            }
            if (auto e = string_field(*message, "content", content)) {
                return e;
            }
            // vLLM and llama.cpp name it reasoning_content, newer vLLM and Ollama reasoning.
            if (auto e = string_field(*message, "reasoning_content", reasoning)) {
                return e;
            }
            if (reasoning.empty()) {
                if (auto e = string_field(*message, "reasoning", reasoning)) {
                    return e;
                }
            }
        } else if (whole) {
            return malformed("the choice has no \"message\"");
        }
    } else if (auto e = string_field(choice, "text", content)) {
        return e;
    }
    std::string finish;
    if (auto e = string_field(choice, "finish_reason", finish)) {
        return e;
    }
    if (!finish.empty()) {
        reply_.finish_reason = quote_server_text(finish, 64);
    }
    return add_text(content, reasoning);
}

std::optional<RemoteError> ReplyReader::on_event(std::string_view data) {
    if (data == "[DONE]") {
        done_ = true;
        return std::nullopt;
    }
    auto parsed = parse_object(data);
    if (!parsed) {
        return malformed(fmt::format("a stream event is not JSON ({})", parsed.error().message));
    }
    if (auto error = error_object(*parsed)) {
        return error;
    }
    take_metadata(*parsed);
    const Json* choices = member(*parsed, "choices");
    if (!choices || choices->is_null()) {
        return std::nullopt; // a usage-only or keep-alive chunk
    }
    if (!choices->is_array()) {
        return malformed("\"choices\" is not an array");
    }
    for (const Json& choice : *choices) {
        if (auto e = take_choice(choice, false)) {
            return e;
        }
    }
    return std::nullopt;
}

std::optional<RemoteError> ReplyReader::on_whole(std::string_view body) {
    whole_ = true;
    auto parsed = parse_object(body);
    if (!parsed) {
        return malformed(parsed.error().message);
    }
    if (auto error = error_object(*parsed)) {
        return error;
    }
    take_metadata(*parsed);
    const Json* choices = member(*parsed, "choices");
    if (!choices || !choices->is_array() || choices->empty()) {
        return malformed("it has no \"choices\"");
    }
    for (const Json& choice : *choices) {
        if (auto e = take_choice(choice, true)) {
            return e;
        }
        break; // one choice asked for
    }
    done_ = true;
    return std::nullopt;
}

RemoteReply ReplyReader::take(Clock::time_point now) {
    RemoteTimings& t = reply_.timings;
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    t.total_s = seconds(now - sent_);
    if (first_text_) {
        t.time_to_first_token_s = seconds(*first_text_ - sent_);
    }
    if (reply_.usage && reply_.usage->completion_tokens > 0) {
        reply_.completion_tokens = reply_.usage->completion_tokens;
        reply_.tokens_counted_by_server = true;
    } else {
        reply_.completion_tokens = t.text_events;
    }
    if (whole_) {
        // One piece: no first-to-last interval; the rate over the whole request.
        t.tokens_per_second = t.total_s > 0 ? reply_.completion_tokens / t.total_s : 0;
    } else if (first_text_ && reply_.completion_tokens >= 2 && last_text_ > *first_text_) {
        t.tokens_per_second = (reply_.completion_tokens - 1) / seconds(last_text_ - *first_text_);
    }
    return std::move(reply_);
}

namespace {

RemoteError interrupted(const std::string& server) {
    return RemoteError{
        Error{ErrorCode::io, fmt::format("The stream from {} ended in the middle of the reply "
                                         "(no [DONE] and no finish_reason): the server may have "
                                         "stopped or restarted, or a proxy cut the connection. "
                                         "The text received so far is kept.",
                                         server)},
        RemoteErrorKind::stream_interrupted, 0};
}

RemoteError malformed_sse(const Error& error) {
    return RemoteError{
        Error{ErrorCode::bad_format,
              fmt::format("The server's event stream is malformed: {}.", error.message)},
        RemoteErrorKind::malformed_response, 0};
}

} // namespace

StreamReader::StreamReader(bool chat, const DeltaHandler& on_delta,
                           ReplyReader::Clock::time_point sent, std::string server)
    : reader_(chat, on_delta, sent), parser_([this](const SseEvent& event) {
          // An error event whose data is not JSON (some proxies): its text is the message.
          if (event.event == "error" && !event.data.starts_with('{')) {
              failure_ = RemoteError{
                  Error{ErrorCode::io, fmt::format("The server stopped the reply with an error: "
                                                   "\"{}\"",
                                                   quote_server_text(event.data))},
                  RemoteErrorKind::error_in_stream, 0};
              return false;
          }
          if (auto error = reader_.on_event(event.data)) {
              failure_ = std::move(error);
              return false;
          }
          return !reader_.done(); // nothing after [DONE] is read
      }),
      server_(std::move(server)) {}

bool StreamReader::feed(std::string_view piece) {
    if (failure_ || reader_.done()) {
        return false;
    }
    auto fed = parser_.feed(piece);
    if (!fed && !reader_.done() && !failure_) {
        failure_ = malformed_sse(fed.error());
    }
    return fed.has_value();
}

RemoteResult StreamReader::finish() {
    const auto now = ReplyReader::Clock::now();
    if (!failure_ && !reader_.done()) {
        if (auto finished = parser_.finish(); !finished) {
            failure_ = malformed_sse(finished.error());
        } else if (!reader_.finished() || parser_.ended_mid_event()) {
            // Without [DONE], a stream is whole only if its choice said why it finished and
            // no event was cut.
            failure_ = interrupted(server_);
        }
    }
    if (failure_) {
        return std::unexpected(RemoteFailure{std::move(*failure_), reader_.take(now)});
    }
    return reader_.take(now);
}

RemoteResult StreamReader::fail_with(RemoteError error) {
    if (reader_.done() || failure_) {
        return finish(); // we closed the connection ourselves
    }
    if (error.kind == RemoteErrorKind::stream_interrupted) {
        error = interrupted(server_);
    }
    return std::unexpected(
        RemoteFailure{std::move(error), reader_.take(ReplyReader::Clock::now())});
}

} // namespace hearth::remote::detail
