// The tile loop of gemm_q5_k.h, shared by its AVX2 and AVX-512 builds. Include only inside the
// `#if` block of gemm_q5_k_avx2.cpp or gemm_q5_k_avx512.cpp: everything here is in an unnamed
// namespace, so each file gets its own copy compiled with its own ISA flags (an inline function
// of one name in both files could be merged by the linker into the AVX-512 one).
//
// The arithmetic, per (row, token) and super-block b, as ggml_vec_dot_q5_K_q8_K does it on AVX2:
//   q[i]     = qs nibble | qh bit << 4 (0..31), in the activations' order
//   lane[l] += float(sum_j sc[j] * sum_{i in bytes 4l..4l+3 of sub-block j} q[i] * x[i])
//              * (d_x * d_w)                                   (FMA, eight lanes)
//   m       += float(sum_j mn[j] * (bsums[2j] + bsums[2j + 1])) * (d_x * dmin_w)   (FMA)
//   y        = hsum_float_8(lane) - m
// The integer sums are exact however they are grouped (no 16-bit sum can saturate: |q * x| <=
// 31 * 128, pairs <= 7936), so the ISA policy may form them as it likes; the float operations
// are the per-row kernel's, one by one.
#pragma once

#include "cpu/avx2_helpers.h"
#include "hearth/quant.h"
#include "quant/block_layout.h"
#include "quant/k4_scales.h"

#include <algorithm>
#include <cstring>
#include <immintrin.h>

namespace hearth::cpu::q5k {
namespace {

using quant::BlockQ5_K;
using quant::BlockQ8_K;
using quant::QK_K;

// Weight rows per tile: the mins' sums of a tile fill one 4-float vector.
constexpr int kRows = 4;
// Tokens per pass over a tile: their accumulators stay in L1 (kTokens * kRows * 36 bytes).
constexpr int kTokens = 64;

// One super-block of a tile's rows, unpacked.
struct alignas(64) Tile {
    uint8_t q[kRows][QK_K];   // the values 0..31, value i pairs with activation byte i
    int16_t sc[kRows][8][16]; // sub-block j's scale, as a 16-lane vector
    int16_t mn[kRows][8];     // sub-block j's min
    float d[kRows][8];        // d, as an 8-lane vector
    float dmin[kRows];
};

// Unpacks one super-block into row r of the tile.
inline void unpack(const BlockQ5_K& w, Tile& tile, int r) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m1 = _mm256_set1_epi8(1);
    const __m256i high_bits = avx2::load32(w.qh);
    for (int c = 0; c < 4; ++c) {
        const __m256i bits = avx2::load32(w.qs + 32 * c);
        const __m256i h0 =
            _mm256_and_si256(_mm256_srl_epi16(high_bits, _mm_cvtsi32_si128(2 * c)), m1);
        const __m256i h1 =
            _mm256_and_si256(_mm256_srl_epi16(high_bits, _mm_cvtsi32_si128(2 * c + 1)), m1);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), _mm256_slli_epi16(h0, 4));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4),
                                           _mm256_slli_epi16(h1, 4));
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile.q[r] + 64 * c), lo);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile.q[r] + 64 * c + 32), hi);
    }
    for (int j = 0; j < 8; ++j) {
        int sc = 0;
        int mn = 0;
        quant::k4_scale_min(w.scales, j, sc, mn);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile.sc[r][j]),
                           _mm256_set1_epi16(static_cast<int16_t>(sc)));
        tile.mn[r][j] = static_cast<int16_t>(mn);
    }
    _mm256_store_ps(tile.d[r], _mm256_set1_ps(avx2::h2f(w.d)));
    tile.dmin[r] = avx2::h2f(w.dmin);
}

// Per-token running sums of a tile: eight lanes per row, and the mins' floats of the rows.
struct Accumulators {
    alignas(64) float lanes[kTokens][kRows][8];
    alignas(16) float mins[kTokens][kRows];
};

// One activation super-block × the tile's rows, into token t's sums. Isa::rows(tile, x, lanes)
// does, for each row r, lanes[r][l] = fma(d_x * d_w, float(lane l's integer sum), lanes[r][l]).
template <class Isa>
inline void multiply(const Tile& tile, const BlockQ8_K& x, Accumulators& acc, int t) {
    Isa::rows(tile, x, acc.lanes[t]);
    // bsums[2j] + bsums[2j + 1] (|sum| <= 32 * 128), times each row's mins, summed per row.
    const auto* bsums = reinterpret_cast<const __m128i*>(x.bsums);
    const __m128i sub_sums = _mm_hadd_epi16(_mm_loadu_si128(bsums), _mm_loadu_si128(bsums + 1));
    __m128i m[kRows];
    for (int r = 0; r < kRows; ++r) {
        m[r] =
            _mm_madd_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tile.mn[r])), sub_sums);
    }
    const __m128i summ = _mm_hadd_epi32(_mm_hadd_epi32(m[0], m[1]), _mm_hadd_epi32(m[2], m[3]));
    const __m128 dmin = _mm_mul_ps(_mm_set1_ps(x.d), _mm_load_ps(tile.dmin));
    float* mins = acc.mins[t];
    _mm_store_ps(mins, _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(summ), _mm_load_ps(mins)));
}

template <class Isa>
void gemm(int64_t n_cols, const void* vw, size_t row_bytes, int64_t n_rows, const void* vx,
          size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    static_assert(kRows == 4, "the mins' sums fill one 4-lane vector");
    const int64_t n_blocks = n_cols / QK_K;
    const auto* w = static_cast<const uint8_t*>(vw);
    const auto* x = static_cast<const uint8_t*>(vx);
    Tile tile;
    Accumulators acc;
    for (int64_t t0 = 0; t0 < n_tok; t0 += kTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokens, n_tok - t0));
        for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
            const int nr = static_cast<int>(std::min<int64_t>(kRows, n_rows - r0));
            // Rows past n_rows: zeros, computed and never stored.
            std::memset(&tile, 0, sizeof(tile));
            std::memset(&acc, 0, sizeof(acc));
            for (int64_t b = 0; b < n_blocks; ++b) {
                for (int r = 0; r < nr; ++r) {
                    const auto* row = reinterpret_cast<const BlockQ5_K*>(
                        w + static_cast<size_t>(r0 + r) * row_bytes);
                    unpack(row[b], tile, r);
                }
                for (int t = 0; t < nt; ++t) {
                    const auto* xt = reinterpret_cast<const BlockQ8_K*>(
                        x + static_cast<size_t>(t0 + t) * x_stride);
                    multiply<Isa>(tile, xt[b], acc, t);
                }
            }
            for (int t = 0; t < nt; ++t) {
                float* yt = y + (t0 + t) * y_stride + r0;
                for (int r = 0; r < nr; ++r) {
                    yt[r] = avx2::hsum(_mm256_load_ps(acc.lanes[t][r])) - acc.mins[t][r];
                }
            }
        }
    }
}

} // namespace
} // namespace hearth::cpu::q5k
