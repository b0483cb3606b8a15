// Bind-address policy and the API key check.
#include "hearth/server/access.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fmt/format.h>

namespace hearth::server {

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") {
        return true;
    }
    // 127.a.b.c, each part a decimal number up to 255.
    int parts = 0;
    int first = -1;
    while (!host.empty()) {
        const size_t dot = host.find('.');
        const std::string_view part = host.substr(0, dot);
        int value = -1;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (ec != std::errc() || end != part.data() + part.size() || part.empty() || value > 255) {
            return false;
        }
        if (parts == 0) {
            first = value;
        }
        ++parts;
        host = dot == std::string_view::npos ? std::string_view() : host.substr(dot + 1);
        if (dot != std::string_view::npos && host.empty()) {
            return false;
        }
    }
    return parts == 4 && first == 127;
}

std::optional<std::string> check_bind_address(std::string_view host, bool has_api_key) {
    if (host.empty()) {
        return "no address to listen on";
    }
    if (is_loopback_host(host) || has_api_key) {
        return std::nullopt;
    }
    return fmt::format("refusing to listen on {} without an API key: anyone who can reach this "
                       "machine could use the model. Give a key (--api-key-env VAR) or listen "
                       "on 127.0.0.1.",
                       host);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Every byte of the longer string is looked at whatever the contents, so the time says
    // nothing about where the first difference is.
    const size_t n = std::max(a.size(), b.size());
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    for (size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        diff |= static_cast<unsigned>(x ^ y);
    }
    return diff == 0;
}

std::optional<ApiError> check_api_key(std::optional<std::string_view> authorization,
                                      std::string_view key) {
    if (key.empty()) {
        return std::nullopt;
    }
    if (!authorization) {
        return unauthorized("this server needs an API key: send 'Authorization: Bearer KEY'");
    }
    constexpr std::string_view scheme = "Bearer ";
    std::string_view given = *authorization;
    if (given.size() < scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), given.begin(), [](char x, char y) {
            return std::tolower(static_cast<unsigned char>(x)) ==
                   std::tolower(static_cast<unsigned char>(y));
        })) {
        return unauthorized("the Authorization header must be 'Bearer KEY'");
    }
    given.remove_prefix(scheme.size());
    while (!given.empty() && given.front() == ' ') {
        given.remove_prefix(1);
    }
    if (!constant_time_equal(given, key)) {
        return unauthorized("the API key is wrong");
    }
    return std::nullopt;
}

} // namespace hearth::server
