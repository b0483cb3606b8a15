// AVX2 + FMA + F16C dot products of each weight type with its quantized activations.
// Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found them.
//
// Integer parts follow ggml's x86 kernels: weights are unpacked to 32 bytes, multiplied with
// the int8 activations by vpmaddubsw (unsigned x signed; signed weights go through the
// |w| * sign(x, w) trick) and widened by vpmaddwd; no 16-bit sum can saturate since
// |w| <= 127 (|w| <= 63 where a 6-bit sub-block scale follows). Per block (super-block for
// K-quants) the exact integer sum is scaled in float and accumulated in 8 lanes.
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "quant/k4_scales.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/block32_avx2.h"
#include "cpu/delta_net_ggml.h"
#include "cpu/ggml_numerics.h"

#include <cmath>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using namespace quant;

using avx2::dot_us8;
using avx2::h2f;
using avx2::hsum;
using avx2::IQ4_NLW;
using avx2::load32;
using avx2::load_bf16x8;
using avx2::load_f16x8;
using avx2::nibbles_32;
using avx2::Q4_0W;
using avx2::Q4_1W;
using avx2::Q5_0W;
using avx2::Q5_1W;
using avx2::Q8_0W;

// Shifts every 16-bit lane right by a run-time count.
inline __m256i srl16(__m256i v, int count) {
    return _mm256_srl_epi16(v, _mm_cvtsi32_si128(count));
}

// 16-bit scales for a 32-byte product of two 16-value sub-blocks: sc[0] in the low lane,
// sc[1] in the high one.
inline __m256i scale_pair(int sc0, int sc1) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(sc1)),
                            _mm_set1_epi16(static_cast<int16_t>(sc0)));
}

// One accumulator per token, blocks in order, as ggml's vec_dot does: every token's result is
// then the same bits whether it is computed alone (decode) or with others (prefill, batched
// sequences), so a cached prefix and a fresh prompt give identical logits. With kScales the
// activations' block scales come as floats (act_scales: per token, d of each block, then s),
// converted once per matrix instead of once per weight row: the same values, fewer operations.
template <class W, int NT, bool kScales>
void dot_32_nt(int64_t n, const void* vw, const uint8_t* x, size_t x_stride,
               const float* act_scales, size_t scales_stride, float* y, int64_t y_stride) {
    using Act = typename W::Act;
    const auto* w = static_cast<const typename W::Block*>(vw);
    const int64_t n_blocks = n / 32;
    const Act* a[NT];
    const float* ad[NT];
    __m256 acc[NT];
    float mins[NT];
    for (int t = 0; t < NT; ++t) {
        a[t] = reinterpret_cast<const Act*>(x + t * x_stride);
        ad[t] = kScales ? act_scales + t * scales_stride : nullptr;
        acc[t] = _mm256_setzero_ps();
        mins[t] = 0.0f;
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256i q = W::values(w[b]);
        const __m256i uq = W::kSigned ? _mm256_sign_epi8(q, q) : q;
        const float dw = h2f(w[b].d);
        for (int t = 0; t < NT; ++t) {
            __m256i qy = load32(a[t][b].qs);
            if constexpr (W::kSigned) {
                qy = _mm256_sign_epi8(qy, q);
            }
            const __m256 p = _mm256_cvtepi32_ps(dot_us8(uq, qy));
            const float da = kScales ? ad[t][b] : h2f(a[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * da), p, acc[t]);
            if constexpr (W::kMin) {
                const float sa = kScales ? ad[t][n_blocks + b] : h2f(a[t][b].s);
                mins[t] = std::fma(h2f(w[b].m), sa, mins[t]);
            }
        }
    }
    for (int t = 0; t < NT; ++t) {
        y[t * y_stride] = hsum(acc[t]) + mins[t];
    }
}

template <class W, bool kScales>
void dot_32_tokens(int64_t n, const void* w, const uint8_t* x, size_t x_stride, const float* scales,
                   size_t scales_stride, float* y, int64_t y_stride, int n_tok) {
    for (; n_tok >= 4; n_tok -= 4) {
        dot_32_nt<W, 4, kScales>(n, w, x, x_stride, scales, scales_stride, y, y_stride);
        x += 4 * x_stride;
        y += 4 * y_stride;
        scales += kScales ? 4 * scales_stride : 0;
    }
    switch (n_tok) {
    case 3:
        dot_32_nt<W, 3, kScales>(n, w, x, x_stride, scales, scales_stride, y, y_stride);
        break;
    case 2:
        dot_32_nt<W, 2, kScales>(n, w, x, x_stride, scales, scales_stride, y, y_stride);
        break;
    case 1:
        dot_32_nt<W, 1, kScales>(n, w, x, x_stride, scales, scales_stride, y, y_stride);
        break;
    default:
        break;
    }
}

