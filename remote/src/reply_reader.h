// Reading an OpenAI-compatible reply into a RemoteReply: the chunks of a stream one event at a
// time (chat deltas with content, reasoning_content or reasoning; text completions' text;
// usage; finish_reason; [DONE]; an error object in the middle), or a whole body. Each server's
// variations are accepted (role-only first chunks, role on every chunk, usage-only last
// chunks, null fields); anything else is a malformed_response naming what was wrong.
#pragma once

#include "hearth/remote/openai_client.h"
#include "hearth/remote/sse_parser.h"

#include <chrono>
#include <optional>
#include <string_view>

namespace hearth::remote::detail {

class ReplyReader {
public:
    using Clock = std::chrono::steady_clock;

    // `chat`: chat completion chunks (delta) rather than text completions (text).
    ReplyReader(bool chat, const DeltaHandler& on_delta, Clock::time_point sent);

    // One event's data from the stream. nullopt: go on. An error ends the stream (a server's
    // error object, malformed JSON, a reply past kMaxReplyBytes, the handler stopping).
    std::optional<RemoteError> on_event(std::string_view data);
    // A reply not streamed.
    std::optional<RemoteError> on_whole(std::string_view body);

    bool done() const { return done_; } // [DONE] was seen
    bool finished() const { return !reply_.finish_reason.empty(); }

    // The reply with its timings and token count completed at `now`.
    RemoteReply take(Clock::time_point now);

private:
    std::optional<RemoteError> take_choice(const nlohmann::ordered_json& choice, bool whole);
    std::optional<RemoteError> add_text(std::string_view content, std::string_view reasoning);
    void take_metadata(const nlohmann::ordered_json& object);

    bool chat_;
    DeltaHandler on_delta_; // a copy: callers may pass a temporary (tst_remote_protocol does)
    Clock::time_point sent_;
    std::optional<Clock::time_point> first_text_;
    Clock::time_point last_text_;
    bool done_ = false;
    bool whole_ = false;
    RemoteReply reply_;
};

// A whole event stream into a reply: the SSE parser feeding a ReplyReader, and the rule for
// when a stream is complete ([DONE], or a finish_reason with no event cut). The client reads
// the network through it, the fuzz target (tests/fuzz/sse_fuzz_input.cpp) its input.
class StreamReader {
public:
    // `server` names the server in the interrupted-stream message.
    StreamReader(bool chat, const DeltaHandler& on_delta, ReplyReader::Clock::time_point sent,
                 std::string server);

    // The next piece of the body. False: stop reading ([DONE] was seen, or the stream failed).
    bool feed(std::string_view piece);
    bool done() const { return reader_.done(); }
    bool failed() const { return failure_.has_value(); }

    // The stream has ended (the connection closed, or feed returned false): the reply, or the
    // failure with the text received so far.
    RemoteResult finish();
    // The transport failed with `error` (cancelled, timed out, broken connection): the reply
    // if [DONE] had come, else the stream's own failure or `error`, with the partial text.
    RemoteResult fail_with(RemoteError error);

private:
    ReplyReader reader_;
    SseParser parser_;
    std::string server_;
    std::optional<RemoteError> failure_;
};

} // namespace hearth::remote::detail
