// CPU dequantization of GGML block formats, bit-exact with `gguf.quants.dequantize`.
//
// The reference is numpy: every binary operation is evaluated in float32 and rounded on its
// own. Each function below performs the same operations in the same order (this file is
// compiled with -ffp-contract=off so that no multiply-add is fused), for example Q4_K's
// `(d * sc) * q - (dmin * m)` rather than `d * (sc * q) - ...`. Where numpy converts an
// integer to float32 before multiplying, so do we. Layouts and formulas: blocks.h.
//
// Plain scalar loops: the vectorised matrix kernels live elsewhere; this is the reference
// the rest of the engine is checked against.
#include "hearth/quant.h"
#include "quant/blocks.h"
#include "quant/dequantize_grid.h"
#include "quant/k4_scales.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

namespace hearth {
namespace {

using namespace quant;

// Reads block `i` of `src` by copy: blocks may sit at any byte offset (MXFP4's are 17 bytes).
template <class Block>
Block load_block(const void* src, int64_t i) {
    Block block;
    std::memcpy(&block, static_cast<const uint8_t*>(src) + i * static_cast<int64_t>(sizeof(Block)),
                sizeof(Block));
    return block;
}

float f(int value) {
    return static_cast<float>(value);
}

// Value e = 128h + 32k + l of a 2-bit array laid out as Q2_K's qs: bits 2k..2k+1 of qs[32h + l].
int two_bits(const uint8_t* qs, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    return (qs[32 * h + l] >> (2 * k)) & 3;
}

// Value i of 32 nibbles packed as Q4_0's qs: low nibbles are values 0..15, high 16..31.
int nibble(const uint8_t* qs, int i, int half) {
    return i < half ? qs[i] & 0x0f : qs[i - half] >> 4;
}

void dequantize_q4_0(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK4_0) {
        const auto block = load_block<BlockQ4_0>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int i = 0; i < QK4_0; ++i) {
            dst[i] = d * f(nibble(block.qs, i, QK4_0 / 2) - 8);
        }
    }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK4_1) {
        const auto block = load_block<BlockQ4_1>(src, b);
        const float d = fp16_to_fp32(block.d);
        const float m = fp16_to_fp32(block.m);
        for (int i = 0; i < QK4_1; ++i) {
            dst[i] = d * f(nibble(block.qs, i, QK4_1 / 2)) + m;
        }
    }
}

// 5-bit value i of Q5_0 / Q5_1: nibble i plus bit i of qh as bit 4.
int five_bits(const uint8_t* qs, uint32_t qh, int i) {
    return nibble(qs, i, 16) | static_cast<int>((qh >> i) & 1u) << 4;
}

void dequantize_q5_0(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK5_0) {
        const auto block = load_block<BlockQ5_0>(src, b);
        const float d = fp16_to_fp32(block.d);
        const uint32_t qh = read_u32_le(block.qh);
        for (int i = 0; i < QK5_0; ++i) {
            dst[i] = d * f(five_bits(block.qs, qh, i) - 16);
        }
    }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK5_1) {
        const auto block = load_block<BlockQ5_1>(src, b);
        const float d = fp16_to_fp32(block.d);
        const float m = fp16_to_fp32(block.m);
        const uint32_t qh = read_u32_le(block.qh);
        for (int i = 0; i < QK5_1; ++i) {
            dst[i] = d * f(five_bits(block.qs, qh, i)) + m;
        }
    }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK8_0) {
        const auto block = load_block<BlockQ8_0>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int i = 0; i < QK8_0; ++i) {
            dst[i] = f(block.qs[i]) * d;
        }
    }
}

void dequantize_q2_k(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockQ2_K>(src, b);
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int e = 0; e < QK_K; ++e) {
            const uint8_t sc = block.scales[e / 16];
            const float dl = d * f(sc & 0x0f);
            const float ml = dmin * f(sc >> 4);
            dst[e] = dl * f(two_bits(block.qs, e)) - ml;
        }
    }
}

// Q3_K's 16 scales of 6 bits: the low 4 bits are the nibbles of bytes 0..7 (low nibbles first),
// the high 2 bits are the 2-bit fields of bytes 8..11 (scale j uses bits 2(j/4) of byte 8 + j%4).
int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0x0f : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

