// Q6_K's float step per super-block in ggml's AVX2 order (ggml_vec_dot_q6_K_q8_K): one
// definition for the kernels that must give its bits, vec_dot_q6_k_avx2.cpp (a row against 1..4
// tokens), gemv_q6_k_avx2.cpp and gemv_q6_k_avx512.cpp (one token against a run of rows). They
// differ only in how they get the 8 int32 lanes. Include only inside their
// `#if defined(__AVX2__) ...` blocks.
#pragma once

#include "cpu/avx2_helpers.h"

#include <cstdint>
#include <immintrin.h>

namespace hearth::cpu::q6_k_avx2 {

// The -32 offset of the unsigned quants, lane i: 32 * (bsums[2i] sc[2i] + bsums[2i+1] sc[2i+1])
// (bsums: the activations' 16-value sums; scales_16: the row's 16 scales as int16).
inline __m256i offset(__m256i bsums, __m256i scales_16) {
    return _mm256_slli_epi32(_mm256_madd_epi16(bsums, scales_16), 5);
}

// acc + (dx * d) * float(sumi - offset), one FMA per lane (dx: the activations' scale, d: the
// row's f16 scale).
inline __m256 accumulate(__m256 acc, __m256i sumi, __m256i offset, float dx, uint16_t d) {
    const __m256i total = _mm256_sub_epi32(sumi, offset);
    return _mm256_fmadd_ps(_mm256_set1_ps(dx * avx2::h2f(d)), _mm256_cvtepi32_ps(total), acc);
}

} // namespace hearth::cpu::q6_k_avx2
