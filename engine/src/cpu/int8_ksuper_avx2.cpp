// AVX2 kernel of the int8 path's super-block layout (int8_ksuper.h; the tile is
// int8_ksuper_tile.h). Per quad, vpmaddubsw multiplies the rows' unsigned q by the token's 4
// broadcast activations into 16-bit pairs; a run of quads is added in 16 bits (4 quads where
// q ≤ 31: 4 · 2 · 31 · 128 < 32768; 2 where q ≤ 63: 2 · 2 · 63 · 128 < 32768), and the vpmaddwd
// that widens it multiplies by the rows' integer sub-block scale (the layout's {sc, sc} pairs)
// instead of by ones: the integer scales cost nothing. Integer sums are exact (int8_ksuper.h's
// bound), so the bits are the portable kernel's.
//
// Compiled with -mavx2 -mfma -mf16c; called only at the avx2 level.
#include "cpu/int8_ksuper.h"

#if defined(__AVX2__) && defined(__FMA__)

#include "cpu/int8_ksuper_tile.h"

namespace hearth::cpu {
namespace {

struct DotAvx2 {
    // One 16-value sub-block (one scale) per chunk.
    static constexpr int kChunkQuads(int /*max_q*/) { return 4; }

    template <int RN, int kMaxQ>
    static void chunk(__m256i* isum, const BlockKSuper8& blk, const quant::BlockQ8_K* const* xt,
                      int64_t b, int q0) {
        constexpr int kRun = kMaxQ <= 31 ? 4 : 2;
        const __m256i sc = load256(blk.scale[q0 / 4]);
#pragma GCC unroll 4
        for (int r0 = q0; r0 < q0 + 4; r0 += kRun) {
            __m256i w[kRun];
#pragma GCC unroll 4
            for (int i = 0; i < kRun; ++i) {
                w[i] = load256(blk.qs + 32 * (r0 + i));
            }
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                const int8_t* xq = xt[t][b].qs + 4 * r0;
                __m256i p = _mm256_maddubs_epi16(w[0], broadcast4(xq));
#pragma GCC unroll 4
                for (int i = 1; i < kRun; ++i) {
                    p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[i], broadcast4(xq + 4 * i)));
                }
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc));
                keep_in_register(isum[t]);
            }
        }
    }
};

} // namespace

void int8_ksuper_avx2(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                      int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows) {
    run_ksuper_groups<DotAvx2>(n_super, group, x, n_tok, max_q, y, y_stride, n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_ksuper_avx2(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t, int, float*,
                      int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
