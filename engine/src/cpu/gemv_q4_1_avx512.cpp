// Q4_1's AVX-512 single-token kernel (gemv_avx512 returns it for Q4_1): one activation row of
// Q8_1 blocks against a run of Q4_1 rows, four rows per 512-bit register, one per 128-bit lane.
//
// Bit-exact with the AVX2 kernel (vec_dot_avx2.cpp's dot_32_nt for one token, so with ggml's
// ggml_vec_dot_q4_1_q8_1). Per row and block that kernel computes 8 int32 lanes, lane i < 4
// the dot product of low nibbles 4i..4i+3 with activations 4i..4i+3 and lane 4 + i that of the
// high nibbles 4i..4i+3 with activations 16 + 4i.., then acc = fma(d * da, float(lane), acc)
// per lane, mins = fma(m, s, mins) in a scalar, and returns hsum(acc) + mins. Here a row's lanes
// 0..3 sit in one 128-bit lane of `lo` and its lanes 4..7 in the same 128-bit lane of `hi`;
// each lane runs the same float operations in the same order, and the 8 lanes are put back in
// their order before ggml's horizontal sum. The int32 lanes come from vpdpbusd (unsigned
// nibbles times signed activations): the AVX2 kernel's vpmaddubsw cannot saturate on them
// (|15 * 128 * 2| < 32768), so both give the same exact integers. The row's d and m for all
// rows of a call are converted in one vcvtph2ps, and its 4 loads of 16 bytes need no shuffle
// of the nibbles (the two-rows-per-register layout of vec_dot_avx512.cpp needs two cross-lane
// shuffles per pair and block, and converted d and m for 4 rows at a time instead of 8).
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_prefetch.h"
#include "cpu/gemv_row_group.h"

#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using namespace quant;

using avx2::h2f;
using avx2::hsum;

constexpr int kRowsPerReg = 4;
// 8 rows a call share the activation loads and the scale conversions; 16 measured slower
// (more row streams than the prefetchers follow, and register spills).
constexpr int kBigQuads = 2;
constexpr int kBigRows = kRowsPerReg * kBigQuads;
// The kernel asks for each block kBigRows rows ahead (gemv_row_group.h's prefetch_rows_ahead: a
// whole pass later). From memory (`hearth-kernel-bench --decode-memory`, GB/s per CPU second on
// a loaded 2-vCPU Xeon): no prefetch 6.5-7.2; the same row 160 bytes ahead 6.9-7.7, 256
// 8.0-8.3, 320 7.6-9.0, 1024 7.3-7.6; kBigRows rows ahead 10.6-10.8.

// The (d, m) of the 4 * NQ rows at block b as floats: lane 2i row i's d, 2i + 1 its m.
template <int NQ>
inline __m512 d_m_of_rows(const BlockQ4_1* const* rows, int64_t b) {
    static_assert(NQ == 1 || NQ == 2);
    const auto dm = [&](int i) {
        uint32_t v = 0;
        std::memcpy(&v, &rows[i][b], sizeof(v));
        return static_cast<int>(v);
    };
    const __m128i h0 = _mm_set_epi32(dm(3), dm(2), dm(1), dm(0));
    if constexpr (NQ == 1) {
        return _mm512_zextps256_ps512(_mm256_cvtph_ps(h0));
    } else {
        const __m128i h1 = _mm_set_epi32(dm(7), dm(6), dm(5), dm(4));
        return _mm512_cvtph_ps(_mm256_set_m128i(h1, h0));
    }
}

// The 16 nibble bytes of rows 4q..4q + 3 at block b, row 4q + k in 128-bit lane k.
inline __m512i raw_quad(const BlockQ4_1* const* rows, int64_t b) {
    const auto lane = [&](int k) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k][b].qs));
    };
    const __m512i r01 = _mm512_inserti32x4(_mm512_castsi128_si512(lane(0)), lane(1), 1);
    return _mm512_inserti32x4(_mm512_inserti32x4(r01, lane(2), 2), lane(3), 3);
}

