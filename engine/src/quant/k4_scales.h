// The 6-bit sub-block scales and mins of Q4_K and Q5_K (ggml's get_scale_min_k4), read alike by
// the dequantizer, the quantizers, the CPU kernels, the int8 conversion and, compiled by nvcc
// for the device, the CUDA decoders (kernels/block_formats.cuh).
#pragma once

#include "quant/block_layout.h" // HEARTH_HOST_DEVICE

#include <cstdint>

namespace hearth::quant {

// Sub-block j's (0..7) scale and min from a block's 12 packed bytes q: for j < 4 the low 6 bits
// of bytes j and j + 4; for j >= 4 a nibble of byte j + 4 plus the top 2 bits of bytes j - 4
// (scale) and j (min).
HEARTH_HOST_DEVICE inline void k4_scale_min(const uint8_t* q, int j, int& sc, int& mn) {
    if (j < 4) {
        sc = q[j] & 63;
        mn = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

} // namespace hearth::quant
