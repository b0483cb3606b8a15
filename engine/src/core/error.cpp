// Names of engine error codes, for messages and logs.
#include "hearth/error.h"

namespace hearth {

const char* error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::io:
        return "I/O error";
    case ErrorCode::bad_format:
        return "bad format";
    case ErrorCode::unsupported:
        return "unsupported";
    case ErrorCode::invalid_argument:
        return "invalid argument";
    case ErrorCode::out_of_memory:
        return "out of memory";
    case ErrorCode::device:
        return "device error";
    case ErrorCode::context_full:
        return "context full";
    case ErrorCode::cancelled:
        return "cancelled";
    case ErrorCode::busy:
        return "busy";
    }
    return "error";
}

} // namespace hearth
