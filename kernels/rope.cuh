// Launch interface of the rotary position embedding (kernels/rope.cu).
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// The rotation of one layer, as the CPU forward's RopeParams (engine/src/cpu/forward.cpp).
struct RopeConfig {
    int n_rot = 0;            // rotated dimensions of each head (even, <= head_dim)
    float theta_scale = 1.0f; // freq_base^(-2 / n_rot), computed on the host with std::pow
    float freq_scale = 1.0f;  // 1 / linear or YaRN factor
    float ext_factor = 0.0f;  // YaRN: 1, else 0
    float attn_factor = 1.0f;
    float corr_low = 0.0f; // YaRN ramp, in rotation pairs
    float corr_high = 0.0f;
    bool neox = false;                   // pairs (i, i + n_rot/2) instead of (2i, 2i + 1)
    const float* freq_factors = nullptr; // device, n_rot / 2 divisors of theta, or null
    // device, n_rot / 2 flags, or null: the pairs rotated as at position 0 (qwen35's
    // multi-section RoPE, whose other sections have position 0 for text), as the CPU's
    // RopeParams::at_position_zero
    const uint8_t* at_position_zero = nullptr;
};

// Rotates, in place, n_heads heads of head_dim floats of each of n_tokens rows (row t at
// x + t * row_stride, head h at + h * head_dim) by the angles of position positions[t]
// (device memory, so that a captured graph reads each replay's positions).
// cudaErrorInvalidValue for odd or out-of-range n_rot, non-positive sizes, null pointers.
cudaError_t launch_rope(float* x, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
                        const int32_t* positions, const RopeConfig& config, cudaStream_t stream);

} // namespace hearth::kernels
