// The per-value math of qwen35's gated delta-net and attention output gate that the CPU forward
// (cpu/delta_net.cpp, cpu/gated_attention.cpp) and the CUDA kernels (kernels/delta_net.cu)
// share: one definition, compiled by g++ for the host and by nvcc for both.
#pragma once

#include <math.h> // expf / logf: the same functions on the host as std::exp(float), and on the device

#if defined(__CUDACC__)
#define HEARTH_DELTA_NET_FN __host__ __device__ inline
#else
#define HEARTH_DELTA_NET_FN inline
#endif

namespace hearth::delta_net {

// ggml_vec_sigmoid_f32: the write strength beta and the attention output gate.
HEARTH_DELTA_NET_FN float sigmoid(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// ggml's op_softplus (linear above 20).
HEARTH_DELTA_NET_FN float softplus(float x) {
    return x > 20.0f ? x : logf(1.0f + expf(x));
}

// The log of a value head's decay: g = a · softplus(alpha + dt_bias), the state scaled by exp(g).
HEARTH_DELTA_NET_FN float log_decay(float alpha, float dt_bias, float a) {
    return softplus(alpha + dt_bias) * a;
}

// SiLU in its plain form (the CPU's portable level; its avx2 level uses ggml's own exp).
HEARTH_DELTA_NET_FN float silu(float x) {
    return x / (1.0f + expf(-x));
}

} // namespace hearth::delta_net
