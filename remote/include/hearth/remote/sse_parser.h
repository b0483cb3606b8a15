// An incremental parser of server-sent events (the WHATWG "event stream" format that OpenAI's
// streamed responses use): bytes go in as the network delivers them, in pieces of any size,
// and whole events come out. The stream is hostile input: a line, an event and a comment are
// bounded (docs/LIMITS.md, "Remote servers"), every line ending (\r\n, \n, \r, and \r\n split
// across two pieces) is taken, and nothing the server sends can crash, abort or grow memory
// without bound. No I/O, no threads: one parser per stream, used from one thread.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::remote {

// docs/LIMITS.md, "Remote servers".
inline constexpr size_t kMaxSseLineBytes = size_t{1} << 20;  // one line (a chunk is one line)
inline constexpr size_t kMaxSseEventBytes = size_t{4} << 20; // one event's data, lines joined
inline constexpr size_t kMaxSseFieldBytes = 256; // an `event:` or `id:` value kept (longer: cut)

// One event: its `data:` lines joined by "\n" (the spec's rule), its `event:` name ("" when
// none: OpenAI's chunks have none; TGI and llama.cpp name errors "error" on some paths) and
// its `id:`.
struct SseEvent {
    std::string event;
    std::string data;
    std::string id;
};

class SseParser {
public:
    // Called for each complete event: one that a blank line ended after at least one `data:`
    // line (the spec dispatches nothing else); returning false stops the parse (feed then returns
    // what stopped it). Comments
    // (": keep-alive", ": ping") and fields other than data/event/id/retry are skipped, as the
    // spec says a client must; `on_comment` counts them for tests and keep-alive tracking.
    using EventHandler = std::function<bool(const SseEvent& event)>;

    explicit SseParser(EventHandler on_event);

    // Parses the next piece of the stream. Fails with bad_format (naming the limit) when a
    // line or an event passes its bound, and with cancelled when the handler returned false.
    // After a failure the parser stays failed: every later call returns the same error.
    Result<void> feed(std::string_view bytes);

    // The stream has ended. An event without its closing blank line is dropped, as the spec
    // says; `ended_mid_event()` tells that it happened (a stream cut in the middle).
    Result<void> finish();

    bool ended_mid_event() const { return ended_mid_event_; }
    size_t comments() const { return comments_; } // keep-alive lines seen
    size_t events() const { return events_; }     // events handed to the handler

private:
    Result<void> take_line(std::string_view line);
    Result<void> dispatch();

    EventHandler on_event_;
    std::string line_;    // the line being read, without its end
    SseEvent pending_;    // the event being built
    std::string last_id_; // the spec's "last event ID": it carries over to later events
    bool seen_line_ = false;
    bool has_data_ = false;
    bool skip_lf_ = false; // the last piece ended in \r: a \n starting the next one is its pair
    bool ended_mid_event_ = false;
    size_t comments_ = 0;
    size_t events_ = 0;
    std::optional<Error> failed_;
};

} // namespace hearth::remote
