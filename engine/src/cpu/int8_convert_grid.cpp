// The grid i-quants' conversion to the int8 layout (int8_gemm.h): each value, as
// quant/dequantize_grid.cpp decodes it, is a small integer v times a group scale s, stored as
// q = v + o with min = o * s, so scale * q - min = s * v. Per type (v, s, o, Int8Format):
//
//   IQ2_XXS  v = ±{8, 25, 43}              s = d (0.5 + ls) / 4 per 32   o = 43  wide
//   IQ2_XS   v = ±{8, 25, 43}              s = d (0.5 + ls) / 4 per 16   o = 43  wide16
//   IQ2_S    v = ±{8, 25, 43}              s = d (0.5 + ls) / 4 per 16   o = 43  wide16
//   IQ3_XXS  v = ±{4, 12, ..., 52, 62}     s = d (0.5 + ls) / 2 per 32   o = 62  wide
//   IQ3_S    v = ±{1, 3, ..., 15}          s = d (1 + 2 ls)     per 32   o = 15  nibbles
//   IQ1_S    v = 8 g ± 1, g ∈ {-1, 0, 1}   s = d (2 ls + 1) / 8 per 32   o = 9   nibbles
//   IQ1_M    v = 8 g ± 1 (sign per 8)      s = d (2 ls + 1) / 8 per 16   o = 9   nibbles16
//
// (IQ1: the decoded d (2 ls + 1) (g ± 1/8) is s (8 g ± 1), the ±1/8 delta folded into v.)
// Exactness: d is an f16 (11 significant bits), the scale factor has at most 5 more, so s has
// at most 16; q ≤ 124 adds 7, so s * q (≤ 23 bits) and o * s are exact floats, and their
// difference s * v is a representable real, so float subtraction gives it exactly: the same float
// as the dequantizer's product (`tst_int8_gemm` checks every value, every type).
#include "cpu/int8_convert_row.h"
#include "hearth/quant.h"
#include "quant/blocks.h"
#include "quant/iq_grids.h"

#include <bit>
#include <cstring>

namespace hearth::cpu {
namespace {

using namespace quant;

float f(int value) {
    return static_cast<float>(value);
}

// The 8 byte lanes of a 64-bit word, each on its own: no operation below carries or borrows
// from one lane into the next, so each lane is the scalar formula in its comment.
// Lane j is byte j in memory (the memcpy stores below) on a little-endian CPU only.
static_assert(std::endian::native == std::endian::little);
constexpr uint64_t kLanes01 = 0x0101010101010101ull;

// 0xff in lane j where bit j of `bits` is set, else 0.
uint64_t lane_mask(uint8_t bits) {
    const uint64_t spread = (bits * kLanes01) & 0x8040201008040201ull; // lane j: bit j or 0
    const uint64_t high = (((spread & (0x7f * kLanes01)) + 0x7f * kLanes01) | spread) &
                          (0x80 * kLanes01); // lane j: 0x80 if nonzero (≤ 0x7f + 0x7f, no carry)
    return (high >> 7) * 0xff;
}

// Eight values of an unsigned grid entry (bytes of `entry`, each ≤ offset) with their sign bits,
// as q_j = offset - v_j where bit j is set, offset + v_j where not (both in 0..2 offset).
void put_signed8(uint8_t* q, uint64_t entry, uint8_t signs, int offset) {
    const uint64_t negate = lane_mask(signs);
    const uint64_t out =
        (static_cast<uint64_t>(offset) * kLanes01 + (entry & ~negate)) - (entry & negate);
    std::memcpy(q, &out, 8); // lane j is value j: the layout's little-endian byte order
}

// Eight values of an IQ1 grid entry (signed bytes -1, 0, 1) with the delta's sign (±1), as
// q_j = 9 + 8 g_j + delta = 8 (g_j + 1) + (1 + delta), in 0..18.
void put_iq1_8(uint8_t* q, uint64_t entry, int delta) {
    const uint64_t g1 = (entry ^ (0x80 * kLanes01)) - 0x7f * kLanes01; // g + 1: 0, 1 or 2
    const uint64_t out = (g1 << 3) + static_cast<uint64_t>(1 + delta) * kLanes01;
    std::memcpy(q, &out, 8);
}

// Scale and min of the 16-value group `group` (index in the row).
void set_group16(const Int8Row& out, int64_t group, float scale, float offset) {
    out.sc[group] = scale;
    out.mn[group] = offset * scale;
}

constexpr int kIq2Offset = 43;
constexpr int kIq3XxsOffset = 62;
constexpr int kIq3SOffset = 15;

void convert_iq2_xxs(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockIQ2_XXS*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockIQ2_XXS& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const uint32_t w0 = blk.qs[4 * g] | static_cast<uint32_t>(blk.qs[4 * g + 1]) << 16;
            const uint32_t w1 = blk.qs[4 * g + 2] | static_cast<uint32_t>(blk.qs[4 * g + 3]) << 16;
            const float db = (d * (0.5f + f(static_cast<int>(w1 >> 28)))) * 0.25f;
            uint8_t* q = out.q + b * QK_K + 32 * g;
            for (int l = 0; l < 4; ++l) {
                put_signed8(q + 8 * l, iq2xxs_grid[(w0 >> (8 * l)) & 0xff],
                            expand_signs7(w1 >> (7 * l)), kIq2Offset);
            }
            int8_set_halves(out, b * 8 + g, db, f(kIq2Offset) * db);
        }
    }
}

