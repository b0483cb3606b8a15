// Conversion of weight rows to the 8-row int8 layout of int8_gemm.h. Every quantized type's
// value is scale * q - min with an unsigned q of at most 6 bits (Q8_0: 8; the grid i-quants,
// int8_convert_grid.cpp: 7) and a scale and min that are exact float products of the file's
// fields, so the conversion loses nothing. Float weights (F16, BF16, F32) are rounded to 8 bits
// (int8_convert_float.cpp).
#include "cpu/int8_convert_float.h"
#include "cpu/int8_convert_row.h"
#include "cpu/int8_gemm.h"
#include "cpu/int8_unpack_k.h"
#include "hearth/quant.h"
#include "quant/blocks.h"
#include "quant/k4_scales.h"

#include <cassert>
#include <cstring>
#include <vector>

namespace hearth::cpu {
namespace {

using namespace quant;

// Q4_0 / Q4_1 nibbles: value i of a block is the low nibble of qs[i], value i + 16 the high.
void nibbles(const uint8_t* qs, uint8_t* q) {
    for (int i = 0; i < 16; ++i) {
        q[i] = qs[i] & 0x0f;
        q[i + 16] = qs[i] >> 4;
    }
}

// Q5_0 / Q5_1: as nibbles, plus bit i of the little-endian qh as bit 4 of value i.
void nibbles_5(const uint8_t* qs, const uint8_t* qh, uint8_t* q) {
    nibbles(qs, q);
    for (int i = 0; i < 32; ++i) {
        q[i] = static_cast<uint8_t>(q[i] | (((qh[i / 8] >> (i % 8)) & 1) << 4));
    }
}

// Q4_K / Q5_K: the q of int8_unpack_k4, one scale and min per 32.
template <typename Block, bool kFiveBit>
void convert_k4(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const Block*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const Block& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        const float dmin = fp16_to_fp32(blk.dmin);
        int8_unpack_k4<Block, kFiveBit>(blk, out.q + b * QK_K);
        for (int j = 0; j < 8; ++j) {
            int sc = 0;
            int mn = 0;
            k4_scale_min(blk.scales, j, sc, mn);
            int8_set_halves(out, b * 8 + j, d * static_cast<float>(sc),
                            dmin * static_cast<float>(mn));
        }
    }
}

// Q6_K: q - 32 with q 6-bit, a signed 8-bit scale per 16 values; the -32 becomes the min.
void convert_q6_k(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(row);
    for (int64_t b = 0; b < n_cols / QK_K; ++b) {
        const BlockQ6_K& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        int8_unpack_q6_k(blk, out.q + b * QK_K);
        for (int s = 0; s < 16; ++s) {
            const float scale = d * static_cast<float>(blk.scales[s]);
            out.sc[b * 16 + s] = scale;
            out.mn[b * 16 + s] = 32.0f * scale;
        }
    }
}

template <typename Block, bool kFiveBit, bool kHasMin>
void convert_32(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const Block*>(row);
    for (int64_t b = 0; b < n_cols / 32; ++b) {
        const Block& blk = blocks[b];
        const float d = fp16_to_fp32(blk.d);
        if constexpr (kFiveBit) {
            nibbles_5(blk.qs, blk.qh, out.q + b * 32);
        } else {
            nibbles(blk.qs, out.q + b * 32);
        }
        if constexpr (kHasMin) {
            int8_set_halves(out, b, d, -fp16_to_fp32(blk.m));
        } else {
            int8_set_halves(out, b, d, (kFiveBit ? 16.0f : 8.0f) * d);
        }
    }
}

// Q8_0: q + 128 (1..255 for ggml's -127..127, 0 for a file's -128), min 128 d.
void convert_q8_0(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
    for (int64_t b = 0; b < n_cols / 32; ++b) {
        const float d = fp16_to_fp32(blocks[b].d);
        for (int i = 0; i < 32; ++i) {
            out.q[32 * b + i] = static_cast<uint8_t>(blocks[b].qs[i] + 128);
        }
        int8_set_halves(out, b, d, 128.0f * d);
    }
}

// F16, BF16, F32: 8 bits per value with a scale and min per 32 values, written to the first
// n_cols / 32 entries of sc and mn and then spread to both halves (from the end, in place).
template <TensorType kType>
void convert_float(const uint8_t* row, int64_t n_cols, const Int8Row& out) {
    int8_convert_float_row_portable(kType, row, n_cols, out.q, out.sc, out.mn);
    for (int64_t b = n_cols / 32 - 1; b >= 0; --b) {
        int8_set_halves(out, b, out.sc[b], out.mn[b]);
    }
}

Int8RowConvertFn converter(TensorType type) {
    switch (type) {
    case TensorType::Q4_0:
        return &convert_32<BlockQ4_0, false, false>;
    case TensorType::Q4_1:
        return &convert_32<BlockQ4_1, false, true>;
    case TensorType::Q5_0:
        return &convert_32<BlockQ5_0, true, false>;
    case TensorType::Q5_1:
        return &convert_32<BlockQ5_1, true, true>;
    case TensorType::Q4_K:
        return &convert_k4<BlockQ4_K, false>;
    case TensorType::Q5_K:
        return &convert_k4<BlockQ5_K, true>;
    case TensorType::Q6_K:
        return &convert_q6_k;
    case TensorType::Q8_0:
        return &convert_q8_0;
    case TensorType::F16:
        return &convert_float<TensorType::F16>;
    case TensorType::BF16:
        return &convert_float<TensorType::BF16>;
    case TensorType::F32:
        return &convert_float<TensorType::F32>;
    default:
        return int8_grid_converter(type);
    }
}

} // namespace

