// Dequantization of GGML block formats to float32 on the CPU, bit-exact with the
// reference (`gguf.quants.dequantize` of the Python `gguf` package).
#pragma once

#include "hearth/error.h"
#include "hearth/tensor_type.h"

#include <cstdint>

namespace hearth {

// Half-precision conversions (IEEE binary16 and bfloat16), exact for every input.
float fp16_to_fp32(uint16_t bits);
uint16_t fp32_to_fp16(float value); // round to nearest even, as numpy's astype(float16)
float bf16_to_fp32(uint16_t bits);

// Whether `dequantize` handles this type.
bool can_dequantize(TensorType type);

// Dequantizes `n_elements` values stored at `src` in `type`'s layout into `dst`.
// `n_elements` must be a multiple of the type's block size.
// Fails with `unsupported` for a type without a dequantizer and with
// `invalid_argument` for a count that is not a whole number of blocks.
// Thread-safe; `src` and `dst` must not overlap.
Result<void> dequantize(TensorType type, const void* src, float* dst, int64_t n_elements);

} // namespace hearth
