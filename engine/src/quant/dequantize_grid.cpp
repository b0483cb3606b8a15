// CPU dequantization of the grid i-quants, bit-exact with `gguf.quants.dequantize`: as in
// dequantize.cpp, each value is computed with numpy's float32 operations in numpy's order
// (for IQ2_XXS `((d * (0.5 + s)) * 0.25) * grid * sign`), and this file is compiled with
// -ffp-contract=off. Signs: numpy multiplies by +-1, which on x86 returns a NaN operand as it
// is, so a NaN keeps its sign bit (apply_sign below; the compiler would turn `v * -1` into a
// sign flip). Layouts: blocks.h; code books: iq_grids.h.
#include "quant/dequantize_grid.h"

#include "hearth/quant.h"
#include "quant/blocks.h"
#include "quant/iq_grids.h"

#include <cmath>
#include <cstring>

namespace hearth::quant {
namespace {

template <class Block>
Block load_block(const void* src, int64_t i) {
    Block block;
    std::memcpy(&block, static_cast<const uint8_t*>(src) + i * static_cast<int64_t>(sizeof(Block)),
                sizeof(Block));
    return block;
}

float f(int value) {
    return static_cast<float>(value);
}

// v * -1 where bit j of signs is set, as numpy's multiply computes it: a NaN is left as it is.
float apply_sign(float v, uint8_t signs, int j) {
    return (signs >> j) & 1 && !std::isnan(v) ? -v : v;
}

// Eight values of an unsigned grid entry with their sign bits, scaled by db.
void put_signed8(float* dst, float db, uint64_t entry, uint8_t signs) {
    for (int j = 0; j < 8; ++j) {
        dst[j] = apply_sign(db * f(grid_byte(entry, j)), signs, j);
    }
}

} // namespace

void dequantize_iq2_xxs(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ2_XXS>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const uint32_t w0 = iq2xxs_word(block.qs, 2 * g);
            const uint32_t w1 = iq2xxs_word(block.qs, 2 * g + 1);
            const float db = (d * (0.5f + f(static_cast<int>(w1 >> 28)))) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                put_signed8(dst + 8 * l, db, iq2xxs_grid[(w0 >> (8 * l)) & 0xff],
                            expand_signs7(w1 >> (7 * l)));
            }
        }
    }
}

void dequantize_iq2_xs(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ2_XS>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int k = 0; k < QK_K / 8; ++k, dst += 8) {
            const float db = (d * (0.5f + f(iq2_scale(block.scales, k)))) * 0.25f;
            put_signed8(dst, db, iq2xs_grid[block.qs[k] & 511], expand_signs7(block.qs[k] >> 9));
        }
    }
}

void dequantize_iq2_s(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ2_S>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int k = 0; k < QK_K / 8; ++k, dst += 8) {
            const float db = (d * (0.5f + f(iq2_scale(block.scales, k)))) * 0.25f;
            put_signed8(dst, db, iq2s_grid[iq2s_index(block.qs, block.qh, k)],
                        block.qs[QK_K / 8 + k]);
        }
    }
}

void dequantize_iq3_xxs(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ3_XXS>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const uint32_t aux = read_u32_le(block.qs + QK_K / 4 + 4 * g);
            const float db = (d * (0.5f + f(static_cast<int>(aux >> 28)))) * 0.5f;
            for (int l = 0; l < 4; ++l, dst += 8) {
                const uint8_t signs = expand_signs7(aux >> (7 * l));
                const uint32_t lo = iq3xxs_grid[block.qs[8 * g + 2 * l]];
                const uint32_t hi = iq3xxs_grid[block.qs[8 * g + 2 * l + 1]];
                const uint64_t entry = lo | static_cast<uint64_t>(hi) << 32;
                put_signed8(dst, db, entry, signs);
            }
        }
    }
}

void dequantize_iq3_s(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ3_S>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int k = 0; k < QK_K / 8; ++k, dst += 8) {
            const float db = d * f(1 + 2 * iq3s_scale(block.scales, k));
            const uint32_t lo = iq3s_grid[iq3s_index(block.qs, block.qh, 2 * k)];
            const uint32_t hi = iq3s_grid[iq3s_index(block.qs, block.qh, 2 * k + 1)];
            put_signed8(dst, db, lo | static_cast<uint64_t>(hi) << 32, block.signs[k]);
        }
    }
}

namespace {

// Eight values of an IQ1 grid entry (signed bytes -1, 0, 1) offset by delta, scaled by dl.
void put_iq1_8(float* dst, float dl, uint64_t entry, float delta) {
    for (int j = 0; j < 8; ++j) {
        dst[j] = dl * (f(static_cast<int8_t>(grid_byte(entry, j))) + delta);
    }
}

} // namespace

void dequantize_iq1_s(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ1_S>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const int qh = block.qh[g];
            const float dl = d * f(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
            for (int l = 0; l < 4; ++l, dst += 8) {
                put_iq1_8(dst, dl, iq1s_grid[iq1s_index(block.qs, qh, g, l)], delta);
            }
        }
    }
}

void dequantize_iq1_m(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto block = load_block<BlockIQ1_M>(src, b);
        const float d = fp16_to_fp32(iq1_m_scale_bits(block.scales));
        for (int k = 0; k < QK_K / 8; ++k, dst += 8) {
            const int m = k / 2; // the 16-value group's 3-bit scale
            const float dl = d * f(2 * iq1_m_group_scale(block.scales, m) + 1);
            const int nib = iq1_m_nibble(block.qh, k);
            const float delta = nib & 0x08 ? -kIq1Delta : kIq1Delta;
            put_iq1_8(dst, dl, iq1s_grid[block.qs[k] | (nib & 7) << 8], delta);
        }
    }
}

} // namespace hearth::quant
