// Random weight matrices of every GGML type the GPU kernels take, and their values as the CPU
// dequantizer decodes them: the inputs of the matrix kernel tests (tst_cuda_matvec,
// tst_cuda_prefill).
#pragma once

#include "hearth/quant.h"
#include "hearth/tensor_type.h"

#include <QtGlobal>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace cuda_test {

using hearth::TensorType;

// The byte offsets of each block's f16 scales (blocks.h): set to small finite values so that
// random quant bytes make a matrix of moderate magnitude. IQ1_M's scale has no f16 field of
// its own (set_iq1_m_scale below).
struct TypeCase {
    TensorType type;
    std::vector<int> f16_offsets;
};

inline const std::vector<TypeCase>& type_cases() {
    static const std::vector<TypeCase> cases = {
        {TensorType::F32, {}},      {TensorType::F16, {}},      {TensorType::BF16, {}},
        {TensorType::Q4_0, {0}},    {TensorType::Q4_1, {0, 2}}, {TensorType::Q5_0, {0}},
        {TensorType::Q5_1, {0, 2}}, {TensorType::Q8_0, {0}},    {TensorType::Q2_K, {80, 82}},
        {TensorType::Q3_K, {108}},  {TensorType::Q4_K, {0, 2}}, {TensorType::Q5_K, {0, 2}},
        {TensorType::Q6_K, {208}},  {TensorType::IQ4_NL, {0}},  {TensorType::IQ4_XS, {0}},
        {TensorType::TQ1_0, {52}},  {TensorType::TQ2_0, {64}},  {TensorType::MXFP4, {}},
        {TensorType::NVFP4, {}},    {TensorType::IQ2_XXS, {0}}, {TensorType::IQ2_XS, {0}},
        {TensorType::IQ2_S, {0}},   {TensorType::IQ3_XXS, {0}}, {TensorType::IQ3_S, {0}},
        {TensorType::IQ1_S, {0}},   {TensorType::IQ1_M, {}},
    };
    return cases;
}

// IQ1_M's f16 scale `bits`, written into the top nibbles of its four little-endian scale
// words (block bytes 48..55: nibble i of the f16 is the high nibble of byte 49 + 2i).
inline void set_iq1_m_scale(uint8_t* block, uint16_t bits) {
    for (int i = 0; i < 4; ++i) {
        uint8_t& byte = block[49 + 2 * i];
        byte = uint8_t((byte & 0x0f) | ((bits >> (4 * i)) & 0x0f) << 4);
    }
}

inline const TypeCase& type_case(TensorType type) {
    for (const TypeCase& c : type_cases()) {
        if (c.type == type) {
            return c;
        }
    }
    qFatal("no test case for type %d", int(type));
}

// A random n_rows x n_cols matrix of `type`, each row `pitch` bytes (>= the packed row).
inline std::vector<uint8_t> random_matrix(TensorType type, int64_t n_rows, int64_t n_cols,
                                          size_t pitch, uint64_t seed) {
    const auto traits = hearth::tensor_type_traits(type);
    const size_t packed = size_t(n_cols / traits.block_size) * traits.type_size;
    std::vector<uint8_t> bytes(size_t(n_rows) * pitch, 0);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_real_distribution<float> scale(0.002f, 0.05f);
    for (int64_t r = 0; r < n_rows; ++r) {
        uint8_t* row = bytes.data() + size_t(r) * pitch;
        if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) {
            for (int64_t c = 0; c < n_cols; ++c) {
                const float v = unit(rng);
                if (type == TensorType::F32) {
                    std::memcpy(row + 4 * c, &v, 4);
                } else {
                    uint32_t bits = 0;
                    std::memcpy(&bits, &v, 4);
                    const uint16_t h =
                        type == TensorType::F16 ? hearth::fp32_to_fp16(v) : uint16_t(bits >> 16);
                    std::memcpy(row + 2 * c, &h, 2);
                }
            }
            continue;
        }
        for (size_t i = 0; i < packed; ++i) {
            row[i] = uint8_t(rng());
        }
        for (int64_t b = 0; b < n_cols / traits.block_size; ++b) {
            uint8_t* block = row + size_t(b) * traits.type_size;
            for (const int offset : type_case(type).f16_offsets) {
                const uint16_t h = hearth::fp32_to_fp16(scale(rng));
                std::memcpy(block + offset, &h, 2);
            }
            if (type == TensorType::IQ1_M) {
                set_iq1_m_scale(block, hearth::fp32_to_fp16(scale(rng)));
            }
            if (type == TensorType::MXFP4) {
                block[0] = uint8_t(120 + rng() % 8); // e8m0 scale 2^-8 .. 2^-1
            }
        }
    }
    return bytes;
}

// Row r of the matrix as the CPU dequantizer decodes it.
inline std::vector<float> cpu_rows(TensorType type, const std::vector<uint8_t>& m, int64_t n_rows,
                                   int64_t n_cols, size_t pitch) {
    std::vector<float> out(static_cast<size_t>(n_rows * n_cols));
    for (int64_t r = 0; r < n_rows; ++r) {
        const auto ok = hearth::dequantize(type, m.data() + size_t(r) * pitch,
                                           out.data() + size_t(r * n_cols), n_cols);
        if (!ok) {
            qFatal("dequantize: %s", ok.error().message.c_str());
        }
    }
    return out;
}

} // namespace cuda_test
