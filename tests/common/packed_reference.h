// llama.cpp's repacked q4_0_8x8 / q4_K_8x8 kernels' float operations for one row, written out in
// scalar code (tst_matmul, tst_matmul_q4_0_order): the order Hearth's packed kernels and its
// portable Q4_0 kernel are held to, bit for bit.
#pragma once

#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "quant/blocks.h"
#include "quant/k4_scales.h"

#include <cmath>
#include <cstdint>

namespace hearth::test {

// One row of a packed type (Q4_0 or Q4_K, in its plain layout) against one quantized activation
// row: per block the exact integer sum, then acc = fma(float(sum), d_w * d_x, acc) (Q4_K: and
// the min term likewise, subtracted at the end).
inline float packed_reference(TensorType type, const uint8_t* row, const uint8_t* act,
                              int64_t n_cols) {
    float acc = 0.0f, acc_min = 0.0f;
    if (type == TensorType::Q4_0) {
        const auto* w = reinterpret_cast<const quant::BlockQ4_0*>(row);
        const auto* a = reinterpret_cast<const quant::BlockQ8_0*>(act);
        for (int64_t b = 0; b < n_cols / 32; ++b) {
            int isum = 0;
            for (int i = 0; i < 16; ++i) {
                isum += ((w[b].qs[i] & 15) - 8) * a[b].qs[i] +
                        ((w[b].qs[i] >> 4) - 8) * a[b].qs[i + 16];
            }
            const float scale = fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d);
            acc = std::fma(static_cast<float>(isum), scale, acc);
        }
        return acc;
    }
    const auto* w = reinterpret_cast<const quant::BlockQ4_K*>(row);
    const auto* a = reinterpret_cast<const quant::BlockQ8_K*>(act);
    for (int64_t b = 0; b < n_cols / 256; ++b) {
        int isum = 0, imin = 0;
        for (int j = 0; j < 8; ++j) {
            int sc = 0, mn = 0;
            quant::k4_scale_min(w[b].scales, j, sc, mn);
            int dot = 0;
            for (int l = 0; l < 32; ++l) {
                const uint8_t byte = w[b].qs[32 * (j / 2) + l];
                dot += (j % 2 ? byte >> 4 : byte & 15) * a[b].qs[32 * j + l];
            }
            isum += sc * dot;
            imin += mn * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
        }
        acc = std::fma(static_cast<float>(isum), fp16_to_fp32(w[b].d) * a[b].d, acc);
        acc_min = std::fma(static_cast<float>(imin), fp16_to_fp32(w[b].dmin) * a[b].d, acc_min);
    }
    return acc - acc_min;
}

} // namespace hearth::test
