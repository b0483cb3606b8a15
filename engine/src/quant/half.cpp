// IEEE binary16 and bfloat16 conversions, by bit manipulation so that every input, NaN
// payloads included, converts exactly as numpy's software routines (npy_halfbits_to_floatbits,
// npy_floatbits_to_halfbits) do: no hardware conversion, no quieting of signalling NaNs.
#include "hearth/quant.h"

#include <bit>

namespace hearth {

// binary16: s eeeee mmmmmmmmmm, bias 15. binary32: s eeeeeeee m(23), bias 127.
float fp16_to_fp32(uint16_t bits) {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exp = (bits >> 10) & 0x1fu;
    uint32_t mant = bits & 0x3ffu;

    if (exp == 0x1f) {
        // Inf or NaN: all-ones exponent, payload moved to the top of the float's mantissa.
        return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    }
    if (exp != 0) {
        // Normal: rebias the exponent (127 - 15 = 112).
        return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
    }
    if (mant == 0) {
        return std::bit_cast<float>(sign); // signed zero
    }
    // Subnormal half (mant * 2^-24) is a normal float: shift the leading 1 into the hidden bit.
    int shift = 0;
    while ((mant & 0x400u) == 0) {
        mant <<= 1;
        ++shift;
    }
    // Value is 1.f * 2^(-14 - shift), so the biased float exponent is 113 - shift.
    const uint32_t float_exp = static_cast<uint32_t>(113 - shift);
    return std::bit_cast<float>(sign | (float_exp << 23) | ((mant & 0x3ffu) << 13));
}

uint16_t fp32_to_fp16(float value) {
    const uint32_t f = std::bit_cast<uint32_t>(value);
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
float bf16_to_fp32(uint16_t bits) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

} // namespace hearth
