// AVX-512 (VNNI) register-tiled products of the 32-value block formats with their quantized
// activations (gemm_block32.h), the bits of gemm_block32_avx2 and of ggml's per-row AVX2 kernels.
// Compiled with AVX512F/BW/VL + VNNI and called only where cpu_features found them.
//
// Each (row, token) output is ggml's accumulator of 8 float lanes: lane k adds, block by block,
// float(the integer sum of products of bytes 4k..4k+3) times the float d_w * d_x, by FMA; the
// lanes are summed as hsum_float_8 does; Q4_1 and Q5_1 add the FMA chain of m_w * s_x. Here a
// zmm register holds the accumulators of two tokens of one row, interleaved: lane 2k + h is lane
// k of token h of the pair. The activations of a token pair are interleaved the same way once
// per call (4-byte groups), the weight block's groups are doubled to match, so one vpdpbusd
// gives both tokens' 8 integer partials, one vcvtdq2ps and one FMA (its scale pair broadcast
// as one 64-bit load) add them to both accumulators, each lane with the arithmetic of ggml's.
//
// The integers. ggml forms the partials with vpmaddubsw over |w| and sign(x, w), then vpmaddwd:
// |w| <= 128 and sign(x, w) in [-128, 127] make each 16-bit pair sum lie in [-32768, 32512], so
// vpmaddubsw never saturates and the partial is the exact sum of |w| * sign(x, w), which is the
// exact sum of w * x unless some x = -128 meets a negative w (vpsignb cannot negate -128). The
// signed formats here add 128 to each weight byte (unsigned for vpdpbusd) and start each partial
// at -128 * (the sum of its four activation bytes), which is exact; a call whose activations hold
// a -128 (quantize_row_q8_0 never makes one: |x| <= 127, NaN to 0) is handed to
// gemm_block32_avx2 whole, so every call keeps ggml's bits whatever its activation bytes. The
// unsigned formats (Q4_1, Q5_1: weights 0..31) take vpdpbusd directly.
#include "cpu/gemm_block32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) &&                    \
    defined(__FMA__) && defined(__F16C__)

#include "cpu/block32_avx2.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <type_traits>
#include <utility>
#include <vector>

namespace hearth::cpu {
namespace {

using namespace avx2;

// 4 rows × 4 token pairs: 16 accumulators, the 4 pairs' activation vectors and a few temporaries
// in the 32 zmm registers.
constexpr int kTileRows = 4;
constexpr int kTilePairs = 4;
constexpr int kTileTokens = 2 * kTilePairs;
// Blocks whose scale products are formed together: one 16-float vector (8 blocks × a token pair)
// per row × pair.
constexpr int kScaleRun = 8;

// Lane 2k + h of a 64-byte pair vector: 4-byte group k of token h.
inline __m512i interleave(__m256i a, __m256i b) {
    const __m512i idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutex2var_epi32(_mm512_castsi256_si512(a), idx, _mm512_castsi256_si512(b));
}

// A weight block's 4-byte groups doubled to match: lanes 2k and 2k + 1 both group k.
inline __m512i doubled(__m256i w) {
    const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi256_si512(w));
}

// A weight block unpacked (the signed formats made unsigned: + 128) and doubled(). Q4_1's
// nibbles go there directly: dwords 0..3 of its 16 bytes doubled into both halves, the upper
// half's shifted down by 4, both masked to the nibble (nibbles_32's bytes 0..15 and 16..31).
template <class W>
inline __m512i doubled_block(const typename W::Block& block) {
    if constexpr (std::is_same_v<W, Q4_1W>) {
        const __m512i idx = _mm512_set_epi32(3, 3, 2, 2, 1, 1, 0, 0, 3, 3, 2, 2, 1, 1, 0, 0);
        const __m512i v = _mm512_permutexvar_epi32(
            idx,
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs))));
        return _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xffff0000, v, 4),
                                _mm512_set1_epi8(0x0f));
    } else if constexpr (W::kSigned) {
        return doubled(
            _mm256_xor_si256(W::values(block), _mm256_set1_epi8(static_cast<char>(0x80))));
    } else {
        return doubled(W::values(block));
    }
}

// The two floats at p broadcast to every lane pair (one vbroadcastsd).
inline __m512 pair_broadcast(const float* p) {
    double v = 0;
    std::memcpy(&v, p, sizeof(v));
    return _mm512_castpd_ps(_mm512_set1_pd(v));
}

