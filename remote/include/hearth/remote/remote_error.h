// The failures a user meets talking to a remote server, each with a message a chat can show
// as it is (it names the server, never the API key) and the kind that tells the app what to
// offer (fix the URL, check the key, pick another model, retry).
#pragma once

#include "hearth/error.h"

namespace hearth::remote {

enum class RemoteErrorKind {
    invalid_url,        // the URL does not parse (ErrorCode::invalid_argument)
    https_unavailable,  // https asked of a build without TLS (unsupported)
    name_not_resolved,  // DNS has no such host (io)
    connection_refused, // nothing listens there, or the connection failed (io)
    tls,                // TLS handshake or certificate failure, or https to a plain port (io)
    timeout,            // connect, first byte or between chunks (io); the message says which
    unauthorized,       // 401 or 403: a missing or wrong key (invalid_argument)
    model_not_found,    // 404 on the model, or OpenAI's model_not_found code (invalid_argument)
    not_found,          // 404 on the endpoint itself: the server lacks it (unsupported)
    rate_limited,       // 429 (busy): retry later
    unavailable,        // 503 (busy): overloaded or loading the model; retry later
    bad_request,        // another 4xx, with the server's own message (invalid_argument)
    server_error,       // 5xx other than 503 (io)
    error_in_stream,    // the server sent an error object inside a stream (io)
    stream_interrupted, // the stream ended without [DONE] or a finish_reason (io)
    malformed_response, // bad SSE, bad JSON, or JSON not of OpenAI's shape (bad_format)
    too_large,          // a reply past the client's bounds (bad_format)
    cancelled,          // CancelToken::cancel or a handler returning false (cancelled)
};

const char* remote_error_kind_name(RemoteErrorKind kind);

// Whether the same request may succeed if sent again as it is (timeouts, 429, 503, cut
// streams, refused connections): the chat offers "Retry".
bool is_retryable(RemoteErrorKind kind);

struct RemoteError {
    Error error; // code and full message
    RemoteErrorKind kind = RemoteErrorKind::malformed_response;
    int http_status = 0; // 0 when no HTTP status was received
};

} // namespace hearth::remote
