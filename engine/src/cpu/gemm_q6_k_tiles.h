// What the Q6_K tile kernels (gemm_q6_k_avx2.cpp, gemm_q6_k_avx512.cpp) share: the unpacked
// super-block, its AVX2 unpacking, and the loop over row groups and token groups. Include only
// inside their `#if defined(__AVX2__) ...` blocks.
#pragma once

#include "cpu/avx2_helpers.h"
#include "quant/blocks.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <immintrin.h>
#include <vector>

namespace hearth::cpu::q6_k_tiles {

using quant::BlockQ6_K;
using quant::BlockQ8_K;
using quant::QK_K;

// One Q6_K super-block unpacked for the tiles.
struct alignas(64) Unpacked {
    // The 256 quants as unsigned bytes 0..63, chunk c (activation bytes 32c..32c + 31) at 32c:
    // in half h = c / 4, chunk k = c % 4 takes the low (k < 2) or high nibbles of
    // ql[64h + 32(k % 2)..] and bits 2k, 2k + 1 of qh[32h..].
    uint8_t q[QK_K];
    // Chunk c's 16-bit scales: sub-block 2c's eight times (the low 128-bit half), then 2c + 1's.
    int16_t sc[8][16];
    // -32 × the 16 sub-block scales: the -32 offset's lanes are bsums · these, pairwise.
    int16_t sc_m32[16];
    float d;
};

inline void unpack(const BlockQ6_K& b, Unpacked& u) {
    using avx2::load32;
    const __m256i m15 = _mm256_set1_epi8(15);
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load32(b.ql + 64 * h);
        const __m256i ql1 = load32(b.ql + 64 * h + 32);
        const __m256i qh = load32(b.qh + 32 * h);
        const __m256i low[4] = {_mm256_and_si256(ql0, m15), _mm256_and_si256(ql1, m15),
                                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m15),
                                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m15)};
        for (int k = 0; k < 4; ++k) {
            const __m256i high =
                _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), m3);
            _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 32 * (4 * h + k)),
                               _mm256_or_si256(low[k], _mm256_slli_epi16(high, 4)));
        }
    }
    const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    // Byte pick of chunk c: 2c eight times, then 2c + 1 eight times.
    const __m128i halves = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (int c = 0; c < 8; ++c) {
        const __m128i pick = _mm_add_epi8(halves, _mm_set1_epi8(static_cast<char>(2 * c)));
        _mm256_store_si256(reinterpret_cast<__m256i*>(u.sc[c]),
                           _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick)));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(u.sc_m32),
                       _mm256_mullo_epi16(_mm256_cvtepi8_epi16(scales), _mm256_set1_epi16(-32)));
    u.d = avx2::h2f(b.d);
}

// A tile's operands: rows i < NR at w + i * nb (unpacked), tokens t < NT at x + t * x_stride.
struct TileArgs {
    const Unpacked* w;
    int64_t nb;
    const uint8_t* x;
    size_t x_stride;
    float* y;
    int64_t y_stride;
};

// Kernel::tile<nr, nt> for nr <= Kernel::kRows, nt <= Kernel::kTokens.
template <class Kernel, int NR = Kernel::kRows, int NT = Kernel::kTokens>
void run_tile(int nr, int nt, const TileArgs& a) {
    if constexpr (NR > 1) {
        if (nr < NR) {
            run_tile<Kernel, NR - 1, NT>(nr, nt, a);
            return;
        }
    }
    if constexpr (NT > 1) {
        if (nt < NT) {
            run_tile<Kernel, NR, NT - 1>(nr, nt, a);
            return;
        }
    }
    Kernel::template tile<NR, NT>(a);
}

// The GemmQ6KFn (gemm_q6_k.h) over Kernel's tiles: Kernel::kRows rows are unpacked at a time,
// then run against every group of Kernel::kTokens tokens.
template <class Kernel>
void gemm(int64_t n_cols, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
          size_t x_stride, int64_t n_tok, float* y, int64_t y_stride) {
    constexpr int R = Kernel::kRows;
    const int64_t nb = n_cols / QK_K;
    // Kept per thread, so that prompt batches do not allocate each time.
    thread_local std::vector<Unpacked> rows;
    rows.resize(static_cast<size_t>(R * nb));
    const auto* wb = static_cast<const uint8_t*>(w);
    for (int64_t r0 = 0; r0 < n_rows; r0 += R) {
        const int nr = static_cast<int>(std::min<int64_t>(R, n_rows - r0));
        for (int i = 0; i < nr; ++i) {
            const auto* row =
                reinterpret_cast<const BlockQ6_K*>(wb + static_cast<size_t>(r0 + i) * row_bytes);
            for (int64_t b = 0; b < nb; ++b) {
                unpack(row[b], rows[static_cast<size_t>(i * nb + b)]);
            }
        }
        for (int64_t t0 = 0; t0 < n_tok; t0 += Kernel::kTokens) {
            const int nt = static_cast<int>(std::min<int64_t>(Kernel::kTokens, n_tok - t0));
            const TileArgs args{rows.data(),
                                nb,
                                static_cast<const uint8_t*>(x) + static_cast<size_t>(t0) * x_stride,
                                x_stride,
                                y + t0 * y_stride + r0,
                                y_stride};
            run_tile<Kernel>(nr, nt, args);
        }
    }
}

} // namespace hearth::cpu::q6_k_tiles