// 64 bytes, aligned for _mm512_load_si512.
struct alignas(64) Vec64 {
    int32_t lanes[16];
};

// What a tile reads besides the weights, each run of blocks zero-padded to a multiple of
// kScaleRun (`stride` blocks a row or token):
//   pairs[p * n_blocks + b]: block b of token pair p, interleaved (interleave());
//   starts[p * n_blocks + b]: its partials' start, -128 × each group's sum (signed formats);
//   token_d[p * 2 * stride + 2 * b + h]: d of block b of token h of pair p;
//   token_s[g * kTileTokens * stride + kTileTokens * b + j]: s of block b of token j of
//       tile group g (Q8_1);
//   row_d[i * 2 * stride + 2 * b + h]: d of block b of row i (h = 0, 1: the same);
//   row_m[(h * n_blocks + b) * 16 + l]: m of block b of row 2h + l / 8.
struct TileData {
    const Vec64* pairs;
    const Vec64* starts;
    const float* token_d;
    const float* token_s;
    const float* row_d;
    const float* row_m;
    int64_t stride;
};

template <class W, int RM, int NP>
void tile(int64_t n_blocks, const uint8_t* w, size_t row_bytes, const TileData& td, int n_tok,
          float* y, int64_t y_stride) {
    const typename W::Block* wr[RM];
    __m512 acc[RM][NP];
    // Lane 8 * (i % 2) + j of mins[i / 2]: the min chain of row i and token j.
    __m512 mins[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
        wr[i] = reinterpret_cast<const typename W::Block*>(w + i * row_bytes);
#pragma GCC unroll 4
        for (int p = 0; p < NP; ++p) {
            acc[i][p] = _mm512_setzero_ps();
        }
    }
    const int64_t stride2 = 2 * td.stride;
    alignas(64) float d[RM][NP][2 * kScaleRun];
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kScaleRun) {
#pragma GCC unroll 4
        for (int i = 0; i < RM; ++i) {
            const __m512 dw = _mm512_loadu_ps(td.row_d + i * stride2 + 2 * b0);
#pragma GCC unroll 4
            for (int p = 0; p < NP; ++p) {
                _mm512_store_ps(
                    d[i][p], _mm512_mul_ps(dw, _mm512_loadu_ps(td.token_d + p * stride2 + 2 * b0)));
            }
        }
        const int run = static_cast<int>(std::min<int64_t>(kScaleRun, n_blocks - b0));
        for (int k = 0; k < run; ++k) {
            const int64_t b = b0 + k;
            __m512i xv[NP];
#pragma GCC unroll 4
            for (int p = 0; p < NP; ++p) {
                xv[p] = _mm512_load_si512(td.pairs[p * n_blocks + b].lanes);
            }
#pragma GCC unroll 4
            for (int i = 0; i < RM; ++i) {
                const __m512i wq = doubled_block<W>(wr[i][b]);
#pragma GCC unroll 4
                for (int p = 0; p < NP; ++p) {
                    __m512i s = W::kSigned ? _mm512_load_si512(td.starts[p * n_blocks + b].lanes)
                                           : _mm512_setzero_si512();
                    s = _mm512_dpbusd_epi32(s, wq, xv[p]);
                    acc[i][p] = _mm512_fmadd_ps(pair_broadcast(&d[i][p][2 * k]),
                                                _mm512_cvtepi32_ps(s), acc[i][p]);
                }
            }
            if constexpr (W::kMin) {
                const __m512 s = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(
                    reinterpret_cast<const double*>(td.token_s + kTileTokens * b))));
#pragma GCC unroll 2
                for (int h = 0; h < (RM + 1) / 2; ++h) {
                    const __m512 m = _mm512_loadu_ps(td.row_m + (h * n_blocks + b) * 16);
                    mins[h] = _mm512_fmadd_ps(m, s, mins[h]);
                }
            }
        }
    }
    alignas(64) float min_lanes[2][16];
    _mm512_store_ps(min_lanes[0], mins[0]);
    _mm512_store_ps(min_lanes[1], mins[1]);
    const __m512i split = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
