// Parsing a remote server's URL, and the cancel token.
#include "hearth/remote/endpoint.h"

#include "cancel_state.h"

#include <charconv>
#include <fmt/format.h>

namespace hearth::remote {
namespace {

Result<EndpointUrl> bad_url(std::string_view why) {
    return fail(ErrorCode::invalid_argument,
                fmt::format("The server URL is not usable: {}. Give it as http://HOST:PORT or "
                            "https://HOST/v1.",
                            why));
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

// "host", "host:port", "[v6]" or "[v6]:port".
Result<void> split_authority(std::string_view authority, EndpointUrl& url) {
    std::string_view port_text;
    if (authority.starts_with('[')) {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::unexpected(bad_url("an IPv6 address without its closing ']'").error());
        }
        url.host = authority.substr(1, close - 1);
        for (char c : url.host) {
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.')) {
                return std::unexpected(bad_url("the IPv6 address has a character that is not "
                                               "hexadecimal, ':' or '.'")
                                           .error());
            }
        }
        const std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (!rest.starts_with(':')) {
                return std::unexpected(bad_url("text after the IPv6 address's ']'").error());
            }
            port_text = rest.substr(1);
            if (port_text.empty()) {
                return std::unexpected(bad_url("a ':' without a port").error());
            }
        }
    } else {
        const size_t colon = authority.rfind(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) {
                return std::unexpected(bad_url("a ':' without a port").error());
            }
        }
        for (char c : url.host) {
            if (!is_host_char(c)) {
                return std::unexpected(
                    bad_url(fmt::format("the host name has the character '{}'", c)).error());
            }
        }
    }
    if (url.host.empty()) {
        return std::unexpected(bad_url("no host name").error());
    }
    if (!port_text.empty()) {
        int port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port < 1 ||
            port > 65535) {
            return std::unexpected(bad_url("the port is not a number from 1 to 65535").error());
        }
        url.port = port;
    }
    return {};
}

} // namespace

std::string EndpointUrl::origin() const {
    const bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", https ? "https" : "http", v6 ? "[" : "", host,
                       v6 ? "]" : "", port);
}

std::string EndpointUrl::display() const {
    return origin() + api_prefix;
}

Result<EndpointUrl> parse_endpoint_url(std::string_view text) {
    if (text.empty()) {
        return bad_url("it is empty");
    }
    if (text.size() > kMaxUrlBytes) {
        return bad_url(fmt::format("it is longer than {} bytes", kMaxUrlBytes));
    }
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return bad_url("it has a space or a control character");
        }
        if (u >= 0x80) {
            return bad_url("it has a non-ASCII character (write the host in its xn-- form)");
        }
    }
    EndpointUrl url;
    const size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        return bad_url("it has no scheme (http:// or https://)");
    }
    std::string scheme(text.substr(0, scheme_end));
    for (char& c : scheme) {
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (scheme == "https") {
        url.https = true;
    } else if (scheme != "http") {
        return bad_url(fmt::format("the scheme '{}' is neither http nor https",
                                   text.substr(0, std::min<size_t>(scheme_end, 16))));
    }
    url.port = url.https ? 443 : 80;
    std::string_view rest = text.substr(scheme_end + 3);
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return bad_url("it has a query or fragment ('?' or '#')");
    }
    const size_t path_start = rest.find('/');
    const std::string_view authority = rest.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos) {
        return bad_url("it holds a user name or password ('@'); give the API key on its own "
                       "(the key store, or --api-key-env)");
    }
    if (auto split = split_authority(authority, url); !split) {
        return std::unexpected(split.error());
    }
    std::string path(path_start == std::string_view::npos ? std::string_view{}
                                                          : rest.substr(path_start));
    while (path.ends_with('/')) {
        path.pop_back();
    }
    if (path.find("//") != std::string::npos || path.find("/../") != std::string::npos ||
        path.ends_with("/..")) {
        return bad_url("its path has an empty or '..' segment");
    }
    url.api_prefix = path.empty() ? std::string("/v1") : path;
    url.root_prefix = url.api_prefix.ends_with("/v1")
                          ? url.api_prefix.substr(0, url.api_prefix.size() - 3)
                          : url.api_prefix;
    return url;
}

bool https_supported() {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    return true;
#else
    return false;
#endif
}

CancelToken::CancelToken() : state_(std::make_shared<detail::CancelState>()) {}

void CancelToken::cancel() const {
    std::lock_guard lock(state_->mutex);
    state_->cancelled = true;
    state_->wake.notify_all();
}

bool CancelToken::cancelled() const {
    return state_->cancelled;
}

} // namespace hearth::remote