template <class W>
void dot_32(int64_t n, const void* w, const void* x, size_t x_stride, float* y, int64_t y_stride,
            int n_tok) {
    dot_32_tokens<W, false>(n, w, static_cast<const uint8_t*>(x), x_stride, nullptr, 0, y, y_stride,
                            n_tok);
}

template <class W>
void dot_32_scaled(int64_t n, const void* w, const void* x, size_t x_stride, const float* scales,
                   size_t scales_stride, float* y, int64_t y_stride, int n_tok) {
    dot_32_tokens<W, true>(n, w, static_cast<const uint8_t*>(x), x_stride, scales, scales_stride, y,
                           y_stride, n_tok);
}

// ---- K-quants and IQ4_XS against Q8_K, one token at a time ----

float dot_q2_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockQ2_K*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int summ = 0;
        for (int s = 0; s < 16; ++s) {
            summ += (w[b].scales[s] >> 4) * x[b].bsums[s];
        }
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load32(w[b].qs + 32 * h);
            for (int k = 0; k < 4; ++k) {
                const int s = 8 * h + 2 * k;
                const __m256i q = _mm256_and_si256(srl16(bits, 2 * k), m3);
                const __m256i p = _mm256_maddubs_epi16(q, load32(x[b].qs + 128 * h + 32 * k));
                const __m256i sc = scale_pair(w[b].scales[s] & 15, w[b].scales[s + 1] & 15);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sc));
            }
        }
        const float d = x[b].d * h2f(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        acc_min += (x[b].d * h2f(w[b].dmin)) * static_cast<float>(summ);
    }
    return hsum(acc) - acc_min;
}

inline int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

float dot_q3_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockQ3_K*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i m1 = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sc[16];
        for (int j = 0; j < 16; ++j) {
            sc[j] = q3_k_scale(w[b].scales, j);
        }
        const __m256i hmask = load32(w[b].hmask);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load32(w[b].qs + 32 * h);
            for (int k = 0; k < 4; ++k) {
                const int s = 8 * h + 2 * k;
                const __m256i q = _mm256_and_si256(srl16(bits, 2 * k), m3);
                // 4 where the high bit is clear: q - 4 * !hbit as two unsigned products.
                const __m256i hbit = _mm256_and_si256(srl16(hmask, 4 * h + k), m1);
                const __m256i offset = _mm256_slli_epi16(_mm256_xor_si256(hbit, m1), 2);
                const __m256i qy = load32(x[b].qs + 128 * h + 32 * k);
                const __m256i p =
                    _mm256_sub_epi16(_mm256_maddubs_epi16(q, qy), _mm256_maddubs_epi16(offset, qy));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[s], sc[s + 1])));
            }
        }
        const float d = x[b].d * h2f(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum(acc);
}

// The min term as ggml sums it: Q4_K in 4 float lanes, lane c taking sub-blocks 2c and 2c + 1
// (its ggml_vec_dot_q4_K_q8_K), Q5_K in one float from the whole super-block's integer sum.
template <class Block, bool kFifthBit>
float dot_q4_5_k(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const Block*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m1 = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min4 = _mm_setzero_ps();
    float acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sc[8], mn[8];
        for (int j = 0; j < 8; ++j) {
            k4_scale_min(w[b].scales, j, sc[j], mn[j]);
        }
        const float dmin = x[b].d * h2f(w[b].dmin);
        if constexpr (kFifthBit) {
            int summ = 0;
            for (int j = 0; j < 8; ++j) {
                summ += mn[j] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
            }
            acc_min = std::fma(dmin, static_cast<float>(summ), acc_min);
        } else {
            const __m256i bsums = load32(x[b].bsums);
            const __m128i sub_sums =
                _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
            const __m128i mins =
                _mm_setr_epi16(static_cast<int16_t>(mn[0]), static_cast<int16_t>(mn[1]),
                               static_cast<int16_t>(mn[2]), static_cast<int16_t>(mn[3]),
                               static_cast<int16_t>(mn[4]), static_cast<int16_t>(mn[5]),
                               static_cast<int16_t>(mn[6]), static_cast<int16_t>(mn[7]));
            acc_min4 = _mm_fmadd_ps(_mm_set1_ps(dmin),
                                    _mm_cvtepi32_ps(_mm_madd_epi16(mins, sub_sums)), acc_min4);
        }
        __m256i high_bits = _mm256_setzero_si256();
        if constexpr (kFifthBit) {
            high_bits = load32(w[b].qh);
        }
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i bits = load32(w[b].qs + 32 * c);
            __m256i lo = _mm256_and_si256(bits, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if constexpr (kFifthBit) {
                const __m256i h0 = _mm256_and_si256(srl16(high_bits, 2 * c), m1);
                const __m256i h1 = _mm256_and_si256(srl16(high_bits, 2 * c + 1), m1);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
            }
            const __m256i p0 = _mm256_maddubs_epi16(lo, load32(x[b].qs + 64 * c));
            const __m256i p1 = _mm256_maddubs_epi16(hi, load32(x[b].qs + 64 * c + 32));
            const __m256i s0 =
                _mm256_madd_epi16(p0, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c])));
            const __m256i s1 =
                _mm256_madd_epi16(p1, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c + 1])));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(s0, s1));
        }
        const float d = x[b].d * h2f(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    if constexpr (!kFifthBit) {
        // ggml adds -dmin terms; the negation is exact, so subtracting gives the same bits.
        acc_min4 = _mm_add_ps(acc_min4, _mm_movehl_ps(acc_min4, acc_min4));
        acc_min = _mm_cvtss_f32(_mm_add_ss(acc_min4, _mm_movehdup_ps(acc_min4)));
    }
    return hsum(acc) - acc_min;
}

