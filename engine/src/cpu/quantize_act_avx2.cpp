// quantize_block_q8_avx2 (kernels.h): quantize_block_q8_scalar's bits, eight values at a time;
// quantize_block_q8_k_avx2 the same for quantize_block_q8_k_scalar (Q8_K, 256 values).
// Built with -ffp-contract=off: x * id is rounded before 1.5 * 2^23 is added, as in the scalar
// form, never fused into one FMA.
#include "cpu/kernels.h"

#if defined(__AVX2__)

#include <cmath>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {

int quantize_block_q8_avx2(const float* x, int8_t* qs, float& d) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4];
    __m256 amax8 = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        // MAXPS returns its second operand when either is a NaN, so a NaN is never taken, as in
        // the scalar std::max(amax, |x|). Every other value is exact and max is associative,
        // so lanes first and then across them gives the scalar loop's result.
        amax8 = _mm256_max_ps(_mm256_and_ps(v[i], abs_mask), amax8);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const __m256 id = _mm256_set1_ps(q8_block_inverse_scale(_mm_cvtss_f32(m), d));

    // nearest_int: x * id + 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
    const __m256 shift = _mm256_set1_ps(12582912.f);
    const __m256i mantissa = _mm256_set1_epi32(0x007fffff);
    const __m256i offset = _mm256_set1_epi32(0x00400000);
    const __m256i low_byte = _mm256_set1_epi32(0xff);
    __m256i q[4];
    __m256i sum = _mm256_setzero_si256();
    for (int i = 0; i < 4; ++i) {
        const __m256 shifted = _mm256_add_ps(_mm256_mul_ps(v[i], id), shift);
        const __m256i qi =
            _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted), mantissa), offset);
        sum = _mm256_add_epi32(sum, qi);
        q[i] = _mm256_and_si256(qi, low_byte); // static_cast<int8_t>: the low byte, unsaturated
    }
    // 0..255 in every lane, so the packs do not saturate; they interleave the 128-bit halves,
    // which the permutation puts back in order.
    const __m256i bytes =
        _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(qs),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

void quantize_block_q8_k_avx2(const float* x, BlockQ8_K& y) {
    using quant::QK_K;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 amax8 = _mm256_setzero_ps();
    for (int i = 0; i < QK_K; i += 8) {
        // MAXPS returns its second operand when either is a NaN: a NaN is never taken, as in
        // the scalar form's `ax > amax`; max is exact and associative otherwise.
        amax8 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), amax8);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    if (amax == 0.0f) {
        std::memset(&y, 0, sizeof(y));
        return;
    }
    // The scalar form keeps the first value of the largest magnitude (a strict > updates it).
    float max = 0.0f;
    for (int i = 0; i < QK_K; ++i) {
        if (std::fabs(x[i]) == amax) {
            max = x[i];
            break;
        }
    }
    const float iscale = -127.0f / max;
    const __m256 scale = _mm256_set1_ps(iscale);
    // nearest_int: x * iscale + 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
    const __m256 shift = _mm256_set1_ps(12582912.f);
    const __m256i mantissa = _mm256_set1_epi32(0x007fffff);
    const __m256i offset = _mm256_set1_epi32(0x00400000);
    const __m256i top = _mm256_set1_epi32(127);
    const __m256i low_byte = _mm256_set1_epi32(0xff);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i quads[QK_K / 32]; // per 32 values: the sums of each 4 stored bytes
    for (int j = 0; j < QK_K / 32; ++j) {
        __m256i q[4];
        for (int i = 0; i < 4; ++i) {
            const __m256 shifted =
                _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * j + 8 * i), scale), shift);
            const __m256i qi =
                _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted), mantissa), offset);
            // static_cast<int8_t>(min(q, 127)): the low byte, unsaturated.
            q[i] = _mm256_and_si256(_mm256_min_epi32(qi, top), low_byte);
        }
        // 0..255 in every lane, so the packs do not saturate; the permutation puts the 128-bit
        // halves they interleave back in order.
        const __m256i bytes = _mm256_permutevar8x32_epi32(
            _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3])),
            order);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y.qs + 32 * j), bytes);
        // The sums of the stored int8 values, as the scalar form adds them: 4 bytes per lane,
        // lanes 0-3 the first 16 values, 4-7 the next.
        quads[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes),
                                     _mm256_set1_epi16(1));
    }
    for (int h = 0; h < 2; ++h) {
        // Lanes: the 16-value sums of groups 8h + {0, 2, 4, 6 | 1, 3, 5, 7}, then in order.
        const __m256i* v = quads + 4 * h;
        const __m256i s = _mm256_permutevar8x32_epi32(
            _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3])), order);
        _mm_storeu_si128(
            reinterpret_cast<__m128i*>(y.bsums + 8 * h),
            _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
    }
    y.d = 1.0f / iscale;
}

} // namespace hearth::cpu

#else // not built for x86 with AVX2: kernel_level() never picks this form

namespace hearth::cpu {

int quantize_block_q8_avx2(const float* x, int8_t* qs, float& d) {
    return quantize_block_q8_scalar(x, qs, d);
}

void quantize_block_q8_k_avx2(const float* x, BlockQ8_K& y) {
    quantize_block_q8_k_scalar(x, y);
}

} // namespace hearth::cpu

#endif
