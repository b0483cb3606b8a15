// The local OpenAI-compatible HTTP server (issue 19): GET /health, GET /v1/models,
// POST /v1/chat/completions and POST /v1/completions, streamed as server-sent events or whole,
// on a Scheduler that the chat and Compare may share. Qt-free: hearth-cli serve and the app
// both run it.
//
// Every request is checked before it reaches the scheduler (openai_request.h); every failure
// is answered in OpenAI's error shape with its status, and the server goes on serving. A
// client that disconnects while its reply streams has its requests cancelled, which frees
// their slots.
//
// Threads: the HTTP listener and a pool of connection threads (cpp-httplib) run from start()
// to stop(); generation runs on the scheduler's thread. start(), stop() and stats() may be
// called from any thread.
#pragma once

#include "hearth/error.h"
#include "hearth/model.h"
#include "hearth/scheduler.h"
#include "hearth/server/openai_request.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// Connection threads, at most (docs/LIMITS.md): each holds one request while it streams.
inline constexpr size_t kMaxHttpThreads = 256;

// Connections the kernel holds until the listener accepts them (docs/LIMITS.md): Debian's
// cpp-httplib 0.11 listens with 5, which clients reconnecting as their streams end overflow
// while the listener thread waits for a core. 128: llama.cpp's server's value.
inline constexpr int kListenBacklog = 128;

struct ServerOptions {
    std::string host = "127.0.0.1"; // anything but loopback needs an api_key
    int port = 8080;                // 0: any free port (port() says which)
    std::string api_key;            // "": no key asked for
    std::string cors_origin;        // "": no CORS headers (browsers then refuse other origins)
    std::string model_id;           // the model's name in /v1/models
    std::vector<std::string> model_aliases; // other names a request's "model" may give
    std::string template_name; // as resolve_prompt_format takes it ("": the model's own)
    RequestLimits limits;
    size_t http_threads = 0;     // 0: four per slot, at least 8
    int queue_full_status = 503; // 429 or 503 when the scheduler's queue is full
    // One line per request (method, path, status, milliseconds); never a header or a body,
    // so never the API key. Empty: no log.
    std::function<void(std::string_view line)> log;
};

struct ServerStats {
    uint64_t requests_in_flight = 0;   // HTTP requests being answered
    uint64_t requests_served = 0;      // answered with 2xx
    uint64_t requests_refused = 0;     // answered with 4xx or 5xx
    uint64_t clients_disconnected = 0; // streams whose client went away
    uint64_t tokens_generated = 0;     // by the server's requests so far, counted as they come
};

class OpenAiServer {
public:
    // Checks the options (the bind address needs a key beyond loopback), resolves the chat
    // template, binds the port and starts listening. Fails with invalid_argument (options),
    // bad_format (the template) or io (the port cannot be bound: the message says which and
    // why, "port 8080 is in use — choose another" for a port another program holds).
    static Result<std::unique_ptr<OpenAiServer>> start(std::shared_ptr<const Model> model,
                                                       Scheduler& scheduler, ServerOptions options);
    ~OpenAiServer(); // stops
    OpenAiServer(const OpenAiServer&) = delete;
    OpenAiServer& operator=(const OpenAiServer&) = delete;

    int port() const;
    std::string url() const; // "http://127.0.0.1:8080/v1"
    // Stops listening, cancels the requests being answered (open streams end, whole replies
    // come back cut short) and joins the threads. Idempotent.
    void stop();
    ServerStats stats() const;

    struct Impl;

private:
    explicit OpenAiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace hearth::server