float dot_iq4_xs(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const BlockIQ4_XS*>(vw);
    const auto* x = static_cast<const BlockQ8_K*>(vx);
    const __m128i table128 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
    const __m256i table = _mm256_set_m128i(table128, table128);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; ++b) {
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < QK_K / 32; ++j) {
            const int low = (w[b].scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
            const int high = (w[b].scales_h >> (2 * j)) & 3;
            const int ls = (low | high << 4) - 32;
            const __m256i q = _mm256_shuffle_epi8(table, nibbles_32(w[b].qs + 16 * j));
            const __m256i qy = _mm256_sign_epi8(load32(x[b].qs + 32 * j), q);
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), qy);
            sumi = _mm256_add_epi32(
                sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(static_cast<int16_t>(ls))));
        }
        const float d = x[b].d * h2f(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum(acc);
}

// ---- float formats: four 8-lane accumulators, the tail in scalar ----

template <class LoadW, class LoadX, class ScalarW, class ScalarX>
float dot_float_rows(int64_t n, LoadW load_w, LoadX load_x, ScalarW w_at, ScalarX x_at) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) {
            acc[k] = _mm256_fmadd_ps(load_w(i + 8 * k), load_x(i + 8 * k), acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        acc[0] = _mm256_fmadd_ps(load_w(i), load_x(i), acc[0]);
    }
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) {
        sum += w_at(i) * x_at(i);
    }
    return sum;
}

// F32 and F16 rows in the order of ggml's vec_dot (single tokens; batches: vec_dot_tinyblas_avx2).
float dot_f32(int64_t n, const void* vw, const void* vx) {
    return ggml::vec_dot_f32(n, static_cast<const float*>(vw), static_cast<const float*>(vx));
}

float dot_f16(int64_t n, const void* vw, const void* vx) {
    return ggml::vec_dot_f16(n, static_cast<const uint16_t*>(vw), static_cast<const uint16_t*>(vx));
}

// BF16 weights against BF16 activations in the operations of ggml's AVX2 ggml_vec_dot_bf16:
// four 8-lane accumulators of separate multiplies and adds, combined as (c1 + c3) + (c2 + c4),
// and the tail in double.
float dot_bf16(int64_t n, const void* vw, const void* vx) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* x = static_cast<const uint16_t*>(vx);
    __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; ++k) {
            const __m256 p = _mm256_mul_ps(load_bf16x8(w + i + 8 * k), load_bf16x8(x + i + 8 * k));
            c[k] = _mm256_add_ps(p, c[k]);
        }
    }
    double sum = hsum(_mm256_add_ps(_mm256_add_ps(c[0], c[2]), _mm256_add_ps(c[1], c[3])));
    for (; i < n; ++i) {
        sum += static_cast<double>(bf16_to_fp32(w[i]) * bf16_to_fp32(x[i]));
    }
    return static_cast<float>(sum);
}

// llamafile's tinyBLAS order (ggml_mul_mat on F32/F16 prompt batches): each output sums its
// row in one 8-lane FMA accumulator, then hsum. One accumulator per token is a chain of
// dependent FMAs; running up to kMaxTokens tokens per weight row gives independent chains.
struct LoadF32 {
    static __m256 at(const void* p, int64_t i) {
        return _mm256_loadu_ps(static_cast<const float*>(p) + i);
    }
};
struct LoadF16 {
    static __m256 at(const void* p, int64_t i) {
        return load_f16x8(static_cast<const uint16_t*>(p) + i);
    }
};

template <class Load, int NTok>
void tinyblas_tokens(int64_t n, const void* w, const void* x, size_t x_stride, float* y,
                     int64_t y_stride) {
    const auto* act = static_cast<const uint8_t*>(x);
    __m256 acc[NTok];
    for (int t = 0; t < NTok; ++t) {
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t l = 0; l < n; l += 8) {
        const __m256 wv = Load::at(w, l);
        for (int t = 0; t < NTok; ++t) {
            acc[t] = _mm256_fmadd_ps(wv, Load::at(act + t * x_stride, l), acc[t]);
        }
    }
    for (int t = 0; t < NTok; ++t) {
        y[t * y_stride] = hsum(acc[t]); // tinyBLAS's hsum is hsum_float_8's order
    }
}

