// The CPU forward's attention for one head, in double: the reference of the CUDA attention
// kernels' tests (tst_cuda_attention for decode, tst_cuda_prompt_attention for prefill).
#pragma once

#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace cuda_test {

// A NaN in F16 bits: fills the cache cells a kernel must not read.
inline constexpr uint16_t kF16NaN = 0x7e00;

// With the query rounded to F16 as the CPU forward rounds it:
// out = softmax(cap(f16(q * q_scale) . K_j) * score_scale) V over cells j in [first, pos], cell
// j's keys at k_cells + j * k_width and values at v_cells + j * v_width (F16 bits).
// cap(x) = soft_cap tanh(x / soft_cap) (gemma2), or x for soft_cap 0; `sink` (gpt-oss, or null)
// joins the softmax's maximum and denominator with no value row, as the CPU forward's.
inline std::vector<double> attention_reference(const float* q, const uint16_t* k_cells,
                                               const uint16_t* v_cells, int64_t k_width,
                                               int64_t v_width, int dk, int dv, int first, int pos,
                                               float q_scale, float score_scale,
                                               double soft_cap = 0.0, const float* sink = nullptr) {
    std::vector<double> qr(static_cast<size_t>(dk));
    for (int d = 0; d < dk; ++d) {
        qr[size_t(d)] = hearth::fp16_to_fp32(hearth::fp32_to_fp16(q[d] * q_scale));
    }
    std::vector<double> s;
    double m = -INFINITY;
    for (int j = first; j <= pos; ++j) {
        double dot = 0.0;
        for (int d = 0; d < dk; ++d) {
            dot += qr[size_t(d)] * hearth::fp16_to_fp32(k_cells[j * k_width + d]);
        }
        if (soft_cap != 0.0) {
            dot = soft_cap * std::tanh(dot / soft_cap);
        }
        s.push_back(dot * score_scale);
        m = std::max(m, s.back());
    }
    if (sink != nullptr) {
        m = std::max(m, double(*sink));
    }
    double sum = sink != nullptr ? std::exp(double(*sink) - m) : 0.0;
    for (double& v : s) {
        v = std::exp(v - m);
        sum += v;
    }
    std::vector<double> out(size_t(dv), 0.0);
    for (int j = first; j <= pos; ++j) {
        for (int d = 0; d < dv; ++d) {
            out[size_t(d)] +=
                s[size_t(j - first)] / sum * hearth::fp16_to_fp32(v_cells[j * v_width + d]);
        }
    }
    return out;
}

// A KV cache of n_slots x n_ctx cells laid out as the kernels read it (kernels/attention.cuh's
// KvLayout): random F16 keys and values in [-1, 1) in the cells `used(slot, pos)` names, NaN
// everywhere else so that a kernel reading an unused cell shows in the comparison.
struct RandomCache {
    std::vector<uint16_t> k, v;
};

template <class Used>
RandomCache random_cache(int n_slots, int n_ctx, int64_t k_width, int64_t v_width, uint64_t seed,
                         Used used) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    RandomCache c{std::vector<uint16_t>(size_t(n_slots * n_ctx * k_width)),
                  std::vector<uint16_t>(size_t(n_slots * n_ctx * v_width))};
    for (int s = 0; s < n_slots; ++s) {
        for (int j = 0; j < n_ctx; ++j) {
            const bool written = used(s, j);
            for (int64_t i = 0; i < k_width; ++i) {
                c.k[size_t((s * n_ctx + j) * k_width + i)] =
                    written ? hearth::fp32_to_fp16(unit(rng)) : kF16NaN;
            }
            for (int64_t i = 0; i < v_width; ++i) {
                c.v[size_t((s * n_ctx + j) * v_width + i)] =
                    written ? hearth::fp32_to_fp16(unit(rng)) : kF16NaN;
            }
        }
    }
    return c;
}

} // namespace cuda_test
