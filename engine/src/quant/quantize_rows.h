// The row quantizers behind hearth/quantize.h: ggml's reference ("_ref") routines, the ones
// llama-quantize uses without an importance matrix, each transcribed operation for operation
// so that the output is byte-identical to ggml's (the files build with -ffp-contract=off).
#pragma once

#include "quant/block_layout.h"

#include <cstdint>

namespace hearth::quant {

// Each quantizes `k` values (a multiple of the type's block size) into k / block blocks.
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k);
void quantize_row_q8_0_reference(const float* x, BlockQ8_0* y, int64_t k);
// The IQ4 quantizers and Q6_K take an optional importance matrix (`quant_weights`, one weight
// per column of the row; then `k` must be one row), as llama.cpp's do.
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k,
                         const float* quant_weights = nullptr);
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k,
                         const float* quant_weights = nullptr);

void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t k);
void quantize_row_q3_K(const float* x, BlockQ3_K* y, int64_t k);
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t k);
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t k);
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t k,
                       const float* quant_weights = nullptr);

// The importance-weighted quantizers (quantize_weighted.cpp): llama.cpp's quantize_row_*_impl
// with a non-null `quant_weights` of n_per_row values; each quantizes one row.
void quantize_row_q4_0_weighted(const float* x, BlockQ4_0* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q4_1_weighted(const float* x, BlockQ4_1* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q5_0_weighted(const float* x, BlockQ5_0* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q5_1_weighted(const float* x, BlockQ5_1* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q2_K_weighted(const float* x, BlockQ2_K* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q3_K_weighted(const float* x, BlockQ3_K* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q4_K_weighted(const float* x, BlockQ4_K* y, int64_t n_per_row,
                                const float* quant_weights);
void quantize_row_q5_K_weighted(const float* x, BlockQ5_K* y, int64_t n_per_row,
                                const float* quant_weights);

// ggml's nearest_int: round half to even through the float's mantissa (|v| < 2^22).
inline int nearest_int_ggml(float v) {
    const float shifted = v + 12582912.f;
    int32_t bits = 0;
    __builtin_memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

// Below this a group's largest magnitude counts as all zero (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

} // namespace hearth::quant
