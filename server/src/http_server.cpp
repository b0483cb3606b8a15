// The server's HTTP side: routes, the API key, CORS, OpenAI-shaped errors for what the HTTP
// library refuses itself (unknown routes, oversized bodies), the request log, and the
// listener's lifetime. cpp-httplib (Debian's libcpp-httplib): what llama.cpp's server uses; it
// streams a response from a callback on the connection's thread, which server-sent events
// need (Qt's QHttpServer 6.4 cannot stream).
#include "generation_job.h"
#include "hearth/server/access.h"
#include "server_impl.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hearth::server {
namespace {

using Clock = std::chrono::steady_clock;

bool is_public(const httplib::Request& request) {
    return request.path == "/health" || request.method == "OPTIONS";
}

void add_cors(const OpenAiServer::Impl& server, httplib::Response& response) {
    if (server.options.cors_origin.empty()) {
        return;
    }
    response.set_header("Access-Control-Allow-Origin", server.options.cors_origin);
    response.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    response.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.set_header("Vary", "Origin");
}

std::string device_name(DeviceKind device) {
    return device == DeviceKind::cpu ? "cpu" : "cuda";
}

void install_routes(OpenAiServer::Impl& server) {
    httplib::Server& http = server.http;
    http.Get("/health", [&server](const httplib::Request&, httplib::Response& response) {
        const SchedulerMetrics m = server.scheduler.metrics();
        nlohmann::ordered_json body;
        body["status"] = "ok";
        body["slots_idle"] = m.n_slots - m.slots_busy;
        body["slots_processing"] = m.slots_busy;
        body["queue_length"] = m.queue_length;
        response.set_content(json_text(body), "application/json");
    });
    auto models = [&server](const httplib::Request&, httplib::Response& response) {
        ListedModel listed{server.options.model_id, server.started, "hearth",
                           server.model->info().n_ctx_train};
        response.set_content(json_text(model_list({listed})), "application/json");
    };
    http.Get("/v1/models", models);
    http.Get("/models", models);
    http.Post("/v1/chat/completions",
              [&server](const httplib::Request& request, httplib::Response& response) {
                  handle_chat_completions(server, request, response);
              });
    http.Post("/v1/completions",
              [&server](const httplib::Request& request, httplib::Response& response) {
                  handle_completions(server, request, response);
              });
    if (!server.options.cors_origin.empty()) {
        http.Options(".*", [](const httplib::Request&, httplib::Response& response) {
            response.status = 204;
        });
    }
}

void install_policies(OpenAiServer::Impl& server) {
    httplib::Server& http = server.http;
    http.set_payload_max_length(server.options.limits.max_body_bytes);
    http.set_pre_routing_handler(
        [&server](const httplib::Request& request, httplib::Response& response) {
            add_cors(server, response);
            if (is_public(request)) {
                return httplib::Server::HandlerResponse::Unhandled;
            }
            std::optional<std::string> header;
            if (request.has_header("Authorization")) {
                header = request.get_header_value("Authorization");
            }
            if (auto refused = check_api_key(header, server.options.api_key)) {
                send_error(response, *refused);
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
    // What the library answers itself (no route, a body past the limit, a malformed request)
    // gets OpenAI's error shape too.
    const httplib::Server::HandlerWithResponse on_error = [](const httplib::Request& request,
                                                             httplib::Response& response) {
        if (!response.body.empty()) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        if (response.status == 404) {
            send_error(response,
                       not_found(fmt::format("no route {} {}", request.method, request.path), {},
                                 "unknown_url"));
        } else if (response.status == 413) {
            send_error(response, payload_too_large("the request body is over the server's limit"));
        } else {
            send_error(response, ApiError{response.status,
                                          "invalid_request_error",
                                          fmt::format("HTTP error {}", response.status),
                                          {},
                                          {}});
        }
        return httplib::Server::HandlerResponse::Handled;
    };
    http.set_error_handler(on_error);
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
            send_error(response, server_error("the server failed while answering this request"));
        });
    http.set_logger([&server](const httplib::Request& request, const httplib::Response& response) {
        (response.status < 400 ? server.served : server.refused) += 1;
        if (server.options.log) {
            // Method, path and status only: headers and bodies may hold the key or private
            // text.
            server.options.log(
                fmt::format("{} {} {}", request.method, request.path, response.status));
        }
    });
}

Result<void> check_options(const ServerOptions& options) {
    if (auto refused = check_bind_address(options.host, !options.api_key.empty())) {
        return fail(ErrorCode::invalid_argument, *refused);
    }
    if (options.port < 0 || options.port > 65535) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("port {} is not a TCP port (0 to 65535)", options.port));
    }
    if (options.queue_full_status != 429 && options.queue_full_status != 503) {
        return fail(ErrorCode::invalid_argument, "the queue-full status must be 429 or 503");
    }
    if (options.http_threads > kMaxHttpThreads) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("{} connection threads requested; at most {}", options.http_threads,
                                kMaxHttpThreads));
    }
    if (options.model_id.empty()) {
        return fail(ErrorCode::invalid_argument, "the model needs a name to be listed under");
    }
    return {};
}

