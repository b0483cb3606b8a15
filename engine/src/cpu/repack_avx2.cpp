// AVX2 kernels over 8-row interleaved weights (repack.h, repack_layout.h).
// Compiled with -mavx2 -mfma -mf16c and called only after cpu_features found them.
//
// Q4_0: each 32-byte quad of a packed block holds 4 quants of each of the 8 rows, one row per
// 32-bit lane; its nibbles are used unsigned (0..15) with vpmaddubsw against an activation quad
// broadcast to every lane, and the offset of 8 comes off at the end as 8 × the activation
// block's sum. The integer sum of a block is exact, and its float part follows llama.cpp's
// repacked q4_0_8x8 kernels (its AVX2 path for Q4_0): per row, acc = fma(float(isum),
// d_w * d_x, acc), blocks in order, one accumulator lane per row and no horizontal sum, so
// Hearth computes the same bits as llama.cpp for Q4_0 matrices.
//
// Q4_K likewise, against llama.cpp's q4_K_8x8 kernels: per super-block the exact integer sums
// sum_j sc_j * (q · x)_j and sum_j mn_j * bsum_j, then acc = fma(float(sum), d_w * d_x, acc) and
// acc_min = fma(float(min_sum), dmin_w * d_x, acc_min), and y = acc - acc_min at the end.
//
// With one token (decode at the avx2 level) each kernel asks for its group's weights a fixed
// distance ahead (gemv_prefetch.h); the groups lie one after another, so past a group's end it
// asks for the next group's first blocks, the next call's. A prefetch changes no result.
#include "cpu/kernels.h"
#include "cpu/repack.h"
#include "cpu/repack_layout.h"
#include "quant/blocks.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_prefetch.h"

#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using quant::BlockQ8_0;

using avx2::load32;

// How far ahead the one-token kernels ask for weights. From memory (`hearth-kernel-bench
// --decode-memory`, 1 thread, GB/s per CPU second, on a loaded 2-vCPU Xeon with
// HEARTH_CPU_FEATURES=avx2's kernels): Q4_0 none 8.0-9.0, 4 blocks 10.3-10.7, 8 blocks 10.9-11.5,
// 16 blocks 12.1-12.6, 24 blocks 12.7-12.8, 32 blocks 12.4; Q4_K none 7.3-8.9, one super-block
// 10.9-11.2, two 11.6-11.8, four 11.8-12.2, six 11.8-12.1.
constexpr size_t kPrefetchAheadQ4_0 = 16 * sizeof(BlockQ4_0x8);
constexpr size_t kPrefetchAheadQ4K = 4 * sizeof(BlockQ4_Kx8);

inline __m256i broadcast_quad(const int8_t* p) {
    int32_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
}

// 16-bit sums stay exact: a lane adds 16 products of a nibble (<= 15) and an activation
// quant (|q| <= 127, as quantize_row_q8_0 writes them): at most 30480.
template <int NT>
void gemm_q4_0_x8_nt(int64_t n_cols, const BlockQ4_0x8* w, const uint8_t* x, size_t x_stride,
                     const int32_t* sums, int64_t sums_stride, float* y, int64_t y_stride) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    const BlockQ8_0* a[NT];
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) {
        a[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride);
        acc[t] = _mm256_setzero_ps();
    }
    const int64_t n_blocks = n_cols / quant::QK8_0;
    for (int64_t b = 0; b < n_blocks; ++b) {
        if constexpr (NT == 1) {
            prefetch_span_ahead(w + b, kPrefetchAheadQ4_0, sizeof(BlockQ4_0x8));
        }
        const __m256 dw =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
        __m256i s16[NT];
        for (int t = 0; t < NT; ++t) {
            s16[t] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 4; ++j) {
            const __m256i raw = load32(w[b].qs + 32 * j);
            const __m256i lo = _mm256_and_si256(raw, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            for (int t = 0; t < NT; ++t) {
                const int8_t* q = a[t][b].qs;
                s16[t] =
                    _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, broadcast_quad(q + 4 * j)));
                s16[t] = _mm256_add_epi16(s16[t],
                                          _mm256_maddubs_epi16(hi, broadcast_quad(q + 16 + 4 * j)));
            }
        }
        for (int t = 0; t < NT; ++t) {
            const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(s16[t], ones),
                                                  _mm256_set1_epi32(sums[t * sums_stride + b]));
            const __m256 dx = _mm256_set1_ps(_cvtsh_ss(a[t][b].d));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, dx), acc[t]);
        }
    }
    for (int t = 0; t < NT; ++t) {
        _mm256_storeu_ps(y + t * y_stride, acc[t]);
    }
}

