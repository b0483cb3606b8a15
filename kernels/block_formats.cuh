// Decoders of GGML block formats for device code, shared by the dequantize and the fused
// matrix-vector kernels: Format::values(block, i0, v) writes values i0 .. i0 + 7 of one block
// with the CPU dequantizer's float32 operations (formulas in dequantize.cu), so a weight
// decoded by any kernel equals hearth::dequantize's value bit for bit.
//
// Device-only: included by .cu files after common.cuh.
#pragma once

#include "common.cuh"
#include "quant/k4_scales.h" // k4_scale_min: Q4_K / Q5_K's 6-bit scales and mins

namespace hearth::kernels::formats {

inline constexpr int kPerThread = 8; // consecutive values per decode call

// Rounded float32 operations that the compiler may not fuse.
__device__ __forceinline__ float mul(float a, float b) {
    return __fmul_rn(a, b);
}
__device__ __forceinline__ float add(float a, float b) {
    return __fadd_rn(a, b);
}
__device__ __forceinline__ float sub(float a, float b) {
    return __fsub_rn(a, b);
}

// Value i of 32 (or 2 * half) nibbles packed as Q4_0's qs: low nibbles first, then high.
__device__ __forceinline__ int nibble(const uint8_t* qs, int i, int half) {
    return i < half ? qs[i] & 0x0f : qs[i - half] >> 4;
}

// Value e = 128h + 32k + l of a 2-bit array laid out as Q2_K's qs: bits 2k..2k+1 of qs[32h + l].
__device__ __forceinline__ int two_bits(const uint8_t* qs, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    return (qs[32 * h + l] >> (2 * k)) & 3;
}

// ---- block formats: values(block, i0, v) writes values i0 .. i0 + 7 of one block ----------

struct FormatQ4_0 {
    using Block = BlockQ4_0;
    static constexpr int qk = QK4_0;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(nibble(b.qs, i0 + k, qk / 2) - 8));
        }
    }
};

struct FormatQ4_1 {
    using Block = BlockQ4_1;
    static constexpr int qk = QK4_1;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
        const float m = fp16_bits_to_fp32(b.m);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = add(mul(d, to_float(nibble(b.qs, i0 + k, qk / 2))), m);
        }
    }
};

// 5-bit value i of Q5_0 / Q5_1: nibble i plus bit i of qh as bit 4.
__device__ __forceinline__ int five_bits(const uint8_t* qs, uint32_t qh, int i) {
    return nibble(qs, i, 16) | static_cast<int>((qh >> i) & 1u) << 4;
}

struct FormatQ5_0 {
    using Block = BlockQ5_0;
    static constexpr int qk = QK5_0;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
        const uint32_t qh = read_u32_le(b.qh);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(five_bits(b.qs, qh, i0 + k) - 16));
        }
    }
};

struct FormatQ5_1 {
    using Block = BlockQ5_1;
    static constexpr int qk = QK5_1;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
        const float m = fp16_bits_to_fp32(b.m);
        const uint32_t qh = read_u32_le(b.qh);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = add(mul(d, to_float(five_bits(b.qs, qh, i0 + k))), m);
        }
    }
};

struct FormatQ8_0 {
    using Block = BlockQ8_0;
    static constexpr int qk = QK8_0;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(to_float(b.qs[i0 + k]), d);
        }
    }
};

struct FormatQ2_K {
    using Block = BlockQ2_K;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const uint8_t sc = b.scales[i0 / 16];
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(sc & 0x0f));
        const float ml = mul(fp16_bits_to_fp32(b.dmin), to_float(sc >> 4));
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = sub(mul(dl, to_float(two_bits(b.qs, i0 + k))), ml);
        }
    }
};

// Q3_K's 16 6-bit scales: low 4 bits are the nibbles of bytes 0..7 (low nibbles first), high
// 2 bits the 2-bit fields of bytes 8..11 (scale j: bits 2(j/4) of byte 8 + j%4); stored + 32.
__device__ __forceinline__ int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

struct FormatQ3_K {
    using Block = BlockQ3_K;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(q3_k_scale(b.scales, i0 / 16)));
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            const int e = i0 + k;
            // The high bit set means no offset; clear means subtract 4.
            const int hbit = (b.hmask[e % 32] >> (e / 32)) & 1;
            v[k] = mul(dl, to_float(two_bits(b.qs, e) - (hbit ? 0 : 4)));
        }
    }
};