bool int8_gemm_supported(TensorType type) {
    return converter(type) != nullptr;
}

Int8Format int8_gemm_format(TensorType type) {
    switch (type) {
    case TensorType::Q6_K:
    case TensorType::IQ1_M:
        return Int8Format::nibbles16;
    case TensorType::IQ2_XXS: // grid value + 43 ≤ 86
    case TensorType::IQ3_XXS: // grid value + 62 ≤ 124
        return Int8Format::wide;
    case TensorType::IQ2_XS:
    case TensorType::IQ2_S:
        return Int8Format::wide16;
    case TensorType::Q8_0:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::F32:
        return Int8Format::bytes;
    default:
        return Int8Format::nibbles;
    }
}

bool int8_gemm_full_bytes(TensorType type) {
    return int8_gemm_format(type) == Int8Format::bytes;
}

int int8_format_segments(Int8Format format) {
    return format == Int8Format::nibbles16 || format == Int8Format::wide16 ? 2 : 1;
}

void int8_convert_group(const WeightMatrix& w, int64_t row0, BlockInt8x8* out) {
    if (int8_convert_float_group(w, row0, out)) {
        return; // the float types' 8-row AVX2 version
    }
    const Int8RowConvertFn convert = converter(w.type);
    assert(convert != nullptr);
    const int64_t n_cols = w.n_cols;
    const int64_t n_blocks = n_cols / kInt8Block;
    // The 8 rows' integers (row r at r * n_cols; scales and mins at r * n_cols / 8), converted
    // first and then interleaved block by block, so the group is written in order rather than
    // scattered 4 bytes at a time. Per calling thread so steady-state calls do not allocate.
    thread_local std::vector<uint8_t> q;
    thread_local std::vector<float> scales;
    q.resize(static_cast<size_t>(kInt8Rows * n_cols));
    scales.resize(static_cast<size_t>(kInt8Rows * n_cols / 8));
    const auto* rows = static_cast<const uint8_t*>(w.data);
    for (int r = 0; r < kInt8Rows; ++r) {
        uint8_t* q_row = q.data() + r * n_cols;
        float* sc_row = scales.data() + r * n_cols / 8;
        if (row0 + r >= w.n_rows) {
            // Padding rows: zero quants, scales and mins, so they add nothing.
            std::memset(q_row, 0, static_cast<size_t>(n_cols));
            std::memset(sc_row, 0, static_cast<size_t>(n_cols / 8) * sizeof(float));
            continue;
        }
        convert(rows + static_cast<size_t>(row0 + r) * w.row_bytes, n_cols,
                Int8Row{q_row, sc_row, sc_row + n_cols / 16});
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
        BlockInt8x8& blk = out[b];
        for (int h = 0; h < 2; ++h) {
            for (int r = 0; r < kInt8Rows; ++r) {
                const float* sc_row = scales.data() + r * n_cols / 8;
                blk.scale[h][r] = sc_row[2 * b + h];
                blk.min[h][r] = sc_row[n_cols / 16 + 2 * b + h];
            }
        }
        for (int j = 0; j < 8; ++j) {
            for (int r = 0; r < kInt8Rows; ++r) {
                std::memcpy(blk.qs + 32 * j + 4 * r, q.data() + r * n_cols + 32 * b + 4 * j, 4);
            }
        }
    }
}

} // namespace hearth::cpu
