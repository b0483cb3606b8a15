// See delta_net_ggml.h: ggml's AVX2 order for the delta rule and the short convolution.
#include "cpu/delta_net_ggml.h"

#include <cmath>

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

namespace hearth::cpu::ggml {

float vec_dot_f32(int64_t n, const float* x, const float* y) {
    const int64_t np = n & ~int64_t{31};
    __m256 sum[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; ++j) {
            sum[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * j), _mm256_loadu_ps(y + i + 8 * j),
                                     sum[j]);
        }
    }
    // GGML_F32x8_REDUCE: (acc0 + acc2) + (acc1 + acc3), low + high half, two hadds.
    sum[0] = _mm256_add_ps(sum[0], sum[2]);
    sum[1] = _mm256_add_ps(sum[1], sum[3]);
    sum[0] = _mm256_add_ps(sum[0], sum[1]);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(sum[0]), _mm256_extractf128_ps(sum[0], 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    float sumf = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    // The leftovers as GCC compiles ggml's `sumf += x[i]*y[i]` loop in the reference build:
    // vectorised over groups of 8, then one of 4, the products rounded before the in-order
    // adds; the last 0-3 in its scalar epilogue, contracted to FMA. (Stored products, so that
    // this compiler cannot fuse them into the adds.)
    alignas(32) float products[8];
    int64_t i = np;
    for (; n - i >= 8; i += 8) {
        _mm256_store_ps(products, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        for (float product : products) {
            sumf += product;
        }
    }
    if (n - i >= 4) {
        _mm_store_ps(products, _mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));
        for (int k = 0; k < 4; ++k) {
            sumf += products[k];
        }
        i += 4;
    }
    for (; i < n; ++i) {
        sumf = std::fma(x[i], y[i], sumf);
    }
    return sumf;
}

void vec_mad_f32(int64_t n, float* y, const float* x, float v) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::fma(x[i], v, y[i]);
    }
}

float conv_dot(int64_t n, const float* window, const float* taps) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        sum = std::fma(window[i], taps[i], sum);
    }
    return sum;
}

} // namespace hearth::cpu::ggml

#else

namespace hearth::cpu::ggml {

float vec_dot_f32(int64_t n, const float* x, const float* y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        sum += x[i] * y[i];
    }
    return sum;
}

void vec_mad_f32(int64_t n, float* y, const float* x, float v) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] += x[i] * v;
    }
}

float conv_dot(int64_t n, const float* window, const float* taps) {
    return vec_dot_f32(n, window, taps);
}

} // namespace hearth::cpu::ggml

#endif
