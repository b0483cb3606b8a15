// Text from a remote server, made safe to put in a message.
#include "server_text.h"

namespace hearth::remote::detail {

std::string quote_server_text(std::string_view text, size_t max_bytes) {
    std::string out;
    size_t i = 0;
    while (i < text.size() && out.size() < max_bytes) {
        const auto c = static_cast<unsigned char>(text[i]);
        size_t length = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 0;
        bool valid = length > 0 && i + length <= text.size();
        for (size_t k = 1; valid && k < length; ++k) {
            valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
        }
        if (!valid) {
            out += '?';
            ++i;
            continue;
        }
        if (out.size() + length > max_bytes) {
            break;
        }
        if (length == 1 && (c < 0x20 || c == 0x7f)) {
            out += ' ';
        } else {
            out.append(text.substr(i, length));
        }
        i += length;
    }
    if (i < text.size()) {
        out += "…";
    }
    return out;
}

} // namespace hearth::remote::detail
