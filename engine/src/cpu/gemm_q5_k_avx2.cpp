// The AVX2 build of the Q5_K batch kernel (gemm_q5_k.h): per row and token, each sub-block's
// bytes multiplied by vpmaddubsw, scaled and widened by vpmaddwd, as the per-row kernel does.
// Compiled with -mavx2 -mfma -mf16c and called only at the avx2 level.
#include "cpu/gemm_q5_k.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q5_k_tile.h"

namespace hearth::cpu {
namespace {

struct Avx2 {
    // The eight int32 lanes of sum_j sc[j] * (sub-block j's q · x), lane l over bytes 4l..4l+3.
    static __m256i lanes(const uint8_t* q, const int16_t* sc, const int8_t* x) {
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {
            const __m256i p = _mm256_maddubs_epi16(
                _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * j)),
                avx2::load32(x + 32 * j));
            const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc + 16 * j));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
        }
        return sumi;
    }

    static void rows(const q5k::Tile& tile, const quant::BlockQ8_K& x, float (*acc)[8]) {
        const __m256 xd = _mm256_set1_ps(x.d);
        for (int r = 0; r < q5k::kRows; ++r) {
            const __m256i sumi = lanes(tile.q[r], tile.sc[r][0], x.qs);
            const __m256 d = _mm256_mul_ps(xd, _mm256_load_ps(tile.d[r]));
            _mm256_store_ps(acc[r],
                            _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), _mm256_load_ps(acc[r])));
        }
    }
};

} // namespace

void gemm_q5_k_avx2(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
                    size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    q5k::gemm<Avx2>(n_cols, w, row_bytes, n_rows, x, x_stride, n_tok, y, y_stride);
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void gemm_q5_k_avx2(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*,
                    int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
