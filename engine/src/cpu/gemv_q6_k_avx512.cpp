// Q6_K's AVX-512 single-token kernel (gemv_avx512 returns it for Q6_K): one activation row of
// Q8_K blocks against a run of Q6_K rows, two chunks of one row per 512-bit register.
//
// Bit-exact with the per-row AVX2 kernel (vec_dot_q6_k_avx2.cpp, so with ggml's
// ggml_vec_dot_q6_K_q8_K). Per row and super-block that kernel sums, in 8 int32 lanes, lane i =
// sum over the 8 chunks c of sc[2c + i / 4] * (q_c[4i..4i+3] . x_c[4i..4i+3]) (q_c the chunk's
// 32 unsigned 6-bit values, x_c its activations), minus 32 * (bsums[2i] sc[2i] + bsums[2i+1]
// sc[2i+1]); then acc = fma(dx * d, float(lane), acc) per lane and ggml's horizontal sum at the
// end. Only the integer lanes are computed differently here, and integer sums are exact in any
// order (vpmaddubsw cannot saturate: |63 * 128 * 2| < 32768):
//  - a row's half h of a super-block (chunks 4h..4h+3) is two registers: ql[64h..64h+63] as one
//    load holds chunks 4h (low 256 bits) and 4h+1 in its low nibbles and 4h+2, 4h+3 in its high
//    ones, and qh[32h..] broadcast to both halves gives each chunk's two high bits after one
//    mask (0x33 in the low half, 0xcc in the high one) and one or two 16-bit shifts, merged by
//    one vpternlogd per register;
//  - the activations of those chunk pairs are contiguous (x.qs[64v..64v+63] for register v), so
//    the products need no arranging;
//  - a register's 128-bit lane L takes sub-block 4v + L's scale (lane 0, 1: chunk 2v's two
//    sub-blocks, lane 2, 3: chunk 2v + 1's), which is the AVX2 kernel's lane i / 4 split per
//    chunk; a vpshufb of the 16 scale bytes and a widening give them as int16 (no 512-bit
//    shifts: those and the multiplies share one port);
//  - vpdpwssd adds the scaled pairs; the two 256-bit halves are added before the float part;
//  - four rows a call share the activation loads, and their chains overlap.
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

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

// The constants of the unpack and of the scale picks.
struct Picks {
    __m512i high_mask; // qh bits 0, 1, 4, 5 in the low half, 2, 3, 6, 7 in the high one
    __m256i scale[4];  // register v: byte k is scale byte 4v + k / 8 (vpshufb of 16 bytes)
    Picks() {
        high_mask = _mm512_inserti64x4(_mm512_set1_epi8(0x33),
                                       _mm256_set1_epi8(static_cast<char>(0xcc)), 1);
        for (int v = 0; v < 4; ++v) {
            alignas(32) uint8_t bytes[32];
            for (int k = 0; k < 32; ++k) {
                bytes[k] = static_cast<uint8_t>(4 * v + k / 8); // both lanes hold all 16
            }
            scale[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(bytes));
        }
    }
};

// One row's super-block: the AVX2 kernel's 8 int32 lanes before the offset, as the sum of the
// two 256-bit halves of the returned register (each half one chunk of each pair).
inline __m512i q6_k_lanes(const BlockQ6_K& w, const BlockQ8_K& x, const Picks& picks) {
    const __m512i m15 = _mm512_set1_epi8(0x0f);
    const __m256i scales =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
    __m512i sumi = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(w.ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh + 32 * h)));
        // Bits 4, 5 of each byte: chunk 4h's bits 0, 1 of qh (low half) and 4h + 1's bits 2, 3
        // (high half); then 4h + 2's bits 4, 5 and 4h + 3's bits 6, 7. Bits 6, 7 stay zero.
        const __m512i split = _mm512_and_si512(qh, picks.high_mask);
        const __m512i high23 = _mm512_mask_srli_epi16(split, 0xffff0000, split, 2);
        // split << 4 and split << 2 (the bits that split >> 2 lost are zero in its mask)
        const __m512i high01 = _mm512_slli_epi16(high23, 4);
        // (nibbles & 0x0f) | (high & ~0x0f)
        const __m512i q[2] = {
            _mm512_ternarylogic_epi32(ql, high01, m15, 0xe4),
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), high23, m15, 0xe4)};
        for (int j = 0; j < 2; ++j) {
            const int v = 2 * h + j;
            const __m512i prod = _mm512_maddubs_epi16(q[j], _mm512_loadu_si512(x.qs + 64 * v));
            const __m512i sc = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(scales, picks.scale[v]));
            sumi = _mm512_dpwssd_epi32(sumi, prod, sc);
        }
    }
    return sumi;
}

constexpr int kRows = 4;

// 4 rows against the activation row run.x; rows past n_out repeat an earlier one and are not
// stored.
void dot_q6_k_rows(const GemvRun<BlockQ8_K>& run, const Picks& picks, const BlockQ6_K* const* rows,
                   float* y, int n_out) {
    const BlockQ8_K* x = run.x;
    __m256 acc[kRows];
    for (__m256& a : acc) {
        a = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < run.n / QK_K; ++b) {
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].bsums));
        for (int r = 0; r < kRows; ++r) {
            const BlockQ6_K& w = rows[r][b];
            prefetch_rows_ahead<sizeof(BlockQ6_K)>(&w, run.row_bytes);
            const __m512i sumi = q6_k_lanes(w, x[b], picks);
            const __m256i lanes =
                _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
            const __m256i sc16 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
            acc[r] =
                q6_k_avx2::accumulate(acc[r], lanes, q6_k_avx2::offset(bsums, sc16), x[b].d, w.d);
        }
    }
    for (int r = 0; r < n_out; ++r) {
        y[r] = hsum(acc[r]);
    }
}

} // namespace

GemvFn gemv_q6_k_avx512() {
    return gemv_driver<kRows, dot_q6_k_rows>;
}

} // namespace hearth::cpu

#endif
