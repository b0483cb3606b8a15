// The importance-weighted row quantizers: ggml-quants.c's quantize_row_*_impl for Q4_0, Q4_1,
// Q5_0, Q5_1 and Q2_K .. Q5_K with quant_weights given (llama-quantize --imatrix), transcribed
// operation for operation so that the bytes match. Each value's weight is its column's
// importance times sqrt(sigma2 + x^2). Q6_K, IQ4_NL and IQ4_XS take the weights in their
// reference routines (quantize_k.cpp, quantize_rows.cpp).
#include "quant/quant_search.h"
#include "quant/quantize_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::quant {

namespace {

float mean_square(const float* x, int64_t n) {
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; ++j)
        sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n);
}

// weight[j] = qw[j] * sqrt(sigma2 + x[j]^2) over n values.
void importance_weights(const float* x, const float* qw, float sigma2, int n, float* weight) {
    for (int j = 0; j < n; ++j)
        weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// The 5th bits of a Q5_0 / Q5_1 block's 32 levels, and their low nibbles.
uint32_t pack_5bit(const uint8_t* L, uint8_t* qs) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = L[j];
        const uint8_t xi1 = L[j + 16];
        qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
        qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    return qh;
}

// The shared core of the weighted Q4_K / Q5_K: levels 0..nmax of each sub-block of 32 with its
// scale and min searched, the scales and mins quantized to 6 bits against the block's, then
// the levels again with the stored scales.
void k4_levels_weighted(const float* x, const float* qw, int nmax, uint16_t& d_bits,
                        uint16_t& dmin_bits, uint8_t* scale_bytes, uint8_t* L) {
    uint8_t Laux[32];
    uint8_t Ls[QK_K / 32];
    uint8_t Lm[QK_K / 32];
    float weights[32];
    float sw[QK_K / 32];
    float mins[QK_K / 32];
    float scales[QK_K / 32];
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l)
        sum_x2 += x[l] * x[l];
    const float sigma2 = 2 * sum_x2 / QK_K;
    for (int j = 0; j < QK_K / 32; ++j) {
        importance_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
        float sumw = 0;
        for (int l = 0; l < 32; ++l)
            sumw += weights[l];
        sw[j] = sumw;
        scales[j] = make_qkx_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                    -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    const float m_block = make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    pack_k4_scale_bytes(Ls, Lm, scale_bytes);
    d_bits = fp32_to_fp16_bits(d_block);
    dmin_bits = fp32_to_fp16_bits(m_block);
    k4_levels_from_stored(x, nmax, d_bits, dmin_bits, scale_bytes, L);
}

// Q4_0 / Q4_1 / Q5_0 / Q5_1 with weights, one block of 32 at a time: a symmetric scale
// (make_qx_quants, levels -nmax..nmax - 1 stored shifted by nmax) or, for the formats with a
// min, a scale and min (make_qkx_quants, levels 0..nmax); the formats with qh keep the fifth
// bits there.
template <int kNmax, typename Block>
void quantize_row_32_weighted(const float* x, Block* y, int64_t n_per_row,
                              const float* quant_weights) {
    constexpr int kBlock = 32;
    constexpr bool kHasMin = requires(Block b) {
        b.m;
    };
    constexpr bool kFiveBit = requires(Block b) {
        b.qh;
    };
    float weight[kBlock];
    uint8_t L[kBlock];
    const float sigma2 = mean_square(x, n_per_row);
    for (int64_t ib = 0; ib < n_per_row / kBlock; ++ib) {
        const float* xb = x + kBlock * ib;
        importance_weights(xb, quant_weights + kBlock * ib, sigma2, kBlock, weight);
        float d = 0;
        if constexpr (kHasMin) {
            uint8_t Laux[kBlock];
            float min = 0;
            d = make_qkx_quants(kBlock, kNmax, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
            y[ib].m = fp32_to_fp16_bits(-min);
        } else {
            int8_t shifted[kBlock];
            d = make_qx_quants(kBlock, kNmax, xb, shifted, weight);
            for (int j = 0; j < kBlock; ++j)
                L[j] = static_cast<uint8_t>(shifted[j]);
        }
        y[ib].d = fp32_to_fp16_bits(d);
        if constexpr (kFiveBit) {
            const uint32_t qh = pack_5bit(L, y[ib].qs);
            std::memcpy(y[ib].qh, &qh, sizeof qh);
        } else {
            for (int j = 0; j < 16; ++j)
                y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
        }
    }
}

} // namespace