struct FormatQ4_K {
    using Block = BlockQ4_K;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int j = i0 / 32; // sub-block of 32
        int sc = 0, mn = 0;
        k4_scale_min(b.scales, j, sc, mn);
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(sc));
        const float ml = mul(fp16_bits_to_fp32(b.dmin), to_float(mn));
        const uint8_t* qs = b.qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            const int l = (i0 + k) % 32;
            v[k] = sub(mul(dl, to_float((qs[l] >> shift) & 0x0f)), ml);
        }
    }
};

struct FormatQ5_K {
    using Block = BlockQ5_K;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int j = i0 / 32;
        int sc = 0, mn = 0;
        k4_scale_min(b.scales, j, sc, mn);
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(sc));
        const float ml = mul(fp16_bits_to_fp32(b.dmin), to_float(mn));
        const uint8_t* qs = b.qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            const int l = (i0 + k) % 32;
            const int q = ((qs[l] >> shift) & 0x0f) | ((b.qh[l] >> j) & 1) << 4;
            v[k] = sub(mul(dl, to_float(q)), ml);
        }
    }
};

struct FormatQ6_K {
    using Block = BlockQ6_K;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(b.scales[i0 / 16]));
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            const int e = i0 + k;
            const int h = e / 128, kk = (e % 128) / 32, l = e % 32;
            const int low = (b.ql[64 * h + 32 * (kk % 2) + l] >> (4 * (kk / 2))) & 0x0f;
            const int high = (b.qh[32 * h + l] >> (2 * kk)) & 3;
            v[k] = mul(dl, to_float((low | high << 4) - 32));
        }
    }
};

struct FormatIQ4_NL {
    using Block = BlockIQ4_NL;
    static constexpr int qk = QK4_NL;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(kvalue_iq4nl(nibble(b.qs, i0 + k, qk / 2))));
        }
    }
};

struct FormatIQ4_XS {
    using Block = BlockIQ4_XS;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int j = i0 / 32;
        const int low = (b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
        const int high = (b.scales_h >> (2 * j)) & 3;
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float((low | high << 4) - 32));
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(dl, to_float(kvalue_iq4nl(nibble(b.qs + 16 * j, (i0 + k) % 32, 16))));
        }
    }
};

// Trit p (0..4) of a TQ1_0 byte, minus 1: multiplying by 3^p (mod 256) brings it to the top,
// and (byte * 3) >> 8 reads the top trit.
__device__ __forceinline__ int trit(uint8_t byte, int p) {
    const int pow3 = p == 0 ? 1 : p == 1 ? 3 : p == 2 ? 9 : p == 3 ? 27 : 81;
    const auto shifted = static_cast<uint8_t>(byte * pow3);
    return ((shifted * 3) >> 8) - 1;
}

struct FormatTQ1_0 {
    using Block = BlockTQ1_0;
    static constexpr int qk = QK_K;
    // Values 0..159: 5 trits of qs[0..32); 160..239: 5 trits of qs[32..48); 240..255: 4 trits
    // of qh[0..4); within each group the trit index is the outer one. 8 consecutive values
    // never straddle a group boundary (160 and 240 are multiples of 8).
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            const int e = i0 + k;
            int q = 0;
            if (e < 160) {
                q = trit(b.qs[e % 32], e / 32);
            } else if (e < 240) {
                q = trit(b.qs[32 + (e - 160) % 16], (e - 160) / 16);
            } else {
                q = trit(b.qh[(e - 240) % 4], (e - 240) / 4);
            }
            v[k] = mul(d, to_float(q));
        }
    }
};

struct FormatTQ2_0 {
    using Block = BlockTQ2_0;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = fp16_bits_to_fp32(b.d);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(two_bits(b.qs, i0 + k) - 1));
        }
    }
};

// The MXFP4 and NVFP4 scales decode with block_layout.h's e8m0_to_fp32_half and
// ue4m3_to_fp32_half, the CPU's own functions.
struct FormatMXFP4 {
    using Block = BlockMXFP4;
    static constexpr int qk = QK_MXFP4;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const float d = e8m0_to_fp32_half(b.e);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(kvalue_mxfp4(nibble(b.qs, i0 + k, qk / 2))));
        }
    }
};

struct FormatNVFP4 {
    using Block = BlockNVFP4;
    static constexpr int qk = QK_NVFP4;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int j = i0 / 16; // sub-block of 16
        const float d = ue4m3_to_fp32_half(b.d[j]);
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            v[k] = mul(d, to_float(kvalue_mxfp4(nibble(b.qs + 8 * j, (i0 + k) % 16, 8))));
        }
    }
};

} // namespace hearth::kernels::formats