// Why `host`:`port` cannot be bound, in words a user can act on: cpp-httplib says only that
// it failed, so the bind is tried again here (SO_REUSEADDR, as the server binds) for errno.
std::string bind_failure(const std::string& host, int port) {
    const std::string where = fmt::format("could not listen on {}:{}", host, port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || !found) {
        return fmt::format("{}: '{}' is not an address of this machine", where, host);
    }
    int error = 0;
    const int probe = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    if (probe < 0) {
        error = errno;
    } else {
        const int yes = 1;
        ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        error = ::bind(probe, found->ai_addr, found->ai_addrlen) == 0 ? 0 : errno;
        ::close(probe);
    }
    ::freeaddrinfo(found);
    switch (error) {
    case EADDRINUSE:
        return fmt::format("{}: port {} is in use — choose another", where, port);
    case EACCES:
        return fmt::format("{}: ports below 1024 need administrator rights — choose a port "
                           "above 1023",
                           where);
    case EADDRNOTAVAIL:
        return fmt::format("{}: '{}' is not an address of this machine", where, host);
    case 0:
        return fmt::format("{}: the port could not be bound (it may have been taken and freed "
                           "meanwhile); try again",
                           where);
    default:
        return fmt::format("{}: {}", where, std::strerror(error));
    }
}

} // namespace

void send_error(httplib::Response& response, const ApiError& error) {
    response.status = error.status;
    if (error.status == 401) {
        response.set_header("WWW-Authenticate", "Bearer");
    }
    response.set_content(json_text(error_body(error)), "application/json");
}

ApiError scheduler_refusal(const Error& error, int queue_full_status) {
    switch (error.code) {
    case ErrorCode::busy:
        return overloaded(queue_full_status,
                          "the server is busy: every slot is taken and the queue is full; retry "
                          "later");
    case ErrorCode::context_full:
        return bad_request(error.message, "messages", "context_length_exceeded");
    case ErrorCode::invalid_argument:
        return bad_request(error.message);
    case ErrorCode::cancelled:
        return overloaded(503, "the server is shutting down");
    default:
        return server_error(error.message);
    }
}

bool OpenAiServer::Impl::serves_model(std::string_view name) const {
    if (name.empty() || name == options.model_id) {
        return true;
    }
    return std::find(options.model_aliases.begin(), options.model_aliases.end(), name) !=
           options.model_aliases.end();
}

ResponseContext OpenAiServer::Impl::context(std::string_view id_prefix) const {
    static std::atomic<uint64_t> counter{0};
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return {fmt::format("{}{:x}{:06x}", id_prefix,
                        std::chrono::duration_cast<std::chrono::microseconds>(now).count(),
                        counter.fetch_add(1) & 0xFFFFFF),
            std::chrono::duration_cast<std::chrono::seconds>(now).count(), options.model_id,
            fingerprint};
}

