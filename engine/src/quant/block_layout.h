// The GGML block formats and the exact binary16 / bfloat16 conversions, in one header that
// both compilers build: g++ (C++23) for the CPU engine and nvcc (C++20, host and device) for
// the CUDA kernels, as ggml-common.h is in ggml. The CPU dequantizer and kernels
// (quant/blocks.h) and the device code (kernels/common.cuh) read the same structs, so a
// layout cannot drift between them, and decode scales with the same functions, so the GPU's
// dequantized values stay bit-exact with the CPU's.
//
// Every f16 field is kept as its raw bits (uint16_t). Multi-byte fields are little-endian, as
// in GGUF. Notation below: a block holds QK values x[0..QK); "d" is the block scale, "m"/"dmin"
// the block minimum, q the stored integer. Super-blocks (K and IQ formats) hold QK_K = 256
// values split into sub-blocks, each with its own small integer scale multiplied by the f16 `d`.
#pragma once

#include <bit>
#include <cstdint>

// Functions below run on the host and, under nvcc, on the device too.
#if defined(__CUDACC__)
#define HEARTH_HOST_DEVICE __host__ __device__
#else
#define HEARTH_HOST_DEVICE
#endif

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

// Q8_1 (activations, as ggml's block_q8_1): as Q8_0 plus s = d * sum(qs), which turns a
// Q4_1/Q5_1 block's min term into one multiply. d and s are f16 bits.
struct BlockQ8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_0];
};
static_assert(sizeof(BlockQ8_1) == 36);

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

// Q8_K (activations, as ggml's block_q8_K): a 256-value super-block with a float scale and the
// sums of each 16 values, which the K-quant kernels multiply by the sub-block minimums.
struct BlockQ8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

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

// Non-linear 4-bit code book of IQ4_NL and IQ4_XS. (Device code reads these two books from
// words packed in registers, kernels/common.cuh, which checks its words against them.)
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

// Doubled e2m1 values of MXFP4 and NVFP4: codes 8..15 are the negatives of 0..7.
inline constexpr int8_t kvalues_mxfp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                             0, -1, -2, -3, -4, -6, -8, -12};

// The little-endian 32-bit word at p, read bytewise (p need not be aligned).
HEARTH_HOST_DEVICE inline uint32_t read_u32_le(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// ---- Bit-exact conversions. No hardware conversion: F16C and the GPU's cvt may quiet a
// signalling NaN, and numpy (the reference) keeps payloads. ----

HEARTH_HOST_DEVICE inline float float_from_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(bits);
#else
    return std::bit_cast<float>(bits);
#endif
}

HEARTH_HOST_DEVICE inline uint32_t float_bits(float value) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(value);
#else
    return std::bit_cast<uint32_t>(value);
#endif
}

// Leading zero bits of a non-zero word.
HEARTH_HOST_DEVICE inline int leading_zeros(uint32_t word) {
#if defined(__CUDA_ARCH__)
    return __clz(static_cast<int>(word));
#else
    return std::countl_zero(word);
#endif
}

// binary16 bits -> float32, exact for every input, NaN payloads kept (numpy's
// npy_halfbits_to_floatbits). binary16: s eeeee m(10), bias 15; binary32: s e(8) m(23), bias 127.
HEARTH_HOST_DEVICE inline float fp16_bits_to_fp32(uint16_t bits) {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exp = (bits >> 10) & 0x1fu;
    const uint32_t mant = bits & 0x3ffu;
    if (exp == 0x1f) {
        // Inf or NaN: all-ones exponent, payload moved to the top of the float's mantissa.
        return float_from_bits(sign | 0x7f800000u | (mant << 13));
    }
    if (exp != 0) {
        // Normal: rebias the exponent (127 - 15 = 112).
        return float_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    }
    if (mant == 0) {
        return float_from_bits(sign); // signed zero
    }
    // Subnormal half (mant * 2^-24) is a normal float: shift the leading 1 (bit 31 - clz) up to
    // bit 10, the hidden bit; the value is then 1.f * 2^(-14 - shift).
    const int shift = leading_zeros(mant) - 21;
    const auto float_exp = static_cast<uint32_t>(113 - shift);
    return float_from_bits(sign | (float_exp << 23) | (((mant << shift) & 0x3ffu) << 13));
}

