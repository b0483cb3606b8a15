// Q5_K's AVX2 single-token kernel (gemv_avx2 returns it for Q5_K): one activation row of Q8_K
// blocks against a run of Q5_K rows, two rows per pass.
//
// Bit-exact with the per-row kernel (vec_dot_avx2.cpp's dot_q4_5_k<BlockQ5_K, true>, so with
// ggml's ggml_vec_dot_q5_K_q8_K). Per row and super-block that kernel sums, in 8 int32 lanes,
// sumi = sum over the 8 sub-blocks j of sc_j * vpmaddwd(vpmaddubsw(q_j, x_j)) (q_j the
// sub-block's 32 five-bit values, x_j its 32 activations), then acc = fma(dx * d, float(sumi),
// acc) and, in a scalar, acc_min = fma(dx * dmin, float(sum_j mn_j * bsum_j), acc_min); it
// returns hsum(acc) - acc_min. Here the float operations are the same, per row in the same
// order; only the exact integers are made with fewer instructions. The 6-bit scales and mins of
// both rows are unpacked together, one row per 128-bit lane (ggml's utmp shuffle of its x86
// kernels, in vector form), in place of 8 scalar get_scale_min_k4 calls a row; each sub-block's
// scale is one vpshufb of those bytes (not a scalar broadcast); each fifth bit is one vpshufb
// lookup indexed by qh's low or high nibbles (not two shifts and a mask); the min sums of both
// rows are one vpmaddwd against the activations' sub-block sums (computed once for both rows),
// and both rows' min terms are two lanes of one vector FMA, each lane the per-row kernel's
// scalar FMA. Integer sums are exact in any order, and vpmaddubsw cannot saturate
// (|31 * 128 * 2| < 32768), as in the per-row kernel. The two rows' chains are independent, so
// their latencies overlap.
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_prefetch.h"
#include "cpu/gemv_row_group.h"

#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using namespace quant;

using avx2::hsum;
using avx2::load32;

constexpr int kRows = 2; // rows a pass: one 128-bit lane each for the scales and mins

// The 8 sub-block scales (bytes 0..7 of 128-bit lane i) and mins (bytes 8..15) of rows 0 and 1
// at super-block b from their 12 packed bytes: ggml's get_scale_min_k4 for every sub-block, as
// the utmp shuffle of its x86 kernels (utmp[0..3] in dwords 0..3). Each lane loads 16 bytes
// from the row's scales: the 12 packed ones and 4 of qh, which are not used.
inline __m256i k4_scales_mins(const BlockQ5_K* const* rows, int64_t b) {
    const __m256i u = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(rows[1][b].scales),
                                          reinterpret_cast<const __m128i*>(rows[0][b].scales));
    const __m256i a = _mm256_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0)); // u0 u2 u1 u2
    const __m256i c = _mm256_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)); // u0 u0 u1 u1
    // dwords 0, 2: u0 & kLow6 (scales 0..3), u1 & kLow6 (mins 0..3)
    const __m256i low = _mm256_and_si256(a, _mm256_set1_epi32(0x3f3f3f3f));
    // dwords 1, 3: (u2 & kLow4) | ((u0 >> 6) & kLow2) << 4 (scales 4..7), the same of u2 >> 4
    // and u1 (mins 4..7)
    const __m256i a_shifted = _mm256_srlv_epi32(a, _mm256_set_epi32(4, 0, 0, 0, 4, 0, 0, 0));
    const __m256i top = _mm256_and_si256(_mm256_srli_epi32(c, 2), _mm256_set1_epi32(0x30303030));
    const __m256i high =
        _mm256_or_si256(_mm256_and_si256(a_shifted, _mm256_set1_epi32(0x0f0f0f0f)), top);
    return _mm256_blend_epi32(low, high, 0xaa);
}

