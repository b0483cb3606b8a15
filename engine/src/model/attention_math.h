// Per-value attention math the CPU forward and the CUDA kernels share (issue 17's dense
// architectures): gemma2's soft-capping and mistral3's attention temperature. Written once for
// both compilers (g++ C++23 and nvcc C++20): only <math.h> functions that exist on the host and
// the device, so the CPU keeps its exact results and the GPU follows the same formula.
#pragma once

#include <cstdint>
#include <math.h>

#if defined(__CUDACC__)
#define HEARTH_MATH_HOST_DEVICE __host__ __device__
#else
#define HEARTH_MATH_HOST_DEVICE
#endif

namespace hearth::attention_math {

// cap · tanh(x / cap), as llama.cpp's graph computes it (ggml_scale by 1/cap, ggml_tanh,
// ggml_scale by cap, each in float); inv_cap = 1.0f / cap, computed once by the caller.
HEARTH_MATH_HOST_DEVICE inline float soft_cap(float x, float cap, float inv_cap) {
    return tanhf(x * inv_cap) * cap;
}

// mistral3's (Llama 4's) attention temperature: the query's factor at position `pos`,
// 1 + scale · log(floor(pos / floor_scale) + 1), as llama.cpp computes it: the quotient in
// float, the rest in double. floor_scale: the original context (rope.scaling.original_context
// or the training context).
HEARTH_MATH_HOST_DEVICE inline float attention_temperature(uint32_t pos, float floor_scale,
                                                           double scale) {
    const double steps = floorf(static_cast<float>(pos) / floor_scale);
    return static_cast<float>(log(steps + 1.0) * scale + 1.0);
}

} // namespace hearth::attention_math
