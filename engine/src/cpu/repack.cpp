// Interleaving of weight rows at load (see repack.h): which types have a packed layout, its
// size, and the byte shuffle itself. The kernels over packed groups are in repack_avx2.cpp.
#include "cpu/repack.h"

#include "cpu/cpu_features.h"
#include "cpu/repack_layout.h"
#include "quant/blocks.h"
#include "quant/k4_scales.h"

#include <cassert>
#include <cstring>

namespace hearth::cpu {

namespace {

void repack_q4_k(const WeightMatrix& w, BlockQ4_Kx8* packed) {
    const int64_t n_blocks = w.n_cols / quant::QK_K;
    const auto* rows = static_cast<const uint8_t*>(w.data);
    for (int64_t g = 0; g < w.n_rows / kPackRows; ++g) {
        for (int64_t b = 0; b < n_blocks; ++b) {
            BlockQ4_Kx8& dst = packed[g * n_blocks + b];
            for (int r = 0; r < kPackRows; ++r) {
                const auto& src = reinterpret_cast<const quant::BlockQ4_K*>(
                    rows + static_cast<size_t>(g * kPackRows + r) * w.row_bytes)[b];
                dst.d[r] = src.d;
                dst.dmin[r] = src.dmin;
                for (int j = 0; j < 8; ++j) {
                    int sc = 0;
                    int mn = 0;
                    quant::k4_scale_min(src.scales, j, sc, mn);
                    dst.sc[j][r] = static_cast<uint8_t>(sc);
                    dst.mn[j][r] = static_cast<uint8_t>(mn);
                }
                for (int q = 0; q < 32; ++q) {
                    std::memcpy(dst.qs + 32 * q + 4 * r, src.qs + 4 * q, 4);
                }
            }
        }
    }
}

} // namespace

bool repack_supported(TensorType type) {
    return (type == TensorType::Q4_0 || type == TensorType::Q4_K) &&
           kernel_level() == KernelLevel::avx2;
}

size_t repacked_bytes(TensorType type, int64_t n_rows, int64_t n_cols) {
    const auto groups = static_cast<size_t>(n_rows / kPackRows);
    switch (type) {
    case TensorType::Q4_0:
        return groups * static_cast<size_t>(n_cols / quant::QK4_0) * sizeof(BlockQ4_0x8);
    case TensorType::Q4_K:
        return groups * static_cast<size_t>(n_cols / quant::QK_K) * sizeof(BlockQ4_Kx8);
    default:
        return 0;
    }
}

void repack_rows(const WeightMatrix& w, void* out) {
    if (w.type == TensorType::Q4_K) {
        repack_q4_k(w, static_cast<BlockQ4_Kx8*>(out));
        return;
    }
    assert(w.type == TensorType::Q4_0);
    const int64_t n_blocks = w.n_cols / quant::QK4_0;
    const auto* rows = static_cast<const uint8_t*>(w.data);
    auto* packed = static_cast<BlockQ4_0x8*>(out);
    for (int64_t g = 0; g < w.n_rows / kPackRows; ++g) {
        const quant::BlockQ4_0* src[kPackRows];
        for (int64_t r = 0; r < kPackRows; ++r) {
            src[r] = reinterpret_cast<const quant::BlockQ4_0*>(
                rows + static_cast<size_t>(g * kPackRows + r) * w.row_bytes);
        }
        for (int64_t b = 0; b < n_blocks; ++b) {
            BlockQ4_0x8& dst = packed[g * n_blocks + b];
            for (int r = 0; r < kPackRows; ++r) {
                dst.d[r] = src[r][b].d;
                // Quad j of row r: quants 4j..4j+3 (low nibbles) and 16+4j.. (high nibbles).
                for (int j = 0; j < 4; ++j) {
                    std::memcpy(dst.qs + 32 * j + 4 * r, src[r][b].qs + 4 * j, 4);
                }
            }
        }
    }
}

} // namespace hearth::cpu
