// AVX2 version of the float weights' conversion to the int8 prefill layout
// (int8_convert_float_row_portable in int8_convert_float.cpp is the definition; this gives its
// bits for every input, NaN, infinities and denormals included). Compiled with -mavx2 -mfma
// -mf16c; called only where the CPU has them.
//
// It converts a whole group of 8 rows at once, straight into BlockInt8x8, where the row-by-row
// path wrote each row's bytes, scales and mins to a buffer and interleaved them afterwards (4
// bytes at a time): per 32-value block, each row's values are loaded once (F16 through
// vcvtph2ps, BF16 by a 16-bit shift) into a small buffer while their min and max are taken, the
// 8 rows' ranges are reduced and divided as one vector (one vdivps for 8 rows, not two divisions
// per row), and the 8 rows' 32 bytes are transposed as an 8 × 8 matrix of 4-byte quads, which is
// the layout's interleaving. Per block it took about half the instructions of the row path and
// its interleave (docs/PERFORMANCE.md, "Float fast prefill on AVX2").
#include "cpu/int8_convert_float.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <algorithm>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

__m256 load8(TensorType type, const uint8_t* row, int64_t i) {
    switch (type) {
    case TensorType::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    case TensorType::BF16: {
        const __m256i h =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    }
    default:
        return _mm256_loadu_ps(reinterpret_cast<const float*>(row + 4 * i));
    }
}

// Lane r of the result: op over the 8 lanes of v[r] (op is min or max, exact, so any order of
// the reduction gives the same value).
template <__m256 (*Op)(__m256, __m256)>
__m256 reduce_rows(const __m256 (&v)[kInt8Rows]) {
    __m256 pairs[4];
    for (int p = 0; p < 4; ++p) {
        // Lanes (row 2p, row 2p + 1) × (0 2, 1 3 | 4 6, 5 7) combined.
        pairs[p] = Op(_mm256_unpacklo_ps(v[2 * p], v[2 * p + 1]),
                      _mm256_unpackhi_ps(v[2 * p], v[2 * p + 1]));
    }
    __m256 quads[2];
    for (int q = 0; q < 2; ++q) {
        // Rows 4q .. 4q + 3, each over lanes 0-3 (low half) and 4-7 (high half).
        quads[q] = Op(_mm256_shuffle_ps(pairs[2 * q], pairs[2 * q + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                      _mm256_shuffle_ps(pairs[2 * q], pairs[2 * q + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    return Op(_mm256_permute2f128_ps(quads[0], quads[1], 0x20),
              _mm256_permute2f128_ps(quads[0], quads[1], 0x31));
}

__m256 min_ps(__m256 a, __m256 b) {
    return _mm256_min_ps(a, b);
}

__m256 max_ps(__m256 a, __m256 b) {
    return _mm256_max_ps(a, b);
}

// int8_round_to_byte on 8 values, as int32: max(scaled, 0) returns 0 where scaled is NaN (its
// second operand), as the definition does, and vcvtps2dq rounds to nearest even as nearbyint
// does in the default rounding mode.
__m256i round_to_bytes(__m256 v, __m256 lo, __m256 inv) {
    const __m256 scaled = _mm256_mul_ps(_mm256_sub_ps(v, lo), inv);
    return _mm256_cvtps_epi32(
        _mm256_min_ps(_mm256_max_ps(scaled, _mm256_setzero_ps()), _mm256_set1_ps(255.0f)));
}

// Transposes 8 rows of 8 4-byte quads: lane r of t[k] = lane k of q[r].
void transpose_quads(const __m256i (&q)[kInt8Rows], __m256i (&t)[kInt8Rows]) {
    __m256 a[8];
    __m256 b[8];
    for (int p = 0; p < 4; ++p) {
        const __m256 x = _mm256_castsi256_ps(q[2 * p]);
        const __m256 y = _mm256_castsi256_ps(q[2 * p + 1]);
        a[2 * p] = _mm256_unpacklo_ps(x, y);
        a[2 * p + 1] = _mm256_unpackhi_ps(x, y);
    }
    for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 2; ++k) {
            const __m256 x = a[4 * h + k];
            const __m256 y = a[4 * h + k + 2];
            b[4 * h + 2 * k] = _mm256_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0));
            b[4 * h + 2 * k + 1] = _mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2));
        }
    }
    for (int k = 0; k < 4; ++k) {
        t[k] = _mm256_castps_si256(_mm256_permute2f128_ps(b[k], b[4 + k], 0x20));
        t[4 + k] = _mm256_castps_si256(_mm256_permute2f128_ps(b[k], b[4 + k], 0x31));
    }
}

} // namespace

void int8_convert_float_group_avx2(TensorType type, const uint8_t* rows, size_t row_bytes,
                                   int64_t n_cols, int n_rows, BlockInt8x8* out) {
    const uint8_t* row[kInt8Rows];
    for (int r = 0; r < kInt8Rows; ++r) {
        // Padding rows read the last real one; the mask below zeroes what they give.
        row[r] = rows + static_cast<size_t>(std::min(r, n_rows - 1)) * row_bytes;
    }
    const __m256i real =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 zero = _mm256_setzero_ps();
    const __m256 max_q = _mm256_set1_ps(255.0f);
    for (int64_t b = 0; b < n_cols / kInt8Block; ++b) {
        alignas(32) float v[kInt8Rows][kInt8Block];
        __m256 lo_rows[kInt8Rows];
        __m256 hi_rows[kInt8Rows];
        for (int r = 0; r < kInt8Rows; ++r) {
            // The definition's order: lo starts at +inf and takes v where v < lo, so NaNs are
            // skipped (vminps returns its second operand unless the first is smaller).
            __m256 lo = _mm256_set1_ps(__builtin_inff());
            __m256 hi = _mm256_set1_ps(-__builtin_inff());
            for (int k = 0; k < 4; ++k) {
                const __m256 x = load8(type, row[r], kInt8Block * b + 8 * k);
                _mm256_store_ps(v[r] + 8 * k, x);
                lo = _mm256_min_ps(x, lo);
                hi = _mm256_max_ps(x, hi);
            }
            lo_rows[r] = lo;
            hi_rows[r] = hi;
        }
        // Lane r: row r's lo and hi, its range, and the definition's scale, inverse and min.
        const __m256 lo = reduce_rows<min_ps>(lo_rows);
        const __m256 hi = reduce_rows<max_ps>(hi_rows);
        const __m256 range = _mm256_sub_ps(hi, lo);
        const __m256 positive = _mm256_cmp_ps(range, zero, _CMP_GT_OQ);
        const __m256 inv = _mm256_and_ps(positive, _mm256_div_ps(max_q, range));
        const __m256 scale = _mm256_and_ps(positive, _mm256_div_ps(range, max_q));
        const __m256 min = _mm256_sub_ps(zero, lo);
        __m256i q[kInt8Rows];
        for (int r = 0; r < kInt8Rows; ++r) {
            const __m256i lane = _mm256_set1_epi32(r);
            const __m256 row_lo = _mm256_permutevar8x32_ps(lo, lane);
            const __m256 row_inv = _mm256_permutevar8x32_ps(inv, lane);
            __m256i words[2];
            for (int k = 0; k < 2; ++k) {
                const __m256 x0 = _mm256_load_ps(v[r] + 16 * k);
                const __m256 x1 = _mm256_load_ps(v[r] + 16 * k + 8);
                words[k] = _mm256_packs_epi32(round_to_bytes(x0, row_lo, row_inv),
                                              round_to_bytes(x1, row_lo, row_inv));
            }
            // The packs interleave the 128-bit lanes: quads come out as 0 2 4 6 1 3 5 7.
            q[r] = _mm256_packus_epi16(words[0], words[1]);
        }
        __m256i t[kInt8Rows];
        transpose_quads(q, t);
        BlockInt8x8& blk = out[b];
        constexpr int kQuadOf[kInt8Rows] = {0, 2, 4, 6, 1, 3, 5, 7};
        for (int k = 0; k < kInt8Rows; ++k) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk.qs + 32 * kQuadOf[k]),
                                _mm256_and_si256(t[k], real));
        }
        const __m256 real_ps = _mm256_castsi256_ps(real);
        for (int h = 0; h < 2; ++h) {
            _mm256_storeu_ps(blk.scale[h], _mm256_and_ps(scale, real_ps));
            _mm256_storeu_ps(blk.min[h], _mm256_and_ps(min, real_ps));
        }
    }
}

} // namespace hearth::cpu

#else // not built for x86: int8_convert_float_group never picks this below the avx2 level

#include <cstdlib>

namespace hearth::cpu {

void int8_convert_float_group_avx2(TensorType, const uint8_t*, size_t, int64_t, int, BlockInt8x8*) {
    std::abort();
}

} // namespace hearth::cpu

#endif
