// Random weight rows for the kernel tests (tst_matmul_avx512, tst_int8_gemm,
// tst_matmul_batch_bits, tst_matmul_block32): every quant byte random, every nibble, bit and
// index with it, and the block's f16 scale fields set to modest finite values.
#pragma once

#include "hearth/quant.h"
#include "hearth/tensor_type.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace hearth::test {

// A weight type and the byte offsets of its block's f16 fields (d: the scale, m: the min; -1:
// none); n_cols for the tests that take one width per type.
struct WeightTypeCase {
    TensorType type;
    int d_offset, m_offset;
    int64_t n_cols = 0;
};

// How the f16 fields are drawn, per block: d of either sign and m positive, from
// U(0.002, 0.02); with edges, d zero in 8 blocks of 256 and m of either sign too.
enum class ScaleDraw { plain, edges };

// n_rows rows of n_cols values of c.type. F16 rows get finite normal values (spread 0.05)
// rather than random bit patterns; IQ1_M (no f16 field, d_offset -1) gets its d spread over
// its scale words, drawn as ScaleDraw::plain draws d.
inline std::vector<uint8_t> random_weight_rows(const WeightTypeCase& c, int64_t n_rows,
                                               int64_t n_cols, std::mt19937& rng,
                                               ScaleDraw draw = ScaleDraw::plain) {
    const auto traits = tensor_type_traits(c.type);
    const auto n_blocks = static_cast<size_t>(n_rows * n_cols / traits.block_size);
    std::vector<uint8_t> bytes(n_blocks * traits.type_size);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(0.002f, 0.02f);
    for (uint8_t& v : bytes) {
        v = static_cast<uint8_t>(byte(rng));
    }
    const auto put = [&bytes](size_t at, float value) {
        const uint16_t h = fp32_to_fp16(value);
        std::memcpy(bytes.data() + at, &h, sizeof(h));
    };
    if (c.type == TensorType::F16) {
        std::normal_distribution<float> value(0.0f, 0.05f);
        for (size_t i = 0; i < n_blocks; ++i) {
            put(2 * i, value(rng));
        }
        return bytes;
    }
    if (c.type == TensorType::IQ1_M) {
        // No f16 field: d is the top nibble of each of the four little-endian words of the
        // block's last 8 bytes (its scales).
        for (size_t b = 0; b < n_blocks; ++b) {
            const float sign = byte(rng) & 1 ? -1.0f : 1.0f;
            const uint16_t d = fp32_to_fp16(sign * scale(rng));
            uint8_t* scales = bytes.data() + (b + 1) * traits.type_size - 8;
            for (int i = 0; i < 4; ++i) {
                scales[2 * i + 1] = static_cast<uint8_t>((scales[2 * i + 1] & 0x0f) |
                                                         (((d >> (4 * i)) & 0x0f) << 4));
            }
        }
        return bytes;
    }
    for (size_t b = 0; b < n_blocks; ++b) {
        const size_t d_at = b * traits.type_size + static_cast<size_t>(c.d_offset);
        const size_t m_at = b * traits.type_size + static_cast<size_t>(c.m_offset);
        if (draw == ScaleDraw::edges) {
            const int pick = byte(rng);
            put(d_at, pick < 8 ? 0.0f : (pick & 1 ? -1.0f : 1.0f) * scale(rng));
            if (c.m_offset >= 0) {
                put(m_at, (pick & 2 ? -1.0f : 1.0f) * scale(rng));
            }
        } else {
            put(d_at, (byte(rng) & 1 ? -1.0f : 1.0f) * scale(rng));
            if (c.m_offset >= 0) {
                put(m_at, scale(rng));
            }
        }
    }
    return bytes;
}

} // namespace hearth::test