// The grid i-quants' decoders, with their device code books.
#include "grid_formats.cuh"

namespace hearth::kernels::formats {

// ---- element formats: raw little-endian bits of `size` bytes -> float32 ---------------------

struct PlainF32 {
    static constexpr int size = 4;
    __device__ static float decode(uint32_t raw) { return __uint_as_float(raw); }
};
struct PlainF16 {
    static constexpr int size = 2;
    __device__ static float decode(uint32_t raw) {
        return fp16_bits_to_fp32(static_cast<uint16_t>(raw));
    }
};
struct PlainBF16 {
    static constexpr int size = 2;
    __device__ static float decode(uint32_t raw) {
        return bf16_bits_to_fp32(static_cast<uint16_t>(raw));
    }
};

// Values 0..7 of a run of Plain elements at p, which is 16-byte aligned: 8 elements are 32
// (F32) or 16 (F16, BF16) bytes, read as whole 16-byte words.
template <class Plain>
__device__ __forceinline__ void plain_aligned_values(const uint8_t* p, float (&v)[kPerThread]) {
    constexpr int size = Plain::size;
    constexpr int n_words = kPerThread * size / 4;
    uint32_t w[n_words];
#pragma unroll
    for (int q = 0; q < n_words / 4; ++q) {
        const uint4 word = reinterpret_cast<const uint4*>(p)[q];
        w[4 * q] = word.x;
        w[4 * q + 1] = word.y;
        w[4 * q + 2] = word.z;
        w[4 * q + 3] = word.w;
    }
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
        if constexpr (size == 4) {
            v[k] = Plain::decode(w[k]);
        } else {
            v[k] = Plain::decode((w[k / 2] >> (16 * (k % 2))) & 0xffffu);
        }
    }
}

// Calls fn.template operator()<Format>() with the block format of GGML type `type_id`, or
// fn.template plain<Plain>() for F32 / F16 / BF16; cudaErrorNotSupported for any other type.
// Lets each kernel family instantiate itself once per format from one switch.
template <class Fn>
cudaError_t dispatch_format(int type_id, Fn&& fn) {
    switch (type_id) {
    case type_f32:
        return fn.template plain<PlainF32>();
    case type_f16:
        return fn.template plain<PlainF16>();
    case type_bf16:
        return fn.template plain<PlainBF16>();
    case type_q4_0:
        return fn.template operator()<FormatQ4_0>();
    case type_q4_1:
        return fn.template operator()<FormatQ4_1>();
    case type_q5_0:
        return fn.template operator()<FormatQ5_0>();
    case type_q5_1:
        return fn.template operator()<FormatQ5_1>();
    case type_q8_0:
        return fn.template operator()<FormatQ8_0>();
    case type_q2_k:
        return fn.template operator()<FormatQ2_K>();
    case type_q3_k:
        return fn.template operator()<FormatQ3_K>();
    case type_q4_k:
        return fn.template operator()<FormatQ4_K>();
    case type_q5_k:
        return fn.template operator()<FormatQ5_K>();
    case type_q6_k:
        return fn.template operator()<FormatQ6_K>();
    case type_iq4_nl:
        return fn.template operator()<FormatIQ4_NL>();
    case type_iq4_xs:
        return fn.template operator()<FormatIQ4_XS>();
    case type_iq2_xxs:
        return fn.template operator()<FormatIQ2_XXS>();
    case type_iq2_xs:
        return fn.template operator()<FormatIQ2_XS>();
    case type_iq2_s:
        return fn.template operator()<FormatIQ2_S>();
    case type_iq3_xxs:
        return fn.template operator()<FormatIQ3_XXS>();
    case type_iq3_s:
        return fn.template operator()<FormatIQ3_S>();
    case type_iq1_s:
        return fn.template operator()<FormatIQ1_S>();
    case type_iq1_m:
        return fn.template operator()<FormatIQ1_M>();
    case type_tq1_0:
        return fn.template operator()<FormatTQ1_0>();
    case type_tq2_0:
        return fn.template operator()<FormatTQ2_0>();
    case type_mxfp4:
        return fn.template operator()<FormatMXFP4>();
    case type_nvfp4:
        return fn.template operator()<FormatNVFP4>();
    default:
        return cudaErrorNotSupported;
    }
}

} // namespace hearth::kernels::formats
