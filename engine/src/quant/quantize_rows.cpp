// The 32-value block quantizers (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the non-linear IQ4_NL /
// IQ4_XS, transcribed from ggml-quants.c's reference routines (quantize_row_*_ref and
// quantize_row_iq4_nl_impl) so that the bytes match llama-quantize's.
#include "quant/quantize_rows.h"

#include "quant/quant_search.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

namespace hearth::quant {

namespace {

// The largest-magnitude value of a block, with its sign.
float signed_absmax(const float* x, int n) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, int n, float& min, float& max) {
    min = FLT_MAX;
    max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
}

} // namespace

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k) {
    const int64_t nb = k / QK4_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK4_0;
        const float max = signed_absmax(xb, QK4_0);
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16_bits(d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[QK4_0 / 2 + j] * id;
            const auto xi0 =
                static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x0 + 8.5f)));
            const auto xi1 =
                static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x1 + 8.5f)));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t k) {
    const int64_t nb = k / QK4_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK4_1;
        float min = 0;
        float max = 0;
        min_max(xb, QK4_1, min, max);
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16_bits(d);
        y[i].m = fp32_to_fp16_bits(min);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const float x0 = (xb[j] - min) * id;
            const float x1 = (xb[QK4_1 / 2 + j] - min) * id;
            const auto xi0 =
                static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x0 + 0.5f)));
            const auto xi1 =
                static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x1 + 0.5f)));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t k) {
    const int64_t nb = k / QK5_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK5_0;
        const float max = signed_absmax(xb, QK5_0);
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16_bits(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[QK5_0 / 2 + j] * id;
            const auto xi0 =
                static_cast<uint8_t>(std::min<int>(31, static_cast<int8_t>(x0 + 16.5f)));
            const auto xi1 =
                static_cast<uint8_t>(std::min<int>(31, static_cast<int8_t>(x1 + 16.5f)));
            y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_0 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof qh);
    }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t k) {
    const int64_t nb = k / QK5_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK5_1;
        float min = 0;
        float max = 0;
        min_max(xb, QK5_1, min, max);
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16_bits(d);
        y[i].m = fp32_to_fp16_bits(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const float x0 = (xb[j] - min) * id;
            const float x1 = (xb[QK5_1 / 2 + j] - min) * id;
            const auto xi0 = static_cast<uint8_t>(x0 + 0.5f);
            const auto xi1 = static_cast<uint8_t>(x1 + 0.5f);
            y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_1 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof qh);
    }
}

void quantize_row_q8_0_reference(const float* x, BlockQ8_0* y, int64_t k) {
    const int64_t nb = k / QK8_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j)
            amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16_bits(d);
        // roundf (half away from zero), not the activations' round-to-even.
        for (int j = 0; j < QK8_0; ++j)
            y[i].qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
    }
}

