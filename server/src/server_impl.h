// The inside of OpenAiServer, shared by the HTTP plumbing (http_server.cpp) and the
// generation endpoints (completion_endpoints.cpp).
#pragma once

#include "hearth/prompt.h"
#include "hearth/server/api_error.h"
#include "hearth/server/openai_response.h"
#include "hearth/server/server.h"

#include <atomic>
#include <httplib.h>
#include <memory>
#include <string>
#include <thread>

namespace hearth::server {

struct OpenAiServer::Impl {
    std::shared_ptr<const Model> model;
    Scheduler& scheduler;
    ServerOptions options;
    PromptFormat format;
    std::string fingerprint; // system_fingerprint: version and device
    int64_t started = 0;     // Unix seconds, the model's "created"

    httplib::Server http;
    std::thread listener;
    int port = 0;
    int listen_socket = -1; // the listener's socket, for its backlog
    std::atomic<bool> stopped{false};
    std::atomic<bool> listener_done{false}; // listen_after_bind has returned

    std::atomic<uint64_t> in_flight{0}; // generation requests being answered
    std::atomic<uint64_t> served{0};
    std::atomic<uint64_t> refused{0};
    std::atomic<uint64_t> disconnected{0};

    Impl(std::shared_ptr<const Model> m, Scheduler& s, ServerOptions o)
        : model(std::move(m)), scheduler(s), options(std::move(o)) {}

    // Whether `name` (a request's "model") is this server's model; "" is.
    bool serves_model(std::string_view name) const;
    ResponseContext context(std::string_view id_prefix) const;
};

// Writes `error` as the response.
void send_error(httplib::Response& response, const ApiError& error);
// The HTTP error for a scheduler's refusal of a request.
ApiError scheduler_refusal(const Error& error, int queue_full_status);

void handle_chat_completions(OpenAiServer::Impl& server, const httplib::Request& request,
                             httplib::Response& response);
void handle_completions(OpenAiServer::Impl& server, const httplib::Request& request,
                        httplib::Response& response);

} // namespace hearth::server
