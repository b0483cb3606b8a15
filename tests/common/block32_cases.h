// The 32-value block formats the register tiles take (cpu/gemm_block32.h), with their f16
// fields for random_weight_rows: the cases of tst_matmul_block32 and tst_matmul_block32_avx512.
#pragma once

#include "quant/blocks.h"
#include "random_weights.h"

#include <cstddef>

namespace hearth::test {

inline const WeightTypeCase kBlock32Cases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1},
    {TensorType::Q4_1, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m)},
    {TensorType::Q5_0, offsetof(quant::BlockQ5_0, d), -1},
    {TensorType::Q5_1, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m)},
    {TensorType::Q8_0, offsetof(quant::BlockQ8_0, d), -1},
    {TensorType::IQ4_NL, offsetof(quant::BlockIQ4_NL, d), -1},
};

} // namespace hearth::test
