// The code books of ggml's grid i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S): each entry packs 8 (IQ2, IQ1) or 4 (IQ3) values, byte k of the little-endian word
// being value k. IQ2/IQ3 grids hold magnitudes (unsigned bytes; the signs are stored apart),
// IQ1_S's hold -1, 0, 1 as signed bytes. Transcribed in iq_grids.cpp; the sign helpers below
// follow ggml's ksigns_iq2xs, which they replace. The helpers also compile for the device
// (kernels/grid_formats.cuh decodes with them); the tables' data is quant/iq_grids.inc.
#pragma once

#include "quant/block_layout.h" // HEARTH_HOST_DEVICE

#include <cstdint>
#include <cstring>

namespace hearth::quant {

extern const uint64_t iq2xxs_grid[256];
extern const uint64_t iq2xs_grid[512];
extern const uint64_t iq2s_grid[1024];
extern const uint32_t iq3xxs_grid[256];
extern const uint32_t iq3s_grid[512];
extern const uint64_t iq1s_grid[2048];

// IQ1_S/IQ1_M: every grid value is offset by +-kIq1Delta (the sign a per-group bit).
inline constexpr float kIq1Delta = 0.125f;

// IQ2_XXS/IQ2_XS/IQ3_XXS store 7 sign bits per 8 values; the 8th makes the count of minus
// signs even (ggml's ksigns_iq2xs[i] = i | parity(i) << 7). Bit j set: value j is negated.
HEARTH_HOST_DEVICE constexpr uint8_t expand_signs7(uint32_t seven) {
    const uint32_t s = seven & 127u;
    uint32_t parity = s;
    parity ^= parity >> 4;
    parity ^= parity >> 2;
    parity ^= parity >> 1;
    return static_cast<uint8_t>(s | (parity & 1u) << 7);
}

// IQ1_M's f16 scale, spread over the top nibbles of its four little-endian scale words.
HEARTH_HOST_DEVICE inline uint16_t iq1_m_scale_bits(const uint8_t* scales) {
    uint16_t sc[4];
    for (int i = 0; i < 4; ++i) {
        sc[i] = static_cast<uint16_t>(scales[2 * i] | scales[2 * i + 1] << 8);
    }
    return static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                 (sc[3] & 0xf000));
}

// Byte k of a grid entry.
inline uint8_t grid_byte(uint64_t entry, int k) {
    return static_cast<uint8_t>(entry >> (8 * k));
}

} // namespace hearth::quant
