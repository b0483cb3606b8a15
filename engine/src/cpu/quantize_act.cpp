// Activation quantization to the dot types of the weight formats (Q8_0, Q8_1, Q8_K, F16, BF16),
// following llama.cpp's x86 numerics so that greedy decoding matches it.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::cpu {
namespace {

using namespace quant;

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves the integer in
// the low mantissa bits (ggml's nearest_int; the same result as _mm256_round_ps).
inline int nearest_int(float v) {
    const float shifted = v + 12582912.f;
    int32_t bits = 0;
    std::memcpy(&bits, &shifted, sizeof(bits));
    return (bits & 0x007fffff) - 0x00400000;
}

// The block quantizer of the level in use: both give the same bits.
using BlockQuantizer = int (*)(const float*, int8_t*, float&);
BlockQuantizer block_quantizer() {
    return kernel_level() == KernelLevel::avx2 ? quantize_block_q8_avx2 : quantize_block_q8_scalar;
}

} // namespace

int quantize_block_q8_scalar(const float* x, int8_t* qs, float& d) {
    // std::max, not std::fmax: the same result here (amax starts at 0 and a NaN is never
    // taken: 0 < NaN is false), but fmax is a call through the PLT per value, about 8% of a
    // short prompt's prefill, while this loop compiles to one maxss per value (a NaN rules
    // out reordering it into vectors here; quantize_act_avx2.cpp says why its order may).
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) {
        amax = std::max(amax, std::fabs(x[i]));
    }
    const float id = q8_block_inverse_scale(amax, d);
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
        const int q = nearest_int(x[i] * id);
        qs[i] = static_cast<int8_t>(q);
        sum += q;
    }
    return sum;
}

void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n) {
    const BlockQuantizer quantize_block = block_quantizer();
    for (int64_t b = 0; b < n / QK8_0; ++b) {
        float d = 0.0f;
        quantize_block(x + b * QK8_0, out[b].qs, d);
        out[b].d = fp32_to_fp16(d);
    }
}

void quantize_row_q8_1(const float* x, BlockQ8_1* out, int64_t n) {
    const BlockQuantizer quantize_block = block_quantizer();
    for (int64_t b = 0; b < n / QK8_0; ++b) {
        float d = 0.0f;
        const int sum = quantize_block(x + b * QK8_0, out[b].qs, d);
        out[b].d = fp32_to_fp16(d);
        out[b].s = fp32_to_fp16(d * static_cast<float>(sum));
    }
}

void quantize_block_q8_k_scalar(const float* x, BlockQ8_K& y) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < QK_K; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax == 0.0f) {
        std::memset(&y, 0, sizeof(y));
        return;
    }
    // The largest value maps to -127 * sign, never to +128 (ggml's choice).
    const float iscale = -127.0f / max;
    for (int i = 0; i < QK_K; ++i) {
        const int q = nearest_int(iscale * x[i]);
        y.qs[i] = static_cast<int8_t>(q < 127 ? q : 127);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) {
            sum += y.qs[16 * j + i];
        }
        y.bsums[j] = static_cast<int16_t>(sum);
    }
    y.d = 1.0f / iscale;
}

void quantize_row_q8_K(const float* x, BlockQ8_K* out, int64_t n) {
    const auto quantize_block =
        kernel_level() == KernelLevel::avx2 ? quantize_block_q8_k_avx2 : quantize_block_q8_k_scalar;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        quantize_block(x + b * QK_K, out[b]);
    }
}

void convert_f32_to_bf16(const float* x, uint16_t* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint32_t bits = 0;
        std::memcpy(&bits, &x[i], sizeof(bits));
        if ((bits & 0x7fffffffu) > 0x7f800000u) {
            out[i] = static_cast<uint16_t>((bits >> 16) | 64); // NaN: forced quiet
        } else {
            out[i] = static_cast<uint16_t>((bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
        }
    }
}

void quantize_activation_row(TensorType weight_type, const float* x, void* out, int64_t n_cols) {
    switch (dot_type(weight_type)) {
    case TensorType::Q8_0:
        quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), n_cols);
        break;
    case TensorType::Q8_1:
        quantize_row_q8_1(x, static_cast<BlockQ8_1*>(out), n_cols);
        break;
    case TensorType::Q8_K:
        quantize_row_q8_K(x, static_cast<BlockQ8_K*>(out), n_cols);
        break;
    case TensorType::F16:
        convert_f32_to_f16(x, static_cast<uint16_t*>(out), n_cols);
        break;
    case TensorType::BF16:
        convert_f32_to_bf16(x, static_cast<uint16_t*>(out), n_cols);
        break;
    default:
        std::memcpy(out, x, static_cast<size_t>(n_cols) * sizeof(float));
        break;
    }
}

int64_t activation_scale_count(TensorType weight_type, int64_t n_cols) {
    switch (dot_type(weight_type)) {
    case TensorType::Q8_0:
        return n_cols / QK8_0;
    case TensorType::Q8_1:
        return 2 * (n_cols / QK8_0);
    default:
        return 0;
    }
}

void activation_scales(TensorType weight_type, const void* act, float* out, int64_t n_cols) {
    const int64_t n_blocks = n_cols / QK8_0;
    if (dot_type(weight_type) == TensorType::Q8_0) {
        const auto* blocks = static_cast<const BlockQ8_0*>(act);
        for (int64_t b = 0; b < n_blocks; ++b) {
            out[b] = fp16_to_fp32(blocks[b].d);
        }
    } else if (dot_type(weight_type) == TensorType::Q8_1) {
        const auto* blocks = static_cast<const BlockQ8_1*>(act);
        for (int64_t b = 0; b < n_blocks; ++b) {
            out[b] = fp16_to_fp32(blocks[b].d);
            out[n_blocks + b] = fp16_to_fp32(blocks[b].s);
        }
    }
}

void dequantize_activation_row(TensorType weight_type, const void* in, float* out, int64_t n) {
    switch (dot_type(weight_type)) {
    case TensorType::Q8_0: {
        const auto* blocks = static_cast<const BlockQ8_0*>(in);
        for (int64_t i = 0; i < n; ++i) {
            out[i] = fp16_to_fp32(blocks[i / QK8_0].d) * blocks[i / QK8_0].qs[i % QK8_0];
        }
        break;
    }
    case TensorType::Q8_1: {
        const auto* blocks = static_cast<const BlockQ8_1*>(in);
        for (int64_t i = 0; i < n; ++i) {
            out[i] = fp16_to_fp32(blocks[i / QK8_0].d) * blocks[i / QK8_0].qs[i % QK8_0];
        }
        break;
    }
    case TensorType::Q8_K: {
        const auto* blocks = static_cast<const BlockQ8_K*>(in);
        for (int64_t i = 0; i < n; ++i) {
            out[i] = blocks[i / QK_K].d * blocks[i / QK_K].qs[i % QK_K];
        }
        break;
    }
    case TensorType::F16: {
        const auto* halves = static_cast<const uint16_t*>(in);
        for (int64_t i = 0; i < n; ++i) {
            out[i] = fp16_to_fp32(halves[i]);
        }
        break;
    }
    case TensorType::BF16: {
        const auto* halves = static_cast<const uint16_t*>(in);
        for (int64_t i = 0; i < n; ++i) {
            out[i] = bf16_to_fp32(halves[i]);
        }
        break;
    }
    default:
        std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
        break;
    }
}

} // namespace hearth::cpu
