// AVX-512 (F/BW/VL + VNNI) prompt-batch kernels over the 8-row packed Q4_0 and Q4_K layouts
// (repack_layout.h). Compiled with the AVX-512 flags and called only after cpu_features found
// them (avx512_kernels_enabled()).
//
// Bit-exact with repack_avx2.cpp's gemm_q4_0_x8 / gemm_q4_k_x8, so with llama.cpp's repacked
// q4_0_8x8 / q4_K_8x8 kernels. Both compute, per row r and token t, exact integers per block
// and then the same float operations in the same order, one lane per row:
//   Q4_0, per 32-value block: isum = q · x - 8 sum(x);  acc = fma(float(isum), d_w * d_x, acc)
//   Q4_K, per super-block:    isum = sum_j sc_j * (q_j · x_j)   imin = sum_j mn_j * bsum_j
//                             acc = fma(float(isum), d_w * d_x, acc)
//                             acc_min = fma(float(imin), dmin_w * d_x, acc_min)
//                             and y = acc - acc_min after the last one (j: the 8 sub-blocks).
// Integer sums are exact in any order, so only the way they are formed differs:
// - Two groups (16 rows) share a zmm: group g's quad in the low 256 bits, group g + 1's in the
//   high ones, so one activation quad broadcast to all 16 lanes multiplies both groups' rows
//   by vpdpbusd, and each float lane still holds one row.
// - Q4_K: per sub-block, the nibble · activation sums come from vpdpbusd in two accumulators
//   of 16 products each (quads 0..3 and 4..7). Each fits 16 signed bits (|sum| <=
//   16 × 15 × 128), so vpdpwssd against the scale (high 16 bits 0) adds sum × scale to isum
//   exactly. The mins go the same way: mn_j in both 16-bit halves against the int16 pair
//   bsums[2j], bsums[2j + 1].
// - A block's weight vectors (Q4_K: those of one sub-block pair) are unpacked once for every
//   token of the batch (up to kMaxBatchTokens), not once per 4 tokens as in the AVX2 kernels;
//   the tokens' running sums live in small stack arrays meanwhile.
#include "cpu/repack.h"
#include "cpu/repack_layout.h"
#include "quant/blocks.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using quant::BlockQ8_0;
using quant::BlockQ8_K;

// Tokens in flight per pass over the weights (their running sums live on the stack: 8 KiB).
constexpr int kMaxBatchTokens = 32;

inline __m256i load256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Group 0's 32 bytes at p0 in the low half, group 1's at p1 in the high half.
inline __m512i load_pair(const uint8_t* p0, const uint8_t* p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load256(p0)), load256(p1), 1);
}

// 8 bytes of each group (one per row), zero-extended to 16 int32 lanes.
inline __m512i bytes_to_lanes(const uint8_t* p0, const uint8_t* p1) {
    const __m128i b = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p0)),
                                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p1)));
    return _mm512_cvtepu8_epi32(b);
}

inline __m512 load_f16_pair(const uint16_t* p0, const uint16_t* p1) {
    const __m256i h = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1)), 1);
    return _mm512_cvtph_ps(h);
}

// 16 rows' results to y: group 0's 8 at y, group 1's at y + 8 when `both`.
inline void store_rows(__m512 r, float* y, bool both) {
    _mm256_storeu_ps(y, _mm512_castps512_ps256(r));
    if (both) {
        _mm256_storeu_ps(y + kPackRows,
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r), 1)));
    }
}

// Four activation bytes at p in every 32-bit lane.
inline __m512i broadcast_quad(const void* p) {
    int32_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return _mm512_set1_epi32(v);
}

// The batch's running sums for one pair of groups, a zmm (16 rows) per token.
struct PairSums {
    __m512i isum[kMaxBatchTokens];
    __m512i imin[kMaxBatchTokens];
    __m512 acc[kMaxBatchTokens];
    __m512 acc_min[kMaxBatchTokens];
};

