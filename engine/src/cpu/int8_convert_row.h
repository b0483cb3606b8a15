// One weight row in integer form, what every type's conversion to the int8 layout (int8_gemm.h)
// writes before int8_convert_group interleaves 8 rows: an unsigned q per value and a float scale
// and min per 16 values, value = scale * q - min. Shared by int8_convert.cpp (the 32-value and
// K-quant types, the float types) and int8_convert_grid.cpp (the grid i-quants).
#pragma once

#include "hearth/tensor_type.h"

#include <cstdint>

namespace hearth::cpu {

// q[n_cols], sc and mn: n_cols / 16 each.
struct Int8Row {
    uint8_t* q;
    float* sc;
    float* mn;
};

// Scale and min of both 16-value halves of 32-value block `block`.
inline void int8_set_halves(const Int8Row& out, int64_t block, float scale, float min) {
    for (int h = 0; h < 2; ++h) {
        out.sc[2 * block + h] = scale;
        out.mn[2 * block + h] = min;
    }
}

// Converts one row of n_cols values stored as some type.
using Int8RowConvertFn = void (*)(const uint8_t* row, int64_t n_cols, const Int8Row& out);

// The grid i-quants' conversions (int8_convert_grid.cpp); nullptr for any other type.
Int8RowConvertFn int8_grid_converter(TensorType type);

} // namespace hearth::cpu
