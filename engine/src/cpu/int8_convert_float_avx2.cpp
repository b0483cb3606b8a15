// AVX2 version of the float weights' conversion to the int8 prefill layout
// (int8_convert_float_row_portable in int8_convert_float.cpp is the definition; this gives its
// bits for finite weights). Compiled with -mavx2 -mfma -mf16c; called only where the CPU has
// them. A 32-value block is 4 vectors: F16 through vcvtph2ps, BF16 by a 16-bit shift.
#include "cpu/int8_convert_float.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <algorithm>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

__m256 load8(TensorType type, const void* row, int64_t i) {
    switch (type) {
    case TensorType::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i)));
    case TensorType::BF16: {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    }
    default:
        return _mm256_loadu_ps(static_cast<const float*>(row) + i);
    }
}

float horizontal_min(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

float horizontal_max(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// int8_round_to_byte on 8 values, as int32.
__m256i round_to_bytes(__m256 v, __m256 lo, __m256 inv) {
    const __m256 scaled = _mm256_mul_ps(_mm256_sub_ps(v, lo), inv);
    // max(scaled, 0) returns 0 where scaled is NaN (its second operand), as the definition does.
    const __m256 clamped =
        _mm256_min_ps(_mm256_max_ps(scaled, _mm256_setzero_ps()), _mm256_set1_ps(255.0f));
    return _mm256_cvtps_epi32(
        _mm256_round_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

} // namespace

void int8_convert_float_row_avx2(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                                 float* scale, float* min) {
    for (int64_t b = 0; b < n_cols / kInt8Block; ++b) {
        __m256 v[4];
        for (int k = 0; k < 4; ++k) {
            v[k] = load8(type, row, kInt8Block * b + 8 * k);
        }
        const float lo =
            horizontal_min(_mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3])));
        const float hi =
            horizontal_max(_mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3])));
        const Int8BlockRange r = int8_block_range(lo, hi);
        const __m256 vlo = _mm256_set1_ps(lo);
        const __m256 vinv = _mm256_set1_ps(r.inv);
        const __m256i q01 =
            _mm256_packs_epi32(round_to_bytes(v[0], vlo, vinv), round_to_bytes(v[1], vlo, vinv));
        const __m256i q23 =
            _mm256_packs_epi32(round_to_bytes(v[2], vlo, vinv), round_to_bytes(v[3], vlo, vinv));
        // The packs interleave the 128-bit lanes: 4-byte groups come out as 0 2 4 6 1 3 5 7.
        const __m256i bytes = _mm256_permutevar8x32_epi32(
            _mm256_packus_epi16(q01, q23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + kInt8Block * b), bytes);
        scale[b] = r.scale;
        min[b] = -lo;
    }
}

} // namespace hearth::cpu

#else // not built for x86: int8_convert_float_row never picks this below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_convert_float_row_avx2(TensorType, const void*, int64_t, uint8_t*, float*, float*) {
    std::abort();
}

} // namespace hearth::cpu

#endif
