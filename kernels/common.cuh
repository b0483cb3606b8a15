// Shared by Hearth's CUDA kernels: GGML type ids, the on-disk block layouts, and the exact
// half-precision conversions that device code uses.
//
// The kernels are compiled by nvcc as C++20 and cannot include the engine's headers (C++23),
// so the block layouts are repeated here. They must match engine/src/quant/blocks.h byte for
// byte: the sizes are checked below, and engine/src/backend/cuda/cuda_device.cpp (compiled by
// g++ with both headers) checks every field offset and the type ids against the engine's.
//
// The type ids and block structs are plain C++ so that host code can include this header;
// everything that needs the device compiler sits under __CUDACC__.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace hearth::kernels {

// GGML's on-disk tensor type ids (hearth::TensorType has the same values).
enum TypeId : int {
    type_f32 = 0,
    type_f16 = 1,
    type_q4_0 = 2,
    type_q4_1 = 3,
    type_q5_0 = 6,
    type_q5_1 = 7,
    type_q8_0 = 8,
    type_q2_k = 10,
    type_q3_k = 11,
    type_q4_k = 12,
    type_q5_k = 13,
    type_q6_k = 14,
    type_iq4_nl = 20,
    type_iq4_xs = 23,
    type_bf16 = 30,
    type_tq1_0 = 34,
    type_tq2_0 = 35,
    type_mxfp4 = 39,
    type_nvfp4 = 40,
};

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

// Block layouts (formulas in blocks.h). f16 fields are raw binary16 bits.
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
};
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
};
struct BlockQ2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
struct BlockQ3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
struct BlockQ6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
};
struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
struct BlockTQ1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    uint16_t d;
};
struct BlockTQ2_0 {
    uint8_t qs[QK_K / 4];
    uint16_t d;
};
struct BlockMXFP4 {
    uint8_t e;
    uint8_t qs[QK_MXFP4 / 2];
};
struct BlockNVFP4 {
    uint8_t d[QK_NVFP4 / 16];
    uint8_t qs[QK_NVFP4 / 2];
};

static_assert(sizeof(BlockQ4_0) == 18, "must match blocks.h");
static_assert(sizeof(BlockQ4_1) == 20, "must match blocks.h");
static_assert(sizeof(BlockQ5_0) == 22, "must match blocks.h");
static_assert(sizeof(BlockQ5_1) == 24, "must match blocks.h");
static_assert(sizeof(BlockQ8_0) == 34, "must match blocks.h");
static_assert(sizeof(BlockQ2_K) == 84, "must match blocks.h");
static_assert(sizeof(BlockQ3_K) == 110, "must match blocks.h");
static_assert(sizeof(BlockQ4_K) == 144, "must match blocks.h");
static_assert(sizeof(BlockQ5_K) == 176, "must match blocks.h");
static_assert(sizeof(BlockQ6_K) == 210, "must match blocks.h");
static_assert(sizeof(BlockIQ4_NL) == 18, "must match blocks.h");
static_assert(sizeof(BlockIQ4_XS) == 136, "must match blocks.h");
static_assert(sizeof(BlockTQ1_0) == 54, "must match blocks.h");
static_assert(sizeof(BlockTQ2_0) == 66, "must match blocks.h");
static_assert(sizeof(BlockMXFP4) == 17, "must match blocks.h");
static_assert(sizeof(BlockNVFP4) == 36, "must match blocks.h");

#if defined(__CUDACC__)

// Entry q (0..15) of a 16-entry int8 code book packed little-endian into four words. Register
// selects rather than a table: each thread looks up a different entry, which a __constant__
// table would serialise and a local array would spill to local memory.
__device__ __forceinline__ int codebook16(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, int q) {
    const uint32_t word = (q & 8) ? ((q & 4) ? w3 : w2) : ((q & 4) ? w1 : w0);
    return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * (q & 3))));
}

// IQ4_NL / IQ4_XS code book: {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69,
// 89, 113} (blocks.h's kvalues_iq4nl).
__device__ __forceinline__ int kvalue_iq4nl(int q) {
    return codebook16(0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u, q);
}

// MXFP4 / NVFP4 doubled e2m1 values: {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}
// (blocks.h's kvalues_mxfp4).
__device__ __forceinline__ int kvalue_mxfp4(int q) {
    return codebook16(0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu, q);
}

// binary16 bits -> float32, exact for every input with NaN payloads kept, by the same bit
// moves as hearth::fp16_to_fp32 (the hardware conversion may quiet a signalling NaN).
__device__ __forceinline__ float fp16_bits_to_fp32(uint16_t bits) {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exp = (bits >> 10) & 0x1fu;
    const uint32_t mant = bits & 0x3ffu;
    if (exp == 0x1f) {
        return __uint_as_float(sign | 0x7f800000u | (mant << 13));
    }
    if (exp != 0) {
        return __uint_as_float(sign | ((exp + 112) << 23) | (mant << 13));
    }
    if (mant == 0) {
        return __uint_as_float(sign);
    }
    // Subnormal: shift the leading 1 (bit 31 - clz) up to bit 10, the hidden bit.
    const int shift = __clz(mant) - 21;
    const uint32_t float_exp = static_cast<uint32_t>(113 - shift);
    return __uint_as_float(sign | (float_exp << 23) | (((mant << shift) & 0x3ffu) << 13));
}

// float32 -> binary16 bits, round to nearest even, NaN payloads as numpy keeps them: the
// same steps as hearth::fp32_to_fp16, so that F16 output is the CPU's result converted.
__device__ __forceinline__ uint16_t fp32_to_fp16_bits(float value) {
    const uint32_t f = __float_as_uint(value);
    const auto sign = static_cast<uint16_t>((f & 0x80000000u) >> 16);
    const uint32_t f_exp = f & 0x7f800000u;
    const uint32_t f_sig = f & 0x007fffffu;
    if (f_exp >= 0x47800000u) {
        if (f_exp == 0x7f800000u && f_sig != 0) {
            auto payload = static_cast<uint16_t>(f_sig >> 13);
            if (payload == 0) {
                payload = 1;
            }
            return static_cast<uint16_t>(sign | 0x7c00u | payload);
        }
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (f_exp <= 0x38000000u) {
        if (f_exp < 0x33000000u) {
            return sign;
        }
        const uint32_t e = f_exp >> 23;
        const uint32_t sig = 0x00800000u | f_sig;
        const uint32_t shift = 113 - e;
        uint32_t shifted = sig >> shift;
        const bool lost_bits = (sig & ((1u << shift) - 1)) != 0;
        if ((shifted & 0x3fffu) != 0x1000u || lost_bits) {
            shifted += 0x1000u;
        }
        return static_cast<uint16_t>(sign | (shifted >> 13));
    }
    const auto h_exp = static_cast<uint16_t>((f_exp - 0x38000000u) >> 13);
    uint32_t sig = f_sig;
    if ((sig & 0x3fffu) != 0x1000u) {
        sig += 0x1000u;
    }
    return static_cast<uint16_t>(sign | (h_exp + (sig >> 13)));
}

__device__ __forceinline__ float bf16_bits_to_fp32(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// Exact int -> float for the small integers of quantized codes.
__device__ __forceinline__ float to_float(int value) {
    return static_cast<float>(value);
}

#endif // __CUDACC__

} // namespace hearth::kernels