// IQ2_XS and IQ2_S differ only in where 8-value group k's grid entry and sign bits are; they
// share the scales: one 4-bit s per 16 values, nibble (k / 2) % 2 of scales[k / 4].
uint64_t iq2_entry(const BlockIQ2_XS& blk, int k) {
    return iq2xs_grid[blk.qs[k] & 511];
}
uint8_t iq2_signs(const BlockIQ2_XS& blk, int k) {
    return expand_signs7(blk.qs[k] >> 9);
}
uint64_t iq2_entry(const BlockIQ2_S& blk, int k) {
    return iq2s_grid[blk.qs[k] | ((blk.qh[k / 4] >> (2 * (k % 4))) & 3) << 8];
}
uint8_t iq2_signs(const BlockIQ2_S& blk, int k) {
    return blk.qs[QK_K / 8 + k];
}

template <typename Block>
void convert_iq2_16(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const Block*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const Block& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        for (int k = 0; k < QK_K / 8; ++k) {
            put_signed8(out.q + b * QK_K + 8 * k, iq2_entry(blk, k), iq2_signs(blk, k), kIq2Offset);
            if (k % 2 == 0) {
                const int s = (blk.scales[k / 4] >> (4 * ((k / 2) % 2))) & 0x0f;
                set_group16(out, b * 16 + k / 2, (d * (0.5f + f(s))) * 0.25f, f(kIq2Offset));
            }
        }
    }
}

void convert_iq3_xxs(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockIQ3_XXS*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockIQ3_XXS& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            uint32_t aux = 0;
            std::memcpy(&aux, blk.qs + QK_K / 4 + 4 * g, 4); // little-endian, as the file
            const float db = (d * (0.5f + f(static_cast<int>(aux >> 28)))) * 0.5f;
            for (int l = 0; l < 4; ++l) {
                const uint32_t lo = iq3xxs_grid[blk.qs[8 * g + 2 * l]];
                const uint32_t hi = iq3xxs_grid[blk.qs[8 * g + 2 * l + 1]];
                put_signed8(out.q + b * QK_K + 32 * g + 8 * l, lo | static_cast<uint64_t>(hi) << 32,
                            expand_signs7(aux >> (7 * l)), kIq3XxsOffset);
            }
            int8_set_halves(out, b * 8 + g, db, f(kIq3XxsOffset) * db);
        }
    }
}

void convert_iq3_s(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockIQ3_S*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockIQ3_S& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        for (int k = 0; k < QK_K / 8; ++k) {
            const int i0 = 2 * k;
            const int i1 = 2 * k + 1;
            const uint32_t lo = iq3s_grid[blk.qs[i0] | ((blk.qh[i0 / 8] >> (i0 % 8)) & 1) << 8];
            const uint32_t hi = iq3s_grid[blk.qs[i1] | ((blk.qh[i1 / 8] >> (i1 % 8)) & 1) << 8];
            put_signed8(out.q + b * QK_K + 8 * k, lo | static_cast<uint64_t>(hi) << 32,
                        blk.signs[k], kIq3SOffset);
            if (k % 4 == 0) {
                const int s = (blk.scales[k / 8] >> (4 * ((k / 4) % 2))) & 0x0f;
                const float db = d * f(1 + 2 * s);
                int8_set_halves(out, b * 8 + k / 4, db, f(kIq3SOffset) * db);
            }
        }
    }
}

void convert_iq1_s(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockIQ1_S*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockIQ1_S& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const int qh = blk.qh[g];
            const float step = (d * f(2 * ((qh >> 12) & 7) + 1)) * 0.125f;
            const int delta = qh & 0x8000 ? -1 : 1;
            for (int l = 0; l < 4; ++l) {
                const int index = blk.qs[4 * g + l] | ((qh >> (3 * l)) & 7) << 8;
                put_iq1_8(out.q + b * QK_K + 32 * g + 8 * l, iq1s_grid[index], delta);
            }
            int8_set_halves(out, b * 8 + g, step, 9.0f * step);
        }
    }
}

void convert_iq1_m(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockIQ1_M*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockIQ1_M& blk = blocks[b];
        const float d = fp16_to_fp32(iq1_m_scale_bits(blk.scales));
        for (int k = 0; k < QK_K / 8; ++k) {
            const int nib = (blk.qh[k / 2] >> (4 * (k % 2))) & 0x0f;
            put_iq1_8(out.q + b * QK_K + 8 * k, iq1s_grid[blk.qs[k] | (nib & 7) << 8],
                      nib & 0x08 ? -1 : 1);
            if (k % 2 == 0) {
                const int m = k / 2; // the 16-value group's 3-bit scale
                const int word = blk.scales[2 * (m / 4)] | blk.scales[2 * (m / 4) + 1] << 8;
                const float step = (d * f(2 * ((word >> (3 * (m % 4))) & 7) + 1)) * 0.125f;
                set_group16(out, b * 16 + m, step, 9.0f);
            }
        }
    }
}

} // namespace

Int8RowConvertFn int8_grid_converter(TensorType type) {
    switch (type) {
    case TensorType::IQ2_XXS:
        return &convert_iq2_xxs;
    case TensorType::IQ2_XS:
        return &convert_iq2_16<BlockIQ2_XS>;
    case TensorType::IQ2_S:
        return &convert_iq2_16<BlockIQ2_S>;
    case TensorType::IQ3_XXS:
        return &convert_iq3_xxs;
    case TensorType::IQ3_S:
        return &convert_iq3_s;
    case TensorType::IQ1_S:
        return &convert_iq1_s;
    case TensorType::IQ1_M:
        return &convert_iq1_m;
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu
