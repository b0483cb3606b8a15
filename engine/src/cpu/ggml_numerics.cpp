// See ggml_numerics.h. Each function follows the operation order of the ggml CPU source it
// is named after (ggml/src/ggml-cpu/vec.h, vec.cpp, simd-mappings.h, llamafile/sgemm.cpp).
#include "cpu/ggml_numerics.h"

#include "hearth/quant.h"

#include <cmath>
#include <limits>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

namespace hearth::cpu::ggml {
namespace {

// ggml_v_expf's lanes past |n| > 126, with its bits but without the slow floating-point
// assists a subnormal or underflowing product costs on x86 (over a hundred cycles per
// instruction; a softmax row's masked -INF cells reach here every time). ggml computes, per lane,
//   |n| > 192:         s1 * s1                 (+0 where n <= 0, +inf where n > 0)
//   126 < |n| <= 192:  (s2 * j + s2) * s1      (s1 = 2^-125 where n <= 0, 2^127 where n > 0)
//   otherwise:         k * j + k
// with s1 = 2^-125 or 2^127 and s2 = 2^(n) * 2^125 or 2^(n) * 2^-127 built from the exponent
// bits. Here the first is selected, not multiplied; the second multiplies by 2^127 as ggml does
// but scales by 2^-125 in integers (scale_down_125, rounding to nearest even as the product
// does); and every lane a branch does not own gets operands that cannot be subnormal.
inline __m256 scale_down_125(__m256 f) {
    const __m256i fb = _mm256_castps_si256(f);
    const __m256i mag = _mm256_and_si256(fb, _mm256_set1_epi32(0x7fffffff));
    const __m256i ef = _mm256_srli_epi32(mag, 23);
    // A normal result: the exponent lowered by 125.
    const __m256i normal = _mm256_sub_epi32(fb, _mm256_set1_epi32(125 << 23));
    // A subnormal (or zero) result: the significand shifted right by 126 - ef, at most 25 (all
    // of it gone, below half the smallest subnormal), rounded to nearest even.
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i sig = _mm256_or_si256(_mm256_and_si256(fb, _mm256_set1_epi32(0x007fffff)),
                                        _mm256_set1_epi32(0x00800000));
    const __m256i shift =
        _mm256_min_epu32(_mm256_sub_epi32(_mm256_set1_epi32(126), ef), _mm256_set1_epi32(25));
    __m256i q = _mm256_srlv_epi32(sig, shift);
    const __m256i rest =
        _mm256_and_si256(sig, _mm256_sub_epi32(_mm256_sllv_epi32(one, shift), one));
    const __m256i half = _mm256_sllv_epi32(one, _mm256_sub_epi32(shift, one));
    const __m256i up =
        _mm256_or_si256(_mm256_cmpgt_epi32(rest, half),
                        _mm256_and_si256(_mm256_cmpeq_epi32(rest, half),
                                         _mm256_cmpeq_epi32(_mm256_and_si256(q, one), one)));
    q = _mm256_sub_epi32(q, up);
    const __m256i sign = _mm256_andnot_si256(_mm256_set1_epi32(0x7fffffff), fb);
    __m256i r = _mm256_blendv_epi8(_mm256_or_si256(sign, q), normal,
                                   _mm256_cmpgt_epi32(ef, _mm256_set1_epi32(125)));
    // Infinities stay, NaNs stay and turn quiet, as through a multiply.
    const __m256i quiet =
        _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(fb, _mm256_set1_epi32(0x007fffff)),
                                               _mm256_setzero_si256()),
                            _mm256_set1_epi32(0x00400000));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(fb, quiet),
                           _mm256_cmpeq_epi32(ef, _mm256_set1_epi32(255)));
    return _mm256_castsi256_ps(r);
}

