// The fast prefill path: weights re-expressed, 8 rows at a time, as unsigned integers of at most
// 6 bits (the grid i-quants: 7; Q8_0, F16, BF16, F32: 8) with a float scale and min per 16 or 32
// values (ik_llama.cpp's row-interleaved int8 idea), multiplied by int8 activations in ONE
// hand-tiled kernel for every supported type, so the per-type unpacking leaves the inner loop.
// Not bit-exact with ggml (see docs/ARCHITECTURE.md, "Fast prefill numerics"); the exact kernels
// stay the library's default.
#pragma once

#include "cpu/matmul.h"
#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

// Values per block of the layout; each block holds two halves of 16 values.
inline constexpr int64_t kInt8Block = 32;
inline constexpr int64_t kInt8Rows = 8;
// Fewest tokens in a matmul for the int8 path: below this, converting the weights costs more
// than the kernel saves (measured: docs/PERFORMANCE.md, "Int8 prefill").
inline constexpr int64_t kInt8MinTokens = 32;

// 32 values of each of 8 rows: value k of row r stands for scale[h][r] * q - min[h][r] with
// h = k / 16 and q the unsigned byte qs[32 * (k / 4) + 4 * r + k % 4] (at most what the type's
// Int8Format allows, below). One 32-byte load of qs gives 4 values of every row, a row per 32-bit
// lane.
struct BlockInt8x8 {
    float scale[2][kInt8Rows];
    float min[2][kInt8Rows];
    uint8_t qs[kInt8Block * kInt8Rows];
};
static_assert(sizeof(BlockInt8x8) == 384);

// Whether `type` has a conversion to the layout: Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_0
// and the grid i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M;
// int8_convert_grid.cpp) exactly; F16, BF16 and F32 rounded to 8 bits per value
// (int8_convert_float.cpp).
bool int8_gemm_supported(TensorType type);

// How a type's values sit in the layout, which decides how a kernel may add their products.
// Activations are at most 127 in magnitude (128 for a -128), so with vpmaddubsw (a 16-bit lane
// holds two products per quad): q ≤ 31 lets four quads' products be added before widening
// (4 × 2 × 31 × 128 < 32768), q ≤ 63 two (2 × 2 × 63 × 128 < 32768); q ≤ 127 needs each quad
// widened on its own (2 × 127 × 128 < 32768); q ≤ 255 needs the sign trick.
enum class Int8Format {
    nibbles,   // q ≤ 31, a scale and min per 32 values (Q4_*, Q5_*, IQ3_S, IQ1_S)
    nibbles16, // q ≤ 63, a scale and min per 16 values (Q6_K, IQ1_M)
    wide,      // q ≤ 127, a scale and min per 32 values (IQ2_XXS, IQ3_XXS)
    wide16,    // q ≤ 127, a scale and min per 16 values (IQ2_XS, IQ2_S)
    bytes,     // q ≤ 255 (Q8_0: q + 128; F16/BF16/F32: rounded), a scale and min per 32 values
};
Int8Format int8_gemm_format(TensorType type);

// The largest q a format holds (31, 63, 127 or 255); the kernels pick their integer steps by it.
constexpr int int8_format_max_q(Int8Format format) {
    switch (format) {
    case Int8Format::nibbles:
        return 31;
    case Int8Format::nibbles16:
        return 63;
    case Int8Format::wide:
    case Int8Format::wide16:
        return 127;
    case Int8Format::bytes:
        break;
    }
    return 255;
}

// Scales per 32-value block: 2 for the per-16 formats (nibbles16, wide16), else 1.
int int8_format_segments(Int8Format format);

// Whether a type's q uses the full byte (Int8Format::bytes). Two vpmaddubsw products of such
// bytes can saturate 16 bits, so the AVX2 kernel takes them through the sign trick instead.
bool int8_gemm_full_bytes(TensorType type);

// Converts rows [row0, row0 + 8) of w (rows past w.n_rows become zeros) to w.n_cols / 32
// blocks. w.type must be int8_gemm_supported.
void int8_convert_group(const WeightMatrix& w, int64_t row0, BlockInt8x8* out);

