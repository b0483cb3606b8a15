// Q6_K's AVX2 single-token kernel (gemv_avx2 returns it for Q6_K): one activation row of Q8_K
// blocks against a run of Q6_K rows, two rows a pass.
//
// Bit-exact with the per-row AVX2 kernel (vec_dot_q6_k_avx2.cpp, so with ggml's
// ggml_vec_dot_q6_K_q8_K). Per row and super-block that kernel sums, in 8 int32 lanes, lane i =
// sum over the 8 chunks c of sc[2c + i / 4] * (q_c[4i..4i+3] . x_c[4i..4i+3]) (q_c the chunk's
// 32 unsigned 6-bit values, x_c its activations), minus 32 * (bsums[2i] sc[2i] + bsums[2i+1]
// sc[2i+1]); then acc = fma(dx * d, float(lane), acc) per lane and ggml's horizontal sum at the
// end. Integer sums are exact in any order (vpmaddubsw cannot saturate: |63 * 128 * 2| < 32768),
// so only the integer work is done differently here, the float work is the same operations in
// the same order:
//  - the 6-bit values come from shifts and masks chosen per chunk (the high bits shifted into
//    bits 4..5 by one 16-bit shift, or none), not a variable shift of qh per chunk;
//  - each row's 16 scales are widened once per super-block into one register, the even ones in
//    the low 128-bit lane and the odd ones in the high lane, so a chunk's scales are one
//    in-lane vpshufb (word c of each lane) instead of a vpshufb and a cross-lane widening;
//  - two rows share each activation load and the activation sums, and their chains overlap.
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_row_group.h"
#include "cpu/q6_k_step_avx2.h"

#include <immintrin.h>

namespace hearth::cpu {
namespace {

using quant::BlockQ6_K;
using quant::BlockQ8_K;
using quant::QK_K;

using avx2::hsum;
using avx2::load32;

// The vpshufb that sorts a row's 16 scale bytes into even ones (bytes 0..7) and odd ones.
alignas(16) constexpr uint8_t kEvenOdd[16] = {0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15};

// Per chunk c, the vpshufb that broadcasts 16-bit word c of each 128-bit lane: sc[2c] in the
// low lane, sc[2c + 1] in the high one, as the per-row kernel's get_scale_shuffle widened.
struct ScalePicks {
    __m256i word[8];
    ScalePicks() {
        for (int c = 0; c < 8; ++c) {
            word[c] = _mm256_set1_epi16(static_cast<int16_t>((2 * c + 1) << 8 | 2 * c));
        }
    }
};

// One row's super-block state: its scales as described above and the -32 offset's lanes.
struct RowScales {
    __m256i words;  // even scales (low lane), odd scales (high lane), as int16
    __m256i offset; // lane i: 32 * (bsums[2i] sc[2i] + bsums[2i + 1] sc[2i + 1])
};

inline RowScales row_scales(const BlockQ6_K& w, __m256i bsums) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales));
    const __m128i sorted =
        _mm_shuffle_epi8(bytes, _mm_load_si128(reinterpret_cast<const __m128i*>(kEvenOdd)));
    return {_mm256_cvtepi8_epi16(sorted), q6_k_avx2::offset(bsums, _mm256_cvtepi8_epi16(bytes))};
}

// The four chunks of half h of a row's super-block as unsigned bytes 0..63. Chunk k takes the
// low (k < 2) or high nibbles of ql[64h + 32 (k % 2)..] and bits 2k, 2k + 1 of qh[32h..], moved
// to bits 4, 5 (16-bit shifts: the bits that cross a byte are masked off).
struct HalfQuants {
    __m256i ql0, ql1, qh;
    HalfQuants(const BlockQ6_K& w, int h)
        : ql0(load32(w.ql + 64 * h)), ql1(load32(w.ql + 64 * h + 32)), qh(load32(w.qh + 32 * h)) {}

    __m256i chunk(int k) const {
        const __m256i m15 = _mm256_set1_epi8(0x0f);
        const __m256i m48 = _mm256_set1_epi8(0x30);
        switch (k) {
        case 0:
            return _mm256_or_si256(_mm256_and_si256(ql0, m15),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 4), m48));
        case 1:
            return _mm256_or_si256(_mm256_and_si256(ql1, m15),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), m48));
        case 2:
            return _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m15),
                                   _mm256_and_si256(qh, m48));
        default:
            return _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m15),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m48));
        }
    }
};

// Rows a pass: 4 measured no faster (more live registers than the 16 ymm hold).
constexpr int kRows = 2;

// kRows rows against the activation row run.x; rows past n_out repeat an earlier one and
// are not stored.
void dot_q6_k_rows(const GemvRun<BlockQ8_K>& run, const ScalePicks& picks,
                   const BlockQ6_K* const* rows, float* y, int n_out) {
    const BlockQ8_K* x = run.x;
    __m256 acc[kRows];
    for (__m256& a : acc) {
        a = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < run.n / QK_K; ++b) {
        const __m256i bsums = load32(x[b].bsums);
        RowScales sc[kRows];
        __m256i sumi[kRows];
        for (int r = 0; r < kRows; ++r) {
            prefetch_rows_ahead<sizeof(BlockQ6_K)>(&rows[r][b], run.row_bytes);
            sc[r] = row_scales(rows[r][b], bsums);
            sumi[r] = _mm256_setzero_si256();
        }
        for (int h = 0; h < 2; ++h) {
            const HalfQuants q[kRows] = {HalfQuants(rows[0][b], h), HalfQuants(rows[1][b], h)};
            for (int k = 0; k < 4; ++k) {
                const int c = 4 * h + k;
                const __m256i xc = load32(x[b].qs + 32 * c);
                for (int r = 0; r < kRows; ++r) {
                    const __m256i p = _mm256_maddubs_epi16(q[r].chunk(k), xc);
                    const __m256i s = _mm256_shuffle_epi8(sc[r].words, picks.word[c]);
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(s, p));
                }
            }
        }
        for (int r = 0; r < kRows; ++r) {
            acc[r] = q6_k_avx2::accumulate(acc[r], sumi[r], sc[r].offset, x[b].d, rows[r][b].d);
        }
    }
    for (int r = 0; r < n_out; ++r) {
        y[r] = hsum(acc[r]);
    }
}

} // namespace

} // namespace hearth::cpu

#endif

namespace hearth::cpu {

GemvFn gemv_q6_k_avx2() {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    return gemv_driver<kRows, dot_q6_k_rows>;
#else // not built for x86: cpu_features never lets matmul reach the avx2 level
    return nullptr;
#endif
}

} // namespace hearth::cpu