inline __m256 expf_far_lanes(__m256 n, __m256i e, __m256 j, __m256 k, __m256i c) {
    const __m256 one = _mm256_set1_ps(1);
    const __m256 far = _mm256_castsi256_ps(c); // |n| > 126
    const __m256 very_far =
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256 below = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ); // n <= 0
    // |n| <= 126: k * j + k (k of the other lanes may be subnormal: 1 instead).
    const __m256 k_near = _mm256_blendv_ps(k, one, far);
    const __m256 near_result = _mm256_fmadd_ps(k_near, j, k_near);
    // 126 < |n| <= 192: s2 * j + s2 (1 in the other lanes), then times s1.
    const __m256 mid = _mm256_andnot_ps(very_far, far);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(below),
                                       _mm256_set1_epi32(static_cast<int>(0x82000000u)));
    const __m256 s2 = _mm256_blendv_ps(one, _mm256_castsi256_ps(_mm256_sub_epi32(e, g)), mid);
    const __m256 f = _mm256_fmadd_ps(s2, _mm256_and_ps(mid, j), s2);
    const __m256 up = _mm256_mul_ps(f, _mm256_blendv_ps(_mm256_set1_ps(0x1p127f), one, below));
    const __m256 mid_result = _mm256_blendv_ps(up, scale_down_125(f), below);
    // |n| > 192: s1 * s1.
    const __m256 very_far_result =
        _mm256_andnot_ps(below, _mm256_set1_ps(std::numeric_limits<float>::infinity()));
    return _mm256_blendv_ps(_mm256_blendv_ps(near_result, mid_result, far), very_far_result,
                            very_far);
}

// ggml_v_expf (AVX2 + FMA), adapted there from ARM's optimized routines.
inline __m256 v_expf(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k =
        _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c = _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) {
        return _mm256_fmadd_ps(j, k, k);
    }
    return expf_far_lanes(n, e, j, k, c);
}

// ggml_v_silu: x / (1 + exp(-x)) with the vector exp and a true division.
inline __m256 v_silu(__m256 x) {
    const __m256 neg_x = _mm256_sub_ps(_mm256_setzero_ps(), x);
    const __m256 one_plus = _mm256_add_ps(_mm256_set1_ps(1), v_expf(neg_x));
    return _mm256_div_ps(x, one_plus);
}

inline __m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

} // namespace

void swiglu_f32(int64_t n, float* y, const float* x, const float* g) {
    int64_t i = 0;
    for (; i + 7 < n; i += 8) {
        _mm256_storeu_ps(y + i,
                         _mm256_mul_ps(v_silu(_mm256_loadu_ps(x + i)), _mm256_loadu_ps(g + i)));
    }
    for (; i < n; ++i) {
        y[i] = (x[i] / (1.0f + std::exp(-x[i]))) * g[i];
    }
}

