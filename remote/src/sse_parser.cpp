// The server-sent-events parser: the WHATWG HTML standard's "event stream interpretation"
// (section 9.2.6), line by line over pieces of any size, with bounded lines and events.
#include "hearth/remote/sse_parser.h"

#include <fmt/format.h>
#include <utility>

namespace hearth::remote {

SseParser::SseParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

Result<void> SseParser::feed(std::string_view bytes) {
    if (failed_) {
        return std::unexpected(*failed_);
    }
    while (!bytes.empty()) {
        if (skip_lf_) {
            skip_lf_ = false;
            if (bytes.front() == '\n') {
                bytes.remove_prefix(1);
                continue;
            }
        }
        const size_t end = bytes.find_first_of("\r\n");
        const std::string_view piece = bytes.substr(0, end);
        if (line_.size() + piece.size() > kMaxSseLineBytes) {
            failed_ = Error{ErrorCode::bad_format,
                            fmt::format("the server sent a stream line longer than {} bytes",
                                        kMaxSseLineBytes)};
            return std::unexpected(*failed_);
        }
        if (end == std::string_view::npos) {
            line_.append(piece);
            return {};
        }
        // The line is complete: take it from the buffer when one was started, else in place.
        Result<void> taken;
        if (line_.empty()) {
            taken = take_line(piece);
        } else {
            line_.append(piece);
            taken = take_line(line_);
            line_.clear();
        }
        if (!taken) {
            failed_ = taken.error();
            return taken;
        }
        skip_lf_ = bytes[end] == '\r';
        bytes.remove_prefix(end + 1);
    }
    return {};
}

Result<void> SseParser::finish() {
    if (failed_) {
        return std::unexpected(*failed_);
    }
    // The spec discards an event that no blank line ended; a last line without its end is
    // part of such an event (or a lone comment).
    ended_mid_event_ = has_data_ || !pending_.event.empty() || !line_.empty();
    line_.clear();
    pending_ = {};
    has_data_ = false;
    return {};
}

Result<void> SseParser::take_line(std::string_view line) {
    if (events_ == 0 && comments_ == 0 && !seen_line_ && line.starts_with("\xEF\xBB\xBF")) {
        line.remove_prefix(3); // a byte-order mark starts the stream, not the field
    }
    seen_line_ = true;
    if (line.empty()) {
        return dispatch();
    }
    if (line.front() == ':') {
        ++comments_;
        return {};
    }
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
        value = line.substr(colon + 1);
        if (value.starts_with(' ')) {
            value.remove_prefix(1);
        }
    }
    if (field == "data") {
        // +1: the newline that joins this line to the next one
        if (pending_.data.size() + value.size() + 1 > kMaxSseEventBytes) {
            return fail(ErrorCode::bad_format,
                        fmt::format("the server sent a stream event larger than {} bytes",
                                    kMaxSseEventBytes));
        }
        if (has_data_) {
            pending_.data += '\n';
        }
        pending_.data.append(value);
        has_data_ = true;
    } else if (field == "event") {
        pending_.event.assign(value.substr(0, kMaxSseFieldBytes));
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) {
            last_id_.assign(value.substr(0, kMaxSseFieldBytes));
        }
    }
    // "retry" sets a reconnection delay this client does not use; other fields are ignored.
    return {};
}

Result<void> SseParser::dispatch() {
    if (!has_data_) {
        pending_ = {}; // a name or id without data dispatches nothing
        return {};
    }
    pending_.id = last_id_;
    SseEvent event = std::exchange(pending_, SseEvent{});
    has_data_ = false;
    ++events_;
    if (on_event_ && !on_event_(event)) {
        return fail(ErrorCode::cancelled, "the stream's reader stopped it");
    }
    return {};
}

} // namespace hearth::remote
