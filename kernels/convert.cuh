// Launch interface of float32 -> binary16 conversion (kernels/convert.cu), for the
// tensor-core prefill path: activations rounded to F16 before cuBLAS multiplies them with
// dequantized F16 weight tiles.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// dst[i] = binary16 bits of src[i] rounded to nearest even (hearth::fp32_to_fp16), i < n.
// cudaErrorInvalidValue for n < 0 or null pointers; else the launch's error.
cudaError_t launch_convert_f32_to_f16(const float* src, uint16_t* dst, int64_t n,
                                      cudaStream_t stream);

} // namespace hearth::kernels