Result<std::unique_ptr<OpenAiServer>> OpenAiServer::start(std::shared_ptr<const Model> model,
                                                          Scheduler& scheduler,
                                                          ServerOptions options) {
    if (auto ok = check_options(options); !ok) {
        return std::unexpected(ok.error());
    }
    auto format = resolve_prompt_format(*model, options.template_name);
    if (!format) {
        return std::unexpected(format.error());
    }
    auto impl = std::make_unique<Impl>(std::move(model), scheduler, std::move(options));
    impl->format = std::move(*format);
    impl->fingerprint =
        fmt::format("hearth-{}-{}", impl->options.model_id, device_name(scheduler.device()));
    impl->started = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const size_t threads =
        impl->options.http_threads > 0
            ? impl->options.http_threads
            : std::min(kMaxHttpThreads, std::max<size_t>(8, 4 * scheduler.n_slots()));
    impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    impl->http.set_read_timeout(30);
    impl->http.set_write_timeout(30);
    install_policies(*impl);
    install_routes(*impl);

    Impl& s = *impl;
    // SO_REUSEADDR, so a restarted server binds while its old connections linger. Not
    // cpp-httplib's default SO_REUSEPORT: with it a second server on a taken port binds too and
    // the kernel splits the connections between the two.
    s.http.set_socket_options([&s](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        s.listen_socket = sock;
    });
    if (s.options.port == 0) {
        s.port = s.http.bind_to_any_port(s.options.host);
    } else {
        s.port = s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1;
    }
    if (s.port <= 0) {
        return fail(ErrorCode::io, bind_failure(s.options.host, s.options.port));
    }
    // The library's listen() is compiled into Debian's libcpp-httplib with a backlog of 5; a
    // second listen() on the bound socket only sets the backlog (Linux, BSDs).
    if (s.listen_socket >= 0 && ::listen(s.listen_socket, kListenBacklog) != 0) {
        const std::string why = std::strerror(errno);
        ::close(s.listen_socket);
        return fail(ErrorCode::io,
                    fmt::format("could not listen on {}:{}: {}", s.options.host, s.port, why));
    }
    s.listener = std::thread([&s] {
        s.http.listen_after_bind();
        s.listener_done = true;
    });
    return std::unique_ptr<OpenAiServer>(new OpenAiServer(std::move(impl)));
}

OpenAiServer::OpenAiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OpenAiServer::~OpenAiServer() {
    stop();
}

int OpenAiServer::port() const {
    return impl_->port;
}

std::string OpenAiServer::url() const {
    const std::string& host = impl_->options.host;
    const bool v6 = host.find(':') != std::string::npos;
    return fmt::format("http://{}{}{}:{}/v1", v6 ? "[" : "", host, v6 ? "]" : "", impl_->port);
}

void OpenAiServer::Impl::track(const std::shared_ptr<GenerationJob>& job) {
    std::lock_guard lock(jobs_mu);
    if (stopped) {
        job->abandon(scheduler);
        return;
    }
    std::erase_if(jobs, [](const std::weak_ptr<GenerationJob>& j) { return j.expired(); });
    jobs.push_back(job);
}

void OpenAiServer::Impl::abandon_all() {
    std::vector<std::weak_ptr<GenerationJob>> open;
    {
        std::lock_guard lock(jobs_mu);
        open.swap(jobs);
    }
    for (const auto& weak : open) {
        if (auto job = weak.lock()) {
            job->abandon(scheduler);
        }
    }
}

void OpenAiServer::stop() {
    {
        // Under jobs_mu: a job tracked from now on is abandoned as it arrives.
        std::lock_guard lock(impl_->jobs_mu);
        if (impl_->stopped.exchange(true)) {
            return;
        }
    }
    // The handlers wait for their jobs: cancelled, they end at the scheduler's next step.
    impl_->abandon_all();
    // cpp-httplib's stop() does nothing until listen_after_bind has marked the server running:
    // a stop() right after start() would leave the listener accepting and the join below
    // waiting for ever.
    while (!impl_->http.is_running() && !impl_->listener_done) {
        std::this_thread::yield();
    }
    impl_->http.stop();
    if (impl_->listener.joinable()) {
        impl_->listener.join();
    }
}

ServerStats OpenAiServer::stats() const {
    return {impl_->in_flight.load(), impl_->served.load(), impl_->refused.load(),
            impl_->disconnected.load(), impl_->tokens.load()};
}

} // namespace hearth::server