void quantize_row_q4_0_weighted(const float* x, BlockQ4_0* y, int64_t n_per_row,
                                const float* quant_weights) {
    quantize_row_32_weighted<8>(x, y, n_per_row, quant_weights);
}

void quantize_row_q4_1_weighted(const float* x, BlockQ4_1* y, int64_t n_per_row,
                                const float* quant_weights) {
    quantize_row_32_weighted<15>(x, y, n_per_row, quant_weights);
}

void quantize_row_q5_0_weighted(const float* x, BlockQ5_0* y, int64_t n_per_row,
                                const float* quant_weights) {
    quantize_row_32_weighted<16>(x, y, n_per_row, quant_weights);
}

void quantize_row_q5_1_weighted(const float* x, BlockQ5_1* y, int64_t n_per_row,
                                const float* quant_weights) {
    quantize_row_32_weighted<31>(x, y, n_per_row, quant_weights);
}

void quantize_row_q2_K_weighted(const float* x, BlockQ2_K* y, int64_t n_per_row,
                                const float* quant_weights) {
    uint8_t L[QK_K];
    uint8_t Laux[16];
    float mins[QK_K / 16];
    float scales[QK_K / 16];
    float sw[QK_K / 16];
    float weight[16];
    uint8_t Ls[QK_K / 16];
    uint8_t Lm[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; ++i, x += QK_K) {
        const float sigma2 = mean_square(x, QK_K); // not doubled, unlike the others
        for (int j = 0; j < QK_K / 16; ++j) {
            importance_weights(x + 16 * j, quant_weights + QK_K * i + 16 * j, sigma2, 16, weight);
            sw[j] = 0;
            for (int l = 0; l < 16; ++l)
                sw[j] += weight[l];
            scales[j] = make_qkx_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux,
                                        -0.9f, 0.05f, 36, false);
        }
        const float dm0 = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
        const float mm0 = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
        y[i].d = fp32_to_fp16_bits(dm0);
        y[i].dmin = fp32_to_fp16_bits(mm0);
        const float dm = fp16_bits_to_fp32(y[i].d);
        const float mm = fp16_bits_to_fp32(y[i].dmin);
        for (int j = 0; j < QK_K / 16; ++j)
            y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
        for (int j = 0; j < QK_K / 16; ++j) {
            const float d = dm * static_cast<float>(y[i].scales[j] & 0xF);
            if (d == 0.0f)
                continue;
            const float m = mm * static_cast<float>(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                const int l = nearest_int_ggml((x[16 * j + ii] + m) / d);
                L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

void quantize_row_q3_K_weighted(const float* x, BlockQ3_K* y, int64_t n_per_row,
                                const float* quant_weights) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float weight[16];
    float sw[QK_K / 16];
    int8_t Ls[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; ++i, x += QK_K) {
        const float sigma2 = 2 * mean_square(x, QK_K);
        for (int j = 0; j < QK_K / 16; ++j) {
            importance_weights(x + 16 * j, quant_weights + QK_K * i + 16 * j, sigma2, 16, weight);
            float sumw = 0;
            for (int l = 0; l < 16; ++l)
                sumw += weight[l];
            sw[j] = sumw;
            scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        std::memset(y[i].scales, 0, 12);
        const float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, sw);
        for (int j = 0; j < QK_K / 16; ++j) {
            int l = Ls[j];
            if (j < 8) {
                y[i].scales[j] = static_cast<uint8_t>(l & 0xF);
            } else {
                y[i].scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
            }
            l >>= 4;
            y[i].scales[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
        }
        y[i].d = fp32_to_fp16_bits(d_block);
        q3_k_pack_levels(x, L, y[i]);
    }
}

void quantize_row_q4_K_weighted(const float* x, BlockQ4_K* y, int64_t n_per_row,
                                const float* quant_weights) {
    for (int64_t i = 0; i < n_per_row / QK_K; ++i, x += QK_K) {
        uint8_t L[QK_K];
        k4_levels_weighted(x, quant_weights + QK_K * i, 15, y[i].d, y[i].dmin, y[i].scales, L);
        q4_k_pack_levels(L, y[i]);
    }
}

void quantize_row_q5_K_weighted(const float* x, BlockQ5_K* y, int64_t n_per_row,
                                const float* quant_weights) {
    for (int64_t i = 0; i < n_per_row / QK_K; ++i, x += QK_K) {
        uint8_t L[QK_K];
        k4_levels_weighted(x, quant_weights + QK_K * i, 31, y[i].d, y[i].dmin, y[i].scales, L);
        q5_k_pack_levels(L, y[i]);
    }
}

} // namespace hearth::quant
