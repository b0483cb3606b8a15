// Q5_K's AVX-512 single-token kernel (gemv_avx512 returns it for Q5_K): one activation row of
// Q8_K blocks against a run of Q5_K rows, two sub-blocks of one row per 512-bit register.
//
// Bit-exact with the AVX2 kernel (vec_dot_avx2.cpp's dot_q4_5_k<BlockQ5_K, true>, so with
// ggml's ggml_vec_dot_q5_K_q8_K). Per row and super-block that kernel sums, in 8 int32 lanes,
// lane i = sum over the 8 sub-blocks j of sc_j * (q_j[4i..4i+3] . x_j[4i..4i+3]) (q_j the
// sub-block's 32 five-bit values, x_j its 32 activations), then acc = fma(dx * d, float(lane),
// acc) per lane and, in a scalar, acc_min = fma(dx * dmin, float(sum_j mn_j * bsum_j), acc_min);
// it returns hsum(acc) - acc_min. Only the integer lanes are computed differently here, and
// integer sums are exact in any order: the row's 128 bytes of nibbles load as two registers
// whose low nibbles are sub-blocks (0, 2) and (4, 6) and whose high ones are (1, 3) and (5, 7),
// one sub-block per 256-bit half; the fifth bits are merged with byte masks tested from qh; the
// activations are arranged to match once per super-block for all the rows of a call; each half
// sums its sub-blocks, and the two halves are added before the float part. vpmaddubsw cannot
// saturate (|31 * 128 * 2| < 32768), as in the AVX2 kernel.
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

// Rows a call: they share the activation registers of each super-block.
constexpr int kRowsPerCall = 4;
// The kernel asks for each block kPrefetchRows rows ahead (gemv_row_group.h's
// prefetch_rows_ahead: a whole pass later). From memory (`hearth-kernel-bench --decode-memory`,
// GB/s per CPU second on a loaded 2-vCPU Xeon): the same row two super-blocks ahead 8.4-8.7,
// 4 rows ahead 11.4-11.7.

// The sub-blocks of each register, low half then high half: register v holds the low nibbles
// (v even) or the high ones (v odd) of qs bytes 64 (v / 2) .. 64 (v / 2) + 63.
constexpr int kSubBlock[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};

// The 8 sub-block scales (bytes 0..7 of 128-bit lane i) and mins (bytes 8..15) of rows 0..3
// at super-block b from their 12 packed bytes: ggml's get_scale_min_k4 for every sub-block, the
// utmp shuffle of its x86 kernels (utmp[0..3] in dwords 0..3), for 4 rows at once. Each lane
// loads 16 bytes from the row's scales: the 12 packed ones and 4 of qh, which are not used.
inline __m512i k4_scales_mins(const BlockQ5_K* const* rows, int64_t b) {
    const auto packed = [&](int i) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i][b].scales));
    };
    __m512i u = _mm512_castsi128_si512(packed(0)); // dwords u0, u1, u2 of each row
    u = _mm512_inserti32x4(u, packed(1), 1);
    u = _mm512_inserti32x4(u, packed(2), 2);
    u = _mm512_inserti32x4(u, packed(3), 3);
    const __m512i a = _mm512_shuffle_epi32(u, static_cast<_MM_PERM_ENUM>(_MM_SHUFFLE(2, 1, 2, 0)));
    const __m512i c = _mm512_shuffle_epi32(u, static_cast<_MM_PERM_ENUM>(_MM_SHUFFLE(1, 1, 0, 0)));
    // dwords 0, 2: u0 & kLow6 (scales 0..3), u1 & kLow6 (mins 0..3)
    const __m512i low = _mm512_and_si512(a, _mm512_set1_epi32(0x3f3f3f3f));
    // dwords 1, 3: (u2 & kLow4) | ((u0 >> 6) & kLow2) << 4 (scales 4..7), the same of u2 >> 4
    // and u1 (mins 4..7)
    const __m512i a_shifted = _mm512_srlv_epi32(a, _mm512_set4_epi32(4, 0, 0, 0));
    const __m512i top = _mm512_and_si512(_mm512_srli_epi32(c, 2), _mm512_set1_epi32(0x30303030));
    // (a_shifted & 0x0f...) | top
    const __m512i high =
        _mm512_ternarylogic_epi32(a_shifted, top, _mm512_set1_epi32(0x0f0f0f0f), 0xec);
    return _mm512_mask_blend_epi32(0xaaaa, low, high);
}

