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
HEARTH_HOST_DEVICE inline uint8_t grid_byte(uint64_t entry, int k) {
    return static_cast<uint8_t>(entry >> (8 * k));
}

// ---- Where each format keeps its indices and scales: the integer half of the decoders, the
// same for the CPU (dequantize_grid.cpp) and the device (kernels/grid_formats.cuh). The float
// half (scales times grid values) is written on each side with that side's rounding. ----

// IQ2_XXS: 32-bit word i of a block's qs (16-bit halves, low first). Per group g of 32 values,
// word 2g holds the four 8-bit grid indices, word 2g + 1 the four 7-bit signs and the scale.
HEARTH_HOST_DEVICE inline uint32_t iq2xxs_word(const uint16_t* qs, int i) {
    return qs[2 * i] | static_cast<uint32_t>(qs[2 * i + 1]) << 16;
}

// IQ2_XS / IQ2_S: the 4-bit scale of 8-value group k (one per 16 values): nibble (k / 2) % 2
// of scales[k / 4].
HEARTH_HOST_DEVICE inline int iq2_scale(const uint8_t* scales, int k) {
    return (scales[k / 4] >> (4 * ((k / 2) % 2))) & 0x0f;
}

// IQ2_S: the 10-bit grid index of 8-value group k, qs[k] and bits 2(k % 4).. of qh[k / 4].
HEARTH_HOST_DEVICE inline int iq2s_index(const uint8_t* qs, const uint8_t* qh, int k) {
    return qs[k] | ((qh[k / 4] >> (2 * (k % 4))) & 3) << 8;
}

// IQ3_S: the 4-bit scale of 8-value group k (one per 32 values): nibble (k / 4) % 2 of
// scales[k / 8].
HEARTH_HOST_DEVICE inline int iq3s_scale(const uint8_t* scales, int k) {
    return (scales[k / 8] >> (4 * ((k / 4) % 2))) & 0x0f;
}

// IQ3_S: the 9-bit grid index of 4-value entry i, qs[i] and bit i % 8 of qh[i / 8].
HEARTH_HOST_DEVICE inline int iq3s_index(const uint8_t* qs, const uint8_t* qh, int i) {
    return qs[i] | ((qh[i / 8] >> (i % 8)) & 1) << 8;
}

// IQ1_S: the 11-bit grid index of entry l (0..3) of 32-value group g, whose 16-bit qh word
// holds the entries' high bits (3 each), the group's scale (bits 12..14) and delta sign (15).
HEARTH_HOST_DEVICE inline int iq1s_index(const uint8_t* qs, int qh, int g, int l) {
    return qs[4 * g + l] | ((qh >> (3 * l)) & 7) << 8;
}

// IQ1_M: the 3-bit scale of 16-value group m, in the four little-endian scale words (the f16
// block scale takes their top nibbles, iq1_m_scale_bits).
HEARTH_HOST_DEVICE inline int iq1_m_group_scale(const uint8_t* scales, int m) {
    const int word = scales[2 * (m / 4)] | scales[2 * (m / 4) + 1] << 8;
    return (word >> (3 * (m % 4))) & 7;
}

// IQ1_M: the nibble of 8-value group k, its grid index's high 3 bits and (bit 3) the sign of
// its delta.
HEARTH_HOST_DEVICE inline int iq1_m_nibble(const uint8_t* qh, int k) {
    return (qh[k / 2] >> (4 * (k % 2))) & 0x0f;
}

} // namespace hearth::quant
