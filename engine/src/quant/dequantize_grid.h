// Dequantizers of the grid i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S),
// for dequantize.cpp's table; same contract as its other dequantizers.
#pragma once

#include <cstdint>

namespace hearth::quant {

void dequantize_iq2_xxs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq2_xs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq2_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq3_xxs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq3_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq1_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq1_m(const void* src, float* dst, int64_t n_blocks);

} // namespace hearth::quant
