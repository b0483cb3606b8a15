// AVX-VNNI kernel of the int8 path's super-block layout (int8_ksuper.h; the tile is
// int8_ksuper_tile.h), for CPUs with AVX-VNNI but not AVX512-VNNI: per quad one vpdpbusd adds
// the 4 products of each row into the sub-block's int32 sum (exact for any q ≤ 255), then one
// vpmulld by the rows' integer scale per 16 values (per 32 for Q4_K/Q5_K, whose halves share it,
// int8_ksuper.h) adds it to the super-block's sum: the same integers, so the portable bits.
//
// Compiled with -mavx2 -mfma -mf16c -mavxvnni; called only where cpu_features found them.
#include "cpu/int8_ksuper.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVXVNNI__)

#include "cpu/int8_ksuper_tile.h"

namespace hearth::cpu {
namespace {

struct DotVnni {
    static constexpr int kChunkQuads(int max_q) { return max_q <= 31 ? 8 : 4; }

    template <int RN, int kMaxQ>
    static void chunk(__m256i* isum, const BlockKSuper8& blk, const quant::BlockQ8_K* const* xt,
                      int64_t b, int q0) {
        constexpr int kQuads = kChunkQuads(kMaxQ);
        __m256i part[RN];
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            part[t] = _mm256_setzero_si256();
        }
#pragma GCC unroll 8
        for (int i = 0; i < kQuads; ++i) {
            const int q = q0 + i;
            const __m256i w = load256(blk.qs + 32 * q);
#pragma GCC unroll 8
            for (int t = 0; t < RN; ++t) {
                part[t] = _mm256_dpbusd_avx_epi32(part[t], w, broadcast4(xt[t][b].qs + 4 * q));
            }
        }
        // The {sc, sc} pairs as int32 sc.
        const __m256i sc = _mm256_srai_epi32(load256(blk.scale[q0 / 4]), 16);
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
            isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(part[t], sc));
        }
    }
};

} // namespace

void int8_ksuper_avxvnni(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                         int64_t n_tok, int max_q, float* y, int64_t y_stride, int n_rows) {
    run_ksuper_groups<DotVnni>(n_super, group, x, n_tok, max_q, y, y_stride, n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: never picked there

#include <cstdlib>

namespace hearth::cpu {

void int8_ksuper_avxvnni(int64_t, const BlockKSuper8*, const KSuperActivations&, int64_t, int,
                         float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