// Sub-block scales of the 8 rows, one per 32-bit lane, repeated in both 16-bit halves so that
// vpmaddwd multiplies a lane's two 16-bit partial sums by it and adds them.
inline __m256i lane_scales(const uint8_t* sc) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc)));
    return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

template <int NT>
void gemm_q4_k_x8_nt(int64_t n_cols, const BlockQ4_Kx8* w, const uint8_t* x, size_t x_stride,
                     float* y, int64_t y_stride) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const BlockQ8_K* a[NT];
    __m256 acc[NT], acc_min[NT];
    for (int t = 0; t < NT; ++t) {
        a[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
        acc[t] = _mm256_setzero_ps();
        acc_min[t] = _mm256_setzero_ps();
    }
    const int64_t n_blocks = n_cols / quant::QK_K;
    for (int64_t b = 0; b < n_blocks; ++b) {
        if constexpr (NT == 1) {
            prefetch_span_ahead(w + b, kPrefetchAheadQ4K, sizeof(BlockQ4_Kx8));
        }
        const BlockQ4_Kx8& wb = w[b];
        __m256i isum[NT], imin[NT];
        for (int t = 0; t < NT; ++t) {
            isum[t] = _mm256_setzero_si256();
            // Sums of each 32-value sub-block, as 16-bit pairs (sub-blocks 2c, 2c + 1) per int32.
            const __m256i bs = load32(a[t][b].bsums);
            const __m128i pairs =
                _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            alignas(16) int32_t pair[4];
            _mm_store_si128(reinterpret_cast<__m128i*>(pair), pairs);
            imin[t] = _mm256_setzero_si256();
            for (int c = 0; c < 4; ++c) {
                const __m256i mins = _mm256_or_si256(
                    _mm256_cvtepu8_epi32(
                        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(wb.mn[2 * c]))),
                    _mm256_slli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                          reinterpret_cast<const __m128i*>(wb.mn[2 * c + 1]))),
                                      16));
                imin[t] =
                    _mm256_add_epi32(imin[t], _mm256_madd_epi16(mins, _mm256_set1_epi32(pair[c])));
            }
        }
        for (int c = 0; c < 4; ++c) {
            // 16-bit sums stay exact: 16 products of a nibble and a quant (|q| <= 127) per lane.
            __m256i s_lo[NT], s_hi[NT];
            for (int t = 0; t < NT; ++t) {
                s_lo[t] = _mm256_setzero_si256();
                s_hi[t] = _mm256_setzero_si256();
            }
            for (int k = 0; k < 8; ++k) {
                const __m256i raw = load32(wb.qs + 256 * c + 32 * k);
                const __m256i lo = _mm256_and_si256(raw, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                for (int t = 0; t < NT; ++t) {
                    const int8_t* q = a[t][b].qs + 64 * c + 4 * k;
                    s_lo[t] =
                        _mm256_add_epi16(s_lo[t], _mm256_maddubs_epi16(lo, broadcast_quad(q)));
                    s_hi[t] =
                        _mm256_add_epi16(s_hi[t], _mm256_maddubs_epi16(hi, broadcast_quad(q + 32)));
                }
            }
            const __m256i sc_lo = lane_scales(wb.sc[2 * c]);
            const __m256i sc_hi = lane_scales(wb.sc[2 * c + 1]);
            for (int t = 0; t < NT; ++t) {
                isum[t] =
                    _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(s_lo[t], sc_lo),
                                                               _mm256_madd_epi16(s_hi[t], sc_hi)));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.d)));
        const __m256 dm =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.dmin)));
        for (int t = 0; t < NT; ++t) {
            const __m256 dx = _mm256_set1_ps(a[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, dx), acc[t]);
            acc_min[t] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[t]), _mm256_mul_ps(dm, dx), acc_min[t]);
        }
    }
    for (int t = 0; t < NT; ++t) {
        _mm256_storeu_ps(y + t * y_stride, _mm256_sub_ps(acc[t], acc_min[t]));
    }
}

} // namespace

