// On-disk layouts of the GGML block formats, byte for byte as ggml's block_* structs.
// Shared by the CPU dequantizer and the matrix kernels. Every f16 field is kept as its raw
// bits (uint16_t); convert with fp16_to_fp32. Multi-byte fields are little-endian, as in GGUF.
//
// Notation below: a block holds QK values x[0..QK); "d" is the block scale, "m"/"dmin" the
// block minimum, q the stored integer. Super-blocks (K and IQ formats) hold QK_K = 256 values
// split into sub-blocks, each with its own small integer scale multiplied by the f16 `d`.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace hearth::quant {

inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK4_NL = 32;
inline constexpr int QK_MXFP4 = 32;
inline constexpr int QK_NVFP4 = 64;
inline constexpr int QK_K = 256;
inline constexpr int K_SCALE_SIZE = 12;

// Q4_0: x[i] = d * (q[i] - 8), q 4-bit; qs[j] holds q[j] (low nibble) and q[j + 16] (high).
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: x[i] = d * q[i] + m, q 4-bit; nibbles as in Q4_0.
struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: x[i] = d * (q[i] - 16), q 5-bit: low 4 bits as Q4_0's nibbles, bit 4 is bit i of qh.
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4]; // a little-endian uint32, read bytewise: the struct has no padding
    uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: x[i] = d * q[i] + m, q 5-bit packed as in Q5_0.
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q8_0: x[i] = d * q[i], q signed 8-bit.
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q2_K: 16 sub-blocks of 16. scales[s] = sc | (mn << 4), 4 bits each;
// x = (d * sc) * q - (dmin * mn), q 2-bit. Value e = 128h + 32k + l (h < 2, k < 4, l < 32)
// is bits 2k..2k+1 of qs[32h + l].
struct BlockQ2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16 with 6-bit signed scales (stored + 32, packed in 12 bytes);
// x = (d * (sc - 32)) * (q - 4 * !hbit), q 2-bit low part laid out as Q2_K's qs,
// hbit for value e = 32b + l is bit b of hmask[l].
struct BlockQ3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32 with 6-bit scale sc and 6-bit min mn (packed in 12 bytes);
// x = (d * sc) * q - (dmin * mn), q 4-bit. Sub-block 2c holds the low nibbles of
// qs[32c .. 32c + 32), sub-block 2c + 1 the high nibbles.
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: as Q4_K with a 5th bit: bit j of qh[l] is bit 4 of value l of sub-block j.
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = (d * sc) * (q - 32), q 6-bit.
// Value e = 128h + 32k + l: low 4 bits are nibble (k / 2) of ql[64h + 32(k % 2) + l],
// high 2 bits are bits 2k..2k+1 of qh[32h + l].
struct BlockQ6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_NL: x[i] = d * kvalues_iq4nl[q[i]], q a 4-bit index (nibbles as in Q4_0).
struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l nibbles, high 2 bits
// in scales_h); x = (d * (sc - 32)) * kvalues_iq4nl[q], nibbles of qs[16j .. 16j + 16).
struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// ---- Grid i-quants: 8 (IQ2, IQ1) or 4 (IQ3) values at a time are one entry of a code book
// (quant/iq_grids.h), with signs stored apart (IQ2/IQ3) or an offset of +-1/8 (IQ1). ----

// IQ2_XXS: 8 groups of 32. Group g is the little-endian words w0 = qs[4g..4g+2), w1 =
// qs[4g+2..4g+4) as uint32: byte l of w0 indexes iq2xxs_grid for values 8l..8l+8, bits 7l..7l+7
// of w1 are their 7 sign bits, the top 4 bits of w1 the scale s: x = d * (0.5 + s) * 0.25 * grid.
struct BlockIQ2_XXS {
    uint16_t d;
    uint16_t qs[QK_K / 8];
};
static_assert(sizeof(BlockIQ2_XXS) == 66);

// IQ2_XS: qs[k] covers values 8k..8k+8: a 9-bit iq2xs_grid index and 7 sign bits above it;
// scales hold one 4-bit s per 16 values: x = d * (0.5 + s) * 0.25 * grid.
struct BlockIQ2_XS {
    uint16_t d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ2_XS) == 74);

// IQ2_S: qs[k] (k < 32) are the low 8 bits of the 10-bit iq2s_grid index of values 8k..8k+8,
// bits 2(k%4).. of qh[k/4] the high 2; qs[32 + k] their 8 sign bits; scales as IQ2_XS.
struct BlockIQ2_S {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ2_S) == 82);