// isum and imin of sub-blocks 2c and 2c + 1 of super-block b, every token, added to s.
void sub_block_pair(const BlockQ4_Kx8& w0, const BlockQ4_Kx8& w1, int c, const uint8_t* x,
                    size_t x_stride, int n_tok, PairSums& s) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i lo[8], hi[8];
    for (int k = 0; k < 8; ++k) {
        const __m512i raw = load_pair(w0.qs + 256 * c + 32 * k, w1.qs + 256 * c + 32 * k);
        lo[k] = _mm512_and_si512(raw, m4);
        hi[k] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
    }
    const __m512i sc_lo = bytes_to_lanes(w0.sc[2 * c], w1.sc[2 * c]);
    const __m512i sc_hi = bytes_to_lanes(w0.sc[2 * c + 1], w1.sc[2 * c + 1]);
    // mn_j in both 16-bit halves of each lane.
    const __m512i pair16 = _mm512_set1_epi32(0x10001);
    const __m512i mn_lo = _mm512_mullo_epi32(bytes_to_lanes(w0.mn[2 * c], w1.mn[2 * c]), pair16);
    const __m512i mn_hi =
        _mm512_mullo_epi32(bytes_to_lanes(w0.mn[2 * c + 1], w1.mn[2 * c + 1]), pair16);
    for (int t = 0; t < n_tok; ++t) {
        const auto& a = *reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
        const int8_t* q = a.qs + 64 * c;
        __m512i l0 = _mm512_setzero_si512(), l1 = _mm512_setzero_si512();
        __m512i h0 = _mm512_setzero_si512(), h1 = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k) {
            l0 = _mm512_dpbusd_epi32(l0, lo[k], broadcast_quad(q + 4 * k));
            h0 = _mm512_dpbusd_epi32(h0, hi[k], broadcast_quad(q + 32 + 4 * k));
            l1 = _mm512_dpbusd_epi32(l1, lo[k + 4], broadcast_quad(q + 16 + 4 * k));
            h1 = _mm512_dpbusd_epi32(h1, hi[k + 4], broadcast_quad(q + 48 + 4 * k));
        }
        __m512i is = s.isum[t];
        is = _mm512_dpwssd_epi32(is, l0, sc_lo);
        is = _mm512_dpwssd_epi32(is, l1, sc_lo);
        is = _mm512_dpwssd_epi32(is, h0, sc_hi);
        is = _mm512_dpwssd_epi32(is, h1, sc_hi);
        s.isum[t] = is;
        __m512i im = s.imin[t];
        im = _mm512_dpwssd_epi32(im, mn_lo, broadcast_quad(a.bsums + 4 * c));
        im = _mm512_dpwssd_epi32(im, mn_hi, broadcast_quad(a.bsums + 4 * c + 2));
        s.imin[t] = im;
    }
}

// Groups w0 and w1 (the same group when `both` is false) against n_tok tokens.
void gemm_pair_q4_k(int64_t n_blocks, const BlockQ4_Kx8* w0, const BlockQ4_Kx8* w1,
                    const uint8_t* x, size_t x_stride, int n_tok, float* y, int64_t y_stride,
                    bool both) {
    alignas(64) PairSums s;
    for (int t = 0; t < n_tok; ++t) {
        s.acc[t] = _mm512_setzero_ps();
        s.acc_min[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* xb = x + b * static_cast<int64_t>(sizeof(BlockQ8_K));
        for (int t = 0; t < n_tok; ++t) {
            s.isum[t] = _mm512_setzero_si512();
            s.imin[t] = _mm512_setzero_si512();
        }
        for (int c = 0; c < 4; ++c) {
            sub_block_pair(w0[b], w1[b], c, xb, x_stride, n_tok, s);
        }
        const __m512 dw = load_f16_pair(w0[b].d, w1[b].d);
        const __m512 dm = load_f16_pair(w0[b].dmin, w1[b].dmin);
        for (int t = 0; t < n_tok; ++t) {
            const __m512 dx =
                _mm512_set1_ps(reinterpret_cast<const BlockQ8_K*>(xb + t * x_stride)->d);
            s.acc[t] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s.isum[t]), _mm512_mul_ps(dw, dx), s.acc[t]);
            s.acc_min[t] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s.imin[t]), _mm512_mul_ps(dm, dx), s.acc_min[t]);
        }
    }
    for (int t = 0; t < n_tok; ++t) {
        store_rows(_mm512_sub_ps(s.acc[t], s.acc_min[t]), y + t * y_stride, both);
    }
}

