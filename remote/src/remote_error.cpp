// Names of the remote failure kinds, and which of them a retry may cure.
#include "hearth/remote/remote_error.h"

namespace hearth::remote {

const char* remote_error_kind_name(RemoteErrorKind kind) {
    switch (kind) {
    case RemoteErrorKind::invalid_url:
        return "invalid_url";
    case RemoteErrorKind::https_unavailable:
        return "https_unavailable";
    case RemoteErrorKind::name_not_resolved:
        return "name_not_resolved";
    case RemoteErrorKind::connection_refused:
        return "connection_refused";
    case RemoteErrorKind::tls:
        return "tls";
    case RemoteErrorKind::timeout:
        return "timeout";
    case RemoteErrorKind::unauthorized:
        return "unauthorized";
    case RemoteErrorKind::model_not_found:
        return "model_not_found";
    case RemoteErrorKind::not_found:
        return "not_found";
    case RemoteErrorKind::rate_limited:
        return "rate_limited";
    case RemoteErrorKind::unavailable:
        return "unavailable";
    case RemoteErrorKind::bad_request:
        return "bad_request";
    case RemoteErrorKind::server_error:
        return "server_error";
    case RemoteErrorKind::error_in_stream:
        return "error_in_stream";
    case RemoteErrorKind::stream_interrupted:
        return "stream_interrupted";
    case RemoteErrorKind::malformed_response:
        return "malformed_response";
    case RemoteErrorKind::too_large:
        return "too_large";
    case RemoteErrorKind::cancelled:
        return "cancelled";
    }
    return "unknown";
}

bool is_retryable(RemoteErrorKind kind) {
    switch (kind) {
    case RemoteErrorKind::connection_refused:
    case RemoteErrorKind::name_not_resolved: // DNS may come back; the user may fix the network
    case RemoteErrorKind::timeout:
    case RemoteErrorKind::rate_limited:
    case RemoteErrorKind::unavailable:
    case RemoteErrorKind::server_error:
    case RemoteErrorKind::error_in_stream:
    case RemoteErrorKind::stream_interrupted:
    case RemoteErrorKind::cancelled:
        return true;
    default:
        return false;
    }
}

} // namespace hearth::remote
