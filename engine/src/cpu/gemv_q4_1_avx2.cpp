// Q4_1's AVX2 single-token kernel (gemv_avx2 returns it for Q4_1): one activation row of Q8_1
// blocks against a run of Q4_1 rows, four rows per pass.
//
// Bit-exact with the per-row kernel (vec_dot_avx2.cpp's dot_32_nt for one token, so with ggml's
// ggml_vec_dot_q4_1_q8_1). Per row and block that kernel computes 8 int32 lanes (vpmaddubsw of
// the 32 nibbles, low ones in the low 128-bit lane, with the 32 activations, then vpmaddwd by
// 1), then acc = fma(d * da, float(lane), acc) per lane and mins = fma(m, sa, mins) in a
// scalar, and returns hsum(acc) + mins. Here each row keeps its own 8-lane acc and runs the same
// operations in the same order; what changes is how the operands are made. The row's 16 nibble
// bytes are loaded into both 128-bit lanes at once (a load, no shuffle) and one variable shift
// moves the high lane's nibbles down. The (d, m) of the four rows are converted by one vcvtph2ps
// and multiplied by da in one vmulps (lane 2i row i's d * da, lane 2i + 1 its m); each row's
// d * da is broadcast from there, and the four min terms are four lanes of one vector FMA,
// each lane the scalar FMA of the per-row kernel. The activation block is loaded once for the
// four rows, and their four accumulator chains are independent, so FMA latencies overlap.
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

using avx2::h2f;
using avx2::hsum;
using avx2::load32;

constexpr int kRows = 4; // rows a pass: the (d, m) of 4 rows fill one 8-lane conversion
struct NoConstants {};

// The (d, m) of the 4 rows at block b as floats: lane 2i row i's d, 2i + 1 its m.
inline __m256 d_m_of_rows(const BlockQ4_1* const* rows, int64_t b) {
    const auto dm = [&](int i) {
        uint32_t v = 0;
        std::memcpy(&v, &rows[i][b], sizeof(v));
        return static_cast<int>(v);
    };
    return _mm256_cvtph_ps(_mm_set_epi32(dm(3), dm(2), dm(1), dm(0)));
}

// 4 rows against the activation row run.x; rows past n_out repeat an earlier one and are not
// stored (gemv_row_group.h's rows kernel).
void dot_q4_1_rows(const GemvRun<BlockQ8_1>& run, const NoConstants& /*constants*/,
                   const BlockQ4_1* const* rows, float* y, int n_out) {
    const BlockQ8_1* x = run.x;
    const float* scales = run.scales;
    const int64_t n_blocks = run.n / 32;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i high_lane_shift = _mm256_set_epi64x(4, 4, 0, 0);
    __m256 acc[kRows];
    for (int i = 0; i < kRows; ++i) {
        acc[i] = _mm256_setzero_ps();
    }
    __m256 mins = _mm256_setzero_ps(); // lane 2i + 1: row i's min term
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256i xq = load32(x[b].qs);
        const float da = scales ? scales[b] : h2f(x[b].d);
        const float sa = scales ? scales[n_blocks + b] : h2f(x[b].s);
        const __m256 dm = d_m_of_rows(rows, b);
        alignas(32) float d_da[8]; // lane 2i: row i's d * da
        _mm256_store_ps(d_da, _mm256_mul_ps(dm, _mm256_set1_ps(da)));
        for (int i = 0; i < kRows; ++i) {
            prefetch_rows_ahead<sizeof(BlockQ4_1)>(rows[i] + b, run.row_bytes);
            const __m256i raw = _mm256_broadcastsi128_si256(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i][b].qs)));
            const __m256i q = _mm256_and_si256(_mm256_srlv_epi64(raw, high_lane_shift), m4);
            const __m256i lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones);
            acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(d_da + 2 * i), _mm256_cvtepi32_ps(lanes),
                                     acc[i]);
        }
        mins = _mm256_fmadd_ps(dm, _mm256_set1_ps(sa), mins);
    }
    alignas(32) float min_lanes[8];
    _mm256_store_ps(min_lanes, mins);
    for (int i = 0; i < n_out; ++i) {
        y[i] = hsum(acc[i]) + min_lanes[2 * i + 1];
    }
}

} // namespace

} // namespace hearth::cpu

#endif

namespace hearth::cpu {

GemvFn gemv_q4_1_avx2() {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    return gemv_driver<kRows, dot_q4_1_rows>;
#else // not built for x86: gemv_avx2 never returns it there
    return nullptr;
#endif
}

} // namespace hearth::cpu
