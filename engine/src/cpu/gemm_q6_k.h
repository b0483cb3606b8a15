// Q6_K weights × their Q8_K activations for a batch of tokens, in register tiles of several
// weight rows × several tokens: each weight row is unpacked once per call (6-bit quants as
// bytes, its sub-block scales as 16-bit vectors) into a per-thread buffer, then every tile reads
// the unpacked rows, so the bit work is paid once per row and token tile instead of once per
// (row, group of four tokens) as in the per-row kernel (vec_dot_q6_k_avx2.cpp).
//
// Every (row, token) result has the bits of that per-row kernel, which is ggml's
// ggml_vec_dot_q6_K_q8_K on AVX2: per super-block eight int32 lanes, lane j the sum over the
// eight 32-quant chunks c of sc[2c + j / 4] × (the 4-byte product sum at bytes 4(j % 4) of the
// chunk's half j / 4) minus 32 × (bsums[2j] × sc[2j] + bsums[2j + 1] × sc[2j + 1]); then
// acc = fma(d_x × d_w, float(lane), acc) per super-block and ggml's 8-lane horizontal sum. The
// integer lanes are exact in any order (the quants are 0..63, so vpmaddubsw's 16-bit pair sums
// lie in [-16128, 16002] and never saturate, whatever the int8 activations), so the tiles may
// reorganise them freely; the float operations are the per-row kernel's, in its order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// y[t * y_stride + r] = row r of w · activation row t, for r in [0, n_rows), t in [0, n_tok):
// w holds n_rows Q6_K rows of n_cols values (a multiple of 256), row_bytes apart; x holds n_tok
// Q8_K activation rows, x_stride bytes apart.
using GemmQ6KFn = void (*)(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows,
                           const void* x, size_t x_stride, int64_t n_tok, float* y,
                           int64_t y_stride);

// The AVX2 + FMA + F16C tiles (gemm_q6_k_avx2.cpp); nullptr where not built for x86. Call it
// only at the avx2 level.
GemmQ6KFn gemm_q6_k_avx2();

// The AVX-512 tiles (gemm_q6_k_avx512.cpp: AVX512F/BW/VL + VNNI, 64-byte quant pairs and
// vpdpwssd); nullptr where not built for x86. Call it only where avx512_kernels_enabled().
GemmQ6KFn gemm_q6_k_avx512();

} // namespace hearth::cpu
