// AVX2 kernel of the int8 prefill path (int8_gemm.h; the tile is int8_gemm_tile.h).
// Compiled with -mavx2 -mfma -mf16c; called only at that level.
//
// vpmaddubsw (unsigned weights ≤ 63 × signed activations) then vpmaddwd: two quads' 16-bit
// products are added before vpmaddwd (2 × 2 × 63 × 127 < 32768), so nothing saturates and the
// integer sums are exact, as VNNI's are.
#include "cpu/int8_gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/int8_gemm_tile.h"

namespace hearth::cpu {
namespace {

struct DotAvx2 {
    static __m256i pair(__m256i acc, __m256i w0, __m256i x0, __m256i w1, __m256i x1) {
        const __m256i s =
            _mm256_add_epi16(_mm256_maddubs_epi16(w0, x0), _mm256_maddubs_epi16(w1, x1));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(s, _mm256_set1_epi16(1)));
    }
};

} // namespace

void int8_gemm_avx2(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                    int64_t n_tok, bool half_scales, float* y, int64_t y_stride, int n_rows) {
    run_group<DotAvx2>(n_blocks, group, x, n_tok, half_scales, y, y_stride, n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: matmul never picks this kernel below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_gemm_avx2(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, bool, float*,
                    int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
