// The HTTP(S) exchange on cpp-httplib: headers, timeouts by watchdog, cancellation, and the
// mapping of transport failures and HTTP statuses to RemoteError.
#include "http_transport.h"

#include "cancel_state.h"
#include "hearth/json_input.h"
#include "server_text.h"

#include <chrono>
#include <condition_variable>
#include <fmt/format.h>
#include <httplib.h>
#include <mutex>
#include <netdb.h>
#include <sys/socket.h>
#include <thread>

namespace hearth::remote::detail {
namespace {

using Clock = std::chrono::steady_clock;

RemoteError make_error(RemoteErrorKind kind, ErrorCode code, std::string message, int status = 0) {
    return RemoteError{Error{code, std::move(message)}, kind, status};
}

bool host_resolves(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (found) {
        freeaddrinfo(found);
    }
    return rc == 0;
}

std::string seconds_text(std::chrono::milliseconds ms) {
    return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000.0);
}

// Watches one exchange: wakes on cancel or at the deadline of the phase it is in, and shuts
// the client's socket then (cpp-httplib's stop() is its thread-safe way to end a request).
class Watchdog {
public:
    enum class Fired { no, cancelled, connect_or_first_byte, between_chunks, metadata };

    Watchdog(httplib::Client& client, const CancelToken& cancel, const Timeouts& timeouts,
             bool generation)
        : client_(client), state_(cancel.state()), timeouts_(timeouts), generation_(generation) {
        start_ = Clock::now();
        thread_ = std::thread([this] { run(); });
    }
    ~Watchdog() {
        {
            std::lock_guard lock(state_->mutex);
            done_ = true;
        }
        state_->wake.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    // A piece of the body arrived: the between-chunks clock restarts.
    void progress() {
        std::lock_guard lock(state_->mutex);
        last_progress_ = Clock::now();
        started_ = true;
    }
    Fired fired() const {
        std::lock_guard lock(state_->mutex);
        return fired_;
    }

private:
    Clock::time_point deadline() const {
        if (!generation_) {
            return start_ + timeouts_.metadata;
        }
        if (!started_) {
            return start_ + timeouts_.connect + timeouts_.first_byte;
        }
        return last_progress_ + timeouts_.between_chunks;
    }

    void run() {
        std::unique_lock lock(state_->mutex);
        while (!done_) {
            if (fired_ == Fired::no) {
                if (state_->cancelled) {
                    fired_ = Fired::cancelled;
                } else if (Clock::now() >= deadline()) {
                    fired_ = !generation_ ? Fired::metadata
                             : started_   ? Fired::between_chunks
                                          : Fired::connect_or_first_byte;
                }
            }
            if (fired_ != Fired::no) {
                // stop() may wait for a connect in progress: never under our lock, so that
                // cancel() stays immediate. Repeated until the exchange ends, since a stop()
                // before the socket exists has nothing to shut.
                lock.unlock();
                client_.stop();
                lock.lock();
                state_->wake.wait_for(lock, std::chrono::milliseconds(20));
                continue;
            }
            state_->wake.wait_until(
                lock, std::min(deadline(), Clock::now() + std::chrono::milliseconds(250)));
        }
    }

    httplib::Client& client_;
    std::shared_ptr<CancelState> state_;
    Timeouts timeouts_;
    bool generation_;
    Clock::time_point start_;
    Clock::time_point last_progress_;
    bool started_ = false;
    bool done_ = false;
    Fired fired_ = Fired::no;
    std::thread thread_;
};

RemoteError transport_error(httplib::Error error, Watchdog::Fired fired, const EndpointUrl& url,
                            const Timeouts& timeouts) {
    const std::string where = url.display();
    switch (fired) {
    case Watchdog::Fired::cancelled:
        return make_error(RemoteErrorKind::cancelled, ErrorCode::cancelled,
                          "The request was cancelled.");
    case Watchdog::Fired::connect_or_first_byte:
        return make_error(RemoteErrorKind::timeout, ErrorCode::io,
                          fmt::format("{} did not start answering within {} (the first-byte "
                                      "timeout); the server may be overloaded or still reading "
                                      "a long prompt.",
                                      where, seconds_text(timeouts.first_byte)));
    case Watchdog::Fired::between_chunks:
        return make_error(RemoteErrorKind::timeout, ErrorCode::io,
                          fmt::format("{} stopped sending for {} in the middle of the reply "
                                      "(the between-chunks timeout).",
                                      where, seconds_text(timeouts.between_chunks)));
    case Watchdog::Fired::metadata:
        return make_error(
            RemoteErrorKind::timeout, ErrorCode::io,
            fmt::format("{} did not answer within {}.", where, seconds_text(timeouts.metadata)));
    case Watchdog::Fired::no:
        break;
    }
    switch (error) {
    case httplib::Error::Connection:
        if (!host_resolves(url.host)) {
            return make_error(RemoteErrorKind::name_not_resolved, ErrorCode::io,
                              fmt::format("The server name '{}' could not be resolved: check the "
                                          "URL and the network.",
                                          url.host));
        }
        return make_error(RemoteErrorKind::connection_refused, ErrorCode::io,
                          fmt::format("Could not connect to {}: the connection was refused or "
                                      "failed. Is the server running, and is the port right?",
                                      url.origin()));
    case httplib::Error::ConnectionTimeout:
        return make_error(RemoteErrorKind::timeout, ErrorCode::io,
                          fmt::format("Connecting to {} timed out after {}.", url.origin(),
                                      seconds_text(timeouts.connect)));
    case httplib::Error::SSLConnection:
        return make_error(RemoteErrorKind::tls, ErrorCode::io,
                          fmt::format("The TLS handshake with {} failed: is the server plain "
                                      "http (then use an http:// URL), or does it speak an old "
                                      "TLS version?",
                                      url.origin()));
    case httplib::Error::SSLServerVerification:
        return make_error(RemoteErrorKind::tls, ErrorCode::io,
                          fmt::format("The TLS certificate of {} is not trusted (expired, for "
                                      "another name, or signed by an unknown authority).",
                                      url.origin()));
    case httplib::Error::SSLLoadingCerts:
        return make_error(RemoteErrorKind::tls, ErrorCode::io,
                          "The certificate authorities for https could not be loaded (the CA "
                          "file, or the system's store).");
    case httplib::Error::Read:
        return make_error(RemoteErrorKind::stream_interrupted, ErrorCode::io,
                          fmt::format("The connection to {} broke while reading the reply (the "
                                      "server closed it, or its answer was not HTTP: an https "
                                      "server asked with http://?).",
                                      where));
    case httplib::Error::Write:
        return make_error(
            RemoteErrorKind::connection_refused, ErrorCode::io,
            fmt::format("The connection to {} broke while sending the request.", where));
    case httplib::Error::Canceled:
        return make_error(RemoteErrorKind::cancelled, ErrorCode::cancelled,
                          "The request was cancelled.");
    default:
        break;
    }
    return make_error(
        RemoteErrorKind::connection_refused, ErrorCode::io,
        fmt::format("The request to {} failed ({}).", where, httplib::to_string(error)));
}

// The server's own words from an error body: OpenAI's {"error": {"message", "code"}}, vLLM's
// older {"object": "error", "message"}, TGI's {"error": "...", "error_type"}, FastAPI's
// {"detail": ...}, or the text itself.
struct ServerMessage {
    std::string message;
    std::string code;
};

ServerMessage server_message(std::string_view body) {
    ServerMessage found;
    auto parsed = parse_json_input(body, "the error body", JsonLimits{kMaxErrorBodyBytes, 32});
    if (!parsed || !parsed->is_object()) {
        found.message = std::string(body.substr(0, 300));
        return found;
    }
    const auto& json = *parsed;
    const auto text_of = [](const nlohmann::ordered_json& value) {
        if (value.is_string()) {
            return value.get<std::string>();
        }
        if (value.is_number_integer()) {
            return std::to_string(value.get<int64_t>());
        }
        return std::string();
    };
    if (auto it = json.find("error"); it != json.end()) {
        if (it->is_object()) {
            if (auto m = it->find("message"); m != it->end()) {
                found.message = text_of(*m);
            }
            if (auto c = it->find("code"); c != it->end()) {
                found.code = text_of(*c);
            }
        } else {
            found.message = text_of(*it);
        }
    }
    if (found.message.empty()) {
        for (const char* key : {"message", "detail"}) {
            if (auto it = json.find(key); it != json.end()) {
                found.message = it->is_string()
                                    ? it->get<std::string>()
                                    : it->dump(-1, ' ', false,
                                               nlohmann::ordered_json::error_handler_t::replace);
                break;
            }
        }
    }
    return found;
}

bool mentions_model(std::string_view message) {
    std::string lower(message);
    for (char& c : lower) {
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return lower.find("model") != std::string::npos;
}

} // namespace

RemoteError status_error(const EndpointUrl& url, const HttpResponse& response,
                         std::string_view model) {
    const ServerMessage said = server_message(response.body);
    const std::string quoted = said.message.empty() ? std::string()
                                                    : fmt::format(" The server says: \"{}\"",
                                                                  quote_server_text(said.message));
    const int status = response.status;
    const std::string where = url.display();
    if (said.code == "model_not_found" ||
        (status == 404 && !model.empty() && mentions_model(said.message))) {
        return make_error(RemoteErrorKind::model_not_found, ErrorCode::invalid_argument,
                          fmt::format("{} has no model named '{}'; pick one it lists.{}", where,
                                      quote_server_text(model, 200), quoted),
                          status);
    }
    if (status == 401 || status == 403) {
        return make_error(RemoteErrorKind::unauthorized, ErrorCode::invalid_argument,
                          fmt::format("{} refused the API key (HTTP {}): {}.{}", where, status,
                                      status == 401 ? "it needs a key, or a different one"
                                                    : "the key may not use this model or endpoint",
                                      quoted),
                          status);
    }
    if (status == 404) {
        return make_error(RemoteErrorKind::not_found, ErrorCode::unsupported,
                          fmt::format("{} has no such endpoint (HTTP 404): is the URL's path "
                                      "right (it usually ends in /v1)?{}",
                                      where, quoted),
                          status);
    }
    if (status == 429) {
        return make_error(RemoteErrorKind::rate_limited, ErrorCode::busy,
                          fmt::format("{} is rate-limiting requests (HTTP 429): try again "
                                      "shortly.{}",
                                      where, quoted),
                          status);
    }
    if (status == 503) {
        return make_error(RemoteErrorKind::unavailable, ErrorCode::busy,
                          fmt::format("{} is unavailable (HTTP 503: overloaded, or still loading "
                                      "the model): try again shortly.{}",
                                      where, quoted),
                          status);
    }
    if (status >= 500) {
        return make_error(RemoteErrorKind::server_error, ErrorCode::io,
                          fmt::format("{} failed with HTTP {}.{}", where, status, quoted), status);
    }
    return make_error(RemoteErrorKind::bad_request, ErrorCode::invalid_argument,
                      fmt::format("{} refused the request (HTTP {}).{}", where, status, quoted),
                      status);
}

std::expected<HttpResponse, RemoteError>
http_exchange(const EndpointConfig& config, const EndpointUrl& url, const HttpRequest& request,
              const BodyHandler& on_body, const CancelToken& cancel, size_t max_body) {
    if (cancel.cancelled()) {
        return std::unexpected(make_error(RemoteErrorKind::cancelled, ErrorCode::cancelled,
                                          "The request was cancelled."));
    }
    if (url.https && !https_supported()) {
        return std::unexpected(make_error(RemoteErrorKind::https_unavailable,
                                          ErrorCode::unsupported,
                                          "This build of Hearth has no TLS support, so it "
                                          "cannot use https:// servers."));
    }
    httplib::Client client(url.origin());
    const Timeouts& t = config.timeouts;
    const auto seconds = [](std::chrono::milliseconds ms) {
        return std::pair<time_t, time_t>(ms.count() / 1000, (ms.count() % 1000) * 1000);
    };
    // cpp-httplib's own timeouts are a backstop, longer than the watchdog's deadlines so that
    // the watchdog decides (and names the phase that timed out).
    const auto connect = seconds(request.generation ? t.connect : std::min(t.connect, t.metadata));
    client.set_connection_timeout(connect.first, connect.second);
    constexpr std::chrono::milliseconds kBackstopSlack{5000};
    const auto read = seconds(
        kBackstopSlack +
        (request.generation ? std::max(t.connect + t.first_byte, t.between_chunks) : t.metadata));
    client.set_read_timeout(read.first, read.second);
    client.set_write_timeout(read.first, read.second);
    client.set_keep_alive(false);
    client.set_follow_location(false); // a redirect would carry the key elsewhere
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    client.enable_server_certificate_verification(true);
    if (!config.ca_file.empty()) {
        client.set_ca_cert_path(config.ca_file);
    }
#endif

    httplib::Request req;
    req.method = request.method;
    req.path = request.path;
    req.headers = {{"Accept", request.stream ? "text/event-stream" : "application/json"},
                   {"Accept-Encoding", "identity"},
                   {"User-Agent", "Hearth"}};
    if (!config.api_key.empty()) {
        req.headers.emplace("Authorization", "Bearer " + config.api_key);
    }
    if (std::string_view(request.method) == "POST") {
        req.headers.emplace("Content-Type", "application/json");
        req.body = request.body;
    }

    HttpResponse response;
    bool too_large = false;
    Watchdog watchdog(client, cancel, t, request.generation);
    req.response_handler = [&](const httplib::Response& head) {
        response.status = head.status;
        response.content_type = head.get_header_value("Content-Type");
        return !cancel.cancelled();
    };
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
        watchdog.progress();
        if (cancel.cancelled()) {
            return false;
        }
        const std::string_view piece(data, size);
        const bool success = response.status >= 200 && response.status < 300;
        if (success && on_body) {
            return on_body(piece, response);
        }
        const size_t limit = success ? max_body : kMaxErrorBodyBytes;
        if (response.body.size() + size > limit) {
            if (!success) {
                return false; // enough of an error body to quote
            }
            too_large = true;
            return false;
        }
        response.body.append(piece);
        return true;
    };

    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool sent = client.send(req, res, error);
    const Watchdog::Fired fired = watchdog.fired();
    if (too_large) {
        return std::unexpected(make_error(
            RemoteErrorKind::too_large, ErrorCode::bad_format,
            fmt::format("The reply from {} is larger than {} bytes.", url.display(), max_body)));
    }
    if (fired != Watchdog::Fired::no) {
        return std::unexpected(transport_error(error, fired, url, t));
    }
    if (!sent) {
        // An error body cut at its bound is still an answer.
        if (error == httplib::Error::Canceled && response.status != 0 &&
            (response.status < 200 || response.status >= 300)) {
            return response;
        }
        return std::unexpected(transport_error(error, fired, url, t));
    }
    response.status = res.status;
    return response;
}

} // namespace hearth::remote::detail
