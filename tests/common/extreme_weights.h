// Extreme weight rows for the single-token kernel tests (tst_gemv_avx2_quants,
// tst_gemv_packed_avx2): the largest integer sums and scales a kernel must carry exactly.
#pragma once

#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "random_weights.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace hearth::test {

// n_rows random rows of c.type (random_weight_rows), then every quant byte 0xff in the odd rows
// (nibbles 15, fifth bits set, K-quants' packed 6-bit scales and mins at 63) and, in every row,
// f16 scales d of 3000 or -0.5 and mins m of 2000 or -7.
inline std::vector<uint8_t> extreme_weight_rows(const WeightTypeCase& c, int64_t n_rows,
                                                int64_t n_cols, std::mt19937& rng) {
    std::vector<uint8_t> bytes = random_weight_rows(c, n_rows, n_cols, rng);
    const auto traits = tensor_type_traits(c.type);
    const size_t block_bytes = traits.type_size;
    const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_size) * block_bytes;
    const auto put = [&bytes](size_t at, float value) {
        const uint16_t h = fp32_to_fp16(value);
        std::memcpy(bytes.data() + at, &h, sizeof(h));
    };
    for (int64_t r = 0; r < n_rows; ++r) {
        for (size_t at = 0; at < row_bytes; at += block_bytes) {
            const size_t block = static_cast<size_t>(r) * row_bytes + at;
            if (r % 2) {
                std::memset(bytes.data() + block, 0xff, block_bytes);
            }
            put(block + static_cast<size_t>(c.d_offset), r % 4 < 2 ? 3000.0f : -0.5f);
            if (c.m_offset >= 0) {
                put(block + static_cast<size_t>(c.m_offset), r % 3 ? 2000.0f : -7.0f);
            }
        }
    }
    return bytes;
}

} // namespace hearth::test