// Per register v, the constants that pick its two sub-blocks' parts.
struct SubBlockPicks {
    __m512i bit[4];   // the sub-block's bit of qh, in each byte of its half
    __m512i scale[4]; // vpshufb of the 8 scale bytes: each 16-bit lane the sub-block's scale
    __m512i mins;     // vpshufb of each lane's 8 min bytes (8..15) to 16-bit lanes
    SubBlockPicks() {
        alignas(64) int16_t widen[32];
        for (int k = 0; k < 32; ++k) {
            widen[k] = static_cast<int16_t>(0x8000 | (8 + k % 8));
        }
        mins = _mm512_load_si512(widen);
        for (int v = 0; v < 4; ++v) {
            const int j0 = kSubBlock[v][0], j1 = kSubBlock[v][1];
            bit[v] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << j0)),
                                        _mm256_set1_epi8(static_cast<char>(1 << j1)), 1);
            // byte 2k the scale's byte, byte 2k + 1 zero (0x80 clears it)
            scale[v] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(0x8000 | j0)),
                                          _mm256_set1_epi16(static_cast<int16_t>(0x8000 | j1)), 1);
        }
    }
};

// The activations of the registers' sub-blocks: register v's low half x_j0, high half x_j1.
inline void arrange_activations(const BlockQ8_K& x, __m512i (&xv)[4]) {
    for (int v = 0; v < 4; ++v) {
        const auto* lo = reinterpret_cast<const __m256i*>(x.qs + 32 * kSubBlock[v][0]);
        const auto* hi = reinterpret_cast<const __m256i*>(x.qs + 32 * kSubBlock[v][1]);
        xv[v] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(lo)),
                                   _mm256_loadu_si256(hi), 1);
    }
}

// One row's super-block: the AVX2 kernel's 8 int32 lanes of sumi, as the sum of the two halves.
// `scales`: the row's 8 scale bytes at bytes 0..7 of every 128-bit lane.
inline __m512i q5_k_lanes(const BlockQ5_K& w, const __m512i scales, const __m512i (&xv)[4],
                          const SubBlockPicks& picks) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i sixteen = _mm512_set1_epi8(16);
    const __m512i high_bits =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh)));
    __m512i sumi = _mm512_setzero_si512();
    for (int half = 0; half < 2; ++half) {
        const __m512i raw = _mm512_loadu_si512(w.qs + 64 * half);
        for (int part = 0; part < 2; ++part) {
            const int v = 2 * half + part;
            const __m512i nibbles =
                _mm512_and_si512(part == 0 ? raw : _mm512_srli_epi16(raw, 4), m4);
            const __mmask64 fifth = _mm512_test_epi8_mask(high_bits, picks.bit[v]);
            const __m512i q = _mm512_mask_add_epi8(nibbles, fifth, nibbles, sixteen);
            const __m512i prod = _mm512_maddubs_epi16(q, xv[v]);
            sumi = _mm512_dpwssd_epi32(sumi, prod, _mm512_shuffle_epi8(scales, picks.scale[v]));
        }
    }
    return sumi;
}

// 128-bit lane i of v in every lane.
inline __m512i lane_of(__m512i v, int i) {
    switch (i) {
    case 0:
        return _mm512_shuffle_i32x4(v, v, 0x00);
    case 1:
        return _mm512_shuffle_i32x4(v, v, 0x55);
    case 2:
        return _mm512_shuffle_i32x4(v, v, 0xaa);
    default:
        return _mm512_shuffle_i32x4(v, v, 0xff);
    }
}

// The d and dmin of 4 rows at super-block b, times the activations' d: lane 2i row i's
// dx * d, lane 2i + 1 its dx * dmin (the AVX2 kernel's two scalar products).
inline __m256 row_scales(const BlockQ5_K* const* rows, int64_t b, float dx) {
    const auto d_dmin = [&](int i) {
        uint32_t v = 0;
        std::memcpy(&v, &rows[i][b], sizeof(v));
        return static_cast<int>(v);
    };
    const __m128i halves = _mm_set_epi32(d_dmin(3), d_dmin(2), d_dmin(1), d_dmin(0));
    return _mm256_mul_ps(_mm256_set1_ps(dx), _mm256_cvtph_ps(halves));
}

