// Device decoders of the grid i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S)
// for block_formats.cuh's dispatch: Format::values(block, i0, v) writes values i0 .. i0 + 7 of
// one 256-value block with the float32 operations of the CPU dequantizer
// (engine/src/quant/dequantize_grid.cpp), in its order, each rounded on its own, so a weight
// decoded here equals hearth::dequantize's bit for bit.
//
// The code books are the CPU's own transcription, quant/iq_grids.inc, compiled a second time
// into device memory here (one source, no copy to keep in step, nothing to upload at start-up,
// so a captured CUDA graph needs no set-up either). Each .cu file that includes this header
// gets its own copy (no relocatable device code); 33 KiB each. Global rather than __constant__
// memory: the lanes of a warp look up different entries, which constant memory serialises.
//
// Device-only: included by block_formats.cuh after its rounding helpers.
#pragma once

#include "common.cuh"
#include "quant/iq_grids.h" // kIq1Delta, expand_signs7, grid_byte, the index and scale fields

namespace hearth::kernels::grids {

// clang-format off
#define HEARTH_IQ_GRID_BEGIN(type, name, count) static __device__ const type name[count] = {
#define HEARTH_IQ_GRID_END };
// clang-format on
#include "quant/iq_grids.inc"
#undef HEARTH_IQ_GRID_BEGIN
#undef HEARTH_IQ_GRID_END

} // namespace hearth::kernels::grids

namespace hearth::kernels::formats {

// The CPU's put_signed8: db * grid byte, negated where the sign bit is set unless the product
// is NaN (numpy's multiply by -1 leaves a NaN as it is).
__device__ __forceinline__ void signed8(float db, uint64_t entry, uint8_t signs,
                                        float (&v)[kPerThread]) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
        const float value = mul(db, to_float(grid_byte(entry, j)));
        v[j] = (signs >> j) & 1 && !isnan(value) ? -value : value;
    }
}

// The CPU's put_iq1_8: dl * (grid value + delta).
__device__ __forceinline__ void iq1_8(float dl, uint64_t entry, float delta,
                                      float (&v)[kPerThread]) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
        v[j] = mul(dl, add(to_float(static_cast<int8_t>(grid_byte(entry, j))), delta));
    }
}

// IQ2 scale: (d * (0.5 + s)) * 0.25; IQ3_XXS's ends in * 0.5.
__device__ __forceinline__ float half_step_scale(float d, int s, float last) {
    return mul(mul(d, add(0.5f, to_float(s))), last);
}

struct FormatIQ2_XXS {
    using Block = BlockIQ2_XXS;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int g = i0 / 32, l = (i0 % 32) / 8;
        const uint32_t w0 = iq2xxs_word(b.qs, 2 * g);
        const uint32_t w1 = iq2xxs_word(b.qs, 2 * g + 1);
        const float db = half_step_scale(fp16_bits_to_fp32(b.d), static_cast<int>(w1 >> 28), 0.25f);
        signed8(db, grids::iq2xxs_grid[(w0 >> (8 * l)) & 0xff], expand_signs7(w1 >> (7 * l)), v);
    }
};

struct FormatIQ2_XS {
    using Block = BlockIQ2_XS;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int k = i0 / 8;
        const float db = half_step_scale(fp16_bits_to_fp32(b.d), iq2_scale(b.scales, k), 0.25f);
        signed8(db, grids::iq2xs_grid[b.qs[k] & 511], expand_signs7(b.qs[k] >> 9), v);
    }
};

struct FormatIQ2_S {
    using Block = BlockIQ2_S;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int k = i0 / 8;
        const float db = half_step_scale(fp16_bits_to_fp32(b.d), iq2_scale(b.scales, k), 0.25f);
        signed8(db, grids::iq2s_grid[iq2s_index(b.qs, b.qh, k)], b.qs[QK_K / 8 + k], v);
    }
};

struct FormatIQ3_XXS {
    using Block = BlockIQ3_XXS;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int g = i0 / 32, l = (i0 % 32) / 8;
        // Byte reads: the word sits at an offset of 2 mod 4 in the block.
        const uint32_t aux = read_u32_le(b.qs + QK_K / 4 + 4 * g);
        const float db = half_step_scale(fp16_bits_to_fp32(b.d), static_cast<int>(aux >> 28), 0.5f);
        const uint32_t lo = grids::iq3xxs_grid[b.qs[8 * g + 2 * l]];
        const uint32_t hi = grids::iq3xxs_grid[b.qs[8 * g + 2 * l + 1]];
        signed8(db, lo | static_cast<uint64_t>(hi) << 32, expand_signs7(aux >> (7 * l)), v);
    }
};

struct FormatIQ3_S {
    using Block = BlockIQ3_S;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int k = i0 / 8;
        const float db = mul(fp16_bits_to_fp32(b.d), to_float(1 + 2 * iq3s_scale(b.scales, k)));
        const uint32_t lo = grids::iq3s_grid[iq3s_index(b.qs, b.qh, 2 * k)];
        const uint32_t hi = grids::iq3s_grid[iq3s_index(b.qs, b.qh, 2 * k + 1)];
        signed8(db, lo | static_cast<uint64_t>(hi) << 32, b.signs[k], v);
    }
};

struct FormatIQ1_S {
    using Block = BlockIQ1_S;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int g = i0 / 32, l = (i0 % 32) / 8;
        const int qh = b.qh[g];
        const float dl = mul(fp16_bits_to_fp32(b.d), to_float(2 * ((qh >> 12) & 7) + 1));
        const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
        iq1_8(dl, grids::iq1s_grid[iq1s_index(b.qs, qh, g, l)], delta, v);
    }
};

struct FormatIQ1_M {
    using Block = BlockIQ1_M;
    static constexpr int qk = QK_K;
    __device__ static void values(const Block& b, int i0, float (&v)[kPerThread]) {
        const int k = i0 / 8;
        const float d = fp16_bits_to_fp32(iq1_m_scale_bits(b.scales));
        const int m = k / 2; // the 16-value group's 3-bit scale
        const float dl = mul(d, to_float(2 * iq1_m_group_scale(b.scales, m) + 1));
        const int nib = iq1_m_nibble(b.qh, k);
        const float delta = nib & 0x08 ? -kIq1Delta : kIq1Delta;
        iq1_8(dl, grids::iq1s_grid[b.qs[k] | (nib & 7) << 8], delta, v);
    }
};

} // namespace hearth::kernels::formats
