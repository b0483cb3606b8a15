// AVX512-VNNI (256-bit) kernel of the int8 prefill path (int8_gemm.h; the tile is
// int8_gemm_tile.h). Compiled with -mavx2 -mfma -mf16c -mavx512vnni -mavx512vl; called only where
// cpu_features found them.
//
// vpdpbusd adds the four u8 × s8 products of each 32-bit lane straight into the row's 32-bit
// sum: one instruction per quad where AVX2 needs three, and the same exact integers.
#include "cpu/int8_gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "cpu/int8_gemm_tile.h"

namespace hearth::cpu {
namespace {

// Full bytes too: vpdpbusd sums into 32 bits, so q up to 255 cannot saturate.
struct DotVnni {
    static constexpr int kTileTokens = 6;
    static constexpr int kUnsignedOffset = 0;
    using W = __m256i;
    static W prep(__m256i w) { return w; }
    static __m256i pair(__m256i acc, __m256i w0, __m256i x0, __m256i w1, __m256i x1) {
        return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(acc, w0, x0), w1, x1);
    }
};

} // namespace

void int8_gemm_avx512vnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                          int64_t n_tok, Int8Format format, float* y, int64_t y_stride,
                          int n_rows) {
    run_group<DotVnni, DotVnni>(n_blocks, group, x, n_tok, format, y, y_stride, n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: never picked there

#include <cstdlib>

namespace hearth::cpu {

void int8_gemm_avx512vnni(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, bool,
                          float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