void dequantize_q3_k(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockQ3_K>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int e = 0; e < QK_K; ++e) {
            const float dl = d * f(q3_k_scale(block.scales, e / 16));
            // The high bit set means no offset; clear means subtract 4.
            const int hbit = (block.hmask[e % 32] >> (e / 32)) & 1;
            const int q = two_bits(block.qs, e) - (hbit ? 0 : 4);
            dst[e] = dl * f(q);
        }
    }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockQ4_K>(src, b);
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int j = 0; j < QK_K / 32; ++j) {
            int sc = 0, mn = 0;
            k4_scale_min(block.scales, j, sc, mn);
            const float dl = d * f(sc);
            const float ml = dmin * f(mn);
            const uint8_t* qs = block.qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; ++l) {
                dst[32 * j + l] = dl * f((qs[l] >> shift) & 0x0f) - ml;
            }
        }
    }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockQ5_K>(src, b);
        const float d = fp16_to_fp32(block.d);
        const float dmin = fp16_to_fp32(block.dmin);
        for (int j = 0; j < QK_K / 32; ++j) {
            int sc = 0, mn = 0;
            k4_scale_min(block.scales, j, sc, mn);
            const float dl = d * f(sc);
            const float ml = dmin * f(mn);
            const uint8_t* qs = block.qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = ((qs[l] >> shift) & 0x0f) | ((block.qh[l] >> j) & 1) << 4;
                dst[32 * j + l] = dl * f(q) - ml;
            }
        }
    }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockQ6_K>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int e = 0; e < QK_K; ++e) {
            const float dl = d * f(block.scales[e / 16]);
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const int low = (block.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0f;
            const int high = (block.qh[32 * h + l] >> (2 * k)) & 3;
            dst[e] = dl * f((low | high << 4) - 32);
        }
    }
}

void dequantize_iq4_nl(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK4_NL) {
        const auto block = load_block<BlockIQ4_NL>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int i = 0; i < QK4_NL; ++i) {
            dst[i] = d * f(kvalues_iq4nl[nibble(block.qs, i, QK4_NL / 2)]);
        }
    }
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockIQ4_XS>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int j = 0; j < QK_K / 32; ++j) {
            const int low = (block.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f;
            const int high = (block.scales_h >> (2 * j)) & 3;
            const float dl = d * f((low | high << 4) - 32);
            for (int i = 0; i < 32; ++i) {
                dst[32 * j + i] = dl * f(kvalues_iq4nl[nibble(block.qs + 16 * j, i, 16)]);
            }
        }
    }
}

// Trit p (0..4) of a TQ1_0 byte: multiplying by 3^p (mod 256) brings it to the top, and
// (byte * 3) >> 8 reads the top trit.
int trit(uint8_t byte, int p) {
    static constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const auto shifted = static_cast<uint8_t>(byte * pow3[p]);
    return ((shifted * 3) >> 8) - 1;
}

void dequantize_tq1_0(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockTQ1_0>(src, b);
        const float d = fp16_to_fp32(block.d);
        // Values 0..159: 5 trits of qs[0..32); 160..239: 5 trits of qs[32..48);
        // 240..255: 4 trits of qh[0..4). Within each group the trit index is the outer one.
        for (int e = 0; e < QK_K; ++e) {
            int q = 0;
            if (e < 160) {
                q = trit(block.qs[e % 32], e / 32);
            } else if (e < 240) {
                q = trit(block.qs[32 + (e - 160) % 16], (e - 160) / 16);
            } else {
                q = trit(block.qh[(e - 240) % 4], (e - 240) / 4);
            }
            dst[e] = d * f(q);
        }
    }
}

void dequantize_tq2_0(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_K) {
        const auto block = load_block<BlockTQ2_0>(src, b);
        const float d = fp16_to_fp32(block.d);
        for (int e = 0; e < QK_K; ++e) {
            dst[e] = d * f(two_bits(block.qs, e) - 1);
        }
    }
}

void dequantize_mxfp4(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_MXFP4) {
        const auto block = load_block<BlockMXFP4>(src, b);
        const float d = e8m0_to_fp32_half(block.e);
        for (int i = 0; i < QK_MXFP4; ++i) {
            dst[i] = d * f(kvalues_mxfp4[nibble(block.qs, i, QK_MXFP4 / 2)]);
        }
    }
}

