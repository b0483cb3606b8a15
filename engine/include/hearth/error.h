// Engine error values: every expected failure is returned, never thrown across the API.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace hearth {

enum class ErrorCode {
    io,               // a file could not be opened, read, mapped or written
    bad_format,       // a file or value is malformed (bad GGUF, bad vocabulary, bad template)
    unsupported,      // valid input that Hearth does not handle (a tensor type, an architecture)
    invalid_argument, // a caller-supplied value is out of range
    out_of_memory,    // host or device memory could not be allocated
    device,           // a GPU runtime or library call failed
    context_full,     // the KV cache has no room for more tokens
    cancelled,        // the operation was cancelled by the caller
    busy,             // a queue is full: try again later (the server's 429/503)
};

// A failure with a message a user can act on. The message is complete on its own:
// it names what failed and, for files, where (byte offset, key or tensor name).
struct Error {
    ErrorCode code = ErrorCode::bad_format;
    std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for `return fail(ErrorCode::io, "...")` inside functions returning Result<T>.
inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
    return std::unexpected<Error>(Error{code, std::move(message)});
}

const char* error_code_name(ErrorCode code);

} // namespace hearth
