// An error of the OpenAI-compatible server as a client sees it: the HTTP status and OpenAI's
// error object ({"error": {"message", "type", "param", "code"}}), which the official clients
// turn into their exception types (BadRequestError, AuthenticationError, NotFoundError, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hearth::server {

struct ApiError {
    int status = 400;
    std::string type = "invalid_request_error"; // OpenAI's error types
    std::string message;                        // complete on its own; never holds the API key
    std::string param;                          // the request field at fault; "" when none
    std::string code;                           // a machine-readable reason; "" when none
};

// The response body for `error`.
nlohmann::ordered_json error_body(const ApiError& error);

// The common errors, so that each status carries the type the OpenAI clients expect.
ApiError bad_request(std::string message, std::string param = {}, std::string code = {});
ApiError unauthorized(std::string message);
ApiError not_found(std::string message, std::string param = {}, std::string code = {});
ApiError payload_too_large(std::string message);
ApiError overloaded(int status, std::string message); // 429 or 503: the queue is full
ApiError server_error(std::string message);

} // namespace hearth::server
