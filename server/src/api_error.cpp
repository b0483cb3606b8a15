// OpenAI's error object and the error kinds by status.
#include "hearth/server/api_error.h"

namespace hearth::server {

nlohmann::ordered_json error_body(const ApiError& error) {
    nlohmann::ordered_json inner;
    inner["message"] = error.message;
    inner["type"] = error.type;
    inner["param"] =
        error.param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(error.param);
    inner["code"] =
        error.code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(error.code);
    nlohmann::ordered_json body;
    body["error"] = std::move(inner);
    return body;
}

ApiError bad_request(std::string message, std::string param, std::string code) {
    return {400, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}

ApiError unauthorized(std::string message) {
    return {401, "invalid_request_error", std::move(message), {}, "invalid_api_key"};
}

ApiError not_found(std::string message, std::string param, std::string code) {
    return {404, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}

ApiError payload_too_large(std::string message) {
    return {413, "invalid_request_error", std::move(message), {}, "request_too_large"};
}

ApiError overloaded(int status, std::string message) {
    return {status,
            status == 429 ? "rate_limit_error" : "server_error",
            std::move(message),
            {},
            status == 429 ? "rate_limit_exceeded" : "server_overloaded"};
}

ApiError server_error(std::string message) {
    return {500, "server_error", std::move(message), {}, {}};
}

} // namespace hearth::server
