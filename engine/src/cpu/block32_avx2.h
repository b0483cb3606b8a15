// The 32-value block formats as the AVX2 kernels see them (vec_dot_avx2.cpp's per-row kernels
// and gemm_block32_avx2.cpp's register tiles share them, so both unpack a block the same way):
// a weight block unpacked to 32 bytes, signed (multiplied by the |w| * sign(x, w) trick) or
// unsigned with a per-block min (Q4_1, Q5_1: the min times the activation block's sum s).
// Include only inside `#if defined(__AVX2__) ...` blocks.
#pragma once

#include "cpu/avx2_helpers.h"
#include "hearth/tensor_type.h"
#include "quant/blocks.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu::avx2 {

using quant::BlockIQ4_NL;
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ8_0;
using quant::BlockQ8_1;
using quant::kvalues_iq4nl;

// 32 nibbles to 32 bytes: the low nibbles of p[0..16) to bytes 0..15, the high ones to 16..31.
inline __m256i nibbles_32(const uint8_t* p) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// The 32 bits at p (little-endian) to 32 bytes: 0xff where the bit is set, else 0.
inline __m256i bits_32(const uint8_t* p) {
    uint32_t bits = 0;
    std::memcpy(&bits, p, sizeof(bits));
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i probe = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, probe), _mm256_set1_epi64x(-1));
}

// Sum of u8 x s8 products in 16-bit pairs, then in 32-bit quads.
inline __m256i dot_us8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

struct Q4_0W {
    using Block = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false;
    static __m256i values(const Block& b) {
        return _mm256_sub_epi8(nibbles_32(b.qs), _mm256_set1_epi8(8));
    }
};

struct Q4_1W {
    using Block = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kMin = true;
    static __m256i values(const Block& b) { return nibbles_32(b.qs); }
};

struct Q5_0W {
    using Block = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false;
    // q - 16 = nibble - 16 + 16 * hbit: the nibble with 0xf0 or-ed in where the bit is clear.
    static __m256i values(const Block& b) {
        const __m256i high = _mm256_andnot_si256(bits_32(b.qh), _mm256_set1_epi8(-16));
        return _mm256_or_si256(nibbles_32(b.qs), high);
    }
};

struct Q5_1W {
    using Block = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kMin = true;
    static __m256i values(const Block& b) {
        const __m256i high = _mm256_and_si256(bits_32(b.qh), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(nibbles_32(b.qs), high);
    }
};

struct Q8_0W {
    using Block = BlockQ8_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false;
    static __m256i values(const Block& b) { return load32(b.qs); }
};

struct IQ4_NLW {
    using Block = BlockIQ4_NL;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false;
    static __m256i values(const Block& b) {
        const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
        return _mm256_shuffle_epi8(_mm256_set_m128i(table, table), nibbles_32(b.qs));
    }
};

// Returns f.template operator()<W>() for the format W of weight_type, one of the types
// gemm_block32_supported() takes (the AVX2 and AVX-512 tile files dispatch through it).
template <class F>
decltype(auto) with_block32_format(TensorType weight_type, F&& f) {
    switch (weight_type) {
    case TensorType::Q4_0:
        return f.template operator()<Q4_0W>();
    case TensorType::Q4_1:
        return f.template operator()<Q4_1W>();
    case TensorType::Q5_0:
        return f.template operator()<Q5_0W>();
    case TensorType::Q5_1:
        return f.template operator()<Q5_1W>();
    case TensorType::Q8_0:
        return f.template operator()<Q8_0W>();
    case TensorType::IQ4_NL:
        return f.template operator()<IQ4_NLW>();
    default:
        std::abort(); // programmer error: gemm_block32_supported says which types
    }
}

} // namespace hearth::cpu::avx2
