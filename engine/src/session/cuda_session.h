// The CUDA side of a Session: creating the forward pass its sessions share (after checking
// that the build and the machine have the device), and running tokens through a session's
// slot. The same code in every build: without CUDA, cuda_backend_available() says so and
// CudaForward::create is hearth_cuda_stub's.
#pragma once

#include "session/session_impl.h"

#include <cstdint>
#include <memory>
#include <span>

namespace hearth::cuda_session {

// One CudaForward with `n_seq` KV slots of `options.n_ctx` tokens on `options.cuda_device`.
// Fails with `device` when the build has no CUDA backend, the machine no such device or the
// runtime fails, `unsupported` for a Q8_0 cache or an architecture the backend does not run,
// `out_of_memory` with CudaForward::create's arithmetic.
Result<std::shared_ptr<CudaForward>> create_forward(const Model& model,
                                                    const SessionOptions& options, uint32_t n_seq);

// Where a session whose first `wanted` cached tokens a new prompt keeps can resume: a CPU
// session's recurrent state rewinds (cpu::RecurrentState::rewind: its checkpoint, or 0); a
// CUDA session's device state (qwen35) resumes only where it stands exactly, else from 0; a
// model without a recurrent state keeps `wanted`.
uint32_t rewind_recurrent_state(Session::Impl& s, uint32_t wanted);

// Runs sequence[start, end) at positions start..end-1 in the session's slot (positions
// before `start` already cached), writing n_vocab logits for every token (`all_logits`) or
// for the sequence's last token only, when it is in the range.
Result<void> run(Session::Impl& s, std::span<const int32_t> sequence, size_t start, size_t end,
                 bool all_logits, float* logits);

} // namespace hearth::cuda_session
