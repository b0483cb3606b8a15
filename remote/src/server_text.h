// Text from a remote server (an error message, a model name) made safe to show in a message:
// bounded, control characters replaced, invalid UTF-8 replaced, cut on a character boundary.
// Shared by the transport and the reply reader; no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hearth::remote::detail {

// At most `max_bytes` of `text` (then "…"), control characters as spaces, bytes that are not
// UTF-8 as '?'.
std::string quote_server_text(std::string_view text, size_t max_bytes = 300);

} // namespace hearth::remote::detail
