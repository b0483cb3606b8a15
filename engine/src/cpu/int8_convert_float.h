// Shared pieces of the float weights' conversion to the int8 prefill layout (int8_gemm.h,
// int8_convert_float_row_portable): the per-block range and the rounding of one value, so the
// portable definition and the AVX2 version compute them once, the same way.
#pragma once

#include "cpu/int8_gemm.h"

#include <cstdint>

namespace hearth::cpu {

struct Int8BlockRange {
    float scale; // (hi - lo) / 255
    float inv;   // 255 / (hi - lo), 0 where hi - lo is not > 0 (or NaN)
};
Int8BlockRange int8_block_range(float lo, float hi);

// q of one value: nearbyint((v - lo) * inv) clamped to [0, 255] (0 for NaN).
uint8_t int8_round_to_byte(float v, float lo, float inv);

// The best version for this CPU (int8_convert_float_row_avx2 where it has AVX2, F16C and FMA).
void int8_convert_float_row(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                            float* scale, float* min);

} // namespace hearth::cpu
