// AVX-512 single-token kernels (AVX512F/BW/VL + VNNI) over unpacked rows: one activation row
// against a run of weight rows, two rows per 512-bit register. Compiled with the AVX-512 flags
// and called only after cpu_features found them (avx512_kernels_enabled()).
//
// Bit-exact with the AVX2 kernels (vec_dot_avx2.cpp), so with ggml: row
// r takes the low 256 bits of a register and row r + 1 the high ones, and each half runs the
// AVX2 kernel's float operations on the same 8 lanes in the same order (one FMA per block into
// an 8-lane accumulator, ggml's horizontal sum at the end). Only the integer parts change
// (vpdpbusd / vpdpwssd instead of vpmaddubsw + vpmaddwd + vpaddd), and integer sums are exact
// in any order: no 16-bit intermediate of the AVX2 kernels saturates on these inputs (see
// there), so both give the same int32 per lane. Several rows per call (4 for the 32-value
// formats, 8 for F16) keep independent FMA chains in flight and share each activation load.
// Q4_1, Q5_K and Q6_K have their own layouts (gemv_q4_1_avx512.cpp: four rows per register;
// gemv_q5_k_avx512.cpp: two sub-blocks of one row per register; gemv_q6_k_avx512.cpp: two
// chunks of one row per register).
#include "cpu/kernels.h"
#include "hearth/quant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "cpu/avx2_helpers.h"
#include "cpu/gemv_prefetch.h"

#include <algorithm>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu {
namespace {

using namespace quant;

using avx2::h2f;
using avx2::hsum;

// 32 bytes at p0 in the low half, 32 at p1 in the high half.
inline __m512i load_pair(const void* p0, const void* p1) {
    return _mm512_inserti64x4(
        _mm512_zextsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(p0))),
        _mm256_loadu_si256(static_cast<const __m256i*>(p1)), 1);
}

// The 32 bytes at p in both halves.
inline __m512i broadcast32(const void* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

inline __m256 low_half(__m512 v) {
    return _mm512_castps512_ps256(v);
}

inline __m256 high_half(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// Each pair's two row sums (row 2p in acc[p]'s low half, 2p + 1 in its high half) through
// finish(sum, row) into y; row 2p + 1 is not stored where it was row 2p again (an odd count).
template <int NP, class Finish>
inline void store_pairs(const __m512 (&acc)[NP], float* y, int n_out, Finish finish) {
    for (int p = 0; p < NP; ++p) {
        y[2 * p] = finish(hsum(low_half(acc[p])), 2 * p);
        if (2 * p + 1 < n_out) {
            y[2 * p + 1] = finish(hsum(high_half(acc[p])), 2 * p + 1);
        }
    }
}

inline float as_summed(float sum, int /*row*/) {
    return sum;
}

// Two f16 values, each repeated over 8 lanes of its half, as floats.
inline __m512 f16_pair(uint16_t h0, uint16_t h1) {
    return _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(h1)),
                                            _mm_set1_epi16(static_cast<int16_t>(h0))));
}

// The 32 nibbles of each row to 32 bytes (low nibbles to bytes 0..15, high ones to 16..31, as
// the AVX2 kernels' nibbles_32), row 0 in the low half.
inline __m512i nibbles_pair(const uint8_t* q0, const uint8_t* q1) {
    const __m256i raw = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q1)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)));
    // 128-bit lanes: raw0, raw1, raw0 >> 4, raw1 >> 4, reordered to raw0, raw0 >> 4, raw1, ...
    const __m512i both =
        _mm512_inserti64x4(_mm512_zextsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1);
    return _mm512_and_si512(_mm512_shuffle_i64x2(both, both, _MM_SHUFFLE(3, 1, 2, 0)),
                            _mm512_set1_epi8(0x0f));
}

// The 32 high bits of each row's block (qh, little-endian) as a 64-bit byte mask.
inline __mmask64 bits_pair(const uint8_t* h0, const uint8_t* h1) {
    uint32_t b0 = 0, b1 = 0;
    std::memcpy(&b0, h0, sizeof(b0));
    std::memcpy(&b1, h1, sizeof(b1));
    return _cvtu64_mask64(static_cast<uint64_t>(b1) << 32 | b0);
}

// The weight values of two rows' blocks as bytes, the AVX2 kernels' values() for each half.
// Q4_0 / Q4_1: the nibbles; the signed one (no min) holds q - 8.
template <class B, bool kSignedQ>
struct Q4P {
    using Block = B;
    static constexpr bool kSigned = kSignedQ, kMin = !kSignedQ;
    static __m512i values(const Block& b0, const Block& b1) {
        const __m512i q = nibbles_pair(b0.qs, b1.qs);
        return kSigned ? _mm512_sub_epi8(q, _mm512_set1_epi8(8)) : q;
    }
};
using Q4_0P = Q4P<BlockQ4_0, true>;