#pragma GCC unroll 4
        for (int p = 0; p < NP; ++p) {
            // Each token's 8 lanes back in order, summed as the per-row kernel does, plus the
            // min chain (0 without mins).
            const __m512d v = _mm512_castps_pd(_mm512_permutexvar_ps(split, acc[i][p]));
            const __m256 lanes[2] = {_mm256_castpd_ps(_mm512_castpd512_pd256(v)),
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(v, 1))};
            for (int h = 0; h < 2 && 2 * p + h < n_tok; ++h) {
                const int j = 2 * p + h;
                y[j * y_stride + i] = hsum(lanes[h]) + min_lanes[i / 2][8 * (i % 2) + j];
            }
        }
    }
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const TileData&, int, float*, int64_t);

// Tiles<W>::table[(rm - 1) * kTilePairs + (np - 1)]: the tile of rm rows × np token pairs.
template <class W>
struct Tiles {
    template <int... I>
    static constexpr std::array<TileFn, sizeof...(I)> make(std::integer_sequence<int, I...>) {
        return {&tile<W, I / kTilePairs + 1, I % kTilePairs + 1>...};
    }
    static constexpr auto table = make(std::make_integer_sequence<int, kTileRows * kTilePairs>{});
};

// The per-call buffers of one calling thread (steady-state calls do not allocate).
struct Buffers {
    std::vector<Vec64> pairs, starts;
    std::vector<float> token_d, token_s, row_d, row_m;
};

// The tokens' pair vectors, partial starts, d and s (TileData). Returns false, having stopped
// early, when a signed format's activations hold a -128 (see the top of the file).
template <class W>
bool prepare_tokens(const uint8_t* x, size_t x_stride, int64_t n_tok, int64_t n_blocks,
                    int64_t stride, Buffers& buf) {
    using Act = typename W::Act;
    const int64_t n_pairs = (n_tok + 1) / 2;
    buf.pairs.resize(static_cast<size_t>(n_pairs * n_blocks));
    buf.starts.resize(W::kSigned ? buf.pairs.size() : 0);
    buf.token_d.assign(static_cast<size_t>(n_pairs * 2 * stride), 0.0f);
    const int64_t groups = (n_tok + kTileTokens - 1) / kTileTokens;
    buf.token_s.assign(W::kMin ? static_cast<size_t>(groups * kTileTokens * stride) : 0, 0.0f);
    __mmask64 minus128 = 0;
    for (int64_t p = 0; p < n_pairs; ++p) {
        const auto* a = reinterpret_cast<const Act*>(x + 2 * p * x_stride);
        const bool has_b = 2 * p + 1 < n_tok;
        const auto* bt = has_b ? reinterpret_cast<const Act*>(x + (2 * p + 1) * x_stride) : a;
        for (int64_t blk = 0; blk < n_blocks; ++blk) {
            const __m256i qb = has_b ? load32(bt[blk].qs) : _mm256_setzero_si256();
            const __m512i v = interleave(load32(a[blk].qs), qb);
            _mm512_store_si512(buf.pairs[static_cast<size_t>(p * n_blocks + blk)].lanes, v);
            if constexpr (W::kSigned) {
                minus128 |= _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(-128));
                const __m512i sums = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), v);
                _mm512_store_si512(buf.starts[static_cast<size_t>(p * n_blocks + blk)].lanes,
                                   _mm512_sub_epi32(_mm512_setzero_si512(), sums));
            }
            float* td = buf.token_d.data() + p * 2 * stride + 2 * blk;
            td[0] = h2f(a[blk].d);
            td[1] = has_b ? h2f(bt[blk].d) : 0.0f;
        }
        if (minus128 != 0) {
            return false;
        }
    }
    if constexpr (W::kMin) {
        for (int64_t t = 0; t < n_tok; ++t) {
            const auto* blocks = reinterpret_cast<const Act*>(x + t * x_stride);
            float* group = buf.token_s.data() + t / kTileTokens * kTileTokens * stride;
            for (int64_t blk = 0; blk < n_blocks; ++blk) {
                group[kTileTokens * blk + t % kTileTokens] = h2f(blocks[blk].s);
            }
        }
    }
    return true;
}

