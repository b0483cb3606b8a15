// The gated delta-net's inner loops in the floating-point order of ggml's AVX2 CPU backend
// (ggml_vec_dot_f32, ggml_vec_mad_f32, ggml_compute_forward_ssm_conv_f32 built with FMA), so
// that the recurrent layers keep llama.cpp's bits. Compiled with AVX2/FMA; call only when
// kernel_level() is avx2 (elsewhere they are plain loops).
#pragma once

#include <cstdint>

namespace hearth::cpu::ggml {

// ggml_vec_dot_f32: four 8-lane FMA accumulators over 32-element steps, reduced as
// GGML_F32x8_REDUCE, then the leftovers added one by one in float, as GCC compiled them in the
// reference build (products of groups of 8 and 4 rounded first, the last 0-3 with FMA).
float vec_dot_f32(int64_t n, const float* x, const float* y);

// ggml_vec_mad_f32: y[i] = fma(x[i], v, y[i]).
void vec_mad_f32(int64_t n, float* y, const float* x, float v);

// The causal convolution of one channel: Σ window[i] · taps[i], accumulated with FMA from 0.
float conv_dot(int64_t n, const float* window, const float* taps);

} // namespace hearth::cpu::ggml
