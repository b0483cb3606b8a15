// Portable dot products of the low-bit weight types with their quantized activations: MXFP4
// and NVFP4 (against Q8_0), the ternary TQ1_0/TQ2_0 and the grid i-quants IQ1_S, IQ1_M,
// IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S (against Q8_K). The reference the AVX2 kernels are
// tested against, and the path on CPUs without AVX2.
//
// Each follows ggml's generic kernel (ggml-cpu/quants.c): exact integer sums per group, the
// group scales applied as integers, one float multiply-add per block, and the same final
// factors (0.125 for IQ2, 0.25 for IQ3_XXS, the IQ1 delta's 0.125 in float).
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "quant/dequantize_grid.h"
#include "quant/iq_grids.h"

namespace hearth::cpu {
namespace {

using namespace quant;

template <class Block>
const Block* blocks(const void* p) {
    return static_cast<const Block*>(p);
}

inline float h2f(uint16_t h) {
    return fp16_to_fp32(h);
}

float dot_mxfp4(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockMXFP4>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_MXFP4; ++b) {
        const float d = h2f(x[b].d) * e8m0_to_fp32_half(w[b].e);
        int lo = 0, hi = 0;
        for (int j = 0; j < 16; ++j) {
            lo += x[b].qs[j] * kvalues_mxfp4[w[b].qs[j] & 0x0f];
            hi += x[b].qs[j + 16] * kvalues_mxfp4[w[b].qs[j] >> 4];
        }
        sum += d * static_cast<float>(lo + hi);
    }
    return sum;
}

// NVFP4: 4 sub-blocks of 16 per 64 values, i.e. half a Q8_0 block each.
float dot_nvfp4(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockNVFP4>(vw);
    const auto* x = blocks<BlockQ8_0>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_NVFP4; ++b) {
        for (int s = 0; s < 4; ++s) {
            const BlockQ8_0& a = x[2 * b + s / 2];
            const int8_t* q8 = a.qs + 16 * (s % 2);
            int lo = 0, hi = 0;
            for (int j = 0; j < 8; ++j) {
                const uint8_t q = w[b].qs[8 * s + j];
                lo += q8[j] * kvalues_mxfp4[q & 0x0f];
                hi += q8[j + 8] * kvalues_mxfp4[q >> 4];
            }
            sum += h2f(a.d) * ue4m3_to_fp32_half(w[b].d[s]) * static_cast<float>(lo + hi);
        }
    }
    return sum;
}

// Trit p of a TQ1_0 byte, in {-1, 0, 1} (see dequantize.cpp).
inline int trit(uint8_t byte, int p) {
    static constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const auto shifted = static_cast<uint8_t>(byte * pow3[p]);
    return ((shifted * 3) >> 8) - 1;
}

float dot_tq1_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockTQ1_0>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int e = 0; e < QK_K; ++e) {
            int q = 0;
            if (e < 160) {
                q = trit(w[b].qs[e % 32], e / 32);
            } else if (e < 240) {
                q = trit(w[b].qs[32 + (e - 160) % 16], (e - 160) / 16);
            } else {
                q = trit(w[b].qh[(e - 240) % 4], (e - 240) / 4);
            }
            sumi += q * x[b].qs[e];
        }
        sum += static_cast<float>(sumi) * (h2f(w[b].d) * x[b].d);
    }
    return sum;
}

float dot_tq2_0(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockTQ2_0>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            sumi += x[b].qs[e] * (((w[b].qs[32 * h + l] >> (2 * k)) & 3) - 1);
        }
        sum += static_cast<float>(sumi) * (x[b].d * h2f(w[b].d));
    }
    return sum;
}

// Eight grid bytes against eight activations, with sign bits.
inline int signed_dot8(uint64_t entry, uint8_t signs, const int8_t* q8) {
    int sum = 0;
    for (int j = 0; j < 8; ++j) {
        const int v = grid_byte(entry, j) * q8[j];
        sum += (signs >> j) & 1 ? -v : v;
    }
    return sum;
}

float dot_iq2_xxs(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ2_XXS>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int bsum = 0;
        for (int g = 0; g < QK_K / 32; ++g) {
            const uint32_t w0 = iq2xxs_word(w[b].qs, 2 * g);
            const uint32_t w1 = iq2xxs_word(w[b].qs, 2 * g + 1);
            int sumi = 0;
            for (int l = 0; l < 4; ++l, q8 += 8) {
                sumi += signed_dot8(iq2xxs_grid[(w0 >> (8 * l)) & 0xff],
                                    expand_signs7(w1 >> (7 * l)), q8);
            }
            bsum += sumi * static_cast<int>(2 * (w1 >> 28) + 1);
        }
        sum += (h2f(w[b].d) * x[b].d) * static_cast<float>(bsum);
    }
    return 0.125f * sum;
}

float dot_iq2_xs(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ2_XS>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int bsum = 0;
        for (int k = 0; k < QK_K / 8; k += 2, q8 += 16) {
            const int ls = 2 * iq2_scale(w[b].scales, k) + 1;
            int sumi = 0;
            for (int l = 0; l < 2; ++l) {
                const uint16_t q = w[b].qs[k + l];
                sumi += signed_dot8(iq2xs_grid[q & 511], expand_signs7(q >> 9), q8 + 8 * l);
            }
            bsum += sumi * ls;
        }
        sum += (h2f(w[b].d) * x[b].d) * static_cast<float>(bsum);
    }
    return 0.125f * sum;
}

