// The int8 prefill layout's conversion of float weights (F16, BF16, F32): the definition
// (int8_gemm.h, int8_convert_float_row_portable) and int8_convert_float_row, which picks the
// AVX2 version where it runs (int8_convert.cpp's float converters call it). Unlike the quantized
// types' conversions this one rounds: 8 bits per value over each 32-value block's own range, so
// scale * q - min is within range / 510 of the weight (docs/ARCHITECTURE.md, "Fast prefill
// numerics").
//
// Why a min (asymmetric, q over [lo, hi]) rather than a symmetric q over [-amax, amax]: the
// step is range / 255 against 2 amax / 254, never larger and smaller wherever a block is not
// centred on 0 (RMS error 1.16-1.44× smaller on normal, Laplace and Student-t weights:
// scripts/int8-float-rounding.py). The kernel adds the min term for every type anyway.
#include "cpu/int8_convert_float.h"

#include "cpu/cpu_features.h"
#include "hearth/quant.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace hearth::cpu {
namespace {

float load_value(TensorType type, const void* row, int64_t i) {
    switch (type) {
    case TensorType::F16: {
        uint16_t h = 0;
        std::memcpy(&h, static_cast<const uint8_t*>(row) + 2 * i, 2);
        return fp16_to_fp32(h);
    }
    case TensorType::BF16: {
        uint16_t h = 0;
        std::memcpy(&h, static_cast<const uint8_t*>(row) + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float v = 0.0f;
        std::memcpy(&v, &bits, 4);
        return v;
    }
    default: {
        float v = 0.0f;
        std::memcpy(&v, static_cast<const uint8_t*>(row) + 4 * i, 4);
        return v;
    }
    }
}

} // namespace

Int8BlockRange int8_block_range(float lo, float hi) {
    const float range = hi - lo;
    // range > 0 is false for NaN too: such a block's q are all 0 (its outputs NaN, as exact).
    return {range / 255.0f, range > 0.0f ? 255.0f / range : 0.0f};
}

uint8_t int8_round_to_byte(float v, float lo, float inv) {
    const float scaled = (v - lo) * inv;
    // In the AVX2 order: max(scaled, 0) (0 for NaN), min(·, 255), round to nearest even.
    float clamped = scaled > 0.0f ? scaled : 0.0f;
    clamped = clamped < 255.0f ? clamped : 255.0f;
    return static_cast<uint8_t>(std::nearbyint(clamped));
}

void int8_convert_float_row_portable(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                                     float* scale, float* min) {
    for (int64_t b = 0; b < n_cols / kInt8Block; ++b) {
        float v[kInt8Block];
        for (int i = 0; i < kInt8Block; ++i) {
            v[i] = load_value(type, row, kInt8Block * b + i);
        }
        float lo = v[0];
        float hi = v[0];
        for (int i = 1; i < kInt8Block; ++i) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        const Int8BlockRange r = int8_block_range(lo, hi);
        for (int i = 0; i < kInt8Block; ++i) {
            q[kInt8Block * b + i] = int8_round_to_byte(v[i], lo, r.inv);
        }
        scale[b] = r.scale;
        min[b] = -lo;
    }
}

void int8_convert_float_row(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                            float* scale, float* min) {
    // The level HEARTH_CPU_FEATURES allows, not the one a test may force: both give the same bits.
    static const bool avx2 = max_kernel_level() == KernelLevel::avx2;
    if (avx2) {
        int8_convert_float_row_avx2(type, row, n_cols, q, scale, min);
    } else {
        int8_convert_float_row_portable(type, row, n_cols, q, scale, min);
    }
}

} // namespace hearth::cpu
