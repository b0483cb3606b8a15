// `hearth-cli tokenize MODEL (--file F | TEXT) [--ids] [--no-add-special] [--parse-special]`:
// the token ids of a text, as one JSON array (--ids) or as a table of id, piece and bytes.
// MODEL is a GGUF file or a Hugging Face folder. The text is used exactly as given.
#include "cli_args.h"
#include "commands.h"
#include "hearth/file_input.h"
#include "hearth/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

namespace hearth::cli {
namespace {

// A piece quoted for the terminal: printable UTF-8 as is, the rest escaped.
std::string quote_piece(const std::string& piece) {
    std::string out = "\"";
    for (size_t i = 0; i < piece.size(); ++i) {
        const auto c = static_cast<unsigned char>(piece[i]);
        char buf[8];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            // Copy a whole well-formed UTF-8 character, or escape the stray byte.
            size_t len = (c & 0xE0) == 0xC0   ? 2
                         : (c & 0xF0) == 0xE0 ? 3
                         : (c & 0xF8) == 0xF0 ? 4
                                              : 0;
            bool ok = len > 0 && i + len <= piece.size();
            for (size_t k = 1; ok && k < len; ++k) {
                ok = (static_cast<unsigned char>(piece[i + k]) & 0xC0) == 0x80;
            }
            if (ok) {
                out.append(piece, i, len);
                i += len - 1;
            } else {
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            }
        }
    }
    return out + "\"";
}

std::string hex_bytes(const std::string& piece) {
    std::string out;
    char buf[4];
    for (const char c : piece) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(c));
        if (!out.empty()) {
            out += ' ';
        }
        out += buf;
    }
    return out;
}

} // namespace

int cmd_tokenize(const Args& args) {
    const auto file = args.get("--file");
    if (args.positionals.size() != (file ? 1u : 2u)) {
        return usage_error(*args.spec, file ? "expects one MODEL with --file"
                                            : "expects MODEL and TEXT (or --file FILE)");
    }
    std::string text;
    if (file) {
        auto read = read_file_input(*file, "the --file text", kMaxTextInputBytes);
        if (!read) {
            return report_error(read.error().message.c_str());
        }
        text = std::move(*read);
    } else {
        text = args.positionals[1];
    }
    const std::filesystem::path model = args.positionals[0];
    std::error_code not_a_folder; // a name too long, a symlink loop: then it is no folder
    auto tokenizer = std::filesystem::is_directory(model, not_a_folder)
                         ? Tokenizer::from_hf_folder(model)
                         : Tokenizer::from_gguf_file(model);
    if (!tokenizer) {
        return report_error(tokenizer.error().message.c_str());
    }
    EncodeOptions options;
    options.add_special = !args.has("--no-add-special");
    options.parse_special = args.has("--parse-special");
    const auto start = std::chrono::steady_clock::now();
    auto ids = tokenizer->encode(text, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!ids) {
        return report_error(ids.error().message.c_str());
    }
    if (args.has("--ids")) {
        std::string line = "[";
        for (size_t i = 0; i < ids->size(); ++i) {
            if (i > 0) {
                line += ", ";
            }
            line += std::to_string((*ids)[i]);
        }
        line += "]\n";
        std::fputs(line.c_str(), stdout);
    } else {
        std::printf("%8s  %-32s  %s\n", "id", "piece", "bytes");
        for (const int32_t id : *ids) {
            const std::string piece = tokenizer->token_to_piece(id);
            std::printf("%8d  %-32s  %s%s\n", id, quote_piece(piece).c_str(),
                        hex_bytes(piece).c_str(), tokenizer->is_special(id) ? "  (special)" : "");
        }
        std::printf("%zu tokens, %zu bytes\n", ids->size(), text.size());
    }
    if (args.has("--time")) {
        std::fprintf(stderr, "encoded %zu bytes into %zu tokens in %.3f s (%.1f MB/s)\n",
                     text.size(), ids->size(), seconds, text.size() / 1e6 / seconds);
    }
    return 0;
}

} // namespace hearth::cli
