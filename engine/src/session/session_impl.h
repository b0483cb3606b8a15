// The inside of a Session, shared by the single-sequence entry points (session.cpp) and the
// batched generation of several sessions (batch_generation.cpp). A CPU session computes with
// `forward` into `cache`; a CUDA session with the CudaForward of `cuda` into its KV slot
// (its `cache` then has no positions).
#pragma once

#include "backend/cuda/cuda_forward.h"
#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "hearth/session.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace hearth {

// A CUDA session's forward pass: shared by the sessions of one Session::create_group, each
// with its own sequence slot.
struct CudaSlot {
    std::shared_ptr<CudaForward> forward;
    uint32_t seq = 0;   // this session's KV slot
    uint32_t n_seq = 1; // slots of the forward
    int device = 0;
};

struct DraftSession; // drafter.h

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions options;
    cpu::KvCache cache;
    // Hybrid models: the recurrent state beside the cache, at the position of tokens.size()
    // (cpu/recurrent_state.h: rewound to a checkpoint or to the start when the prompt
    // diverges earlier). Empty for other models.
    cpu::RecurrentState state;
    cpu::Forward forward;
    std::vector<int32_t> tokens; // in the cache, positions 0..size-1
    std::vector<float> logits;   // of the last token append() ran
    uint64_t n_computed = 0;
    std::atomic<bool> cancel_requested{false};
    std::optional<CudaSlot> cuda; // set for a CUDA session
    // Speculation with a draft model: the draft's own session beside this one, kept between
    // generations so that it reuses its cached prefix (drafter.h).
    std::shared_ptr<DraftSession> draft;
};

// The engine's way into a Session (declared a friend there).
struct SessionAccess {
    static Session::Impl& impl(Session& session) { return *session.impl_; }
};

} // namespace hearth
