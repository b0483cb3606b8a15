// The fast prefill path's K-quant layout (Q4_K, Q5_K, Q6_K): the file's integer sub-block scales
// kept as integers, as llama.cpp's tiled K-quant path does. Per 256-value super-block, 8 rows
// interleaved as in int8_gemm.h (unsigned q, a row per 32-bit lane), each row's float d and dmin,
// and its integer scale and min per 16 values. The activations are Q8_K (one float scale per 256
// values, integer sums per 16). A kernel adds, per row, token and super-block, in int32:
//
//   isum = Σ_s scale_s · (Σ_{k in s} q_k · x_k)        imin = Σ_s (−min_s) · bsum_s
//
// and then takes two float steps, in this order (the portable kernel defines the bits):
//
//   acc = fma(d_w · d_x, float(isum), acc);   acc = fma(dmin_w · d_x, float(imin), acc)
//
// where the old per-32 layout (BlockInt8x8) pays a multiply, a conversion and two FMAs per 32
// (Q6_K: 16) values. Values: Q4_K/Q5_K: d · sc_j · q − dmin · m_j (6-bit sc, m per 32 values,
// written to both of its 16-value halves; q ≤ 31); Q6_K: d · sc_s · (q − 32) (signed 8-bit sc per
// 16; q ≤ 63), so min_s = sc_s and dmin = 32 d (exact: a power of two).
//
// int32 range: |Σ_{k in s} q_k x_k| ≤ 16 · 63 · 128 per 16 values, times |scale| ≤ 128, times 16
// sub-blocks: 264,241,152 < 2^31 (Q4_K/Q5_K: 16 · 16 · 31 · 128 · 63 = 64 M). |imin| ≤ 16 · 128 ·
// 2048 (Q6_K; Q4_K/Q5_K: 16 · 63 · 2048).
#pragma once

#include "cpu/int8_gemm.h"
#include "quant/blocks.h"

#include <cstdint>
#include <vector>

namespace hearth::cpu {

inline constexpr int64_t kKSuper = 256;
inline constexpr int kKSubBlocks = 16; // 16-value sub-blocks per super-block

inline constexpr int64_t kKSuperMaxProduct = int64_t{16} * 63 * 128;
static_assert(kKSuperMaxProduct * 128 * kKSubBlocks < (int64_t{1} << 31),
              "a super-block's scaled integer sum must fit int32");

// 256 values of each of 8 rows. Value k of row r: q = qs[32 * (k / 4) + 4 * r + k % 4] (as in
// BlockInt8x8), in 16-value sub-block s = k / 16 with integer scale scale[s][r][0] (the same
// value in [1]: a 16-bit pair, so an AVX2 vpmaddwd multiplies both halves of a 32-bit lane by
// it). Negated mins as 16-bit pairs: min[p][r] = {−min_{2p}, −min_{2p+1}}.
struct BlockKSuper8 {
    float d[kInt8Rows];
    float dmin[kInt8Rows];
    int16_t scale[kKSubBlocks][kInt8Rows][2];
    int16_t neg_min[kKSubBlocks / 2][kInt8Rows][2];
    uint8_t qs[kKSuper * kInt8Rows];
};
static_assert(sizeof(BlockKSuper8) == 2880);

// Whether the type takes this layout in the fast path: Q4_K, Q5_K, Q6_K.
bool int8_ksuper_supported(TensorType type);

// The largest q of the type's layout: 31 (Q4_K, Q5_K) or 63 (Q6_K).
int int8_ksuper_max_q(TensorType type);

// Converts rows [row0, row0 + 8) of w (rows past w.n_rows: zeros) to w.n_cols / 256 blocks.
void int8_ksuper_convert_group(const WeightMatrix& w, int64_t row0, BlockKSuper8* out);

// Activations: token t's Q8_K blocks at x + t * stride.
struct KSuperActivations {
    const quant::BlockQ8_K* x = nullptr;
    int64_t stride = 0;
};

// y[t * y_stride + r] = row r · token t for r < n_rows (≤ kInt8CallRows: row r in group r / 8,
// the second group at group + n_super), t < n_tok, over n_super super-blocks. max_q is the
// type's (int8_ksuper_max_q): it bounds the AVX2 kernel's 16-bit sums, and 31 (Q4_K, Q5_K) also
// tells that sub-blocks 2j and 2j + 1 share a scale, so the AVX-512 kernel multiplies per 32.
using KSuperGemmFn = void (*)(int64_t n_super, const BlockKSuper8* group,
                              const KSuperActivations& x, int64_t n_tok, int max_q, float* y,
                              int64_t y_stride, int n_rows);
void int8_ksuper_portable(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                          int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows);
void int8_ksuper_avx2(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                      int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows);
void int8_ksuper_avxvnni(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                         int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows);
void int8_ksuper_avx512vnni(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                            int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows);

// The kernel of this layout for the int8 path's kernel `kernel` (int8_gemm_kernels()): the same
// instruction set; nullptr: the best this CPU runs.
KSuperGemmFn int8_ksuper_kernel_for(Int8GemmFn kernel);

// matmul_int8 for the types of int8_ksuper_supported.
void matmul_ksuper(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                   float* y, int64_t y_stride, ThreadPool& pool, KSuperGemmFn kernel);

} // namespace hearth::cpu