// Constant vectors of the kernel.
struct Q5KConstants {
    // vpshufb of the 8 scale bytes of a 128-bit lane: pick[j] puts byte j in each 16-bit lane.
    __m256i pick[8];
    // vpshufb tables from a 4-bit index to 16 where bit k of the index is set, else 0: the
    // fifth bit of sub-block k (index qh & 15) or k + 4 (index qh >> 4) at bit 4.
    __m256i fifth[4];
    Q5KConstants() {
        for (int j = 0; j < 8; ++j) {
            pick[j] = _mm256_set1_epi16(static_cast<int16_t>(0x8000 | j));
        }
        for (int k = 0; k < 4; ++k) {
            alignas(32) uint8_t table[32];
            for (int v = 0; v < 32; ++v) {
                table[v] = static_cast<uint8_t>(((v % 16) >> k & 1) != 0 ? 16 : 0);
            }
            fifth[k] = load32(table);
        }
    }
};

// Sub-blocks 2c and 2c + 1 (the low and high nibbles of qs bytes 32c .. 32c + 31) of one row's
// super-block, their fifth bits looked up from qh's low or high nibbles (qh_lo, qh_hi), their
// scales picked from sc (the row's 8 scale bytes in both 128-bit lanes).
template <int C>
inline __m256i q5_k_pair(const BlockQ5_K& w, __m256i qh_lo, __m256i qh_hi, __m256i sc,
                         const BlockQ8_K& x, const Q5KConstants& k) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i bits = load32(w.qs + 32 * C);
    const __m256i qh = C < 2 ? qh_lo : qh_hi;
    const __m256i lo =
        _mm256_or_si256(_mm256_and_si256(bits, m4), _mm256_shuffle_epi8(k.fifth[(2 * C) % 4], qh));
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4),
                                       _mm256_shuffle_epi8(k.fifth[(2 * C + 1) % 4], qh));
    const __m256i p0 = _mm256_maddubs_epi16(lo, load32(x.qs + 64 * C));
    const __m256i p1 = _mm256_maddubs_epi16(hi, load32(x.qs + 64 * C + 32));
    const __m256i s0 = _mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc, k.pick[2 * C]));
    const __m256i s1 = _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc, k.pick[2 * C + 1]));
    return _mm256_add_epi32(s0, s1);
}

// One row's super-block: the per-row kernel's 8 int32 lanes of sumi.
inline __m256i q5_k_lanes(const BlockQ5_K& w, __m256i sc, const BlockQ8_K& x,
                          const Q5KConstants& k) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i qh = load32(w.qh);
    const __m256i qh_lo = _mm256_and_si256(qh, m4);
    const __m256i qh_hi = _mm256_and_si256(_mm256_srli_epi16(qh, 4), m4);
    const __m256i s01 = _mm256_add_epi32(q5_k_pair<0>(w, qh_lo, qh_hi, sc, x, k),
                                         q5_k_pair<1>(w, qh_lo, qh_hi, sc, x, k));
    const __m256i s23 = _mm256_add_epi32(q5_k_pair<2>(w, qh_lo, qh_hi, sc, x, k),
                                         q5_k_pair<3>(w, qh_lo, qh_hi, sc, x, k));
    return _mm256_add_epi32(s01, s23);
}