void gemm_q4_k_x8(int64_t n_cols, const void* group, const void* vx, size_t x_stride, float* y,
                  int64_t y_stride, int n_tok) {
    const auto* w = static_cast<const BlockQ4_Kx8*>(group);
    const auto* x = static_cast<const uint8_t*>(vx);
    for (; n_tok >= 4; n_tok -= 4) {
        gemm_q4_k_x8_nt<4>(n_cols, w, x, x_stride, y, y_stride);
        x += 4 * x_stride;
        y += 4 * y_stride;
    }
    switch (n_tok) {
    case 3:
        gemm_q4_k_x8_nt<3>(n_cols, w, x, x_stride, y, y_stride);
        break;
    case 2:
        gemm_q4_k_x8_nt<2>(n_cols, w, x, x_stride, y, y_stride);
        break;
    case 1:
        gemm_q4_k_x8_nt<1>(n_cols, w, x, x_stride, y, y_stride);
        break;
    default:
        break;
    }
}

void gemm_q4_0_x8(int64_t n_cols, const void* group, const void* vx, size_t x_stride,
                  const int32_t* sums, int64_t sums_stride, float* y, int64_t y_stride, int n_tok) {
    const auto* w = static_cast<const BlockQ4_0x8*>(group);
    const auto* x = static_cast<const uint8_t*>(vx);
    for (; n_tok >= 4; n_tok -= 4) {
        gemm_q4_0_x8_nt<4>(n_cols, w, x, x_stride, sums, sums_stride, y, y_stride);
        x += 4 * x_stride;
        sums += 4 * sums_stride;
        y += 4 * y_stride;
    }
    switch (n_tok) {
    case 3:
        gemm_q4_0_x8_nt<3>(n_cols, w, x, x_stride, sums, sums_stride, y, y_stride);
        break;
    case 2:
        gemm_q4_0_x8_nt<2>(n_cols, w, x, x_stride, sums, sums_stride, y, y_stride);
        break;
    case 1:
        gemm_q4_0_x8_nt<1>(n_cols, w, x, x_stride, sums, sums_stride, y, y_stride);
        break;
    default:
        break;
    }
}

void q8_0_block_sums_x8(const void* vx, int32_t* sums, int64_t n_blocks) {
    const auto* x = static_cast<const BlockQ8_0*>(vx);
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, load32(x[b].qs)), ones16);
        __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0x4e));
        r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xb1));
        sums[b] = 8 * _mm_cvtsi128_si32(r);
    }
}

} // namespace hearth::cpu

#else // not built for x86: repack_supported() is false there, so these are never reached

#include <cstdlib>

namespace hearth::cpu {

void gemm_q4_0_x8(int64_t, const void*, const void*, size_t, const int32_t*, int64_t, float*,
                  int64_t, int) {
    std::abort();
}

void gemm_q4_k_x8(int64_t, const void*, const void*, size_t, float*, int64_t, int) {
    std::abort();
}

void q8_0_block_sums_x8(const void*, int32_t*, int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