template <class Load>
void tinyblas_kernel(int64_t n, const void* w, const void* x, size_t x_stride, float* y,
                     int64_t y_stride, int n_tok) {
    static_assert(kMaxTokens == 4);
    switch (n_tok) {
    case 1:
        return tinyblas_tokens<Load, 1>(n, w, x, x_stride, y, y_stride);
    case 2:
        return tinyblas_tokens<Load, 2>(n, w, x, x_stride, y, y_stride);
    case 3:
        return tinyblas_tokens<Load, 3>(n, w, x, x_stride, y, y_stride);
    default:
        return tinyblas_tokens<Load, 4>(n, w, x, x_stride, y, y_stride);
    }
}

} // namespace

VecDotScaledFn vec_dot_scaled_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_0:
        return dot_32_scaled<Q4_0W>;
    case TensorType::Q4_1:
        return dot_32_scaled<Q4_1W>;
    case TensorType::Q5_0:
        return dot_32_scaled<Q5_0W>;
    case TensorType::Q5_1:
        return dot_32_scaled<Q5_1W>;
    case TensorType::Q8_0:
        return dot_32_scaled<Q8_0W>;
    case TensorType::IQ4_NL:
        return dot_32_scaled<IQ4_NLW>;
    default:
        return nullptr;
    }
}

VecDotFn vec_dot_tinyblas_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::F32:
        return tinyblas_kernel<LoadF32>;
    case TensorType::F16:
        return tinyblas_kernel<LoadF16>;
    default:
        return nullptr;
    }
}

VecDotFn vec_dot_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::F32:
        return per_token<dot_f32>;
    case TensorType::F16:
        return per_token<dot_f16>;
    case TensorType::BF16:
        return per_token<dot_bf16>;
    case TensorType::Q4_0:
        return dot_32<Q4_0W>;
    case TensorType::Q4_1:
        return dot_32<Q4_1W>;
    case TensorType::Q5_0:
        return dot_32<Q5_0W>;
    case TensorType::Q5_1:
        return dot_32<Q5_1W>;
    case TensorType::Q8_0:
        return dot_32<Q8_0W>;
    case TensorType::IQ4_NL:
        return dot_32<IQ4_NLW>;
    case TensorType::Q2_K:
        return per_token<dot_q2_k>;
    case TensorType::Q3_K:
        return per_token<dot_q3_k>;
    case TensorType::Q4_K:
        return per_token<dot_q4_5_k<BlockQ4_K, false>>;
    case TensorType::Q5_K:
        return per_token<dot_q4_5_k<BlockQ5_K, true>>;
    case TensorType::Q6_K:
        return vec_dot_q6_k_avx2();
    case TensorType::IQ4_XS:
        return per_token<dot_iq4_xs>;
    default:
        return vec_dot_lowbit_avx2(weight_type);
    }
}

float dot_f16_f32_avx2(const uint16_t* a, const float* b, int64_t n) {
    return dot_float_rows(
        n, [a](int64_t i) { return load_f16x8(a + i); },
        [b](int64_t i) { return _mm256_loadu_ps(b + i); }, [a](int64_t i) { return h2f(a[i]); },
        [b](int64_t i) { return b[i]; });
}

void axpy_f16_f32_avx2(const uint16_t* a, float scale, float* y, int64_t n) {
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(load_f16x8(a + i), s, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; ++i) {
        y[i] += h2f(a[i]) * scale;
    }
}

void convert_f32_to_f16_avx2(const float* x, uint16_t* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    for (; i < n; ++i) {
        out[i] = static_cast<uint16_t>(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
    }
}

} // namespace hearth::cpu

#else // not built for x86: stubs that cpu_features never lets matmul reach

namespace hearth::cpu {

VecDotFn vec_dot_avx2(TensorType) {
    return nullptr;
}
VecDotFn vec_dot_tinyblas_avx2(TensorType) {
    return nullptr;
}
VecDotScaledFn vec_dot_scaled_avx2(TensorType) {
    return nullptr;
}
float dot_f16_f32_avx2(const uint16_t* a, const float* b, int64_t n) {
    return dot_f16_f32_portable(a, b, n);
}
void axpy_f16_f32_avx2(const uint16_t* a, float scale, float* y, int64_t n) {
    axpy_f16_f32_portable(a, scale, y, n);
}
void convert_f32_to_f16_avx2(const float* x, uint16_t* out, int64_t n) {
    convert_f32_to_f16_portable(x, out, n);
}

} // namespace hearth::cpu

#endif
