// See attention_ggml.h. The scores, weights and outputs have ggml's bits so that greedy
// generations agree with llama.cpp's token for token.
#include "cpu/attention_ggml.h"

#include "cpu/ggml_numerics.h"
#include "cpu/soft_cap.h"
#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hearth::cpu {

// Attention as llama.cpp's CPU graph computes it without flash attention, at the avx2 level,
// so that the scores, weights and outputs have ggml's bits and greedy generations agree:
//   kq = mul_mat(K, Q): Q rounded to F16; each score a ggml F16 dot product, soft-capped
//   where the model caps them (gemma2);
//   softmax over n_kv cells (the used ones padded to a multiple of 32, the rest masked to
//   -INF): wp = score * scale + mask, max, ggml_vec_soft_max_f32, times (float)(1 / sum);
//   kqv = mul_mat(V^T, kq): the weights rounded to F16, one F16 dot per output dimension.
// Prompt batches (two or more tokens) run llamafile's tinyBLAS kernel for both products,
// single tokens ggml_vec_dot_f16, as llamafile_sgemm declines n < 2. Masked cells weigh
// exactly 0, so the (zeroed) cells past the used ones add nothing, as in llama.cpp.
void attention_ggml(const Model::Impl& m, uint32_t layer, std::span<const BatchToken> batch,
                    const float* q_all, float* attn_out) {
    constexpr uint32_t kKvPad = 32; // llama_kv_cache::get_padding without flash attention
    const ModelInfo& info = m.info;
    const AttentionDims dims = info.attention_dims(layer); // gemma4's differ by layer
    const int n_head = static_cast<int>(dims.n_head);
    const int head_dim_k = static_cast<int>(dims.head_dim_k);
    const int head_dim_v = static_cast<int>(dims.head_dim_v);
    const int group = n_head / static_cast<int>(dims.n_head_kv);
    const size_t q_width = size_t(n_head) * head_dim_k;
    const size_t o_width = size_t(n_head) * head_dim_v;
    const int64_t v_width = int64_t(dims.n_head_kv) * head_dim_v; // cache stride between cells
    const float scale = m.attn_scale;
    const bool sliding = m.layers[layer].sliding && info.sliding_window > 0;
    const float* sinks =
        m.layers[layer].attn_sinks.empty() ? nullptr : m.layers[layer].attn_sinks.data();
    const bool scale_query = m.arch.scale_query;
    const float q_scale = scale_query ? scale : 1.0f;
    const float score_scale = scale_query ? 1.0f : scale;
    const ScoreSoftCap soft_cap(info.attn_logit_softcap); // before the softmax's scale
    // Each token attends over its own cells, padded: the cells past the used ones are masked
    // and weigh exactly 0, so a token's bits do not depend on how far other sequences in the
    // batch have got.
    const auto padded = [](uint32_t n) { return (n + kKvPad - 1) / kKvPad * kKvPad; };
    uint32_t n_kv_max = 0;
    for (const auto& t : batch) {
        n_kv_max = std::max(n_kv_max, padded(t.pos + 1));
    }
    const bool batch_tinyblas = batch.size() >= 2;
    ThreadPool& pool = *m.pool;
    const int64_t n_items = static_cast<int64_t>(batch.size()) * n_head;
    pool.run([&](int thread, int threads) {
        thread_local std::vector<float> scores, probs;
        thread_local std::vector<uint16_t> q16, p16;
        scores.resize(n_kv_max);
        probs.resize(n_kv_max);
        q16.resize(head_dim_k);
        p16.resize(n_kv_max);
        for (int64_t item = thread; item < n_items; item += threads) {
            const size_t t = static_cast<size_t>(item / n_head);
            const int h = static_cast<int>(item % n_head);
            const BatchToken& token = batch[t];
            if (token.cache->type() != KvCacheType::f16) {
                continue;
            }
            const uint32_t n_kv = padded(token.pos + 1);
            const bool tinyblas = token.kernels == AttentionKernels::by_batch_size
                                      ? batch_tinyblas
                                      : token.kernels == AttentionKernels::prompt_batch;
            const bool tinyblas_kq = tinyblas && head_dim_k % 8 == 0;  // k % 8, m = n_kv % 4
            const bool tinyblas_kqv = tinyblas && head_dim_v % 4 == 0; // k = n_kv % 8, m % 4
            const int kv_head = h / group;
            const float* q = q_all + t * q_width + size_t(h) * head_dim_k;
            if (q_scale != 1.0f) {
                for (int i = 0; i < head_dim_k; ++i) {
                    q16[i] = fp32_to_fp16(q[i] * q_scale);
                }
            } else {
                convert_f32_to_f16(q, q16.data(), head_dim_k);
            }
            const uint32_t first = sliding && token.pos + 1 > info.sliding_window
                                       ? token.pos + 1 - info.sliding_window
                                       : 0;
            for (uint32_t j = 0; j < n_kv; ++j) {
                if (j < first || j > token.pos) {
                    scores[j] = -INFINITY;
                    continue;
                }
                const uint16_t* k = token.cache->k(layer, j) + size_t(kv_head) * head_dim_k;
                const float s = tinyblas_kq ? ggml::tinyblas_dot_f16(head_dim_k, k, q16.data())
                                            : ggml::vec_dot_f16(head_dim_k, k, q16.data());
                scores[j] = soft_cap(s) * score_scale;
            }
            float max_score = -INFINITY;
            for (uint32_t j = 0; j < n_kv; ++j) {
                max_score = std::max(max_score, scores[j]);
            }
            if (sinks) {
                max_score = std::max(max_score, sinks[h]); // gpt-oss, as ggml_soft_max_add_sinks
            }
            double sum = ggml::soft_max_f32(n_kv, probs.data(), scores.data(), max_score);
            if (sinks) {
                sum += static_cast<double>(std::exp(sinks[h] - max_score));
            }
            const float inv_sum = static_cast<float>(1.0 / sum);
            for (uint32_t j = 0; j < n_kv; ++j) {
                p16[j] = fp32_to_fp16(probs[j] * inv_sum);
            }
            // The rows of V^T dotted with the weights, accumulated cell by cell.
            float* out = attn_out + t * o_width + size_t(h) * head_dim_v;
            ggml::weighted_rows_f16(tinyblas_kqv, head_dim_v,
                                    token.cache->v(layer, 0) + size_t(kv_head) * head_dim_v,
                                    v_width, first, token.pos, n_kv, p16.data(), out);
        }
    });
}

} // namespace hearth::cpu
