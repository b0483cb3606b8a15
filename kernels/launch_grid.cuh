// Grid sizes the launchers share: blocks that give each item its own thread or warp, and blocks
// for a grid-stride loop. Plain host code (the launchers run on the host); included by .cu
// files after common.cuh.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Most blocks a grid's x may have (2^31 - 1).
inline constexpr int64_t kMaxGridX = 2147483647;

// The grid for one item per thread or warp, `per_block` items a block. blocks == 0 means there
// is nothing to launch, and `status` says why: cudaSuccess for no items, cudaErrorInvalidValue
// for more blocks than a grid's x holds.
struct ItemGrid {
    unsigned blocks;
    cudaError_t status;
};

inline ItemGrid item_grid(int64_t items, int per_block) {
    if (items == 0) {
        return {0, cudaSuccess};
    }
    const int64_t blocks = (items + per_block - 1) / per_block;
    if (blocks > kMaxGridX) {
        return {0, cudaErrorInvalidValue};
    }
    return {static_cast<unsigned>(blocks), cudaSuccess};
}

// Blocks of `threads` for a grid-stride loop over n > 0 items: enough to cover them, at most
// 65536 (the loop covers the rest).
inline unsigned stride_blocks(int64_t n, int threads) {
    const int64_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

} // namespace hearth::kernels
