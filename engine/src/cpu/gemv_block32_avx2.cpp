// The AVX2 single-token kernel of the 32-value formats without their own (gemv_avx2 returns it
// for Q4_0, Q5_0, Q5_1, Q8_0 and IQ4_NL; Q4_1 has gemv_q4_1_avx2.cpp): one activation row against
// a run of rows, four rows per pass.
//
// Bit-exact with the per-row kernel (vec_dot_avx2.cpp's dot_32_nt for one token, so with ggml's
// vec_dot for these types): per row and block the same exact int32 lanes (the |w| * sign(x, w)
// trick for the signed formats), then acc = fma(d * da, float(lane), acc) and, for Q5_1,
// min = fma(m, s, min) in a scalar; the row's result is hsum(acc) + min. Each of the four rows
// keeps its own chain and runs those operations in that order: the activation block is loaded,
// and its scales read, once for the four rows, and the four chains are independent, so the FMA
// and shuffle latencies of one row overlap the others'. Without it decode of a Q8_0 file on an
// AVX2-only CPU was compute-bound (the per-row kernel one row at a time).
#include "cpu/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/block32_avx2.h"
#include "cpu/gemv_prefetch.h"
#include "cpu/gemv_row_group.h"

#include <cmath>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using avx2::dot_us8;
using avx2::h2f;
using avx2::hsum;
using avx2::load32;

constexpr int kRows = 4;
// How far ahead in each row the kernel asks for weights (gemv_prefetch.h): 12 blocks, the
// distance the AVX-512 kernel of these formats measured best.
constexpr int64_t kPrefetchBlocks = 12;

// kRows rows against the activation row x; rows past n_out repeat an earlier one and are not
// stored. scales: the activations' block scales as floats (d of each block, then s), or null.
template <class W>
void dot_32_rows(int64_t n, const typename W::Block* const* rows, const typename W::Act* x,
                 const float* scales, float* y, int n_out) {
    const int64_t n_blocks = n / 32;
    __m256 acc[kRows];
    float mins[kRows];
    for (int i = 0; i < kRows; ++i) {
        acc[i] = _mm256_setzero_ps();
        mins[i] = 0.0f;
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        const __m256i xq = load32(x[b].qs);
        const float da = scales ? scales[b] : h2f(x[b].d);
        for (int i = 0; i < kRows; ++i) {
            const auto& block = rows[i][b];
            prefetch_ahead(&block, kPrefetchBlocks * sizeof(block));
            const __m256i q = W::values(block);
            __m256i uq = q, qy = xq;
            if constexpr (W::kSigned) {
                uq = _mm256_sign_epi8(q, q);
                qy = _mm256_sign_epi8(xq, q);
            }
            const __m256 p = _mm256_cvtepi32_ps(dot_us8(uq, qy));
            acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(block.d) * da), p, acc[i]);
            if constexpr (W::kMin) {
                const float sa = scales ? scales[n_blocks + b] : h2f(x[b].s);
                mins[i] = std::fma(h2f(block.m), sa, mins[i]);
            }
        }
    }
    for (int i = 0; i < n_out; ++i) {
        y[i] = hsum(acc[i]) + mins[i];
    }
}

template <class W>
void gemv_32(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* vx,
             const float* scales, float* y) {
    const auto* x = static_cast<const typename W::Act*>(vx);
    for_each_row_group<kRows, typename W::Block>(
        w, row_bytes, n_rows, [&](const typename W::Block* const* rows, int64_t r, int real) {
            dot_32_rows<W>(n, rows, x, scales, y + r, real);
        });
}

} // namespace

GemvFn gemv_block32_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_0:
        return gemv_32<avx2::Q4_0W>;
    case TensorType::Q5_0:
        return gemv_32<avx2::Q5_0W>;
    case TensorType::Q5_1:
        return gemv_32<avx2::Q5_1W>;
    case TensorType::Q8_0:
        return gemv_32<avx2::Q8_0W>;
    case TensorType::IQ4_NL:
        return gemv_32<avx2::IQ4_NLW>;
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu

#else // not x86 with AVX2: the portable kernels run

namespace hearth::cpu {

GemvFn gemv_block32_avx2(TensorType) {
    return nullptr;
}

} // namespace hearth::cpu

#endif
