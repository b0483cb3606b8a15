// Rotary position embedding, normal (GPT-J / llama) and NeoX layouts, with linear and YaRN
// frequency scaling and optional per-frequency divisors, as the CPU forward computes it.
//
// Math, for rotation pair i in [0, n_rot / 2) at position p:
//   theta_i = p * theta_scale^i      by i successive float32 multiplications, as ggml's rope
//                                    cache does (so the rounding matches the CPU's);
//   t_e = theta_i / factor_i (0 for a pair flagged at_position_zero);  t_i = freq_scale * t_e
//   YaRN (ext_factor != 0): r = ramp(i) * ext_factor, angle = t_i (1 - r) + t_e r,
//        mscale = attn_factor * (1 + 0.1 ln(1 / freq_scale)); else angle = t_i, mscale =
//        attn_factor
//   c = cos(angle) * mscale, s = sin(angle) * mscale
//   (x_a, x_b) <- (fma(x_a, c, -(x_b s)), fma(x_a, s, x_b c))
// with (a, b) = (2i, 2i + 1) normal, (i, i + n_rot / 2) NeoX; dimensions >= n_rot untouched.
// The rotation is contracted as the CPU's avx2 level contracts it (the FMAs above).
// cosf / sinf are the accurate versions (within 2 ulps, full range reduction).
//
// One CTA per token row; threads loop over (head, pair).
#include "common.cuh"
#include "rope.cuh"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 128;

__device__ __forceinline__ float yarn_ramp(float low, float high, int pair) {
    const float y = __fdiv_rn(__fsub_rn(static_cast<float>(pair), low), fmaxf(0.001f, high - low));
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

__global__ void __launch_bounds__(kThreads)
    rope_kernel(float* x, int n_heads, int head_dim, int64_t row_stride,
                const int32_t* __restrict__ positions, RopeConfig c) {
    const int half = c.n_rot / 2;
    const float pos = static_cast<float>(positions[blockIdx.x]);
    float* row = x + static_cast<int64_t>(blockIdx.x) * row_stride;
    for (int item = static_cast<int>(threadIdx.x); item < n_heads * half; item += kThreads) {
        const int h = item / half;
        const int i = item % half;
        float theta = pos;
        for (int k = 0; k < i; ++k) {
            theta = __fmul_rn(theta, c.theta_scale);
        }
        const float factor = c.freq_factors != nullptr ? c.freq_factors[i] : 1.0f;
        const bool at_zero = c.at_position_zero != nullptr && c.at_position_zero[i] != 0;
        const float theta_extrap = __fdiv_rn(at_zero ? 0.0f : theta, factor);
        const float theta_interp = __fmul_rn(c.freq_scale, theta_extrap);
        float angle = theta_interp;
        float mscale = c.attn_factor;
        if (c.ext_factor != 0.0f) {
            const float ramp_mix = __fmul_rn(yarn_ramp(c.corr_low, c.corr_high, i), c.ext_factor);
            angle = __fadd_rn(__fmul_rn(theta_interp, __fsub_rn(1.0f, ramp_mix)),
                              __fmul_rn(theta_extrap, ramp_mix));
            mscale = __fmul_rn(
                mscale, __fadd_rn(1.0f, __fmul_rn(0.1f, logf(__fdiv_rn(1.0f, c.freq_scale)))));
        }
        const float cos_t = __fmul_rn(cosf(angle), mscale);
        const float sin_t = __fmul_rn(sinf(angle), mscale);
        float* v = row + static_cast<int64_t>(h) * head_dim;
        const int a = c.neox ? i : 2 * i;
        const int b = c.neox ? i + half : 2 * i + 1;
        const float x0 = v[a];
        const float x1 = v[b];
        v[a] = fmaf(x0, cos_t, -__fmul_rn(x1, sin_t));
        v[b] = fmaf(x0, sin_t, __fmul_rn(x1, cos_t));
    }
}

} // namespace

cudaError_t launch_rope(float* x, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
                        const int32_t* positions, const RopeConfig& config, cudaStream_t stream) {
    if (n_tokens < 0 || n_heads <= 0 || head_dim <= 0 || config.n_rot <= 0 ||
        config.n_rot % 2 != 0 || config.n_rot > head_dim ||
        row_stride < static_cast<int64_t>(n_heads) * head_dim || x == nullptr ||
        positions == nullptr || n_tokens > 2147483647) {
        return cudaErrorInvalidValue;
    }
    if (n_tokens == 0) {
        return cudaSuccess;
    }
    rope_kernel<<<static_cast<unsigned>(n_tokens), kThreads, 0, stream>>>(
        x, n_heads, head_dim, row_stride, positions, config);
    return cudaGetLastError();
}

} // namespace hearth::kernels
