// Where a remote OpenAI-compatible server is (its URL, parsed and checked), how long the client
// waits on it, the key it sends, and the cancel token that ends a request from another thread.
// Qt-free; no I/O here.
#pragma once

#include "hearth/error.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hearth::remote {

// docs/LIMITS.md, "Remote servers".
inline constexpr size_t kMaxUrlBytes = 2048;
// Connecting (TCP and TLS handshake): a reachable server answers in well under a second.
inline constexpr std::chrono::seconds kConnectTimeout{10};
// From the request sent to the first byte of the reply's body: a streamed reply's first event
// comes after the server read the whole prompt (a 70B on 32k tokens: minutes), a reply not
// streamed after the whole generation.
inline constexpr std::chrono::seconds kFirstByteTimeout{600};
// Between two pieces of a stream once it has started (servers send a token every few tens of
// milliseconds, or keep-alive comments while busy).
inline constexpr std::chrono::seconds kBetweenChunksTimeout{120};
// A whole metadata request (/v1/models, /health, /props, /version, ...): no generation.
inline constexpr std::chrono::seconds kMetadataTimeout{15};

struct Timeouts {
    std::chrono::milliseconds connect = kConnectTimeout;
    std::chrono::milliseconds first_byte = kFirstByteTimeout;
    std::chrono::milliseconds between_chunks = kBetweenChunksTimeout;
    std::chrono::milliseconds metadata = kMetadataTimeout;
};

// A server's URL as the user typed it ("http://gpu-box:8000", "https://host/v1",
// "http://[::1]:8080/v1/"), split and normalised.
struct EndpointUrl {
    bool https = false;
    std::string host; // without brackets for IPv6
    int port = 0;     // the scheme's default when the URL has none
    // The OpenAI API's prefix: the URL's path without a trailing '/', "/v1" when it had none.
    std::string api_prefix;
    // The server's own root for /health, /props, /version, ...: api_prefix without its last
    // "/v1" ("" for "/v1").
    std::string root_prefix;

    std::string origin() const;  // "http://host:port" ("[::1]" bracketed)
    std::string display() const; // origin + api_prefix, what messages name the server by
};

// Parses `url`. Fails with invalid_argument naming what is wrong: empty, longer than
// kMaxUrlBytes, a scheme other than http/https (or none), no host, a port outside 1..65535,
// user:password@ (keys go in the key store or --api-key-env, never in the URL), a query or
// fragment, or control characters and spaces.
Result<EndpointUrl> parse_endpoint_url(std::string_view url);

// Whether this build can speak https (cpp-httplib built with OpenSSL; Debian's is).
bool https_supported();

// A remote server to talk to. Plain values: copy freely.
struct EndpointConfig {
    std::string url = {};
    std::string api_key = {}; // sent as "Authorization: Bearer KEY"; "" sends none. Never logged,
                              // never put in an error message.
    std::string ca_file = {}; // PEM CA bundle for https to a server with its own CA; "": system's
    Timeouts timeouts = {};
};

namespace detail {
struct CancelState;
}

// Cancels the request that holds it, from any thread, at once: the request's socket is shut,
// so a read waiting on the server returns immediately, and the request fails with
// ErrorCode::cancelled and RemoteErrorKind::cancelled, keeping the text received so far.
// Copies share one state. Once cancelled it stays cancelled: make a new token per request.
// A token may be cancelled before its request starts (the request then never connects).
class CancelToken {
public:
    CancelToken();
    void cancel() const;
    bool cancelled() const;

    // For the client's implementation: the shared state.
    const std::shared_ptr<detail::CancelState>& state() const { return state_; }

private:
    std::shared_ptr<detail::CancelState> state_;
};

} // namespace hearth::remote
