// See flash_attention.h. The two inner products have an AVX2 form (ggml_numerics.cpp) and
// the portable one here; both give the same bits, as integer sums are exact and each FMA
// is one rounding whatever its width.
#include "cpu/flash_attention.h"

#include "cpu/cpu_features.h"
#include "cpu/ggml_numerics.h"
#include "cpu/kernels.h"
#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hearth::cpu {
namespace {

float vec_dot_q8_0_portable(int64_t n, const quant::BlockQ8_0* x, const quant::BlockQ8_0* y) {
    float acc[8] = {};
    for (int64_t i = 0; i < n / quant::QK8_0; ++i) {
        const float d = fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
        for (int l = 0; l < 8; ++l) {
            int32_t sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; ++e) {
                sum += int32_t{x[i].qs[e]} * int32_t{y[i].qs[e]};
            }
            acc[l] = std::fma(d, static_cast<float>(sum), acc[l]);
        }
    }
    float t[4];
    for (int i = 0; i < 4; ++i) {
        t[i] = acc[4 + i] + acc[i];
    }
    return (t[0] + t[2]) + (t[1] + t[3]);
}

void mad_q8_0_portable(int64_t n, const quant::BlockQ8_0* v, float w, float* acc) {
    for (int64_t b = 0; b < n / quant::QK8_0; ++b) {
        const float d = fp16_to_fp32(v[b].d);
        for (int e = 0; e < quant::QK8_0; ++e) {
            float& a = acc[b * quant::QK8_0 + e];
            a = std::fma(static_cast<float>(v[b].qs[e]) * d, w, a);
        }
    }
}

} // namespace

// Attention over a Q8_0 cache as llama.cpp computes it: it accepts a quantized V cache only
// with flash attention, whose CPU kernel (ggml_compute_forward_flash_attn_ext_f16) runs, per
// query row and head:
//   q quantized to Q8_0 (the K type's dot type); for each visible cell j in order:
//   s = vec_dot_q8_0(K[j], q) * scale (soft-capped: scale / cap, then cap · tanh(s));
//   online softmax with running max M and sum S: a new maximum rescales the accumulator by
//   ms = expf(M_old - M), otherwise the cell weighs vs = expf(s - M);
//   acc += V[j] (dequantized to F32) * vs; S = S * ms + vs; out = acc / S.
// Its compiler contracts S * ms + vs into an FMA, as it does the vectorised multiply-adds.
void attention_flash_q8_0(const Model::Impl& m, uint32_t layer, std::span<const BatchToken> batch,
                          const float* q_all, float* attn_out) {
    const ModelInfo& info = m.info;
    const AttentionDims dims = info.attention_dims(layer); // gemma4's differ by layer
    const int n_head = static_cast<int>(dims.n_head);
    const int head_dim_k = static_cast<int>(dims.head_dim_k);
    const int head_dim_v = static_cast<int>(dims.head_dim_v);
    const int group = n_head / static_cast<int>(dims.n_head_kv);
    const size_t q_width = size_t(n_head) * head_dim_k;
    const size_t o_width = size_t(n_head) * head_dim_v;
    const float scale = m.attn_scale;
    const bool sliding = m.layers[layer].sliding && info.sliding_window > 0;
    const float* sinks =
        m.layers[layer].attn_sinks.empty() ? nullptr : m.layers[layer].attn_sinks.data();
    const bool scale_query = m.arch.scale_query;
    const float q_scale = scale_query ? scale : 1.0f;
    const float score_scale = scale_query ? 1.0f : scale;
    // Soft-capping (gemma2): ggml folds 1/cap into the scale, then s = cap · tanh(s).
    const auto cap = static_cast<float>(info.attn_logit_softcap);
    const float dot_scale = cap != 0.0f ? score_scale / cap : score_scale;
    const int k_blocks = head_dim_k / quant::QK8_0; // per head
    const int v_blocks = head_dim_v / quant::QK8_0;
    const int64_t n_items = static_cast<int64_t>(batch.size()) * n_head;
    const bool avx2 = kernel_level() == KernelLevel::avx2;
    const auto dot = avx2 ? ggml::vec_dot_q8_0 : vec_dot_q8_0_portable;
    const auto mad = avx2 ? ggml::mad_q8_0 : mad_q8_0_portable;
    m.pool->run([&](int thread, int threads) {
        thread_local std::vector<float> q_in, acc;
        thread_local std::vector<quant::BlockQ8_0> q8;
        q_in.resize(head_dim_k);
        q8.resize(k_blocks);
        acc.resize(head_dim_v);
        for (int64_t item = thread; item < n_items; item += threads) {
            const size_t t = static_cast<size_t>(item / n_head);
            const int h = static_cast<int>(item % n_head);
            const BatchToken& token = batch[t];
            if (token.cache->type() != KvCacheType::q8_0) {
                continue;
            }
            const int kv_head = h / group;
            const float* q = q_all + t * q_width + size_t(h) * head_dim_k;
            for (int i = 0; i < head_dim_k; ++i) {
                q_in[i] = q[i] * q_scale;
            }
            quantize_row_q8_0(q_in.data(), q8.data(), head_dim_k);
            const uint32_t first = sliding && token.pos + 1 > info.sliding_window
                                       ? token.pos + 1 - info.sliding_window
                                       : 0;
            float max_score = -INFINITY;
            float sum = 0.0f;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (uint32_t j = first; j <= token.pos; ++j) {
                const auto* k =
                    reinterpret_cast<const quant::BlockQ8_0*>(token.cache->k_row(layer, j)) +
                    size_t(kv_head) * k_blocks;
                float s = dot(head_dim_k, k, q8.data()) * dot_scale;
                if (cap != 0.0f) {
                    s = cap * std::tanh(s);
                }
                float ms = 1.0f;
                float vs = 1.0f;
                if (s > max_score) {
                    const float old_max = max_score;
                    max_score = s;
                    ms = std::exp(old_max - max_score);
                    for (float& a : acc) {
                        a *= ms;
                    }
                } else {
                    vs = std::exp(s - max_score);
                }
                const auto* v =
                    reinterpret_cast<const quant::BlockQ8_0*>(token.cache->v_row(layer, j)) +
                    size_t(kv_head) * v_blocks;
                mad(head_dim_v, v, vs, acc.data());
                sum = std::fma(sum, ms, vs);
            }
            if (sinks) {
                // gpt-oss: the head's sink logit joins the softmax's sum, with no value.
                const float sink = sinks[h];
                if (sink > max_score) {
                    const float ms = std::exp(max_score - sink);
                    for (float& a : acc) {
                        a *= ms;
                    }
                    sum *= ms;
                    max_score = sink;
                }
                sum += std::exp(sink - max_score);
            }
            const float inv_sum = sum == 0.0f ? 0.0f : 1.0f / sum;
            float* out = attn_out + t * o_width + size_t(h) * head_dim_v;
            for (int d = 0; d < head_dim_v; ++d) {
                out[d] = acc[d] * inv_sum;
            }
        }
    });
}

} // namespace hearth::cpu
