// CUDA runtime status codes as engine errors, for the CUDA backend's host code. Every CUDA
// call of the backend goes through check(): a failure becomes a hearth::Error naming the
// call ("cudaMalloc(4096 bytes): out of memory"), never an abort.
#pragma once

#include "hearth/error.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <string_view>

namespace hearth::cuda_detail {

// Allocation failures are out_of_memory, everything else a device error. The runtime's
// last-error state is cleared so that the failure is not reported again by a later call.
inline Error cuda_error(cudaError_t status, std::string_view what) {
    cudaGetLastError();
    const ErrorCode code =
        status == cudaErrorMemoryAllocation ? ErrorCode::out_of_memory : ErrorCode::device;
    return Error{code, fmt::format("{}: {}", what, cudaGetErrorString(status))};
}

inline Result<void> check(cudaError_t status, std::string_view what) {
    if (status != cudaSuccess) {
        return std::unexpected(cuda_error(status, what));
    }
    return {};
}

} // namespace hearth::cuda_detail

// Returns the enclosing function's Result with the error when a CUDA call fails.
#define HEARTH_CUDA_TRY(call, what)                                                                \
    do {                                                                                           \
        if (auto hearth_ok_ = ::hearth::cuda_detail::check((call), (what)); !hearth_ok_) {         \
            return std::unexpected(hearth_ok_.error());                                            \
        }                                                                                          \
    } while (false)
