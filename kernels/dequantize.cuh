// Launch interface of the dequantization kernels (kernels/dequantize.cu): GGML block formats
// to float32 or binary16 in device memory, bit-exact with the CPU dequantizer.
//
// Plain C++ declarations, no device code: the engine's CUDA backend (compiled by g++) includes
// it. Shape and type checks of tensors belong to the caller; these only refuse what they
// cannot do and never print or exit.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Whether launch_dequantize handles GGML type `type_id`: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, the grid i-quants (IQ1_S, IQ1_M, IQ2_XXS,
// IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), TQ1_0, TQ2_0, MXFP4, NVFP4.
bool can_launch_dequantize(int type_id);

// Enqueues on `stream` the dequantization of `n_elements` values of type `type_id` stored at
// `src` (device memory, GGUF block layout, any byte alignment) into `dst` (device memory):
//   dst[i] = value i of src, computed with the CPU dequantizer's float32 operations.
// `n_elements` must be a whole number of the type's blocks. 16-byte loads and stores are used
// when `src` and `dst` are 16-byte aligned (cudaMalloc's are), narrower accesses otherwise.
// Returns cudaErrorNotSupported for a type it does not handle, cudaErrorInvalidValue for a
// negative or partial-block count or a null pointer, else the launch's error (asynchronous
// errors surface at the next synchronisation, as with any launch). n_elements == 0 is a no-op.
cudaError_t launch_dequantize(int type_id, const void* src, float* dst, int64_t n_elements,
                              cudaStream_t stream);

// As launch_dequantize, writing IEEE binary16 bits (the layout of __half) for the tensor-core
// prefill path: each value is the float32 result rounded to nearest even (hearth::fp32_to_fp16).
cudaError_t launch_dequantize_f16(int type_id, const void* src, uint16_t* dst, int64_t n_elements,
                                  cudaStream_t stream);

} // namespace hearth::kernels