float dot_iq2_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ2_S>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int bsum = 0;
        for (int k = 0; k < QK_K / 8; k += 2, q8 += 16) {
            const int ls = 2 * iq2_scale(w[b].scales, k) + 1;
            int sumi = 0;
            for (int l = 0; l < 2; ++l) {
                const int i = k + l;
                sumi += signed_dot8(iq2s_grid[iq2s_index(w[b].qs, w[b].qh, i)],
                                    w[b].qs[QK_K / 8 + i], q8 + 8 * l);
            }
            bsum += ls * sumi;
        }
        sum += (h2f(w[b].d) * x[b].d) * static_cast<float>(bsum);
    }
    return 0.125f * sum;
}

float dot_iq3_xxs(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ3_XXS>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int bsum = 0;
        for (int g = 0; g < QK_K / 32; ++g) {
            const uint32_t aux = read_u32_le(w[b].qs + QK_K / 4 + 4 * g);
            int sumi = 0;
            for (int l = 0; l < 4; ++l, q8 += 8) {
                const uint64_t entry =
                    iq3xxs_grid[w[b].qs[8 * g + 2 * l]] |
                    static_cast<uint64_t>(iq3xxs_grid[w[b].qs[8 * g + 2 * l + 1]]) << 32;
                sumi += signed_dot8(entry, expand_signs7(aux >> (7 * l)), q8);
            }
            bsum += sumi * static_cast<int>(2 * (aux >> 28) + 1);
        }
        sum += (h2f(w[b].d) * x[b].d) * static_cast<float>(bsum);
    }
    return 0.25f * sum;
}

float dot_iq3_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ3_S>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int bsum = 0;
        for (int g = 0; g < QK_K / 32; ++g) {
            const int ls = 2 * iq3s_scale(w[b].scales, 4 * g) + 1; // the 32-value group g
            int sumi = 0;
            for (int l = 0; l < 4; ++l, q8 += 8) {
                const int i0 = 8 * g + 2 * l;
                const uint32_t lo = iq3s_grid[iq3s_index(w[b].qs, w[b].qh, i0)];
                const uint32_t hi = iq3s_grid[iq3s_index(w[b].qs, w[b].qh, i0 + 1)];
                sumi +=
                    signed_dot8(lo | static_cast<uint64_t>(hi) << 32, w[b].signs[4 * g + l], q8);
            }
            bsum += sumi * ls;
        }
        sum += (h2f(w[b].d) * x[b].d) * static_cast<float>(bsum);
    }
    return sum;
}

// Eight IQ1 grid values (-1, 0, 1) against eight activations.
inline int iq1_dot8(uint64_t entry, const int8_t* q8) {
    int sum = 0;
    for (int j = 0; j < 8; ++j) {
        sum += static_cast<int8_t>(grid_byte(entry, j)) * q8[j];
    }
    return sum;
}

float dot_iq1_s(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ1_S>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        int sumi = 0, sumi_delta = 0;
        for (int g = 0; g < QK_K / 32; ++g) {
            const int qh = w[b].qh[g];
            const int ls = 2 * ((qh >> 12) & 7) + 1;
            const int delta = qh & 0x8000 ? -1 : 1;
            int lsum = 0;
            for (int l = 0; l < 4; ++l, q8 += 8) {
                lsum += iq1_dot8(iq1s_grid[iq1s_index(w[b].qs, qh, g, l)], q8);
            }
            sumi += ls * lsum;
            sumi_delta += ls * delta * (x[b].bsums[2 * g] + x[b].bsums[2 * g + 1]);
        }
        sum += h2f(w[b].d) * x[b].d *
               (static_cast<float>(sumi) + kIq1Delta * static_cast<float>(sumi_delta));
    }
    return sum;
}

float dot_iq1_m(int64_t n, const void* vw, const void* vx) {
    const auto* w = blocks<BlockIQ1_M>(vw);
    const auto* x = blocks<BlockQ8_K>(vx);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const int8_t* q8 = x[b].qs;
        const float d = h2f(iq1_m_scale_bits(w[b].scales));
        int sumi = 0, sumi_delta = 0;
        for (int k = 0; k < QK_K / 8; k += 2, q8 += 16) {
            const int m = k / 2; // the 16-value group
            const int ls = 2 * iq1_m_group_scale(w[b].scales, m) + 1;
            int grid_sum = 0, delta_sum = 0;
            for (int l = 0; l < 2; ++l) {
                const int i = k + l;
                const int nib = iq1_m_nibble(w[b].qh, i);
                grid_sum += iq1_dot8(iq1s_grid[w[b].qs[i] | (nib & 7) << 8], q8 + 8 * l);
                int act = 0;
                for (int j = 0; j < 8; ++j) {
                    act += q8[8 * l + j];
                }
                delta_sum += nib & 0x08 ? -act : act;
            }
            sumi += grid_sum * ls;
            sumi_delta += delta_sum * ls;
        }
        sum += d * x[b].d * (static_cast<float>(sumi) + kIq1Delta * static_cast<float>(sumi_delta));
    }
    return sum;
}

} // namespace

VecDotFn vec_dot_lowbit_portable(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::MXFP4:
        return per_token<dot_mxfp4>;
    case TensorType::NVFP4:
        return per_token<dot_nvfp4>;
    case TensorType::TQ1_0:
        return per_token<dot_tq1_0>;
    case TensorType::TQ2_0:
        return per_token<dot_tq2_0>;
    case TensorType::IQ2_XXS:
        return per_token<dot_iq2_xxs>;
    case TensorType::IQ2_XS:
        return per_token<dot_iq2_xs>;
    case TensorType::IQ2_S:
        return per_token<dot_iq2_s>;
    case TensorType::IQ3_XXS:
        return per_token<dot_iq3_xxs>;
    case TensorType::IQ3_S:
        return per_token<dot_iq3_s>;
    case TensorType::IQ1_S:
        return per_token<dot_iq1_s>;
    case TensorType::IQ1_M:
        return per_token<dot_iq1_m>;
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu
