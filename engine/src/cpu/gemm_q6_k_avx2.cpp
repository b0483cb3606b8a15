// The AVX2 Q6_K tiles (gemm_q6_k.h): 2 rows × 2 tokens (16 ymm registers: four int32 and four
// float accumulators, the rows' quants and scales, one activation chunk and its product). Per
// 32-quant chunk the per-row kernel's vpmaddubsw and vpmaddwd on the unpacked quants; the -32
// offset starts each accumulator (bsums · -32 × scales, vpmaddwd); then the per-row kernel's
// float work (fma of d_x × d_w by float(lanes), ggml's horizontal sum).
#include "cpu/gemm_q6_k.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q6_k_tiles.h"

namespace hearth::cpu {
namespace {

using namespace q6_k_tiles;

struct Avx2Tiles {
    static constexpr int kRows = 2;
    static constexpr int kTokens = 2;

    template <int NR, int NT>
    static void tile(const TileArgs& a) {
        const Unpacked* w[NR];
        for (int r = 0; r < NR; ++r) {
            w[r] = a.w + r * a.nb;
        }
        const BlockQ8_K* x[NT];
        __m256 acc[NR][NT];
        for (int t = 0; t < NT; ++t) {
            x[t] = reinterpret_cast<const BlockQ8_K*>(a.x + t * a.x_stride);
            for (int r = 0; r < NR; ++r) {
                acc[r][t] = _mm256_setzero_ps();
            }
        }
        for (int64_t b = 0; b < a.nb; ++b) {
            __m256i sum[NR][NT];
            for (int t = 0; t < NT; ++t) {
                const __m256i bsums = avx2::load32(x[t][b].bsums);
                for (int r = 0; r < NR; ++r) {
                    sum[r][t] = _mm256_madd_epi16(
                        bsums, _mm256_load_si256(reinterpret_cast<const __m256i*>(w[r][b].sc_m32)));
                }
            }
            // Not unrolled: unrolled, GCC regroups the sums into trees that spill (~10% slower).
#pragma GCC unroll 1
            for (int c = 0; c < 8; ++c) {
                __m256i q[NR], sc[NR];
                for (int r = 0; r < NR; ++r) {
                    q[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[r][b].q + 32 * c));
                    sc[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w[r][b].sc[c]));
                }
                for (int t = 0; t < NT; ++t) {
                    const __m256i xq = avx2::load32(x[t][b].qs + 32 * c);
                    for (int r = 0; r < NR; ++r) {
                        sum[r][t] = _mm256_add_epi32(
                            sum[r][t], _mm256_madd_epi16(sc[r], _mm256_maddubs_epi16(q[r], xq)));
                    }
                }
            }
            for (int t = 0; t < NT; ++t) {
                for (int r = 0; r < NR; ++r) {
                    acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(x[t][b].d * w[r][b].d),
                                                _mm256_cvtepi32_ps(sum[r][t]), acc[r][t]);
                }
            }
        }
        for (int t = 0; t < NT; ++t) {
            for (int r = 0; r < NR; ++r) {
                a.y[t * a.y_stride + r] = avx2::hsum(acc[r][t]);
            }
        }
    }
};

} // namespace

GemmQ6KFn gemm_q6_k_avx2() {
    return q6_k_tiles::gemm<Avx2Tiles>;
}

} // namespace hearth::cpu

#else // not built for x86: cpu_features never lets matmul reach the avx2 level

namespace hearth::cpu {

GemmQ6KFn gemm_q6_k_avx2() {
    return nullptr;
}

} // namespace hearth::cpu

#endif
