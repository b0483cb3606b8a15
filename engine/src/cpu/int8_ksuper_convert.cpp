// Conversion of Q4_K, Q5_K and Q6_K rows to the int8 path's super-block layout (int8_ksuper.h):
// the file's q, its integer sub-block scales and mins and its d and dmin, unchanged, so the
// conversion is exact.
#include "cpu/int8_ksuper.h"
#include "cpu/int8_unpack_k.h"
#include "hearth/quant.h"
#include "quant/k4_scales.h"

#include <cassert>
#include <cstring>

namespace hearth::cpu {
namespace {

using namespace quant;

// One row in integer form: q[n_cols]; per 16 values an integer scale and min; per 256 values
// d and dmin.
struct KSuperRow {
    uint8_t* q;
    int16_t* scale;
    int16_t* min;
    float* d;
    float* dmin;
};

template <typename Block, bool kFiveBit>
void convert_k4(const uint8_t* row, int64_t n_super, const KSuperRow& out) {
    const auto* blocks = reinterpret_cast<const Block*>(row);
    for (int64_t b = 0; b < n_super; ++b) {
        const Block& blk = blocks[b];
        int8_unpack_k4<Block, kFiveBit>(blk, out.q + b * kKSuper);
        for (int j = 0; j < 8; ++j) {
            int sc = 0;
            int mn = 0;
            k4_scale_min(blk.scales, j, sc, mn);
            for (int h = 0; h < 2; ++h) {
                out.scale[b * kKSubBlocks + 2 * j + h] = static_cast<int16_t>(sc);
                out.min[b * kKSubBlocks + 2 * j + h] = static_cast<int16_t>(mn);
            }
        }
        out.d[b] = fp16_to_fp32(blk.d);
        out.dmin[b] = fp16_to_fp32(blk.dmin);
    }
}

// d · sc · (q − 32) = d · sc · q − (32 d) · sc: min = sc, dmin = 32 d.
void convert_q6_k(const uint8_t* row, int64_t n_super, const KSuperRow& out) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(row);
    for (int64_t b = 0; b < n_super; ++b) {
        const BlockQ6_K& blk = blocks[b];
        int8_unpack_q6_k(blk, out.q + b * kKSuper);
        for (int s = 0; s < kKSubBlocks; ++s) {
            out.scale[b * kKSubBlocks + s] = blk.scales[s];
            out.min[b * kKSubBlocks + s] = blk.scales[s];
        }
        out.d[b] = fp16_to_fp32(blk.d);
        out.dmin[b] = 32.0f * out.d[b];
    }
}

using KSuperConvertFn = void (*)(const uint8_t* row, int64_t n_super, const KSuperRow& out);

KSuperConvertFn converter(TensorType type) {
    switch (type) {
    case TensorType::Q4_K:
        return &convert_k4<BlockQ4_K, false>;
    case TensorType::Q5_K:
        return &convert_k4<BlockQ5_K, true>;
    case TensorType::Q6_K:
        return &convert_q6_k;
    default:
        return nullptr;
    }
}

} // namespace

bool int8_ksuper_supported(TensorType type) {
    return converter(type) != nullptr;
}

int int8_ksuper_max_q(TensorType type) {
    return type == TensorType::Q6_K ? 63 : 31;
}

void int8_ksuper_convert_group(const WeightMatrix& w, int64_t row0, BlockKSuper8* out) {
    const KSuperConvertFn convert = converter(w.type);
    assert(convert != nullptr);
    const int64_t n_cols = w.n_cols;
    const int64_t n_super = n_cols / kKSuper;
    const int64_t n_sub = n_super * kKSubBlocks;
    // The 8 rows in integer form, then interleaved super-block by super-block (as
    // int8_convert_group does). Per calling thread so steady-state calls do not allocate.
    thread_local std::vector<uint8_t> q;
    thread_local std::vector<int16_t> sub;   // row r: scales at 2 r n_sub, mins after them
    thread_local std::vector<float> factors; // row r: d at 2 r n_super, dmin after them
    q.resize(static_cast<size_t>(kInt8Rows * n_cols));
    sub.resize(static_cast<size_t>(2 * kInt8Rows * n_sub));
    factors.resize(static_cast<size_t>(2 * kInt8Rows * n_super));
    const auto* rows = static_cast<const uint8_t*>(w.data);
    for (int r = 0; r < kInt8Rows; ++r) {
        const KSuperRow row{q.data() + r * n_cols, sub.data() + 2 * r * n_sub,
                            sub.data() + (2 * r + 1) * n_sub, factors.data() + 2 * r * n_super,
                            factors.data() + (2 * r + 1) * n_super};
        if (row0 + r >= w.n_rows) {
            // Padding rows: zero q, scales, mins and factors, so they add nothing.
            std::memset(row.q, 0, static_cast<size_t>(n_cols));
            std::memset(row.scale, 0, static_cast<size_t>(2 * n_sub) * sizeof(int16_t));
            std::memset(row.d, 0, static_cast<size_t>(2 * n_super) * sizeof(float));
            continue;
        }
        convert(rows + static_cast<size_t>(row0 + r) * w.row_bytes, n_super, row);
    }
    for (int64_t b = 0; b < n_super; ++b) {
        BlockKSuper8& blk = out[b];
        for (int r = 0; r < kInt8Rows; ++r) {
            const int16_t* scale = sub.data() + 2 * r * n_sub + b * kKSubBlocks;
            const int16_t* min = scale + n_sub;
            blk.d[r] = factors[static_cast<size_t>(2 * r * n_super + b)];
            blk.dmin[r] = factors[static_cast<size_t>((2 * r + 1) * n_super + b)];
            for (int s = 0; s < kKSubBlocks; ++s) {
                blk.scale[s][r][0] = scale[s];
                blk.scale[s][r][1] = scale[s];
                blk.neg_min[s / 2][r][s % 2] = static_cast<int16_t>(-min[s]);
            }
        }
        for (int j = 0; j < kKSuper / 4; ++j) {
            for (int r = 0; r < kInt8Rows; ++r) {
                std::memcpy(blk.qs + 32 * j + 4 * r, q.data() + r * n_cols + kKSuper * b + 4 * j,
                            4);
            }
        }
    }
}

} // namespace hearth::cpu