// The float types' conversion (F16, BF16, F32; int8_convert_float.cpp), per 32-value block of
// a row, values v as float: lo = min v and hi = max v over the block's values that are not NaN
// (+inf and -inf where all are), range = hi - lo, scale = range / 255 and inv = 255 / range
// where range > 0 (both 0 otherwise), q = nearbyint((v - lo) * inv) clamped to [0, 255] (0 for
// NaN), min = 0 - lo. So scale * q - min is within scale / 2 (plus float rounding) of v. Writes
// q[n_cols], scale[n_cols / 32], min[n_cols / 32]. The portable version is the definition.
void int8_convert_float_row_portable(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                                     float* scale, float* min);
// The same conversion, with its bits, of n_rows ≤ 8 rows (the first at rows, each row_bytes
// after the last; missing rows of the group become zeros) straight into n_cols / 32 blocks of
// the layout, 8 rows at a time (int8_convert_float_avx2.cpp: AVX2, F16C, FMA).
// int8_convert_group uses it where the CPU has them.
void int8_convert_float_group_avx2(TensorType type, const uint8_t* rows, size_t row_bytes,
                                   int64_t n_cols, int n_rows, BlockInt8x8* out);

// Activations of one matmul (ggml's Q8_0 quantization, d as the f16 it rounds to): token t's
// int8 values at qs + t * qs_stride; for its block b, the scale at d[t * d_stride + b], minus d
// times the block's sum at neg_dsum32[t * d_stride + b] (negated once here, so the kernels
// broadcast it as it is), the integer sum itself at sum32[t * d_stride + b] (the AVX2 kernel's
// sign trick needs it), and minus d times the sum of half h at
// neg_dsum16[t * 2 * d_stride + 2 * b + h].
struct Int8Activations {
    const int8_t* qs = nullptr;
    size_t qs_stride = 0;
    const float* d = nullptr;
    const float* neg_dsum32 = nullptr;
    const float* neg_dsum16 = nullptr;
    const int32_t* sum32 = nullptr;
    int64_t d_stride = 0;
};

// Rows per kernel call: two groups, the second (read only where n_rows > kInt8Rows) at
// group + n_blocks, so a 512-bit kernel holds a quad of 16 rows in one register.
inline constexpr int64_t kInt8CallRows = 2 * kInt8Rows;

// y[t * y_stride + r] = row r of the groups · token t, for r < n_rows (≤ kInt8CallRows; row r in
// group r / 8), t < n_tok, over n_blocks blocks. Per token and row: acc = fma(scale * d,
// float(integer dot of the block or half), acc), then acc = fma(min, neg_dsum, acc), blocks
// (halves) in order, so every kernel gives the same bits for every format.
using Int8GemmFn = void (*)(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                            int64_t n_tok, Int8Format format, float* y, int64_t y_stride,
                            int n_rows);
void int8_gemm_portable(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                        int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows);
void int8_gemm_avx2(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                    int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows);
void int8_gemm_avxvnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                       int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows);
void int8_gemm_avx512vnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                          int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows);

// The kernels this CPU runs at the current kernel level, fastest first (the portable one last),
// and their names for tests and logs. VNNI needs HEARTH_CPU_FEATURES unset or "avx512".
struct Int8Kernel {
    const char* name;
    Int8GemmFn fn;
};
std::vector<Int8Kernel> int8_gemm_kernels();

// The whole product through the int8 path (what matmul() calls when the fast path is on), with
// `kernel` (nullptr: the first of int8_gemm_kernels()). Q4_K, Q5_K and Q6_K take the
// super-block layout with integer sub-block scales instead (int8_ksuper.h: matmul_ksuper, with
// that layout's kernel for the same instruction set).
void matmul_int8(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool, Int8GemmFn kernel = nullptr);

// Whether matmul() takes the int8 path for this matrix and batch.
bool use_int8_gemm(const WeightMatrix& w, int64_t n_tokens, MatmulOp op);

} // namespace hearth::cpu