// Groups w0 and w1 (the same group when `both` is false) against n_tok Q8_0 tokens.
void gemm_pair_q4_0(int64_t n_blocks, const BlockQ4_0x8* w0, const BlockQ4_0x8* w1,
                    const uint8_t* x, size_t x_stride, const int32_t* sums, int64_t sums_stride,
                    int n_tok, float* y, int64_t y_stride, bool both) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    alignas(64) __m512 acc[kMaxBatchTokens];
    for (int t = 0; t < n_tok; ++t) {
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        // Quad j: low nibbles against activation quad j, high ones against quad 4 + j.
        __m512i lo[4], hi[4];
        for (int j = 0; j < 4; ++j) {
            const __m512i raw = load_pair(w0[b].qs + 32 * j, w1[b].qs + 32 * j);
            lo[j] = _mm512_and_si512(raw, m4);
            hi[j] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
        }
        const __m512 dw = load_f16_pair(w0[b].d, w1[b].d);
        for (int t = 0; t < n_tok; ++t) {
            const auto& a = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride)[b];
            __m512i s_lo = _mm512_setzero_si512(), s_hi = _mm512_setzero_si512();
            for (int j = 0; j < 4; ++j) {
                s_lo = _mm512_dpbusd_epi32(s_lo, lo[j], broadcast_quad(a.qs + 4 * j));
                s_hi = _mm512_dpbusd_epi32(s_hi, hi[j], broadcast_quad(a.qs + 16 + 4 * j));
            }
            const __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(s_lo, s_hi),
                                                  _mm512_set1_epi32(sums[t * sums_stride + b]));
            const __m512 dx = _mm512_set1_ps(_cvtsh_ss(a.d));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx), acc[t]);
        }
    }
    for (int t = 0; t < n_tok; ++t) {
        store_rows(acc[t], y + t * y_stride, both);
    }
}

// pair(g0, g1, t0, n, both) for each batch of up to kMaxBatchTokens tokens (t0.., n of them)
// and the groups two at a time; a lone last group comes as g1 == g0 with `both` false.
template <class Pair>
void over_pairs(int64_t n_groups, int n_tok, Pair pair) {
    for (int t0 = 0; t0 < n_tok; t0 += kMaxBatchTokens) {
        const int n = n_tok - t0 < kMaxBatchTokens ? n_tok - t0 : kMaxBatchTokens;
        for (int64_t g = 0; g < n_groups; g += 2) {
            const bool both = g + 1 < n_groups;
            pair(g, both ? g + 1 : g, t0, n, both);
        }
    }
}

} // namespace

void gemm_q4_0_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* vx,
                         size_t x_stride, const int32_t* sums, int64_t sums_stride, int n_tok,
                         float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / quant::QK8_0;
    const auto* w = static_cast<const BlockQ4_0x8*>(groups);
    const auto* x = static_cast<const uint8_t*>(vx);
    over_pairs(n_groups, n_tok, [&](int64_t g0, int64_t g1, int t0, int n, bool both) {
        gemm_pair_q4_0(n_blocks, w + g0 * n_blocks, w + g1 * n_blocks, x + t0 * x_stride, x_stride,
                       sums + t0 * sums_stride, sums_stride, n, y + t0 * y_stride + g0 * kPackRows,
                       y_stride, both);
    });
}

void gemm_q4_k_x8_avx512(int64_t n_cols, const void* groups, int64_t n_groups, const void* vx,
                         size_t x_stride, int n_tok, float* y, int64_t y_stride) {
    const int64_t n_blocks = n_cols / quant::QK_K;
    const auto* w = static_cast<const BlockQ4_Kx8*>(groups);
    const auto* x = static_cast<const uint8_t*>(vx);
    over_pairs(n_groups, n_tok, [&](int64_t g0, int64_t g1, int t0, int n, bool both) {
        gemm_pair_q4_k(n_blocks, w + g0 * n_blocks, w + g1 * n_blocks, x + t0 * x_stride, x_stride,
                       n, y + t0 * y_stride + g0 * kPackRows, y_stride, both);
    });
}

} // namespace hearth::cpu

#else // not built with the AVX-512 flags: avx512_kernels_enabled() is false there

#include <cstdlib>

namespace hearth::cpu {

void gemm_q4_0_x8_avx512(int64_t, const void*, int64_t, const void*, size_t, const int32_t*,
                         int64_t, int, float*, int64_t) {
    std::abort();
}

void gemm_q4_k_x8_avx512(int64_t, const void*, int64_t, const void*, size_t, int, float*, int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
