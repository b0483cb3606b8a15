// The choice of the float weights' conversion to the int8 prefill layout (int8_gemm.h:
// int8_convert_float_row_portable, the definition, and int8_convert_float_group_avx2).
#pragma once

#include "cpu/int8_gemm.h"

#include <cstdint>

namespace hearth::cpu {

// Converts rows [row0, row0 + 8) of a float matrix (F16, BF16, F32) to the layout with
// int8_convert_float_group_avx2 where the CPU has AVX2, F16C and FMA, and returns true; false
// where it does not or w is of another type (int8_convert_group then converts row by row, with
// int8_convert_float_row_portable for the float types: the same bits).
bool int8_convert_float_group(const WeightMatrix& w, int64_t row0, BlockInt8x8* out);

} // namespace hearth::cpu
