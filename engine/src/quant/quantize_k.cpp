// The K-quant quantizers (Q2_K .. Q6_K) without an importance matrix, transcribed from
// ggml-quants.c's quantize_row_q*_K_ref and their helpers (make_q3_quants here; make_qx_quants
// and make_qkx2_quants in quant_search.cpp) so that the bytes match llama-quantize's.
#include "quant/quant_search.h"
#include "quant/quantize_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::quant {

namespace {

// make_q3_quants with do_rmse: a symmetric scale improved by moving one level at a time.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int_ggml(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
            if (slx > 0) {
                float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
                int new_l = nearest_int_ggml(x[i] * sl2 / slx);
                new_l = std::max(-nmax, std::min(nmax - 1, new_l));
                if (new_l != L[i]) {
                    slx += w * x[i] * static_cast<float>(new_l);
                    sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = static_cast<int8_t>(new_l);
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (n_changed == 0)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// The 6-bit scales and mins of Q4_K / Q5_K, each quantized against its largest.
void pack_k4_scales(const float* scales, const float* mins, float max_scale, float max_min,
                    uint8_t* out) {
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t Ls[QK_K / 32];
    uint8_t Lm[QK_K / 32];
    for (int j = 0; j < QK_K / 32; ++j) {
        Ls[j] = static_cast<uint8_t>(nearest_int_ggml(inv_scale * scales[j]));
        Lm[j] = static_cast<uint8_t>(nearest_int_ggml(inv_min * mins[j]));
    }
    pack_k4_scale_bytes(Ls, Lm, out);
}

// The first pass of Q4_K / Q5_K: each sub-block of 32's scale and min, weighted by
// rms(x) + |x|; then the levels again with the stored (quantized) scales and mins.
void k4_levels(const float* x, int nmax, float rmin, int nstep, uint16_t& d_bits,
               uint16_t& dmin_bits, uint8_t* scale_bytes, uint8_t* L) {
    float mins[QK_K / 32];
    float scales[QK_K / 32];
    float weights[32];
    uint8_t Laux[32];
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = make_qkx_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                    0.1f, nstep, false);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    pack_k4_scales(scales, mins, max_scale, max_min, scale_bytes);
    d_bits = fp32_to_fp16_bits(max_scale / 63.f);
    dmin_bits = fp32_to_fp16_bits(max_min / 63.f);
    k4_levels_from_stored(x, nmax, d_bits, dmin_bits, scale_bytes, L);
}

} // namespace

void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t k) {
    const int64_t nb = k / QK_K;
    constexpr float q4scale = 15.f;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        uint8_t L[QK_K];
        uint8_t Laux[16];
        float weights[16];
        float mins[QK_K / 16];
        float scales[QK_K / 16];
        float max_scale = 0;
        float max_min = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            for (int l = 0; l < 16; ++l)
                weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = make_qkx_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                        -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) {
                y[i].scales[j] = static_cast<uint8_t>(nearest_int_ggml(iscale * scales[j]));
            }
            y[i].d = fp32_to_fp16_bits(max_scale / q4scale);
        } else {
            for (int j = 0; j < QK_K / 16; ++j)
                y[i].scales[j] = 0;
            y[i].d = fp32_to_fp16_bits(0.f);
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; ++j) {
                const int l = nearest_int_ggml(iscale * mins[j]);
                y[i].scales[j] |= static_cast<uint8_t>(l << 4);
            }
            y[i].dmin = fp32_to_fp16_bits(max_min / q4scale);
        } else {
            y[i].dmin = fp32_to_fp16_bits(0.f);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            const float d = fp16_bits_to_fp32(y[i].d) * static_cast<float>(y[i].scales[j] & 0xF);
            if (d == 0.0f)
                continue;
            const float dm = fp16_bits_to_fp32(y[i].dmin) * static_cast<float>(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                const int l = nearest_int_ggml((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

void quantize_row_q3_K(const float* x, BlockQ3_K* y, int64_t k) {
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0;
        float amax = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            const float scale = std::fabs(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        std::memset(y[i].scales, 0, 12);
        if (max_scale != 0.0f) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) {
                auto l = static_cast<int8_t>(nearest_int_ggml(iscale * scales[j]));
                l = static_cast<int8_t>(std::max<int>(-32, std::min<int>(31, l)) + 32);
                if (j < 8) {
                    y[i].scales[j] = static_cast<uint8_t>(l & 0xF);
                } else {
                    y[i].scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
                }
                l = static_cast<int8_t>(l >> 4);
                y[i].scales[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
            }
            y[i].d = fp32_to_fp16_bits(1 / iscale);
        } else {
            y[i].d = fp32_to_fp16_bits(0.f);
        }
        q3_k_pack_levels(x, L, y[i]);
    }
}

void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t k) {
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        uint8_t L[QK_K];
        k4_levels(x, 15, -1.f, 20, y[i].d, y[i].dmin, y[i].scales, L);
        q4_k_pack_levels(L, y[i]);
    }
}

void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t k) {
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        uint8_t L[QK_K];
        k4_levels(x, 31, -0.5f, 15, y[i].d, y[i].dmin, y[i].scales, L);
        q5_k_pack_levels(L, y[i]);
    }
}

void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t k, const float* quant_weights) {
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            // With an importance matrix its weights are used as they are (llama.cpp's
            // quantize_row_q6_K_impl); without, x^2 (quantize_row_q6_K_ref).
            const float* qw =
                quant_weights != nullptr ? quant_weights + QK_K * i + 16 * ib : nullptr;
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw);
            scales[ib] = scale;
            const float abs_scale = std::fabs(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }
        if (max_abs_scale < kGroupMaxEps) {
            std::memset(&y[i], 0, sizeof(BlockQ6_K));
            y[i].d = fp32_to_fp16_bits(0.f);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = fp32_to_fp16_bits(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            y[i].scales[ib] =
                static_cast<int8_t>(std::min(127, nearest_int_ggml(iscale * scales[ib])));
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            const float d = fp16_bits_to_fp32(y[i].d) * static_cast<float>(y[i].scales[j]);
            if (d == 0.0f)
                continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int_ggml(x[16 * j + ii] / d);
                l = std::max(-32, std::min(31, l));
                L[16 * j + ii] = static_cast<int8_t>(l + 32);
            }
        }
        uint8_t* ql = y[i].ql;
        uint8_t* qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const auto u = [&](int e) { return static_cast<uint8_t>(L[e]); };
                const uint8_t q1 = u(j + l + 0) & 0xF;
                const uint8_t q2 = u(j + l + 32) & 0xF;
                const uint8_t q3 = u(j + l + 64) & 0xF;
                const uint8_t q4 = u(j + l + 96) & 0xF;
                ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
                ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
                qh[l] =
                    static_cast<uint8_t>((u(j + l) >> 4) | ((u(j + l + 32) >> 4) << 2) |
                                         ((u(j + l + 64) >> 4) << 4) | ((u(j + l + 96) >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

} // namespace hearth::quant
