// The VNNI kernels' integer step for the int8 prefill tile (int8_gemm_tile.h), shared by
// int8_gemm_avxvnni.cpp and int8_gemm_avx512vnni.cpp: separate files for their target flags,
// differing only in the spelling of vpdpbusd, which each passes in as DpBusd.
#pragma once

#include "cpu/int8_gemm_tile.h"

#include <immintrin.h>

namespace hearth::cpu {

// vpdpbusd adds the four u8 × s8 products of each 32-bit lane straight into the row's 32-bit
// sum: one instruction per quad where AVX2 needs three, and the same exact integers. Full
// bytes too: the sum is 32-bit, so q up to 255 cannot saturate.
template <__m256i (*DpBusd)(__m256i acc, __m256i w, __m256i x)>
struct DotVnni : PlainBytesDot {
    template <int kRun>
    static __m256i run(__m256i acc, const __m256i* w, const int8_t* x) {
#pragma GCC unroll 8
        for (int i = 0; i < kRun; ++i) {
            acc = DpBusd(acc, w[i], broadcast4(x + 4 * i));
        }
        return acc;
    }
};

// The kernel over one group (n_rows ≤ 8), 6-bit, 7-bit and full bytes alike.
template <__m256i (*DpBusd)(__m256i, __m256i, __m256i)>
void int8_gemm_vnni_group(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                          int64_t n_tok, Int8Format format, float* y, int64_t y_stride,
                          int n_rows) {
    using Dot = DotVnni<DpBusd>;
    run_group<Dot, Dot, Dot>(n_blocks, group, x, n_tok, format, y, y_stride, n_rows);
}

// The whole kernel (int8_gemm.h's Int8GemmFn): each of the call's groups on its own.
template <__m256i (*DpBusd)(__m256i, __m256i, __m256i)>
void int8_gemm_vnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                    int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows) {
    using Dot = DotVnni<DpBusd>;
    run_groups<Dot, Dot, Dot>(n_blocks, group, x, n_tok, format, y, y_stride, n_rows);
}

} // namespace hearth::cpu
