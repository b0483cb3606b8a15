// The int8 prefill layout's conversion of float weights (F16, BF16, F32): the definition
// (int8_gemm.h, int8_convert_float_row_portable) and int8_convert_float_group, which runs the
// AVX2 group version where the CPU has it (int8_convert_group calls it first). Unlike the quantized
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

#include <algorithm>
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

struct Int8BlockRange {
    float scale; // (hi - lo) / 255, 0 where hi - lo is not > 0 (or NaN)
    float inv;   // 255 / (hi - lo), 0 where hi - lo is not > 0 (or NaN)
};

Int8BlockRange int8_block_range(float lo, float hi) {
    const float range = hi - lo;
    // range > 0 is false for NaN too (a block whose values are all +inf): its q are all 0.
    // A zero range gives +0 whatever the signs of the zeros the block holds, so the order in
    // which a version takes the min and max of equal zeros does not show in its bits.
    if (!(range > 0.0f)) {
        return {0.0f, 0.0f};
    }
    return {range / 255.0f, 255.0f / range};
}

// q of one value: nearbyint((v - lo) * inv) clamped to [0, 255] (0 for NaN).
uint8_t int8_round_to_byte(float v, float lo, float inv) {
    const float scaled = (v - lo) * inv;
    // In the AVX2 order: max(scaled, 0) (0 for NaN), min(·, 255), round to nearest even.
    float clamped = scaled > 0.0f ? scaled : 0.0f;
    clamped = clamped < 255.0f ? clamped : 255.0f;
    return static_cast<uint8_t>(std::nearbyint(clamped));
}

} // namespace

void int8_convert_float_row_portable(TensorType type, const void* row, int64_t n_cols, uint8_t* q,
                                     float* scale, float* min) {
    for (int64_t b = 0; b < n_cols / kInt8Block; ++b) {
        float v[kInt8Block];
        for (int i = 0; i < kInt8Block; ++i) {
            v[i] = load_value(type, row, kInt8Block * b + i);
        }
        // NaNs are never taken (every comparison with them is false).
        float lo = __builtin_inff();
        float hi = -__builtin_inff();
        for (int i = 0; i < kInt8Block; ++i) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        const Int8BlockRange r = int8_block_range(lo, hi);
        for (int i = 0; i < kInt8Block; ++i) {
            q[kInt8Block * b + i] = int8_round_to_byte(v[i], lo, r.inv);
        }
        scale[b] = r.scale;
        min[b] = 0.0f - lo; // +0 for either zero, as the AVX2 version's vsubps
    }
}

bool int8_convert_float_group(const WeightMatrix& w, int64_t row0, BlockInt8x8* out) {
    if (w.type != TensorType::F16 && w.type != TensorType::BF16 && w.type != TensorType::F32) {
        return false;
    }
    // The level HEARTH_CPU_FEATURES allows, not the one a test may force: both give the same bits.
    static const bool avx2 = max_kernel_level() == KernelLevel::avx2;
    if (!avx2) {
        return false;
    }
    const auto* rows =
        static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row0) * w.row_bytes;
    const auto n_rows = static_cast<int>(std::min<int64_t>(kInt8Rows, w.n_rows - row0));
    int8_convert_float_group_avx2(w.type, rows, w.row_bytes, w.n_cols, n_rows, out);
    return true;
}

} // namespace hearth::cpu