// Rows 0 and 1 against the activation row run.x; row 1 is not stored when n_out is 1 (it then
// repeats row 0) (gemv_row_group.h's rows kernel).
void dot_q5_k_rows(const GemvRun<BlockQ8_K>& run, const Q5KConstants& k,
                   const BlockQ5_K* const* rows, float* y, int n_out) {
    const BlockQ8_K* x = run.x;
    // vpshufb of each 128-bit lane's 8 min bytes (8..15) to 16-bit lanes
    const __m256i widen_mins = _mm256_set_epi16(
        static_cast<int16_t>(0x800f), static_cast<int16_t>(0x800e), static_cast<int16_t>(0x800d),
        static_cast<int16_t>(0x800c), static_cast<int16_t>(0x800b), static_cast<int16_t>(0x800a),
        static_cast<int16_t>(0x8009), static_cast<int16_t>(0x8008), static_cast<int16_t>(0x800f),
        static_cast<int16_t>(0x800e), static_cast<int16_t>(0x800d), static_cast<int16_t>(0x800c),
        static_cast<int16_t>(0x800b), static_cast<int16_t>(0x800a), static_cast<int16_t>(0x8009),
        static_cast<int16_t>(0x8008));
    const __m256i pick_dmin = _mm256_set_epi32(3, 3, 3, 3, 1, 1, 1, 1);
    __m256 acc[kRows] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256 acc_min = _mm256_setzero_ps(); // lane 4i: row i's min term
    for (int64_t b = 0; b < run.n / QK_K; ++b) {
        for (int i = 0; i < kRows; ++i) {
            prefetch_rows_ahead<sizeof(BlockQ5_K)>(rows[i] + b, run.row_bytes);
        }
        // The activations' sum over each 32-value sub-block, as int16 (exact: |sum| <= 32 * 128).
        const __m256i bs = load32(x[b].bsums);
        const __m256i sub_sums = _mm256_broadcastsi128_si256(
            _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        // Lanes 2i, 2i + 1: row i's dx * d and dx * dmin (the per-row kernel's two products).
        uint32_t d_dmin[kRows];
        std::memcpy(&d_dmin[0], &rows[0][b], sizeof(uint32_t));
        std::memcpy(&d_dmin[1], &rows[1][b], sizeof(uint32_t));
        const __m128i halves =
            _mm_set_epi32(0, 0, static_cast<int>(d_dmin[1]), static_cast<int>(d_dmin[0]));
        const __m128 scale = _mm_mul_ps(_mm_set1_ps(x[b].d), _mm_cvtph_ps(halves));
        alignas(16) float scale_lanes[4];
        _mm_store_ps(scale_lanes, scale);
        const __m256i sm = k4_scales_mins(rows, b);
        // The min terms: row i's exact integer sum_j mn_j * bsum_j in every dword of lane i.
        const __m256i prod = _mm256_madd_epi16(_mm256_shuffle_epi8(sm, widen_mins), sub_sums);
        __m256i summ = _mm256_add_epi32(prod, _mm256_shuffle_epi32(prod, _MM_SHUFFLE(1, 0, 3, 2)));
        summ = _mm256_add_epi32(summ, _mm256_shuffle_epi32(summ, _MM_SHUFFLE(2, 3, 0, 1)));
        const __m256 dmin = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(scale), pick_dmin);
        acc_min = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(summ), acc_min);
        const __m256i sc0 = _mm256_permute4x64_epi64(sm, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256i sc1 = _mm256_permute4x64_epi64(sm, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256i sumi0 = q5_k_lanes(rows[0][b], sc0, x[b], k);
        const __m256i sumi1 = q5_k_lanes(rows[1][b], sc1, x[b], k);
        acc[0] =
            _mm256_fmadd_ps(_mm256_broadcast_ss(scale_lanes), _mm256_cvtepi32_ps(sumi0), acc[0]);
        acc[1] = _mm256_fmadd_ps(_mm256_broadcast_ss(scale_lanes + 2), _mm256_cvtepi32_ps(sumi1),
                                 acc[1]);
    }
    alignas(32) float min_lanes[8];
    _mm256_store_ps(min_lanes, acc_min);
    for (int i = 0; i < n_out; ++i) {
        y[i] = hsum(acc[i]) - min_lanes[4 * i];
    }
}

} // namespace

} // namespace hearth::cpu

#endif

namespace hearth::cpu {

GemvFn gemv_q5_k_avx2() {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    return gemv_driver<kRows, dot_q5_k_rows>;
#else // not built for x86: gemv_avx2 never returns it there
    return nullptr;
#endif
}

} // namespace hearth::cpu