float vec_dot_f16(int64_t n, const uint16_t* x, const uint16_t* y) {
    const int64_t np = n & ~int64_t{31};
    __m256 sum[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; ++j) {
            sum[j] = _mm256_fmadd_ps(load_f16(x + i + j * 8), load_f16(y + i + j * 8), sum[j]);
        }
    }
    // GGML_F32x8_REDUCE: halves added pairwise, then the 8 lanes with two hadds.
    sum[0] = _mm256_add_ps(sum[0], sum[2]);
    sum[1] = _mm256_add_ps(sum[1], sum[3]);
    sum[0] = _mm256_add_ps(sum[0], sum[1]);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(sum[0]), _mm256_extractf128_ps(sum[0], 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double sumf = static_cast<double>(_mm_cvtss_f32(_mm_hadd_ps(t1, t1)));
    for (int64_t i = np; i < n; ++i) {
        sumf += static_cast<double>(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
    }
    return static_cast<float>(sumf);
}

float tinyblas_dot_f16(int64_t k, const uint16_t* a, const uint16_t* b) {
    __m256 c = _mm256_setzero_ps();
    for (int64_t l = 0; l < k; l += 8) {
        c = _mm256_fmadd_ps(load_f16(a + l), load_f16(b + l), c);
    }
    __m128 x = _mm_add_ps(_mm256_extractf128_ps(c, 1), _mm256_castps256_ps128(c));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

void weighted_rows_f16(bool tinyblas, int64_t dim, const uint16_t* v, int64_t stride, int64_t first,
                       int64_t last, int64_t n_kv, const uint16_t* p, float* out) {
    // acc[a][l][d]: accumulator a (vec_dot_f16's four, tinyBLAS's one), lane l, dimension d.
    // Cell j feeds lane j % 8 of accumulator (j / 8) % 4 (or 0), in increasing j, exactly
    // as the 8-wide FMAs of the row-wise dot products do.
    const int n_acc = tinyblas ? 1 : 4;
    const int64_t np = tinyblas ? n_kv : (n_kv & ~int64_t{31});
    thread_local std::vector<float> acc;
    acc.assign(size_t(n_acc) * 8 * dim, 0.0f);
    thread_local std::vector<double> tail;
    tail.assign(dim, 0.0);
    for (int64_t j = first; j <= last; ++j) {
        const uint16_t* row = v + j * stride;
        if (j >= np) {
            const float w = fp16_to_fp32(p[j]);
            for (int64_t d = 0; d < dim; ++d) {
                tail[d] += static_cast<double>(fp16_to_fp32(row[d]) * w);
            }
            continue;
        }
        const int a = tinyblas ? 0 : static_cast<int>((j / 8) % 4);
        float* dst = acc.data() + (size_t(a) * 8 + size_t(j % 8)) * dim;
        const __m256 w8 = _mm256_set1_ps(fp16_to_fp32(p[j]));
        int64_t d = 0;
        for (; d + 8 <= dim; d += 8) {
            _mm256_storeu_ps(dst + d,
                             _mm256_fmadd_ps(load_f16(row + d), w8, _mm256_loadu_ps(dst + d)));
        }
        const float w = fp16_to_fp32(p[j]);
        for (; d < dim; ++d) {
            dst[d] = std::fma(fp16_to_fp32(row[d]), w, dst[d]);
        }
    }
    auto lane = [&](int a, int l, int64_t d) { return acc[(size_t(a) * 8 + size_t(l)) * dim + d]; };
    for (int64_t d = 0; d < dim; ++d) {
        float s[8];
        for (int l = 0; l < 8; ++l) {
            s[l] = lane(0, l, d);
        }
        if (tinyblas) {
            // hsum: high half + low half, then (x0 + x2) + (x1 + x3).
            float t[4];
            for (int i = 0; i < 4; ++i) {
                t[i] = s[4 + i] + s[i];
            }
            out[d] = (t[0] + t[2]) + (t[1] + t[3]);
            continue;
        }
        // GGML_F32x8_REDUCE: (acc0 + acc2) + (acc1 + acc3), low + high half, two hadds.
        for (int l = 0; l < 8; ++l) {
            const float s02 = lane(0, l, d) + lane(2, l, d);
            const float s13 = lane(1, l, d) + lane(3, l, d);
            s[l] = s02 + s13;
        }
        float t[4];
        for (int i = 0; i < 4; ++i) {
            t[i] = s[i] + s[4 + i];
        }
        double sumf = static_cast<double>((t[0] + t[1]) + (t[2] + t[3]));
        sumf += tail[d];
        out[d] = static_cast<float>(sumf);
    }
}

float vec_dot_q8_0(int64_t n, const quant::BlockQ8_0* x, const quant::BlockQ8_0* y) {
    __m256 acc = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t i = 0; i < n / quant::QK8_0; ++i) {
        const __m256 d = _mm256_set1_ps(fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
        const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
        const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
        // mul_sum_i8_pairs_float: |x| times y with x's sign, pairs to int16, fours to int32.
        const __m256i pairs =
            _mm256_maddubs_epi16(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx));
        const __m256 q = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
        acc = _mm256_fmadd_ps(d, q, acc);
    }
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

void mad_q8_0(int64_t n, const quant::BlockQ8_0* v, float w, float* acc) {
    const __m256 w8 = _mm256_set1_ps(w);
    for (int64_t b = 0; b < n / quant::QK8_0; ++b) {
        const __m256 d = _mm256_set1_ps(fp16_to_fp32(v[b].d));
        for (int g = 0; g < quant::QK8_0; g += 8) {
            const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(v[b].qs + g));
            const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d);
            float* a = acc + b * quant::QK8_0 + g;
            _mm256_storeu_ps(a, _mm256_fmadd_ps(x, w8, _mm256_loadu_ps(a)));
        }
    }
}