// 4 rows against the activation row run.x; rows past n_out repeat an earlier one and are not
// stored. Rows 2p and 2p + 1 share a float register (row 2p in the low half), and the 4 rows'
// min terms are summed in the 4 lanes of one vector: per lane the AVX2 kernel's scalar FMA.
void dot_q5_k_rows(const GemvRun<BlockQ8_K>& run, const SubBlockPicks& picks,
                   const BlockQ5_K* const* rows, float* y, int n_out) {
    const BlockQ8_K* x = run.x;
    constexpr int kPairs = kRowsPerCall / 2;
    __m512 acc[kPairs];
    __m512i pick_d[kPairs]; // lane 2(2p) over the low half, 2(2p + 1) over the high one
    for (int p = 0; p < kPairs; ++p) {
        acc[p] = _mm512_setzero_ps();
        pick_d[p] = _mm512_inserti64x4(_mm512_set1_epi32(4 * p), _mm256_set1_epi32(4 * p + 2), 1);
    }
    const __m128i pick_dmin = _mm_setr_epi32(1, 3, 5, 7);
    const __m512i lane_sums = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t b = 0; b < run.n / QK_K; ++b) {
        for (int i = 0; i < kRowsPerCall; ++i) {
            prefetch_rows_ahead<sizeof(BlockQ5_K)>(rows[i] + b, run.row_bytes);
        }
        __m512i xv[4];
        arrange_activations(x[b], xv);
        // Activation sums of each 32-value sub-block, as int16 (exact: |sum| <= 32 * 127).
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].bsums));
        const __m512i sub_sums = _mm512_broadcast_i32x4(
            _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        const __m256 scale = row_scales(rows, b, x[b].d);
        const __m512i sm = k4_scales_mins(rows, b);
        // The min terms: row i's exact integer sum_j mn_j * bsum_j in lane i, one FMA per lane.
        const __m512i prod = _mm512_madd_epi16(_mm512_shuffle_epi8(sm, picks.mins), sub_sums);
        __m512i t = _mm512_add_epi32(prod, _mm512_shuffle_epi32(prod, _MM_PERM_BADC));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, _MM_PERM_CDAB));
        const __m128i summ = _mm512_castsi512_si128(_mm512_permutexvar_epi32(lane_sums, t));
        const __m128 dmin = _mm256_castps256_ps128(
            _mm256_permutevar8x32_ps(scale, _mm256_castsi128_si256(pick_dmin)));
        acc_min = _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(summ), acc_min);
        for (int p = 0; p < kPairs; ++p) {
            const __m512i s0 = q5_k_lanes(rows[2 * p][b], lane_of(sm, 2 * p), xv, picks);
            const __m512i s1 = q5_k_lanes(rows[2 * p + 1][b], lane_of(sm, 2 * p + 1), xv, picks);
            // [row 2p's halves summed | row 2p + 1's]
            const __m512i lows = _mm512_shuffle_i64x2(s0, s1, _MM_SHUFFLE(1, 0, 1, 0));
            const __m512i highs = _mm512_shuffle_i64x2(s0, s1, _MM_SHUFFLE(3, 2, 3, 2));
            const __m512i lanes = _mm512_add_epi32(lows, highs);
            const __m512 d = _mm512_permutexvar_ps(pick_d[p], _mm512_castps256_ps512(scale));
            acc[p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(lanes), acc[p]);
        }
    }
    alignas(64) float sums[kPairs][16];
    for (int p = 0; p < kPairs; ++p) {
        _mm512_store_ps(sums[p], acc[p]);
    }
    alignas(16) float mins[4];
    _mm_store_ps(mins, acc_min);
    for (int i = 0; i < n_out; ++i) {
        y[i] = hsum(_mm256_load_ps(sums[i / 2] + 8 * (i % 2))) - mins[i];
    }
}

} // namespace

GemvFn gemv_q5_k_avx512() {
    return gemv_driver<kRowsPerCall, dot_q5_k_rows>;
}

} // namespace hearth::cpu

#endif
