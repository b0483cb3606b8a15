// The AVX-512 build of the Q5_K batch kernel (gemm_q5_k.h): two sub-blocks per 512-bit vector,
// vpmaddubsw then vpdpwssd (the scale multiply and the widening add in one instruction); the
// two 256-bit halves are added at the end, which gives the AVX2 kernel's eight integer lanes.
// Compiled with the AVX-512 flags and called only where avx512_kernels_enabled().
#include "cpu/gemm_q5_k.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q5_k_tile.h"

namespace hearth::cpu {
namespace {

struct Avx512 {
    // The eight int32 lanes of sum_j sc[j] * (sub-block j's q · x), lane l over bytes 4l..4l+3:
    // sub-blocks 2c and 2c + 1 in the low and high halves, summed at the end.
    static __m256i lanes(const uint8_t* q, const int16_t* sc, const int8_t* x) {
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; ++c) {
            const __m512i p =
                _mm512_maddubs_epi16(_mm512_load_si512(q + 64 * c), _mm512_loadu_si512(x + 64 * c));
            sumi = _mm512_dpwssd_epi32(sumi, p, _mm512_load_si512(sc + 32 * c));
        }
        return _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
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