// Q5_0 / Q5_1: the nibbles with the fifth bit from qh; the signed one holds q - 16, the nibble
// with 0xf0 or-ed in where the bit is clear.
template <class B, bool kSignedQ>
struct Q5P {
    using Block = B;
    static constexpr bool kSigned = kSignedQ, kMin = !kSignedQ;
    static __m512i values(const Block& b0, const Block& b1) {
        const __mmask64 bits = bits_pair(b0.qh, b1.qh);
        const __m512i high = kSigned
                                 ? _mm512_maskz_mov_epi8(_knot_mask64(bits), _mm512_set1_epi8(-16))
                                 : _mm512_maskz_mov_epi8(bits, _mm512_set1_epi8(0x10));
        return _mm512_or_si512(nibbles_pair(b0.qs, b1.qs), high);
    }
};
using Q5_0P = Q5P<BlockQ5_0, true>;
using Q5_1P = Q5P<BlockQ5_1, false>;

struct Q8_0P {
    using Block = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false;
    static __m512i values(const Block& b0, const Block& b1) { return load_pair(b0.qs, b1.qs); }
};

struct IQ4_NLP {
    using Block = BlockIQ4_NL;
    static constexpr bool kSigned = true, kMin = false;
    static __m512i values(const Block& b0, const Block& b1) {
        const __m512i table = _mm512_broadcast_i32x4(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
        return _mm512_shuffle_epi8(table, nibbles_pair(b0.qs, b1.qs));
    }
};

// Sum of byte products in each int32 lane. Signed weights: |w| times the activation with w's
// sign, as the AVX2 kernels' vpsignb pair (a zero weight makes the product 0 either way).
template <bool kSigned>
inline __m512i dot_bytes(__m512i q, __m512i y) {
    if constexpr (kSigned) {
        const __m512i negated =
            _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(q), _mm512_setzero_si512(), y);
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), negated);
    } else {
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, y);
    }
}

// The first 4 bytes of block b of each of the 2 × NP rows (d, and m where the format has one)
// as f16 pairs converted to floats: lane 2i holds row i's d, lane 2i + 1 its m (for formats
// without m, whatever the next two bytes hold; unused).
template <class Block, int NP>
inline __m256 d_m_of_rows(const Block* const* rows, int64_t b) {
    static_assert(NP == 1 || NP == 2);
    uint32_t v[4] = {};
    for (int i = 0; i < 2 * NP; ++i) {
        std::memcpy(&v[i], &rows[i][b], sizeof(uint32_t));
    }
    const __m128i halves = _mm_set_epi32(static_cast<int>(v[3]), static_cast<int>(v[2]),
                                         static_cast<int>(v[1]), static_cast<int>(v[0]));
    return _mm256_cvtph_ps(halves);
}

// How far ahead in each row dot_32_pairs asks for weights (gemv_prefetch.h), in blocks. Q8_0
// from memory (`hearth-kernel-bench --decode-memory`, GB/s per CPU second on a loaded 2-vCPU
// Xeon): none 7.6-7.8, 8 blocks 8.3-9.3, 12 and 16 blocks 9.8-10.0. 12 blocks of the shorter
// formats (Q5_0/Q5_1 22/24 bytes) land near Q4_1's best distance (gemv_q4_1_avx512.cpp).
constexpr size_t kPrefetchBlocks32 = 12;

// NP pairs of rows (rows 2p, 2p + 1 of `rows`) against one activation row. Row 2p + 1 may be
// row 2p again (an odd count); its result is then not stored. The rows' f16 d and m are
// converted together (d_m_of_rows) and the mins summed in the lanes of one vector: per lane
// the scalar FMA of the AVX2 kernel.
template <class W, int NP>
void dot_32_pairs(int64_t n, const typename W::Block* const* rows, const void* vx,
                  const float* scales, float* y, int n_out) {
    const int64_t n_blocks = n / 32;
    // Q8_0 and Q8_1 blocks both start with d and hold qs at their own offset.
    const auto* x0 = static_cast<const BlockQ8_0*>(vx);
    const auto* x1 = static_cast<const BlockQ8_1*>(vx);
    __m512i pick[NP]; // d of rows 2p and 2p + 1 over the low and high halves
    __m512 acc[NP];
    for (int p = 0; p < NP; ++p) {
        pick[p] = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_set1_epi32(4 * p)),
                                     _mm256_set1_epi32(4 * p + 2), 1);
        acc[p] = _mm512_setzero_ps();
    }
    __m256 mins = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (int i = 0; i < 2 * NP; ++i) {
            prefetch_ahead(rows[i] + b, kPrefetchBlocks32 * sizeof(typename W::Block));
        }
        const int8_t* qx = W::kMin ? x1[b].qs : x0[b].qs;
        const __m512i qy = broadcast32(qx);
        const float da = scales ? scales[b] : h2f(W::kMin ? x1[b].d : x0[b].d);
        const __m512 vda = _mm512_set1_ps(da);
        const __m256 dm = d_m_of_rows<typename W::Block, NP>(rows, b);
        const __m512 dm512 = _mm512_zextps256_ps512(dm);
        for (int p = 0; p < NP; ++p) {
            const __m512i prod =
                dot_bytes<W::kSigned>(W::values(rows[2 * p][b], rows[2 * p + 1][b]), qy);
            const __m512 scale = _mm512_mul_ps(_mm512_permutexvar_ps(pick[p], dm512), vda);
            acc[p] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(prod), acc[p]);
        }
        if constexpr (W::kMin) {
            const float sa = scales ? scales[n_blocks + b] : h2f(x1[b].s);
            mins = _mm256_fmadd_ps(dm, _mm256_set1_ps(sa), mins);
        }
    }
    alignas(32) float dm_sums[8]; // lane 2r + 1: row r's min term
    _mm256_store_ps(dm_sums, mins);
    store_pairs(acc, y, n_out,
                [&](float sum, int r) { return sum + (W::kMin ? dm_sums[2 * r + 1] : 0.0f); });
}

