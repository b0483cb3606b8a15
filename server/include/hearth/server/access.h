// Who may use the server: the bind address (loopback unless the user gives a key) and the API
// key, compared in constant time so that response timing does not reveal how much of a guess
// was right.
#pragma once

#include "hearth/server/api_error.h"

#include <optional>
#include <string>
#include <string_view>

namespace hearth::server {

// Whether `host` is a loopback address (127.0.0.0/8, ::1, "localhost").
bool is_loopback_host(std::string_view host);

// nullopt when the server may listen on `host`; otherwise why not. Any address other than
// loopback needs an API key: a key-less server on the network would let anyone on it run the
// model.
std::optional<std::string> check_bind_address(std::string_view host, bool has_api_key);

// Equal contents, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// Checks a request's Authorization header ("Bearer KEY"; nullopt when absent) against `key`.
// An empty `key` lets every request in. The error never repeats what the client sent.
std::optional<ApiError> check_api_key(std::optional<std::string_view> authorization,
                                      std::string_view key);

} // namespace hearth::server