double soft_max_f32(int64_t n, float* y, const float* x, float max) {
    // ggml sums each 8-value chunk as it computes it; here the exps go first and the sums
    // after, from y (still in L1), in the same order: the same bits, and the one serial chain
    // (the double sum) no longer waits on the exp's registers, which kept it in memory.
    const int64_t whole = n & ~int64_t{7};
    for (int64_t i = 0; i < whole; i += 8) {
        _mm256_storeu_ps(y + i, v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(max))));
    }
    double sum = 0.0;
    for (int64_t i = 0; i < whole; i += 8) {
        const __m256 val = _mm256_loadu_ps(y + i);
        __m128 val2 = _mm_add_ps(_mm256_extractf128_ps(val, 1), _mm256_castps256_ps128(val));
        val2 = _mm_add_ps(val2, _mm_movehl_ps(val2, val2));
        val2 = _mm_add_ss(val2, _mm_movehdup_ps(val2));
        sum += static_cast<double>(_mm_cvtss_f32(val2));
    }
    for (int64_t i = whole; i < n; ++i) {
        const float val = std::exp(x[i] - max);
        sum += static_cast<double>(val);
        y[i] = val;
    }
    return sum;
}

} // namespace hearth::cpu::ggml

#else // not built for x86 with AVX2: stubs that kernel_level() never lets the forward pass reach

namespace hearth::cpu::ggml {

void swiglu_f32(int64_t n, float* y, const float* x, const float* g) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] = (x[i] / (1.0f + std::exp(-x[i]))) * g[i];
    }
}

float vec_dot_f16(int64_t n, const uint16_t* x, const uint16_t* y) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
    }
    return static_cast<float>(sum);
}

float tinyblas_dot_f16(int64_t k, const uint16_t* a, const uint16_t* b) {
    return vec_dot_f16(k, a, b);
}

void weighted_rows_f16(bool, int64_t dim, const uint16_t* v, int64_t stride, int64_t first,
                       int64_t last, int64_t, const uint16_t* p, float* out) {
    for (int64_t d = 0; d < dim; ++d) {
        double sum = 0.0;
        for (int64_t j = first; j <= last; ++j) {
            sum += static_cast<double>(fp16_to_fp32(v[j * stride + d]) * fp16_to_fp32(p[j]));
        }
        out[d] = static_cast<float>(sum);
    }
}

float vec_dot_q8_0(int64_t, const quant::BlockQ8_0*, const quant::BlockQ8_0*) {
    return 0.0f;
}

void mad_q8_0(int64_t, const quant::BlockQ8_0*, float, float*) {}

double soft_max_f32(int64_t n, float* y, const float* x, float max) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - max);
        sum += static_cast<double>(y[i]);
    }
    return sum;
}

} // namespace hearth::cpu::ggml

#endif

namespace hearth::cpu::ggml {

// One definition for every build: std::fma rounds once wherever it runs.
void rope_fused(float* x, int n_heads, int head_dim, int n_rot, bool neox, const float* cos_t,
                const float* sin_t) {
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (int i = 0; i < half; ++i) {
            const int a = neox ? i : 2 * i;
            const int b = neox ? i + half : 2 * i + 1;
            const float x0 = v[a];
            const float x1 = v[b];
            v[a] = std::fma(x0, cos_t[i], -(x1 * sin_t[i]));
            v[b] = std::fma(x0, sin_t[i], x1 * cos_t[i]);
        }
    }
}

} // namespace hearth::cpu::ggml
