// AVX2 kernel of the int8 prefill path (int8_gemm.h; the tile is int8_gemm_tile.h).
// Compiled with -mavx2 -mfma -mf16c; called only at that level.
//
// 5- and 6-bit types: vpmaddubsw (unsigned weights × signed activations) then vpmaddwd: four
// quads' 16-bit products are added before vpmaddwd where q ≤ 31 (4 × 2 × 31 × 128 < 32768), two
// where q ≤ 63 (2 × 2 × 63 × 128 < 32768), so nothing saturates and the integer sums are exact,
// as VNNI's are.
//
// 7-bit types (the IQ2/IQ3_XXS grids, q ≤ 127): each quad's vpmaddubsw pairs are widened by
// vpmaddwd on their own (2 × 127 × 127 < 32768), one more vpmaddwd and add per pair of quads.
//
// Full bytes (Q8_0, F16, BF16, F32): q ≤ 255 times 127 would saturate vpmaddubsw, so the kernel
// multiplies s = q - 128 instead, through ggml's sign trick: |s| (≤ 128, unsigned) times the
// activation with s's sign (vpsignb), 2 × 128 × 127 < 32768 per 16-bit lane, each quad widened
// by vpmaddwd on its own. The block's sum of q · x is then that plus 128 × the activations'
// integer sum: the same integers as VNNI's, so the same bits.
#include "cpu/int8_gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/int8_gemm_tile.h"

namespace hearth::cpu {
namespace {

// The AVX2 policies keep 4 tokens per tile: 4 float accumulators, 4 integer sums, a run's
// weights (up to 4 registers) and the constants fit AVX2's 16 registers, where 6 tokens spilled
// the sums to the stack on every block.

// Up to 6-bit q: a run's vpmaddubsw products are added in 16 bits (kRunQuads: 4 quads for
// q ≤ 31, 2 for q ≤ 63; int8_gemm.h's bound), then widened by one vpmaddwd.
struct DotAvx2 : PlainBytesDot {
    static constexpr int kTileTokens = 4;
    static constexpr int kRunQuads(int max_q) { return max_q <= 31 ? 4 : 2; }
    template <int kRun>
    static __m256i run(__m256i acc, const __m256i* w, const int8_t* x) {
        __m256i s = _mm256_maddubs_epi16(w[0], broadcast4(x));
#pragma GCC unroll 8
        for (int i = 1; i < kRun; ++i) {
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[i], broadcast4(x + 4 * i)));
        }
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, _mm256_set1_epi16(1)));
        keep_in_register(acc);
        return acc;
    }
};

// 7-bit q: each quad's products widened on their own.
struct DotAvx2Wide : PlainBytesDot {
    static constexpr int kTileTokens = 4;
    template <int kRun>
    static __m256i run(__m256i acc, const __m256i* w, const int8_t* x) {
        const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 8
        for (int i = 0; i < kRun; ++i) {
            acc = _mm256_add_epi32(
                acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w[i], broadcast4(x + 4 * i)), ones));
            keep_in_register(acc);
        }
        return acc;
    }
};

// Weights made signed once per load (shared by the tile's tokens): two registers per quad.
struct DotAvx2Signed {
    static constexpr int kTileTokens = 4;
    static constexpr int kUnsignedOffset = 128;
    static constexpr int kRunQuads(int /*max_q*/) { return 2; }
    struct W {
        __m256i magnitude; // |q - 128| as unsigned bytes
        __m256i sign;      // q - 128: vpsignb takes its sign
    };
    static W prep(__m256i w) {
        const __m256i s = _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80)));
        return {_mm256_abs_epi8(s), s};
    }
    template <int kRun>
    static __m256i run(__m256i acc, const W* w, const int8_t* x) {
        const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 8
        for (int i = 0; i < kRun; ++i) {
            const __m256i p = _mm256_maddubs_epi16(
                w[i].magnitude, _mm256_sign_epi8(broadcast4(x + 4 * i), w[i].sign));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
            keep_in_register(acc);
        }
        return acc;
    }
};

} // namespace

void int8_gemm_avx2(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                    int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows) {
    run_groups<DotAvx2, DotAvx2Wide, DotAvx2Signed>(n_blocks, group, x, n_tok, format, y, y_stride,
                                                    n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_gemm_avx2(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, Int8Format,
                    float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
