// The AVX-512 Q6_K tiles (gemm_q6_k.h): 4 rows × 4 tokens, two 32-quant chunks per 512-bit
// register. Per chunk pair: vpmaddubsw of the unpacked quants by the activations (the per-row
// kernel's 16-bit pair sums, exact), then vpdpwssd by the chunks' scales into the token's int32
// accumulator, whose low 256 bits collect the even chunks and the high 256 bits the odd ones.
// The -32 offset starts the low half (bsums · -32 × scales, vpdpwssd). At the end of a
// super-block the two halves are added: the per-row kernel's eight integer lanes, exactly; the
// float work from there is its own (fma of d_x × d_w by float(lanes), ggml's horizontal sum),
// two tokens per 512-bit register.
#include "cpu/gemm_q6_k.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/gemm_q6_k_tiles.h"

namespace hearth::cpu {
namespace {

using namespace q6_k_tiles;

// Two floats' 8-lane vectors as the halves of one 512-bit register, and back.
inline __m512 join(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

inline __m256 high_half(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// 4 × 4 measured fastest on Sapphire Rapids (CPU time, 1.1B shapes: 2 × 4 0.8x, 3 × 4 0.9x,
// 4 × 6 and 6 × 4 0.8x of it), though its 16 integer accumulators leave the weights in memory.
struct Avx512Tiles {
    static constexpr int kRows = 4;
    static constexpr int kTokens = 4;

    // Tokens are taken in pairs, each pair's two float accumulators in the halves of one
    // register (the same lane operations, half the instructions); an odd last token alone.
    template <int NR, int NT>
    static void tile(const TileArgs& a) {
        constexpr int NP = NT / 2;
        constexpr bool odd = NT % 2 == 1;
        const Unpacked* w[NR];
        for (int r = 0; r < NR; ++r) {
            w[r] = a.w + r * a.nb;
        }
        const BlockQ8_K* x[NT];
        for (int t = 0; t < NT; ++t) {
            x[t] = reinterpret_cast<const BlockQ8_K*>(a.x + t * a.x_stride);
        }
        __m512 acc[NR][NP + odd];
        for (int r = 0; r < NR; ++r) {
            for (int p = 0; p < NP + odd; ++p) {
                acc[r][p] = _mm512_setzero_ps();
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
            // The lanes: even chunks + odd chunks, a token pair per register.
            __m512 dx[NP + odd];
            for (int p = 0; p < NP; ++p) {
                dx[p] = join(_mm256_set1_ps(x[2 * p][b].d), _mm256_set1_ps(x[2 * p + 1][b].d));
            }
            if constexpr (odd) {
                dx[NP] = _mm512_set1_ps(x[NT - 1][b].d);
            }
            for (int r = 0; r < NR; ++r) {
                const __m512 dw = _mm512_set1_ps(w[r][b].d);
                for (int p = 0; p < NP + odd; ++p) {
                    const __m512i s0 = sum[r][2 * p];
                    const __m512i s1 = 2 * p + 1 < NT ? sum[r][2 * p + 1] : _mm512_setzero_si512();
                    const __m512i lanes = _mm512_add_epi32(_mm512_shuffle_i64x2(s0, s1, 0x44),
                                                           _mm512_shuffle_i64x2(s0, s1, 0xee));
                    acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(dx[p], dw), _mm512_cvtepi32_ps(lanes),
                                                acc[r][p]);
                }
            }
        }
        for (int t = 0; t < NT; ++t) {
            for (int r = 0; r < NR; ++r) {
                const __m512 v = acc[r][t / 2];
                a.y[t * a.y_stride + r] =
                    avx2::hsum(t % 2 == 0 ? _mm512_castps512_ps256(v) : high_half(v));
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
