// Tensor-core matrix products for prefill through cuBLAS, which is loaded with dlopen on first
// use (libcublas.so.13, else .12): Hearth starts and decodes without the CUDA libraries
// installed, and only a prompt batch asks for them.
//
//   Y[t][r] = sum_c W[r][c] X[t][c]   (t < n_tokens, r < n_rows, c < n_cols)
// W is dequantized (bit-exact, kernels/dequantize.cu) and rounded to F16 one tile of rows at a
// time into a scratch buffer; X is rounded to F16 once; cublasGemmEx multiplies them on the
// tensor cores with float32 accumulation, as llama.cpp's cuBLAS path does. Relative error:
// ~2^-11 per operand, i.e. within 1e-3 of sum |w x|.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>
#include <memory>

namespace hearth::cuda_detail {

class CublasPrefill {
public:
    // Loads cuBLAS (once per process) and creates a handle bound to `stream` on the current
    // device, with a weight tile of at most `tile_bytes`. Fails with `unsupported` when no
    // libcublas can be loaded (the message says which names were tried and why),
    // `out_of_memory` / `device` for CUDA and cuBLAS errors.
    static Result<std::unique_ptr<CublasPrefill>> create(cudaStream_t stream,
                                                         size_t tile_bytes = size_t{64} << 20);
    ~CublasPrefill();
    CublasPrefill(const CublasPrefill&) = delete;
    CublasPrefill& operator=(const CublasPrefill&) = delete;

    // Enqueues Y = X W^T on the stream. w: n_rows rows of GGML type `type` packed back to back
    // (row_bytes the packed row size); x: (n_tokens, n_cols) float32, y: rows y_stride floats
    // apart; all device memory. Fails with `unsupported` for a type the dequantizer lacks,
    // `invalid_argument` for bad shapes, `device` for errors of the launches or of cuBLAS.
    Result<void> matmul(int type, const void* w, size_t row_bytes, int64_t n_rows, int64_t n_cols,
                        const float* x, int64_t n_tokens, float* y, int64_t y_stride);

    struct Api; // the dlsym'ed entry points (cublas_prefill.cpp)

private:
    CublasPrefill() = default;
    Result<void> ensure_x_capacity(size_t elements);

    const Api* api_ = nullptr;
    void* handle_ = nullptr; // cublasHandle_t
    cudaStream_t stream_ = nullptr;
    size_t tile_bytes_ = 0;
    uint16_t* w_tile_ = nullptr; // tile_bytes_ of F16 weights
    uint16_t* x16_ = nullptr;    // x_capacity_ F16 activations
    size_t x_capacity_ = 0;
};

} // namespace hearth::cuda_detail
