// The gated feed-forward's GELU, shared by the CPU forward (cpu/forward.cpp's
// gated_activation, gemma4's per-layer embedding gate) and the CUDA kernels (kernels/glu.cu's
// GeGLU, kernels/moe.cu's GeGLU experts): one definition for both compilers, so that the two
// devices round alike. Only <math.h> functions that exist on the host and the device, and the
// F16 conversions of quant/block_layout.h.
#pragma once

#include "quant/block_layout.h"

#include <math.h>

namespace hearth::activation_math {

// GELU with the tanh approximation, as ggml's CPU backend computes it (GGML_GELU_FP16): the
// input rounded to F16, the result rounded to F16 (ggml looks it up in a table of F16 values),
// identity and zero beyond ±10. Without the roundings, gemma3's logits drift from llama.cpp's by
// ~1e-2.
HEARTH_HOST_DEVICE inline float gelu_tanh(float x) {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoef = 0.044715f;
    if (x <= -10.0f) {
        return 0.0f;
    }
    if (x >= 10.0f) {
        return x;
    }
    const float h = quant::fp16_bits_to_fp32(quant::fp32_to_fp16_bits(x));
    return quant::fp16_bits_to_fp32(quant::fp32_to_fp16_bits(
        0.5f * h * (1.0f + tanhf(kSqrt2OverPi * h * (1.0f + kCoef * h * h)))));
}

} // namespace hearth::activation_math
