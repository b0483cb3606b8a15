// The state a CancelToken shares with the request that holds it: the flag, and the condition
// variable that wakes the request's watchdog, which shuts the socket so that a blocked read
// returns at once (http_transport.cpp).
#pragma once

#include "hearth/remote/endpoint.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace hearth::remote::detail {

struct CancelState {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::condition_variable wake; // the request's watchdog waits on it
};

} // namespace hearth::remote::detail
