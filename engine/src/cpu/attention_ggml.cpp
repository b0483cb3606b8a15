// See attention_ggml.h. The scores, weights and outputs have ggml's bits so that greedy
// generations agree with llama.cpp's token for token.
#include "cpu/attention_ggml.h"

#include "cpu/attention_tiles.h"
#include "cpu/ggml_numerics.h"
#include "cpu/soft_cap.h"
#include "hearth/quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hearth::cpu {

namespace {

constexpr uint32_t kKvPad = 32; // llama_kv_cache::get_padding without flash attention

uint32_t padded(uint32_t n) {
    return (n + kKvPad - 1) / kKvPad * kKvPad;
}

// What every work item of one layer's attention reads.
struct LayerAttention {
    uint32_t layer;
    int n_head, head_dim_k, head_dim_v, group;
    size_t q_width, o_width;
    int64_t v_width; // cache stride between cells
    bool sliding;
    uint32_t sliding_window;
    const float* sinks;
    float q_scale, score_scale;
    ScoreSoftCap soft_cap; // before the softmax's scale
    uint32_t n_kv_max;
    bool batch_tinyblas;
    const float* q_all;
    float* attn_out;
};

struct Scratch {
    std::vector<float> scores, probs, weights; // scores and weights: one n_kv_max row per head
    std::vector<uint16_t> q16, p16;
};

// One work item: the heads h0 .. h0 + n_heads - 1 of token t, which share kv_head.
struct Slice {
    size_t t;
    int kv_head, h0, n_heads;
};

// kq for the slice's heads: four queries against three key rows at a time.
void score_slice(const LayerAttention& a, const BatchToken& token, const Slice& slice,
                 bool tinyblas, uint32_t first, Scratch& s) {
    const uint16_t* k_rows = token.cache->k(a.layer, 0) + size_t(slice.kv_head) * a.head_dim_k;
    const auto k_stride = int64_t(token.cache->k_row_bytes(a.layer) / sizeof(uint16_t));
    const bool tinyblas_kq = tinyblas && a.head_dim_k % 8 == 0; // k % 8, m = n_kv % 4
    const auto order = tinyblas_kq ? ggml::DotOrder::tinyblas : ggml::DotOrder::vec_dot;
    for (int r0 = 0; r0 < slice.n_heads; r0 += ggml::kMaxTileQueries) {
        const int n_q = std::min(ggml::kMaxTileQueries, slice.n_heads - r0);
        const uint16_t* q_rows[ggml::kMaxTileQueries];
        float* score_rows[ggml::kMaxTileQueries];
        for (int r = 0; r < n_q; ++r) {
            const float* q =
                a.q_all + slice.t * a.q_width + size_t(slice.h0 + r0 + r) * a.head_dim_k;
            uint16_t* q_half = s.q16.data() + size_t(r0 + r) * a.head_dim_k;
            if (a.q_scale != 1.0f) {
                for (int i = 0; i < a.head_dim_k; ++i) {
                    q_half[i] = fp32_to_fp16(q[i] * a.q_scale);
                }
            } else {
                convert_f32_to_f16(q, q_half, a.head_dim_k);
            }
            q_rows[r] = q_half;
            score_rows[r] = s.scores.data() + size_t(r0 + r) * a.n_kv_max;
        }
        ggml::key_dots_f16(order, a.head_dim_k, q_rows, n_q, k_rows, k_stride, first, token.pos,
                           score_rows);
    }
}

// Head h's softmax over the n_kv cells of its scores row: the weights, rounded to F16, into
// p16 and (as floats) the head's weights row.
void softmax_row(const LayerAttention& a, int h, uint32_t n_kv, uint32_t first, uint32_t last,
                 float* scores, float* weights, Scratch& s) {
    for (uint32_t j = 0; j < n_kv; ++j) {
        scores[j] = j < first || j > last ? -INFINITY : a.soft_cap(scores[j]) * a.score_scale;
    }
    float max_score = -INFINITY;
    for (uint32_t j = 0; j < n_kv; ++j) {
        max_score = std::max(max_score, scores[j]);
    }
    if (a.sinks) {
        max_score = std::max(max_score, a.sinks[h]); // gpt-oss, as ggml_soft_max_add_sinks
    }
    double sum = ggml::soft_max_f32(n_kv, s.probs.data(), scores, max_score);
    if (a.sinks) {
        sum += static_cast<double>(std::exp(a.sinks[h] - max_score));
    }
    const float inv_sum = static_cast<float>(1.0 / sum);
    for (uint32_t j = 0; j < n_kv; ++j) {
        s.p16[j] = fp32_to_fp16(s.probs[j] * inv_sum);
        weights[j] = fp16_to_fp32(s.p16[j]);
    }
}

void attend_slice(const LayerAttention& a, const BatchToken& token, const Slice& slice,
                  Scratch& s) {
    const uint32_t n_kv = padded(token.pos + 1);
    const bool tinyblas = token.kernels == AttentionKernels::by_batch_size
                              ? a.batch_tinyblas
                              : token.kernels == AttentionKernels::prompt_batch;
    const bool tinyblas_kqv = tinyblas && a.head_dim_v % 4 == 0; // k = n_kv % 8, m % 4
    const uint32_t first =
        a.sliding && token.pos + 1 > a.sliding_window ? token.pos + 1 - a.sliding_window : 0;
    score_slice(a, token, slice, tinyblas, first, s);
    const uint16_t* v_rows = token.cache->v(a.layer, 0) + size_t(slice.kv_head) * a.head_dim_v;
    // The value rows, read once for a pair of heads where the dimension allows the tiles.
    const bool tiled_kqv = a.head_dim_v % 8 == 0;
    for (int r = 0; r < slice.n_heads; ++r) {
        const int h = slice.h0 + r;
        float* weights = s.weights.data() + size_t(r) * a.n_kv_max;
        softmax_row(a, h, n_kv, first, token.pos, s.scores.data() + size_t(r) * a.n_kv_max, weights,
                    s);
        if (!tiled_kqv) {
            // The rows of V^T dotted with the weights, accumulated cell by cell.
            ggml::weighted_rows_f16(tinyblas_kqv, a.head_dim_v, v_rows, a.v_width, first, token.pos,
                                    n_kv, s.p16.data(),
                                    a.attn_out + slice.t * a.o_width + size_t(h) * a.head_dim_v);
        }
    }
    if (!tiled_kqv) {
        return;
    }
    for (int r0 = 0; r0 < slice.n_heads; r0 += ggml::kMaxTileQueries) {
        const int n_q = std::min(ggml::kMaxTileQueries, slice.n_heads - r0);
        const float* w_rows[ggml::kMaxTileQueries];
        float* out_rows[ggml::kMaxTileQueries];
        for (int r = 0; r < n_q; ++r) {
            w_rows[r] = s.weights.data() + size_t(r0 + r) * a.n_kv_max;
            out_rows[r] =
                a.attn_out + slice.t * a.o_width + size_t(slice.h0 + r0 + r) * a.head_dim_v;
        }
        // n_kv is a multiple of 32, so vec_dot_f16's order has no leftover cells: always tiled.
        ggml::weighted_rows_f16_tiled(
            tinyblas_kqv ? ggml::DotOrder::tinyblas : ggml::DotOrder::vec_dot, a.head_dim_v, v_rows,
            a.v_width, first, token.pos, n_kv, w_rows, n_q, out_rows);
    }
}

} // namespace

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
    const ModelInfo& info = m.info;
    const AttentionDims dims = info.attention_dims(layer); // gemma4's differ by layer
    const bool scale_query = m.arch.scale_query;
    const int n_head = static_cast<int>(dims.n_head);
    const int n_head_kv = static_cast<int>(dims.n_head_kv);
    // Each token attends over its own cells, padded: the cells past the used ones are masked
    // and weigh exactly 0, so a token's bits do not depend on how far other sequences in the
    // batch have got.
    uint32_t n_kv_max = 0;
    for (const auto& t : batch) {
        n_kv_max = std::max(n_kv_max, padded(t.pos + 1));
    }
    const LayerAttention a{
        .layer = layer,
        .n_head = n_head,
        .head_dim_k = static_cast<int>(dims.head_dim_k),
        .head_dim_v = static_cast<int>(dims.head_dim_v),
        .group = n_head / n_head_kv,
        .q_width = size_t(n_head) * dims.head_dim_k,
        .o_width = size_t(n_head) * dims.head_dim_v,
        .v_width = int64_t(n_head_kv) * dims.head_dim_v,
        .sliding = m.layers[layer].sliding && info.sliding_window > 0,
        .sliding_window = info.sliding_window,
        .sinks = m.layers[layer].attn_sinks.empty() ? nullptr : m.layers[layer].attn_sinks.data(),
        .q_scale = scale_query ? m.attn_scale : 1.0f,
        .score_scale = scale_query ? 1.0f : m.attn_scale,
        .soft_cap = ScoreSoftCap(info.attn_logit_softcap),
        .n_kv_max = n_kv_max,
        .batch_tinyblas = batch.size() >= 2,
        .q_all = q_all,
        .attn_out = attn_out,
    };
    // One work item: one token's query heads that share a KV head, so that each key and value
    // row is read once for all of them; split into slices when there are too few items to
    // keep every thread busy (one token of a model with few KV heads).
    ThreadPool& pool = *m.pool;
    const int64_t n_groups = static_cast<int64_t>(batch.size()) * n_head_kv;
    int slices = 1;
    while (slices < a.group && n_groups * slices < 2 * int64_t{pool.size()}) {
        do {
            ++slices;
        } while (a.group % slices != 0);
    }
    const int slice_heads = a.group / slices;
    const int64_t n_items = n_groups * slices;
    pool.run([&](int thread, int threads) {
        thread_local Scratch scratch;
        scratch.scores.resize(size_t(slice_heads) * n_kv_max);
        scratch.weights.resize(size_t(slice_heads) * n_kv_max);
        scratch.probs.resize(n_kv_max);
        scratch.q16.resize(size_t(slice_heads) * a.head_dim_k);
        scratch.p16.resize(n_kv_max);
        for (int64_t item = thread; item < n_items; item += threads) {
            const Slice slice{
                .t = static_cast<size_t>(item / (int64_t{n_head_kv} * slices)),
                .kv_head = static_cast<int>(item / slices % n_head_kv),
                .h0 = static_cast<int>(item / slices % n_head_kv) * a.group +
                      static_cast<int>(item % slices) * slice_heads,
                .n_heads = slice_heads,
            };
            const BatchToken& token = batch[slice.t];
            if (token.cache->type() == KvCacheType::f16) {
                attend_slice(a, token, slice, scratch);
            }
        }
    });
}

} // namespace hearth::cpu
