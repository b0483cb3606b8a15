// The AVX-512 Q6_K tiles (gemm_q6_k.h): 2 rows × 4 tokens, two 32-quant chunks per 512-bit
// register. Per chunk pair: vpmaddubsw of the unpacked quants by the activations (the per-row
// kernel's 16-bit pair sums, exact), then vpdpwssd by the chunks' scales into the token's int32
// accumulator, whose low 256 bits collect the even chunks and the high 256 bits the odd ones.
// The -32 offset starts the low half (bsums · -32 × scales, vpdpwssd). At the end of a
// super-block the two halves are added: the per-row kernel's eight integer lanes, exactly; the
// float work from there is its own (fma of d_x × d_w by float(lanes), ggml's horizontal sum).
#include "cpu/gemm_q6_k.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q6_k_tiles.h"

namespace hearth::cpu {
namespace {

using namespace q6_k_tiles;

struct Avx512Tiles {
    static constexpr int kRows = 2;
    static constexpr int kTokens = 4;

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
            __m512i sum[NR][NT];
            for (int t = 0; t < NT; ++t) {
                const __m256i bsums = avx2::load32(x[t][b].bsums);
                for (int r = 0; r < NR; ++r) {
                    const __m256i offset = _mm256_dpwssd_epi32(
                        _mm256_setzero_si256(), bsums,
                        _mm256_load_si256(reinterpret_cast<const __m256i*>(w[r][b].sc_m32)));
                    sum[r][t] = _mm512_zextsi256_si512(offset);
                }
            }
            for (int p = 0; p < 4; ++p) {
                __m512i q[NR], sc[NR];
                for (int r = 0; r < NR; ++r) {
                    q[r] = _mm512_load_si512(w[r][b].q + 64 * p);
                    sc[r] = _mm512_load_si512(w[r][b].sc[2 * p]);
                }
                for (int t = 0; t < NT; ++t) {
                    const __m512i xq = _mm512_loadu_si512(x[t][b].qs + 64 * p);
                    for (int r = 0; r < NR; ++r) {
                        sum[r][t] =
                            _mm512_dpwssd_epi32(sum[r][t], _mm512_maddubs_epi16(q[r], xq), sc[r]);
                    }
                }
            }
            for (int t = 0; t < NT; ++t) {
                for (int r = 0; r < NR; ++r) {
                    const __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(sum[r][t]),
                                                           _mm512_extracti64x4_epi64(sum[r][t], 1));
                    acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(x[t][b].d * w[r][b].d),
                                                _mm256_cvtepi32_ps(lanes), acc[r][t]);
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

GemmQ6KFn gemm_q6_k_avx512() {
    return q6_k_tiles::gemm<Avx512Tiles>;
}

} // namespace hearth::cpu

#else // not built for x86: cpu_features never turns the AVX-512 kernels on

namespace hearth::cpu {

GemmQ6KFn gemm_q6_k_avx512() {
    return nullptr;
}

} // namespace hearth::cpu

#endif
