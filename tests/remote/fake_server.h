// A fake OpenAI-compatible server on 127.0.0.1 for the remote client's tests: it replays a
// recorded stream (tests/data/remote/*.sse) in pieces of a chosen size, answers with a chosen
// status and body, serves the probe's metadata endpoints per server family, stalls on demand
// (silently, or sending keep-alive comments that notice a client gone), and records the last
// request. On cpp-httplib, in a thread of the test.
#pragma once

#include <atomic>
#include <condition_variable>
#include <httplib.h>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace hearth::test {

class FakeServer {
public:
    enum class Stall { none, before_headers, after_first_event_silent, after_first_event_pinging };

    // What POST /v1/chat/completions and /v1/completions answer.
    struct Reply {
        int status = 200;
        std::string content_type = "text/event-stream";
        std::string body;
        size_t piece = 0; // bytes per write; 0: the whole body at once
        Stall stall = Stall::none;
    };

    FakeServer() {
        const auto generation = [this](const httplib::Request& request,
                                       httplib::Response& response) {
            serve_generation(request, response);
        };
        http_.Post("/v1/chat/completions", generation);
        http_.Post("/v1/completions", generation);
        http_.Get(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
            std::unique_lock lock(mutex_);
            last_authorization_ = request.get_header_value("Authorization");
            const auto it = gets_.find(request.path);
            if (it == gets_.end()) {
                response.status = 404;
                response.set_content("{\"detail\":\"Not Found\"}", "application/json");
                return;
            }
            const auto [stall, body] = it->second;
            if (stall == Stall::before_headers) {
                wake_.wait(lock, [this] { return released_; });
            }
            response.status = 200;
            response.set_content(body, "application/json");
        });
        port_ = http_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] {
            http_.listen_after_bind();
            listener_done_ = true;
        });
    }
    ~FakeServer() {
        release();
        // stop() does nothing before the listener has started: wait for it.
        while (!http_.is_running() && !listener_done_) {
            std::this_thread::yield();
        }
        http_.stop();
        thread_.join();
    }
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

    void set_reply(Reply reply) {
        std::lock_guard lock(mutex_);
        reply_ = std::move(reply);
    }
    // GET `path` answers `body` (200, JSON); other paths 404. Stall::before_headers stalls.
    void set_get(const std::string& path, std::string body, Stall stall = Stall::none) {
        std::lock_guard lock(mutex_);
        gets_[path] = {stall, std::move(body)};
    }
    void clear_gets() {
        std::lock_guard lock(mutex_);
        gets_.clear();
    }
    // Ends every stall.
    void release() {
        std::lock_guard lock(mutex_);
        released_ = true;
        wake_.notify_all();
    }
    void rearm() {
        std::lock_guard lock(mutex_);
        released_ = false;
        client_gone_ = false;
    }
    bool client_gone() const { return client_gone_; }
    std::string last_body() const {
        std::lock_guard lock(mutex_);
        return last_body_;
    }
    std::string last_authorization() const {
        std::lock_guard lock(mutex_);
        return last_authorization_;
    }

private:
    void serve_generation(const httplib::Request& request, httplib::Response& response) {
        Reply reply;
        {
            std::lock_guard lock(mutex_);
            last_body_ = request.body;
            last_authorization_ = request.get_header_value("Authorization");
            reply = reply_;
        }
        if (reply.stall == Stall::before_headers) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return released_; });
        }
        response.status = reply.status;
        if (reply.status != 200 || reply.content_type != "text/event-stream") {
            response.set_content(reply.body, reply.content_type.c_str());
            return;
        }
        response.set_chunked_content_provider(
            "text/event-stream", [this, reply](size_t, httplib::DataSink& sink) {
                const std::string& body = reply.body;
                const size_t piece = reply.piece == 0 ? body.size() : reply.piece;
                const size_t first_event_end = body.find("\n\n") + 2;
                size_t at = 0;
                while (at < body.size()) {
                    size_t n = std::min(piece, body.size() - at);
                    if (reply.stall != Stall::none && at < first_event_end &&
                        at + n > first_event_end) {
                        n = first_event_end - at;
                    }
                    if (!sink.write(body.data() + at, n)) {
                        client_gone_ = true;
                        return false;
                    }
                    if (reply.stall != Stall::none && at + n == first_event_end) {
                        stall_after_first_event(reply.stall, sink);
                        return false; // the stall ends the stream (a server that died)
                    }
                    at += n;
                }
                sink.done();
                return true;
            });
    }

    void stall_after_first_event(Stall stall, httplib::DataSink& sink) {
        std::unique_lock lock(mutex_);
        while (!released_) {
            if (stall == Stall::after_first_event_pinging) {
                lock.unlock();
                const bool sent = sink.write(":\n", 2);
                lock.lock();
                if (!sent) {
                    client_gone_ = true;
                    return;
                }
            }
            wake_.wait_for(lock, std::chrono::milliseconds(20));
        }
    }

    httplib::Server http_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool released_ = false;
    std::atomic<bool> client_gone_{false};
    std::atomic<bool> listener_done_{false};
    Reply reply_;
    std::map<std::string, std::pair<Stall, std::string>> gets_;
    std::string last_body_;
    std::string last_authorization_;
};

} // namespace hearth::test