void dequantize_nvfp4(const void* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, dst += QK_NVFP4) {
        const auto block = load_block<BlockNVFP4>(src, b);
        for (int j = 0; j < QK_NVFP4 / 16; ++j) {
            const float d = ue4m3_to_fp32_half(block.d[j]);
            for (int i = 0; i < 16; ++i) {
                dst[16 * j + i] = d * f(kvalues_mxfp4[nibble(block.qs + 8 * j, i, 8)]);
            }
        }
    }
}

void dequantize_f32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* bytes = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        dst[i] = fp16_to_fp32(static_cast<uint16_t>(bytes[2 * i] | bytes[2 * i + 1] << 8));
    }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* bytes = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        dst[i] = bf16_to_fp32(static_cast<uint16_t>(bytes[2 * i] | bytes[2 * i + 1] << 8));
    }
}

// One dequantizer per type; `n_blocks` is a count of blocks (of elements for F32/F16/BF16).
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n_blocks);

DequantizeFn dequantizer(TensorType type) {
    switch (type) {
    case TensorType::F32:
        return dequantize_f32;
    case TensorType::F16:
        return dequantize_f16;
    case TensorType::BF16:
        return dequantize_bf16;
    case TensorType::Q4_0:
        return dequantize_q4_0;
    case TensorType::Q4_1:
        return dequantize_q4_1;
    case TensorType::Q5_0:
        return dequantize_q5_0;
    case TensorType::Q5_1:
        return dequantize_q5_1;
    case TensorType::Q8_0:
        return dequantize_q8_0;
    case TensorType::Q2_K:
        return dequantize_q2_k;
    case TensorType::Q3_K:
        return dequantize_q3_k;
    case TensorType::Q4_K:
        return dequantize_q4_k;
    case TensorType::Q5_K:
        return dequantize_q5_k;
    case TensorType::Q6_K:
        return dequantize_q6_k;
    case TensorType::IQ4_NL:
        return dequantize_iq4_nl;
    case TensorType::IQ4_XS:
        return dequantize_iq4_xs;
    case TensorType::IQ2_XXS:
        return dequantize_iq2_xxs;
    case TensorType::IQ2_XS:
        return dequantize_iq2_xs;
    case TensorType::IQ2_S:
        return dequantize_iq2_s;
    case TensorType::IQ3_XXS:
        return dequantize_iq3_xxs;
    case TensorType::IQ3_S:
        return dequantize_iq3_s;
    case TensorType::IQ1_S:
        return dequantize_iq1_s;
    case TensorType::IQ1_M:
        return dequantize_iq1_m;
    case TensorType::TQ1_0:
        return dequantize_tq1_0;
    case TensorType::TQ2_0:
        return dequantize_tq2_0;
    case TensorType::MXFP4:
        return dequantize_mxfp4;
    case TensorType::NVFP4:
        return dequantize_nvfp4;
    default:
        return nullptr;
    }
}

} // namespace

bool can_dequantize(TensorType type) {
    return dequantizer(type) != nullptr;
}

Result<void> dequantize(TensorType type, const void* src, float* dst, int64_t n_elements) {
    const auto traits = tensor_type_traits(static_cast<uint32_t>(type));
    if (!traits) {
        return fail(ErrorCode::unsupported, "cannot dequantize unknown tensor type id " +
                                                std::to_string(static_cast<uint32_t>(type)));
    }
    const DequantizeFn fn = dequantizer(type);
    if (fn == nullptr) {
        return fail(ErrorCode::unsupported,
                    "dequantization of " + std::string(traits->name) + " is not supported");
    }
    if (n_elements < 0 || n_elements % traits->block_size != 0) {
        return fail(ErrorCode::invalid_argument,
                    "cannot dequantize " + std::to_string(n_elements) + " elements of " +
                        std::string(traits->name) + ": not a whole number of " +
                        std::to_string(traits->block_size) + "-element blocks");
    }
    if (n_elements > 0 && (src == nullptr || dst == nullptr)) {
        return fail(ErrorCode::invalid_argument, "dequantize: null source or destination");
    }
    fn(src, dst, n_elements / traits->block_size);
    return {};
}

} // namespace hearth