// IQ3_XXS: qs[0..64) index iq3xxs_grid, 4 values each; then 8 little-endian uint32, one per
// group of 32: 4 × 7 sign bits (one per 8 values) and the 4-bit scale s on top:
// x = d * (0.5 + s) * 0.5 * grid.
struct BlockIQ3_XXS {
    uint16_t d;
    uint8_t qs[3 * QK_K / 8];
};
static_assert(sizeof(BlockIQ3_XXS) == 98);

// IQ3_S: 9-bit iq3s_grid indices: qs[k] plus bit k%8 of qh[k/8], 4 values each; bit i of
// signs[k] negates value 8k + i; one 4-bit s per 32 values (nibbles of scales):
// x = d * (1 + 2s) * grid.
struct BlockIQ3_S {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
};
static_assert(sizeof(BlockIQ3_S) == 110);

// IQ1_S: per group g of 32, qh[g] holds four 3-bit high parts of the 11-bit iq1s_grid indices
// (low 8 bits in qs[4g..4g+4)), a 3-bit scale s at bit 12 and the delta's sign at bit 15:
// x = d * (2s + 1) * (grid +- 0.125).
struct BlockIQ1_S {
    uint16_t d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
};
static_assert(sizeof(BlockIQ1_S) == 50);

// IQ1_M: no f16 field: d is the top nibbles of the four little-endian uint16 of scales (first
// word lowest); the rest holds one 3-bit s per 16 values. qh[k/2] nibble k%2 gives the 3 high
// index bits of qs[k] and (bit 3) the delta's sign: x = d * (2s + 1) * (grid +- 0.125).
struct BlockIQ1_M {
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(BlockIQ1_M) == 56);

// TQ1_0 (ternary): q in {-1, 0, 1} packed 5 per byte (4 per byte in qh) in base 3, scaled
// to fill the byte: trit p of byte b is ((uint8_t)(b * 3^p) * 3) >> 8. x = d * q.
struct BlockTQ1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    uint16_t d;
};
static_assert(sizeof(BlockTQ1_0) == 54);

// TQ2_0 (ternary): x = d * (q - 1), q 2-bit laid out as Q2_K's qs.
struct BlockTQ2_0 {
    uint8_t qs[QK_K / 4];
    uint16_t d;
};
static_assert(sizeof(BlockTQ2_0) == 66);

// MXFP4: x[i] = e8m0_half(e) * kvalues_mxfp4[q[i]], q a 4-bit e2m1 code (nibbles as Q4_0);
// e8m0_half(e) = 2^(e - 128), the kvalues being doubled e2m1 values.
struct BlockMXFP4 {
    uint8_t e;
    uint8_t qs[QK_MXFP4 / 2];
};
static_assert(sizeof(BlockMXFP4) == 17);

// NVFP4: 4 sub-blocks of 16, each scaled by an unsigned e4m3 (bias 7) halved;
// x = ue4m3_half(d[j]) * kvalues_mxfp4[q], q the nibbles of qs[8j .. 8j + 8).
struct BlockNVFP4 {
    uint8_t d[QK_NVFP4 / 16];
    uint8_t qs[QK_NVFP4 / 2];
};
static_assert(sizeof(BlockNVFP4) == 36);

// Non-linear 4-bit code book of IQ4_NL and IQ4_XS.
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

// Doubled e2m1 values of MXFP4 and NVFP4: codes 8..15 are the negatives of 0..7.
inline constexpr int8_t kvalues_mxfp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                             0, -1, -2, -3, -4, -6, -8, -12};

// MXFP4's scale, ggml_e8m0_to_fp32_half: 2^(e - 128) as float bits; e < 2 gives subnormals.
inline float e8m0_to_fp32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
    return std::bit_cast<float>(bits);
}

// NVFP4's scale: unsigned e4m3 (bias 7) times 0.5, as ggml and gguf decode it: the top bit of
// the byte is ignored, 0x00 and 0x7f read as zero; every step is exact in float32.
inline float ue4m3_to_fp32_half(uint8_t x) {
    if (x == 0 || x == 0x7f) {
        return 0.0f;
    }
    const int exp = (x >> 3) & 0x0f;
    const int man = x & 0x07;
    const float raw = exp == 0 ? std::ldexp(static_cast<float>(man), -9)
                               : std::ldexp(static_cast<float>(8 + man), exp - 10);
    return raw * 0.5f;
}

} // namespace hearth::quant
