// AVX2 single-token kernels for float weights (kernels.h's GemvFn, via gemv_avx2.cpp), each
// row with the bits of the per-row kernel it replaces:
//   F16 (gemv_tinyblas_avx2): vec_dot_tinyblas_avx2's order, llamafile tinyBLAS's: one 8-lane
//     FMA chain per row, acc = fma(w[l..l+8), x[l..l+8), acc) for l = 0, 8, ..., then hsum.
//     n is a multiple of 8 (select_kernel takes tinyBLAS's order only then).
//   BF16 (gemv_avx2): dot_bf16's, ggml_vec_dot_bf16's AVX2 order: four 8-lane chains per row,
//     c[k] = w × x + c[k] over the values i + 8k of each 32 (a multiply and an add, written as
//     dot_bf16 writes them, so the compiler treats both alike), then hsum((c0 + c2) + (c1 + c3))
//     in double, plus the values past the last 32 as float products added in double.
// A single row's chain is a run of dependent FMAs (4 cycles each), so one row at a time leaves
// the FMA units mostly idle; here several rows run side by side, each on its own accumulators in
// its own fixed order, sharing each activation vector (and its conversion). That changes only
// which independent chains are in flight, never a row's operations. Each row is prefetched a
// few cache lines ahead, one line per 32 values. Compiled with -mavx2 -mfma -mf16c and called
// only after cpu_features found them.
#include "cpu/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_row_group.h"
#include "hearth/quant.h"

#include <immintrin.h>
#include <vector>

namespace hearth::cpu {
namespace {

using avx2::hsum;
using avx2::load_bf16x8;
using avx2::load_f16x8;

// Values per cache line of a float-weight row (64 bytes of 2-byte values), and how far ahead
// of the values being read each row is prefetched.
constexpr int64_t kLine = 32;
constexpr int64_t kPrefetchAhead = 8 * kLine;

inline void prefetch(const uint16_t* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
}

// ---- F16, tinyBLAS's order ----

// R rows (rows[0..R)), the first n_out of them stored to y. Eight rows keep eight FMA chains in
// flight (two FMA units × four cycles of latency) in 8 + 1 of the 16 registers.
template <int R>
void f16_rows(int64_t n, const uint16_t* const* rows, const uint16_t* x, float* y, int n_out) {
    __m256 acc[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
    }
    const auto step = [&](int64_t l) {
        const __m256 xv = load_f16x8(x + l);
        for (int r = 0; r < R; ++r) {
            acc[r] = _mm256_fmadd_ps(load_f16x8(rows[r] + l), xv, acc[r]);
        }
    };
    int64_t l = 0;
    for (; l + kLine <= n; l += kLine) {
        for (int r = 0; r < R; ++r) {
            prefetch(rows[r] + l + kPrefetchAhead);
        }
        for (int64_t k = 0; k < kLine; k += 8) {
            step(l + k);
        }
    }
    for (; l < n; l += 8) {
        step(l);
    }
    for (int r = 0; r < n_out; ++r) {
        y[r] = hsum(acc[r]);
    }
}

void gemv_f16(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
              const float* /*scales*/, float* y) {
    const auto* xs = static_cast<const uint16_t*>(x);
    int64_t r = 0;
    for (; r + 8 <= n_rows; r += 8) {
        const uint16_t* rows[8];
        row_group(w, row_bytes, r, n_rows, rows);
        f16_rows<8>(n, rows, xs, y + r, 8);
    }
    for (; r < n_rows; r += 4) { // the last 1..7 rows, four at a time (repeats padding)
        const uint16_t* rows[4];
        const int real = row_group(w, row_bytes, r, n_rows, rows);
        f16_rows<4>(n, rows, xs, y + r, real);
    }
}

// ---- BF16, ggml_vec_dot_bf16's order ----

// R rows against the activations widened to floats (xf, exact): 4 × R chains. Three rows take
// 12 accumulators and leave the weight vectors the rest of the 16 registers; the activations
// are memory operands, read once per row from L1.
template <int R>
void bf16_rows(int64_t n, const uint16_t* const* rows, const uint16_t* x, const float* xf, float* y,
               int n_out) {
    __m256 c[R][4];
    for (int r = 0; r < R; ++r) {
        for (int k = 0; k < 4; ++k) {
            c[r][k] = _mm256_setzero_ps();
        }
    }
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { // 32 values: one cache line of each row
        for (int r = 0; r < R; ++r) {
            prefetch(rows[r] + i + kPrefetchAhead);
        }
        for (int k = 0; k < 4; ++k) {
            const __m256 xv = _mm256_loadu_ps(xf + i + 8 * k);
            for (int r = 0; r < R; ++r) {
                const __m256 p = _mm256_mul_ps(load_bf16x8(rows[r] + i + 8 * k), xv);
                c[r][k] = _mm256_add_ps(p, c[r][k]);
            }
        }
    }
    for (int r = 0; r < n_out; ++r) {
        double sum =
            hsum(_mm256_add_ps(_mm256_add_ps(c[r][0], c[r][2]), _mm256_add_ps(c[r][1], c[r][3])));
        for (int64_t t = i; t < n; ++t) {
            sum += static_cast<double>(bf16_to_fp32(rows[r][t]) * bf16_to_fp32(x[t]));
        }
        y[r] = static_cast<float>(sum);
    }
}

void gemv_bf16(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
               const float* /*scales*/, float* y) {
    const auto* xs = static_cast<const uint16_t*>(x);
    // The activations' vector part widened once per call rather than once per row.
    thread_local std::vector<float> widened;
    const int64_t n_vec = n / 32 * 32;
    widened.resize(static_cast<size_t>(n_vec));
    for (int64_t i = 0; i < n_vec; i += 8) {
        _mm256_storeu_ps(widened.data() + i, load_bf16x8(xs + i));
    }
    const float* xf = widened.data();
    int64_t r = 0;
    for (; r + 3 <= n_rows; r += 3) {
        const uint16_t* rows[3];
        row_group(w, row_bytes, r, n_rows, rows);
        bf16_rows<3>(n, rows, xs, xf, y + r, 3);
    }
    for (; r < n_rows; ++r) {
        const uint16_t* rows[1];
        row_group(w, row_bytes, r, n_rows, rows);
        bf16_rows<1>(n, rows, xs, xf, y + r, 1);
    }
}

} // namespace

GemvFn gemv_tinyblas_f16_avx2() {
    return gemv_f16;
}

GemvFn gemv_bf16_avx2() {
    return gemv_bf16;
}

} // namespace hearth::cpu

#else // not built for x86: gemv_avx2 is never called there

namespace hearth::cpu {

GemvFn gemv_tinyblas_f16_avx2() {
    return nullptr;
}
GemvFn gemv_bf16_avx2() {
    return nullptr;
}

} // namespace hearth::cpu

#endif
