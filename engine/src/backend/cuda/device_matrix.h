// A weight matrix in GPU memory, in its GGUF quantized layout: what the CUDA backend's matrix
// products (launch_matvec, CublasPrefill::matmul) take. The dense layers' matrices
// (cuda_weights.h) and qwen35moe's shared expert (cuda_experts.h) alike.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::cuda_detail {

// n_rows rows of n_cols values of GGML type `type`, row r at data + r * row_bytes (device
// memory); all zero for a matrix the layer does not have.
struct DeviceMatrix {
    int type = 0;
    const void* data = nullptr;
    size_t row_bytes = 0;
    int64_t n_rows = 0, n_cols = 0;
};

} // namespace hearth::cuda_detail