// d (doubled, TileData::row_d) and m (TileData::row_m) of rm <= kTileRows rows; the buffers'
// padding past n_blocks was zeroed once per call. With rm odd, the half of row_m that no row
// fills is zeroed (its lanes are summed but never stored).
template <class W>
void prepare_rows(const uint8_t* rows, size_t row_bytes, int rm, int64_t n_blocks, int64_t stride,
                  Buffers& buf) {
    for (int i = 0; i < rm; ++i) {
        const auto* blocks = reinterpret_cast<const typename W::Block*>(rows + i * row_bytes);
        float* d = buf.row_d.data() + i * 2 * stride;
        for (int64_t b = 0; b < n_blocks; ++b) {
            d[2 * b] = d[2 * b + 1] = h2f(blocks[b].d);
        }
        if constexpr (W::kMin) {
            float* m = buf.row_m.data() + (i / 2) * n_blocks * 16 + 8 * (i % 2);
            for (int64_t b = 0; b < n_blocks; ++b) {
                std::fill(m + 16 * b, m + 16 * b + 8, h2f(blocks[b].m));
            }
        }
    }
    if (W::kMin && rm % 2 != 0) {
        float* m = buf.row_m.data() + (rm / 2) * n_blocks * 16 + 8;
        for (int64_t b = 0; b < n_blocks; ++b) {
            std::fill(m + 16 * b, m + 16 * b + 8, 0.0f);
        }
    }
}

template <class W>
void gemm(TensorType weight_type, int64_t n_cols, const uint8_t* w, size_t row_bytes,
          int64_t n_rows, const uint8_t* x, size_t x_stride, int64_t n_tok, float* y,
          int64_t y_stride) {
    const int64_t n_blocks = n_cols / 32;
    const int64_t stride = (n_blocks + kScaleRun - 1) / kScaleRun * kScaleRun;
    thread_local Buffers buf;
    if (!prepare_tokens<W>(x, x_stride, n_tok, n_blocks, stride, buf)) {
        gemm_block32_avx2(weight_type, n_cols, w, row_bytes, n_rows, x, x_stride, n_tok, y,
                          y_stride);
        return;
    }
    buf.row_d.assign(static_cast<size_t>(kTileRows * 2 * stride), 0.0f);
    buf.row_m.assign(W::kMin ? static_cast<size_t>(kTileRows / 2 * n_blocks * 16) : 0, 0.0f);
    for (int64_t r = 0; r < n_rows; r += kTileRows) {
        const auto rm = static_cast<int>(std::min<int64_t>(kTileRows, n_rows - r));
        const uint8_t* rows = w + static_cast<size_t>(r) * row_bytes;
        prepare_rows<W>(rows, row_bytes, rm, n_blocks, stride, buf);
        for (int64_t t = 0; t < n_tok; t += kTileTokens) {
            const auto rn = static_cast<int>(std::min<int64_t>(kTileTokens, n_tok - t));
            const int64_t p = t / 2;
            const TileData td{.pairs = buf.pairs.data() + p * n_blocks,
                              .starts = W::kSigned ? buf.starts.data() + p * n_blocks : nullptr,
                              .token_d = buf.token_d.data() + p * 2 * stride,
                              .token_s = W::kMin ? buf.token_s.data() + t * stride : nullptr,
                              .row_d = buf.row_d.data(),
                              .row_m = buf.row_m.data(),
                              .stride = stride};
            const int np = (rn + 1) / 2;
            Tiles<W>::table[static_cast<size_t>((rm - 1) * kTilePairs + (np - 1))](
                n_blocks, rows, row_bytes, td, rn, y + t * y_stride + r, y_stride);
        }
    }
}

} // namespace

void gemm_block32_avx512(TensorType weight_type, int64_t n_cols, const void* vw, size_t row_bytes,
                         int64_t n_rows, const void* vx, size_t x_stride, int64_t n_tok, float* y,
                         int64_t y_stride) {
    const auto* w = static_cast<const uint8_t*>(vw);
    const auto* x = static_cast<const uint8_t*>(vx);
    with_block32_format(weight_type, [&]<class W>() {
        gemm<W>(weight_type, n_cols, w, row_bytes, n_rows, x, x_stride, n_tok, y, y_stride);
    });
}

} // namespace hearth::cpu

#else // not built with AVX-512: matmul picks this kernel only where avx512_kernels_enabled()

#include <cstdlib>

namespace hearth::cpu {

void gemm_block32_avx512(TensorType, int64_t, const void*, size_t, int64_t, const void*, size_t,
                         int64_t, float*, int64_t) {
    std::abort();
}

} // namespace hearth::cpu

#endif