// 4 * NQ rows against the activation row x; rows past n_out repeat an earlier one and are not
// stored.
template <int NQ>
void dot_q4_1_quads(int64_t n, const BlockQ4_1* const* rows, size_t row_bytes, const BlockQ8_1* x,
                    const float* scales, float* y, int n_out) {
    const int64_t n_blocks = n / 32;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i pick[NQ]; // row 4q + k's d (lane 2(4q + k)) over 128-bit lane k
    __m512 lo[NQ], hi[NQ];
    for (int q = 0; q < NQ; ++q) {
        const int d0 = 8 * q;
        pick[q] = _mm512_set_epi32(d0 + 6, d0 + 6, d0 + 6, d0 + 6, d0 + 4, d0 + 4, d0 + 4, d0 + 4,
                                   d0 + 2, d0 + 2, d0 + 2, d0 + 2, d0, d0, d0, d0);
        lo[q] = hi[q] = _mm512_setzero_ps();
    }
    __m512 mins = _mm512_setzero_ps(); // lane 2i + 1: row i's min term
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (int k = 0; k < kRowsPerReg * NQ; ++k) {
            prefetch_rows_ahead<sizeof(BlockQ4_1), kBigRows>(rows[k] + b, row_bytes);
        }
        const __m512i x_lo =
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs)));
        const __m512i x_hi =
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs + 16)));
        const float da = scales ? scales[b] : h2f(x[b].d);
        const float sa = scales ? scales[n_blocks + b] : h2f(x[b].s);
        const __m512 dm = d_m_of_rows<NQ>(rows, b);
        const __m512 d_da = _mm512_mul_ps(dm, _mm512_set1_ps(da)); // lane 2i: row i's d * da
        for (int q = 0; q < NQ; ++q) {
            const __m512i raw = raw_quad(rows + kRowsPerReg * q, b);
            const __m512i q_lo = _mm512_and_si512(raw, m4);
            const __m512i q_hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            const __m512i p_lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_lo, x_lo);
            const __m512i p_hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_hi, x_hi);
            const __m512 scale = _mm512_permutexvar_ps(pick[q], d_da);
            lo[q] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p_lo), lo[q]);
            hi[q] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p_hi), hi[q]);
        }
        mins = _mm512_fmadd_ps(dm, _mm512_set1_ps(sa), mins);
    }
    alignas(64) float lo_lanes[NQ][16], hi_lanes[NQ][16], min_lanes[16];
    for (int q = 0; q < NQ; ++q) {
        _mm512_store_ps(lo_lanes[q], lo[q]);
        _mm512_store_ps(hi_lanes[q], hi[q]);
    }
    _mm512_store_ps(min_lanes, mins);
    for (int i = 0; i < n_out; ++i) {
        const int q = i / kRowsPerReg, k = i % kRowsPerReg;
        const __m256 lanes =
            _mm256_set_m128(_mm_load_ps(hi_lanes[q] + 4 * k), _mm_load_ps(lo_lanes[q] + 4 * k));
        y[i] = hsum(lanes) + min_lanes[2 * i + 1];
    }
}

// Rows 4 * kBigQuads at a time, then 4 at a time (the last group padded).
void gemv_q4_1(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* vx,
               const float* scales, float* y) {
    const auto* x = static_cast<const BlockQ8_1*>(vx);
    int64_t r = 0;
    for (; r + kBigRows <= n_rows; r += kBigRows) {
        const BlockQ4_1* rows[kBigRows];
        row_group(w, row_bytes, r, n_rows, rows);
        dot_q4_1_quads<kBigQuads>(n, rows, row_bytes, x, scales, y + r, kBigRows);
    }
    for (; r < n_rows; r += kRowsPerReg) {
        const BlockQ4_1* rows[kRowsPerReg];
        const int real = row_group(w, row_bytes, r, n_rows, rows);
        dot_q4_1_quads<1>(n, rows, row_bytes, x, scales, y + r, real);
    }
}

} // namespace

GemvFn gemv_q4_1_avx512() {
    return gemv_q4_1;
}

} // namespace hearth::cpu

#endif
