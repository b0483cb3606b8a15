// The AVX-512 build of the Q5_K batch kernel (gemm_q5_k.h): two sub-blocks per 512-bit vector,
// vpmaddubsw then vpdpwssd (the scale multiply and the widening add in one instruction); the
// two 256-bit halves added give the AVX2 kernel's eight integer lanes, and two rows' lanes
// share one vector for the float multiply and FMA.
// Compiled with the AVX-512 flags and called only where avx512_kernels_enabled().
#include "cpu/gemm_q5_k.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q5_k_tile.h"

namespace hearth::cpu {
namespace {

struct Avx512 {
    // Sub-blocks 2c and 2c + 1 in the low and high halves: 16 int32 lanes whose halves, added,
    // are the AVX2 kernel's eight lanes of sum_j sc[j] * (sub-block j's q · x).
    static __m512i sums(const uint8_t* q, const int16_t* sc, const int8_t* x) {
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; ++c) {
            const __m512i p =
                _mm512_maddubs_epi16(_mm512_load_si512(q + 64 * c), _mm512_loadu_si512(x + 64 * c));
            sumi = _mm512_dpwssd_epi32(sumi, p, _mm512_load_si512(sc + 32 * c));
        }
        return sumi;
    }

    // Two rows per vector: row r's eight lanes in the low half, row r + 1's in the high half,
    // each lane the same multiply and FMA as the AVX2 build's.
    static void rows(const q5k::Tile& tile, const quant::BlockQ8_K& x, float (*acc)[8]) {
        const __m512 xd = _mm512_set1_ps(x.d);
        for (int r = 0; r < q5k::kRows; r += 2) {
            const __m512i a = sums(tile.q[r], tile.sc[r][0], x.qs);
            const __m512i b = sums(tile.q[r + 1], tile.sc[r + 1][0], x.qs);
            const __m512i sumi = _mm512_add_epi32(_mm512_shuffle_i64x2(a, b, 0x44),
                                                  _mm512_shuffle_i64x2(a, b, 0xee));
            const __m512 d = _mm512_mul_ps(xd, _mm512_load_ps(tile.d[r]));
            _mm512_store_ps(acc[r],
                            _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), _mm512_load_ps(acc[r])));
        }
    }
};

} // namespace

void gemm_q5_k_avx512(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows,
                      const void* x, size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    q5k::gemm<Avx512>(n_cols, w, row_bytes, n_rows, x, x_stride, n_tok, y, y_stride);
}

} // namespace hearth::cpu

#else // not built with the AVX-512 flags: avx512_kernels_enabled() is false there

#include <cstdlib>

namespace hearth::cpu {

void gemm_q5_k_avx512(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*,
                      int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
