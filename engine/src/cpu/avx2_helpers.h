// Small AVX2 helpers shared by the kernel files compiled for AVX2 (vec_dot_avx2.cpp,
// vec_dot_lowbit_avx2.cpp, gemm_block32_avx2.cpp, repack_avx2.cpp, gemm_float_avx2.cpp and the
// AVX-512 files). Include only inside their `#if defined(__AVX2__) ...` blocks.
#pragma once

#include <cstdint>
#include <immintrin.h>

namespace hearth::cpu::avx2 {

inline float h2f(uint16_t h) {
    return _cvtsh_ss(h);
}

// ggml's hsum_float_8: the horizontal sum of 8 floats, in its order.
inline float hsum(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// 8 F16 / BF16 values widened to floats (exact).
inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16x8(const uint16_t* p) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

} // namespace hearth::cpu::avx2