// float32 -> binary16 bits, round to nearest even, NaN payloads kept as numpy keeps them
// (npy_floatbits_to_halfbits, as astype(float16)).
HEARTH_HOST_DEVICE inline uint16_t fp32_to_fp16_bits(float value) {
    const uint32_t f = float_bits(value);
    const auto sign = static_cast<uint16_t>((f & 0x80000000u) >> 16);
    const uint32_t f_exp = f & 0x7f800000u;
    const uint32_t f_sig = f & 0x007fffffu;

    // |value| >= 2^16 (beyond any rounding to 65504): Inf, NaN, or overflow to Inf.
    if (f_exp >= 0x47800000u) {
        if (f_exp == 0x7f800000u && f_sig != 0) {
            // NaN: keep the top 10 payload bits; if they are all zero, set the lowest so the
            // result stays a NaN (numpy's rule; the quiet bit is not forced).
            auto payload = static_cast<uint16_t>(f_sig >> 13);
            if (payload == 0) {
                payload = 1;
            }
            return static_cast<uint16_t>(sign | 0x7c00u | payload);
        }
        return static_cast<uint16_t>(sign | 0x7c00u);
    }

    // |value| < 2^-14: a half subnormal or zero.
    if (f_exp <= 0x38000000u) {
        // Below 2^-25 (half of the smallest subnormal, 2^-24): rounds to zero.
        if (f_exp < 0x33000000u) {
            return sign;
        }
        // Full significand with its hidden bit, shifted so that bit 13 is the unit 2^-24.
        const uint32_t e = f_exp >> 23; // 102 .. 112
        const uint32_t sig = 0x00800000u | f_sig;
        const uint32_t shift = 113 - e; // 1 .. 11 extra bits beyond the usual 13
        uint32_t shifted = sig >> shift;
        // Round to nearest, ties to even: add half an ulp unless exactly a tie with an even
        // result. The bits lost by the shift (at most 11, all within f_sig & 0x7ff) count too.
        const bool lost_bits = (sig & ((1u << shift) - 1)) != 0;
        if ((shifted & 0x3fffu) != 0x1000u || lost_bits) {
            shifted += 0x1000u;
        }
        // A carry out of the significand turns into the exponent field: still correct.
        return static_cast<uint16_t>(sign | (shifted >> 13));
    }

    // Normal range: rebias (127 - 15 = 112, i.e. subtract 0x38000000 before shifting).
    const auto h_exp = static_cast<uint16_t>((f_exp - 0x38000000u) >> 13);
    uint32_t sig = f_sig;
    if ((sig & 0x3fffu) != 0x1000u) { // not a tie with an even result: round half up
        sig += 0x1000u;
    }
    // A carry out of the mantissa increments the exponent, up to Inf (0x7c00) at most.
    return static_cast<uint16_t>(sign | (h_exp + (sig >> 13)));
}

// bfloat16 is the top half of a binary32.
HEARTH_HOST_DEVICE inline float bf16_bits_to_fp32(uint16_t bits) {
    return float_from_bits(static_cast<uint32_t>(bits) << 16);
}

// MXFP4's scale, ggml_e8m0_to_fp32_half: 2^(e - 128) as float bits; e < 2 gives subnormals.
HEARTH_HOST_DEVICE inline float e8m0_to_fp32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
    return float_from_bits(bits);
}

// NVFP4's scale: unsigned e4m3 (bias 7) times 0.5, as ggml and gguf decode it: the top bit of
// the byte is ignored, 0x00 and 0x7f read as zero. Every step is exact in float32 (a small
// integer times a power of two built from its bits, as ldexp would), so no rounding can differ.
HEARTH_HOST_DEVICE inline float ue4m3_to_fp32_half(uint8_t x) {
    if (x == 0 || x == 0x7f) {
        return 0.0f;
    }
    const int exp = (x >> 3) & 0x0f;
    const int man = x & 0x07;
    const float raw = exp == 0 ? static_cast<float>(man) * 0x1p-9f
                               : static_cast<float>(8 + man) *
                                     float_from_bits(static_cast<uint32_t>(exp - 10 + 127) << 23);
    return raw * 0.5f;
}

} // namespace hearth::quant
