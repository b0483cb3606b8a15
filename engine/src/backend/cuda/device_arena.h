// The CUDA backend's device memory arenas: one cudaMalloc per kind of allocation (weights,
// KV cache, scratch), handed out by bumping a pointer, so that each kind is accounted for
// separately and freed at once.
#pragma once

#include "backend/cuda/cuda_check.h"
#include "hearth/memory_plan.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <string_view>

namespace hearth::cuda_detail {

// Every allocation starts on a 256-byte boundary (cudaMalloc's own alignment), so that
// kernels may use 16-byte vector loads on any buffer.
inline constexpr size_t kAlign = 256;

inline size_t align_up(size_t n) {
    return (n + kAlign - 1) / kAlign * kAlign;
}

// One cudaMalloc, handed out by bumping a pointer: the backend's allocations of one kind
// (weights, KV cache, scratch) and their accounting.
class Arena {
public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    ~Arena() {
        if (base_ != nullptr) {
            cudaFree(base_);
        }
    }
    Result<void> reserve(size_t bytes, std::string_view what) {
        capacity_ = bytes;
        void* p = nullptr;
        HEARTH_CUDA_TRY(
            cudaMalloc(&p, std::max<size_t>(bytes, 1)),
            fmt::format("cudaMalloc({} for the {})", format_bytes(double(bytes)), what));
        base_ = static_cast<uint8_t*>(p);
        return {};
    }
    // Sizes are planned before reserve(), so running out here is a programming error.
    template <class T>
    T* take(size_t count) {
        const size_t bytes = align_up(count * sizeof(T));
        if (used_ + bytes > capacity_) {
            std::abort();
        }
        T* p = reinterpret_cast<T*>(base_ + used_);
        used_ += bytes;
        return p;
    }
    size_t capacity() const { return capacity_; }

private:
    uint8_t* base_ = nullptr;
    size_t capacity_ = 0, used_ = 0;
};

} // namespace hearth::cuda_detail
