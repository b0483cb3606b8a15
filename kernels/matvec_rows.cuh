// The device pieces the matrix-vector kernels share (matvec.cu: the dense products and the
// embedding lookup; matvec_experts.cu: the mixture-of-experts products): how a lane decodes
// a unit of 8 weights of a row and reads the 8 matching activations, the packed row size each
// weight type checks against, the warp's dot products of one row with a batch of inputs, and
// the adapter that hands a launcher's arguments to dispatch_format. The work decomposition
// (one warp per row, kWarps rows per CTA, lane l taking units l, l + 32, ...) is described at
// the top of matvec.cu.
//
// Device-only: included by those two .cu files after common.cuh.
#pragma once

#include "block_formats.cuh"
#include "common.cuh"
#include "matvec.cuh"

#include <cstddef>
#include <cstdint>

namespace hearth::kernels::matvec_rows {

using namespace formats;

inline constexpr int kWarps = 8;
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kUnit = 8; // values per decode step
static_assert(kUnit == kPerThread, "a unit is one decode call of block_formats.cuh");

// The 8 weights of unit u of a row in a block format (n_cols is a multiple of 8 there).
template <class F>
struct BlockSource {
    __device__ static void decode(const uint8_t* row, int64_t u, int64_t /*n_cols*/, bool /*vec*/,
                                  float (&v)[kUnit]) {
        using Block = typename F::Block;
        constexpr int units_per_block = F::qk / kUnit;
        const int64_t block = u / units_per_block;
        const int i0 = static_cast<int>(u % units_per_block) * kUnit;
        F::values(
            *reinterpret_cast<const Block*>(row + block * static_cast<int64_t>(sizeof(Block))), i0,
            v);
    }
};

// The 8 weights of unit u of an F32 / F16 / BF16 row; values past n_cols read as 0.
template <class P>
struct PlainSource {
    __device__ static void decode(const uint8_t* row, int64_t u, int64_t n_cols, bool vec,
                                  float (&v)[kUnit]) {
        constexpr int size = P::size;
        const int64_t c0 = u * kUnit;
        const uint8_t* p = row + c0 * size;
        if (vec && c0 + kUnit <= n_cols) {
            plain_aligned_values<P>(p, v);
            return;
        }
#pragma unroll
        for (int k = 0; k < kUnit; ++k) {
            uint32_t raw = 0;
            if (c0 + k < n_cols) {
#pragma unroll
                for (int byte = 0; byte < size; ++byte) {
                    raw |= static_cast<uint32_t>(p[k * size + byte]) << (8 * byte);
                }
                v[k] = P::decode(raw);
            } else {
                v[k] = 0.0f;
            }
        }
    }
};

// 8 activations from c0; past n_cols they read as 0 (the weights there are 0 too).
__device__ __forceinline__ void load_x(const float* x, int64_t c0, int64_t n_cols, bool vec,
                                       float (&xv)[kUnit]) {
    if (vec && c0 + kUnit <= n_cols) {
        const float4 a = reinterpret_cast<const float4*>(x + c0)[0];
        const float4 b = reinterpret_cast<const float4*>(x + c0)[1];
        xv[0] = a.x, xv[1] = a.y, xv[2] = a.z, xv[3] = a.w;
        xv[4] = b.x, xv[5] = b.y, xv[6] = b.z, xv[7] = b.w;
        return;
    }
#pragma unroll
    for (int k = 0; k < kUnit; ++k) {
        xv[k] = c0 + k < n_cols ? x[c0 + k] : 0.0f;
    }
}

// Lane `lane`'s partial sums of the row w_row times the inputs x_row(b), b < n_batch:
// acc[b] = sum over the lane's units u (u = lane, lane + 32, ...) of the 8 products
// v[k] * x_row(b)[8u + k], each a float32 fused multiply-add in order k = 0..7.
template <class Source, class XRow>
__device__ __forceinline__ void lane_dot_batch(const uint8_t* w_row, int64_t n_cols, bool vec_w,
                                               XRow x_row, bool vec_x, int n_batch, int lane,
                                               float (&acc)[kMatvecMaxBatch]) {
#pragma unroll
    for (int b = 0; b < kMatvecMaxBatch; ++b) {
        acc[b] = 0.0f;
    }
    const int64_t n_units = (n_cols + kUnit - 1) / kUnit;
    for (int64_t u = lane; u < n_units; u += 32) {
        float v[kUnit];
        Source::decode(w_row, u, n_cols, vec_w, v);
        const int64_t c0 = u * kUnit;
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            if (b < n_batch) {
                float xv[kUnit];
                load_x(x_row(b), c0, n_cols, vec_x, xv);
                float s = acc[b];
#pragma unroll
                for (int k = 0; k < kUnit; ++k) {
                    s = fmaf(v[k], xv[k], s);
                }
                acc[b] = s;
            }
        }
    }
}

// The sum of the 32 lanes' `s` by a butterfly, in every lane (the whole warp must call it).
__device__ __forceinline__ float warp_sum(float s) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        s += __shfl_xor_sync(0xffffffffu, s, offset);
    }
    return s;
}

inline bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Packed bytes of one row, or 0 when n_cols is not a whole number of blocks.
template <class Source>
struct RowSize;
template <class F>
struct RowSize<BlockSource<F>> {
    static size_t bytes(int64_t n_cols) {
        return n_cols % F::qk == 0 ? static_cast<size_t>(n_cols / F::qk) * sizeof(typename F::Block)
                                   : 0;
    }
};
template <class P>
struct RowSize<PlainSource<P>> {
    static size_t bytes(int64_t n_cols) { return static_cast<size_t>(n_cols) * P::size; }
};

// The functor dispatch_format calls: args.run<BlockSource<F>>() for a block format F,
// args.run<PlainSource<P>>() for F32 / F16 / BF16. `Args` holds one launcher's arguments.
template <class Args>
struct SourceDispatch {
    Args args;
    template <class F>
    cudaError_t operator()() const {
        return args.template run<BlockSource<F>>();
    }
    template <class P>
    cudaError_t plain() const {
        return args.template run<PlainSource<P>>();
    }
};

} // namespace hearth::kernels::matvec_rows
