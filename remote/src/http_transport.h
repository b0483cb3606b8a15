// One HTTP(S) exchange with a remote server on cpp-httplib, with the client's timeouts
// (connect, first byte, between chunks; or a whole metadata request) enforced by a watchdog
// that shuts the socket, and cancellation from another thread the same way. Transport
// failures come back as RemoteError with the kind a user can act on.
#pragma once

#include "hearth/remote/endpoint.h"
#include "hearth/remote/remote_error.h"

#include <expected>
#include <functional>
#include <string>
#include <string_view>

namespace hearth::remote::detail {

// docs/LIMITS.md, "Remote servers": an error body kept for its message.
inline constexpr size_t kMaxErrorBodyBytes = size_t{64} << 10;

struct HttpRequest {
    const char* method = "GET"; // "GET" or "POST"
    std::string path;           // from the origin, e.g. "/v1/chat/completions"
    std::string body;           // a JSON body for POST
    bool generation = false;    // first-byte and between-chunks timeouts; else metadata's
    bool stream = false;        // Accept: text/event-stream
};

struct HttpResponse {
    int status = 0;
    std::string content_type;
    std::string body; // a non-2xx body (at most kMaxErrorBodyBytes), or a 2xx one when no
                      // handler took it
};

// Called with each piece of a 2xx body as it arrives, with the response's status and
// content type. Returns false to stop the exchange (the caller keeps its own reason; the
// transport then reports `cancelled`).
using BodyHandler = std::function<bool(std::string_view piece, const HttpResponse& head)>;

// Sends `request`. A 2xx body goes to `on_body` when given, else into HttpResponse::body (at
// most `max_body` bytes: past that, too_large). Fails on transport errors only: an HTTP error
// status is a response, for the caller to read.
std::expected<HttpResponse, RemoteError>
http_exchange(const EndpointConfig& config, const EndpointUrl& url, const HttpRequest& request,
              const BodyHandler& on_body, const CancelToken& cancel, size_t max_body);

// The failure for a non-2xx response: the status's kind, with the server's own message
// (OpenAI's error object, TGI's {"error": "..."}, or plain text) quoted, bounded.
RemoteError status_error(const EndpointUrl& url, const HttpResponse& response,
                         std::string_view model);

} // namespace hearth::remote::detail