namespace {

// One sub-block of 32 of quantize_row_iq4_nl_impl: the best scale over 2 * ntry + 1 trial
// inverse scales around the largest magnitude. The weights are x^2 without an importance
// matrix; with one, qw[j] * sqrt(sigma2 + x^2), sigma2 twice the super-block's mean square.
float iq4_block_scale(const float* xb, uint8_t* Lb, int ntry, const float* qw, float sigma2) {
    constexpr int kBlock = 32;
    const int8_t* values = kvalues_iq4nl;
    float weight[kBlock];
    for (int j = 0; j < kBlock; ++j) {
        weight[j] = qw != nullptr ? qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
    }
    float amax = 0;
    float max = 0;
    for (int j = 0; j < kBlock; ++j) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < kGroupMaxEps)
        return 0;
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0;
    float sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
        const float al = id * xb[j];
        const int l = best_index_int8(16, values, al);
        Lb[j] = static_cast<uint8_t>(l);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
        id = static_cast<float>(itry + values[0]) / max;
        sumqx = 0;
        sumq2 = 0;
        for (int j = 0; j < kBlock; ++j) {
            const float al = id * xb[j];
            const int l = best_index_int8(16, values, al);
            const float q = values[l];
            const float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

void pack_nibbles(const uint8_t* L, uint8_t* q4, int n) {
    for (int i = 0; i < n / 32; ++i) {
        for (int j = 0; j < 16; ++j) {
            q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
        }
    }
}

// sigma2 of quantize_row_iq4_nl_impl: twice the mean square of a super-block.
float iq4_sigma2(const float* x, int n) {
    float sigma2 = 0;
    for (int j = 0; j < n; ++j)
        sigma2 += x[j] * x[j];
    return sigma2 * (2.f / static_cast<float>(n));
}

} // namespace

// llama-quantize's quantize_iq4_nl: one block of 32, ntry 7.
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t k, const float* quant_weights) {
    constexpr int kTries = 7;
    const int64_t nb = k / QK4_NL;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK4_NL;
        uint8_t L[QK4_NL] = {};
        const float* qw = quant_weights != nullptr ? quant_weights + i * QK4_NL : nullptr;
        const float sigma2 = qw != nullptr ? iq4_sigma2(xb, QK4_NL) : 0.f;
        const float scale = iq4_block_scale(xb, L, kTries, qw, sigma2);
        y[i].d = fp32_to_fp16_bits(scale);
        const float id = scale != 0.0f ? 1 / scale : 0;
        for (int j = 0; j < QK4_NL; ++j) {
            L[j] = static_cast<uint8_t>(best_index_int8(16, kvalues_iq4nl, id * xb[j]));
        }
        pack_nibbles(L, y[i].qs, QK4_NL);
    }
}

// llama-quantize's quantize_iq4_xs: 8 sub-blocks of 32 with 6-bit scales, ntry 7.
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t k, const float* quant_weights) {
    constexpr int kTries = 7;
    constexpr int kBlocks = QK_K / 32;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xs = x + i * QK_K;
        uint8_t L[QK_K] = {};
        float scales[kBlocks];
        float max_scale = 0;
        float amax_scale = 0;
        const float* qw = quant_weights != nullptr ? quant_weights + i * QK_K : nullptr;
        const float sigma2 = qw != nullptr ? iq4_sigma2(xs, QK_K) : 0.f;
        for (int ib = 0; ib < kBlocks; ++ib) {
            scales[ib] = iq4_block_scale(xs + ib * 32, L + ib * 32, kTries,
                                         qw != nullptr ? qw + ib * 32 : nullptr, sigma2);
            const float abs_d = std::fabs(scales[ib]);
            if (abs_d > amax_scale) {
                amax_scale = abs_d;
                max_scale = scales[ib];
            }
        }
        std::memset(y[i].qs, 0, sizeof y[i].qs);
        y[i].scales_h = 0;
        const float d = -max_scale / 32;
        y[i].d = fp32_to_fp16_bits(d);
        const float id = d != 0.0f ? 1 / d : 0.f;
        for (int ib = 0; ib < kBlocks; ++ib) {
            int l = nearest_int_ggml(id * scales[ib]);
            l = std::max(-32, std::min(31, l));
            const float dl = d * static_cast<float>(l);
            const float idl = dl != 0.0f ? 1 / dl : 0.f;
            for (int j = 0; j < 32; ++j) {
                L[ib * 32 + j] =
                    static_cast<uint8_t>(best_index_int8(16, kvalues_iq4nl, idl * xs[ib * 32 + j]));
            }
            l += 32;
            const auto l_l = static_cast<uint8_t>(l & 0xf);
            const auto l_h = static_cast<uint16_t>(l >> 4);
            if (ib % 2 == 0) {
                y[i].scales_l[ib / 2] = l_l;
            } else {
                y[i].scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
            }
            y[i].scales_h |= static_cast<uint16_t>(l_h << 2 * (ib % 8));
        }
        pack_nibbles(L, y[i].qs, QK_K);
    }
}

} // namespace hearth::quant