// ---- F16 rows in tinyBLAS's order (vec_dot_tinyblas_avx2): one 8-lane FMA chain per row ----

// Eight rows at once (four registers) keep eight chains in flight; the activation's 8 values
// are converted once for all of them.
template <int NP>
void dot_f16_pairs(int64_t n, const uint16_t* const* rows, const uint16_t* x, float* y, int n_out) {
    __m512 acc[NP];
    for (int p = 0; p < NP; ++p) {
        acc[p] = _mm512_setzero_ps();
    }
    for (int64_t l = 0; l < n; l += 8) {
        const __m512 xv = _mm512_cvtph_ps(
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + l))));
        for (int p = 0; p < NP; ++p) {
            const __m256i halves = _mm256_set_m128i(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * p + 1] + l)),
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * p] + l)));
            acc[p] = _mm512_fmadd_ps(_mm512_cvtph_ps(halves), xv, acc[p]);
        }
    }
    store_pairs(acc, y, n_out, as_summed);
}

// ---- row runs ----

// Rows 2 × NP at a time through Big (NP pairs), then pairs through Small, a last odd row paired
// with itself.
template <class Row>
using PairsFn = void (*)(int64_t n, const Row* const* rows, const void* x, const float* scales,
                         float* y, int n_out);

template <class Row, int NP, PairsFn<Row> Big, PairsFn<Row> Small>
void gemv_rows(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
               const float* scales, float* y) {
    const auto* base = static_cast<const uint8_t*>(w);
    const auto row = [&](int64_t r) {
        return reinterpret_cast<const Row*>(base + static_cast<size_t>(r) * row_bytes);
    };
    int64_t r = 0;
    for (; r + 2 * NP <= n_rows; r += 2 * NP) {
        const Row* rows[2 * NP];
        for (int i = 0; i < 2 * NP; ++i) {
            rows[i] = row(r + i);
        }
        Big(n, rows, x, scales, y + r, 2 * NP);
    }
    for (; r < n_rows; r += 2) {
        const int left = static_cast<int>(std::min<int64_t>(2, n_rows - r));
        const Row* rows[2] = {row(r), row(left > 1 ? r + 1 : r)};
        Small(n, rows, x, scales, y + r, left);
    }
}

// The 32-value formats: 4 rows at a time (two registers), then pairs.
template <class W>
void gemv_32(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
             const float* scales, float* y) {
    gemv_rows<typename W::Block, 2, dot_32_pairs<W, 2>, dot_32_pairs<W, 1>>(n, w, row_bytes, n_rows,
                                                                            x, scales, y);
}

template <int NP>
void f16_pairs(int64_t n, const uint16_t* const* rows, const void* x, const float* /*scales*/,
               float* y, int n_out) {
    dot_f16_pairs<NP>(n, rows, static_cast<const uint16_t*>(x), y, n_out);
}

} // namespace

GemvFn gemv_avx512(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_0:
        return gemv_32<Q4_0P>;
    case TensorType::Q4_1:
        return gemv_q4_1_avx512();
    case TensorType::Q5_0:
        return gemv_32<Q5_0P>;
    case TensorType::Q5_1:
        return gemv_32<Q5_1P>;
    case TensorType::Q8_0:
        return gemv_32<Q8_0P>;
    case TensorType::IQ4_NL:
        return gemv_32<IQ4_NLP>;
    case TensorType::Q5_K:
        return gemv_q5_k_avx512();
    case TensorType::Q6_K:
        return gemv_q6_k_avx512();
    default:
        return nullptr;
    }
}

GemvFn gemv_tinyblas_avx512(TensorType weight_type) {
    return weight_type == TensorType::F16 ? gemv_rows<uint16_t, 4, f16_pairs<4>, f16_pairs<1>>
                                          : nullptr;
}

} // namespace hearth::cpu

#else // not built with the AVX-512 flags: avx512_kernels_enabled() is false there

namespace hearth::cpu {

GemvFn gemv_avx512(TensorType) {
    return nullptr;
}

GemvFn gemv_tinyblas_avx512(TensorType) {
    return nullptr;
}

} // namespace hearth::cpu

#endif
