// AVX512-VNNI (256-bit) kernel of the int8 prefill path (int8_gemm.h; the kernel is
// int8_gemm_vnni.h's). Compiled with -mavx2 -mfma -mf16c -mavx512vnni -mavx512vl; called only
// where cpu_features found them.
#include "cpu/int8_gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

#include "cpu/int8_gemm_vnni.h"

namespace hearth::cpu {
namespace {

inline __m256i dpbusd_avx512(__m256i acc, __m256i w, __m256i x) {
    return _mm256_dpbusd_epi32(acc, w, x);
}

} // namespace

void int8_gemm_avx512vnni(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                          int64_t n_tok, Int8Format format, float* y, int64_t y_stride,
                          int n_rows) {
    int8_gemm_vnni<dpbusd_avx512>(n_blocks, group, x, n_tok, format, y, y_stride, n_rows);
}

} // namespace hearth::cpu

#else // not built for x86: never picked there

#include <cstdlib>

namespace hearth::cpu {

void int8_gemm_avx512vnni(int64_t, const BlockInt8x8*, const Int8Activations&, int64_t, Int8Format,
                          float*, int64_t, int) {
    std::abort();
}

} // namespace hearth::cpu

#endif
