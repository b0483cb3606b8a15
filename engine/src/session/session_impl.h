// The inside of a Session, shared by the single-sequence entry points (session.cpp) and the
// batched generation of several sessions (batch_generation.cpp).
#pragma once

#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "hearth/session.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace hearth {

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions options;
    cpu::KvCache cache;
    cpu::Forward forward;
    std::vector<int32_t> tokens; // in the cache, positions 0..size-1
    std::vector<float> logits;   // of the last token append() ran
    uint64_t n_computed = 0;
    std::atomic<bool> cancel_requested{false};
};

// The engine's way into a Session (declared a friend there).
struct SessionAccess {
    static Session::Impl& impl(Session& session) { return *session.impl_; }
};

} // namespace hearth
