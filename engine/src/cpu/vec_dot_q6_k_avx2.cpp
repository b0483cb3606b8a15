// The AVX2 Q6_K kernel: one weight row against 1..4 Q8_K activation rows, each super-block's
// 6-bit quants and scales unpacked once for all the tokens.
//
// Per token the arithmetic is ggml_vec_dot_q6_K_q8_K's on AVX2 (llama.cpp's x86 build has no
// repacked Q6_K, so prompts take this order too): the unsigned quants (0..63) times the
// activations by vpmaddubsw, the 16-bit pairs times the sub-block scales by vpmaddwd into 8
// int32 lanes, minus the -32 offset taken from the activations' 16-value sums
// (lane i: 32 * (bsums[2i] * sc[2i] + bsums[2i + 1] * sc[2i + 1])); then
// acc = fma(d_x * d_w, float(lanes), acc) per super-block and ggml's 8-lane horizontal sum.
// A token's result is therefore the same bits whatever tokens share its call.
#include "cpu/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/q6_k_step_avx2.h"

#include <immintrin.h>

namespace hearth::cpu {
namespace {

using quant::BlockQ6_K;
using quant::QK_K;

using avx2::hsum;
using avx2::load32;

// Chunk c (0..7) of a super-block's 256 quants as unsigned bytes 0..63: in half h = c / 4,
// chunk k = c % 4 takes the low (k < 2) or high nibbles of ql[64h + 32(k % 2)..] and bits 2k,
// 2k + 1 of qh[32h..]. One chunk at a time keeps few registers live across the token loop.
inline __m256i unpack_chunk(const BlockQ6_K& w, int c) {
    const int h = c / 4, k = c % 4;
    const __m256i m15 = _mm256_set1_epi8(15);
    const __m256i ql = load32(w.ql + 64 * h + 32 * (k % 2));
    const __m256i low = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), m15);
    const __m256i qh = load32(w.qh + 32 * h);
    const __m256i high =
        _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
    return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
}

// 16-bit scales of chunk c: sub-block 2c in the low 128-bit lane, 2c + 1 in the high one
// (ggml's get_scale_shuffle).
inline __m256i chunk_scales(__m128i scales, int c) {
    alignas(16) static constexpr uint8_t kPick[8][16] = {
        {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
        {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
        {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
        {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},
        {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
        {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
        {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}};
    const __m128i pick = _mm_load_si128(reinterpret_cast<const __m128i*>(kPick[c]));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick));
}

template <int NT>
void dot_q6_k_nt(int64_t n, const void* vw, const uint8_t* x, size_t x_stride, float* y,
                 int64_t y_stride) {
    const auto* w = static_cast<const BlockQ6_K*>(vw);
    const BlockQ8_K* a[NT];
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) {
        a[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales));
        __m256i sumi[NT];
        for (int t = 0; t < NT; ++t) {
            sumi[t] = _mm256_setzero_si256();
        }
        for (int c = 0; c < 8; ++c) {
            const __m256i q = unpack_chunk(w[b], c);
            const __m256i sc = chunk_scales(scales, c);
            for (int t = 0; t < NT; ++t) {
                const __m256i p = _mm256_maddubs_epi16(q, load32(a[t][b].qs + 32 * c));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(sc, p));
            }
        }
        const __m256i scales_16 = _mm256_cvtepi8_epi16(scales);
        for (int t = 0; t < NT; ++t) {
            const __m256i offset = q6_k_avx2::offset(load32(a[t][b].bsums), scales_16);
            acc[t] = q6_k_avx2::accumulate(acc[t], sumi[t], offset, a[t][b].d, w[b].d);
        }
    }
    for (int t = 0; t < NT; ++t) {
        y[t * y_stride] = hsum(acc[t]);
    }
}

void dot_q6_k(int64_t n, const void* w, const void* vx, size_t x_stride, float* y, int64_t y_stride,
              int n_tok) {
    const auto* x = static_cast<const uint8_t*>(vx);
    for (; n_tok >= 4; n_tok -= 4, x += 4 * x_stride, y += 4 * y_stride) {
        dot_q6_k_nt<4>(n, w, x, x_stride, y, y_stride);
    }
    switch (n_tok) {
    case 3:
        dot_q6_k_nt<3>(n, w, x, x_stride, y, y_stride);
        break;
    case 2:
        dot_q6_k_nt<2>(n, w, x, x_stride, y, y_stride);
        break;
    case 1:
        dot_q6_k_nt<1>(n, w, x, x_stride, y, y_stride);
        break;
    default:
        break;
    }
}

} // namespace

VecDotFn vec_dot_q6_k_avx2() {
    return dot_q6_k;
}

} // namespace hearth::cpu

#else // not built for x86: cpu_features never lets matmul reach the avx2 level

namespace hearth::cpu {

VecDotFn vec_dot_q6_k_avx2() {
    return nullptr;
}

} // namespace hearth::cpu

#endif
