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

struct Scratch {
    std::vector<float> scores, probs, weights; // scores and weights: one n_kv_max row per head
    std::vector<uint16_t> q16, p16;
};

// One work item: the heads h0 .. h0 + n_heads - 1 of token t, which share kv_head.
struct Slice {
    size_t t;
    int kv_head, h0, n_heads;
};

// kq for the slice's heads over the cells [c0, c1]: four queries against three key rows at a
// time, into the rows scores + r × n_kv_max (r: the head within the slice).
void score_slice(const LayerAttention& a, const BatchToken& token, const Slice& slice,
                 bool tinyblas, uint32_t c0, uint32_t c1, float* scores, Scratch& s) {
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
            score_rows[r] = scores + size_t(r0 + r) * a.n_kv_max;
        }
        ggml::key_dots_f16(order, a.head_dim_k, q_rows, n_q, k_rows, k_stride, c0, c1, score_rows);
    }
}

// Head h's softmax over the n_kv cells of its scores row: the weights, rounded to F16, into
// p16 and (as floats) the head's weights row.
void softmax_row(const LayerAttention& a, int h, uint32_t n_kv, uint32_t first, uint32_t last,
                 float* scores, float* weights, Scratch& s) {
    for (uint32_t j = first; j <= last && a.soft_cap.active(); ++j) {
        scores[j] = a.soft_cap(scores[j]); // then scaled, as ggml's graph does
    }
    float max_score = ggml::scale_mask_max(scores, n_kv, first, last, a.score_scale);
    if (a.sinks) {
        max_score = std::max(max_score, a.sinks[h]); // gpt-oss, as ggml_soft_max_add_sinks
    }
    double sum = ggml::soft_max_f32(n_kv, s.probs.data(), scores, max_score);
    if (a.sinks) {
        sum += static_cast<double>(std::exp(a.sinks[h] - max_score));
    }
    const float inv_sum = static_cast<float>(1.0 / sum);
    ggml::round_weights_f16(s.probs.data(), inv_sum, n_kv, s.p16.data(), weights);
}

// Whether the token's products follow tinyBLAS (prompt batches) or vec_dot_f16.
bool uses_tinyblas(const LayerAttention& a, const BatchToken& token) {
    return token.kernels == AttentionKernels::by_batch_size
               ? a.batch_tinyblas
               : token.kernels == AttentionKernels::prompt_batch;
}

// The first cell the token sees (a sliding window hides the older ones).
uint32_t first_cell(const LayerAttention& a, const BatchToken& token) {
    return a.sliding && token.pos + 1 > a.sliding_window ? token.pos + 1 - a.sliding_window : 0;
}

// The tiled weighted sums of the slice's heads for the output values [d0, d0 + width), from
// their weights rows (weights + r × n_kv_max, r: the head within the slice).
void weighted_values(const LayerAttention& a, const BatchToken& token, const Slice& slice, int d0,
                     int width, const float* weights) {
    const uint32_t n_kv = padded(token.pos + 1);
    const bool tinyblas_kqv = uses_tinyblas(a, token) && a.head_dim_v % 4 == 0; // k % 8, m % 4
    const uint16_t* v_rows =
        token.cache->v(a.layer, 0) + size_t(slice.kv_head) * a.head_dim_v + size_t(d0);
    for (int r0 = 0; r0 < slice.n_heads; r0 += ggml::kMaxTileQueries) {
        const int n_q = std::min(ggml::kMaxTileQueries, slice.n_heads - r0);
        const float* w_rows[ggml::kMaxTileQueries];
        float* out_rows[ggml::kMaxTileQueries];
        for (int r = 0; r < n_q; ++r) {
            w_rows[r] = weights + size_t(r0 + r) * a.n_kv_max;
            out_rows[r] = a.attn_out + slice.t * a.o_width +
                          size_t(slice.h0 + r0 + r) * a.head_dim_v + size_t(d0);
        }
        // n_kv is a multiple of 32, so vec_dot_f16's order has no leftover cells: always tiled.
        ggml::weighted_rows_f16_tiled(
            tinyblas_kqv ? ggml::DotOrder::tinyblas : ggml::DotOrder::vec_dot, width, v_rows,
            a.v_width, first_cell(a, token), token.pos, n_kv, w_rows, n_q, out_rows);
    }
}

void attend_slice(const LayerAttention& a, const BatchToken& token, const Slice& slice,
                  Scratch& s) {
    const uint32_t n_kv = padded(token.pos + 1);
    const bool tinyblas = uses_tinyblas(a, token);
    const bool tinyblas_kqv = tinyblas && a.head_dim_v % 4 == 0; // k = n_kv % 8, m % 4
    const uint32_t first = first_cell(a, token);
    score_slice(a, token, slice, tinyblas, first, token.pos, s.scores.data(), s);
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
    if (tiled_kqv) {
        weighted_values(a, token, slice, 0, a.head_dim_v, s.weights.data());
    }
}

// Cells per score item of the by-cells split: enough to amortise converting the group's
// queries, few enough that a cache of a few thousand cells deals out evenly to the threads.
constexpr uint32_t kCellsPerScoreItem = 256;
// Output values per weighted-sum item: a 64-byte line of an F16 value row.
constexpr int kValuesPerItem = 32;

// AttentionSplit::by_cells (see attention_ggml.h). Every score, softmax row and output value
// is computed by the same kernel on the same inputs as in attend_slice, so the bits agree.
void attend_by_cells(const LayerAttention& a, std::span<const BatchToken> batch, ThreadPool& pool) {
    const int n_head_kv = a.n_head / a.group;
    const size_t row_floats = size_t(a.n_head) * a.n_kv_max; // one token's heads' rows
    // On the calling thread: the passes below are done before it returns.
    // The threads reach them through these pointers (a thread_local's name means each
    // thread's own).
    thread_local std::vector<float> score_buffer, weight_buffer;
    score_buffer.resize(batch.size() * row_floats);
    weight_buffer.resize(batch.size() * row_floats);
    float* const scores = score_buffer.data();
    float* const weights = weight_buffer.data();
    auto is_f16 = [&](size_t t) { return batch[t].cache->type() == KvCacheType::f16; };

    // The scores: items of (token, KV head, chunk of cells), the group's heads together.
    struct CellChunk {
        size_t t;
        int kv_head;
        uint32_t c0, c1;
    };
    thread_local std::vector<CellChunk> chunk_buffer;
    std::vector<CellChunk>& chunks = chunk_buffer;
    chunks.clear();
    for (size_t t = 0; t < batch.size(); ++t) {
        const uint32_t last = batch[t].pos;
        for (int g = 0; g < n_head_kv && is_f16(t); ++g) {
            for (uint32_t c0 = first_cell(a, batch[t]); c0 <= last; c0 += kCellsPerScoreItem) {
                chunks.push_back({t, g, c0, std::min(last, c0 + kCellsPerScoreItem - 1)});
            }
        }
    }
    // parallel_for hands out the items from a shared counter and does not wait for a thread
    // that has not started (another process has its core): three passes per layer cost no
    // more waiting than one on a loaded machine.
    pool.parallel_for(int64_t(chunks.size()), 1, [&](int64_t begin, int64_t end) {
        thread_local Scratch scratch;
        scratch.q16.resize(size_t(a.group) * a.head_dim_k);
        for (int64_t i = begin; i < end; ++i) {
            const CellChunk& c = chunks[size_t(i)];
            const Slice slice{
                .t = c.t, .kv_head = c.kv_head, .h0 = c.kv_head * a.group, .n_heads = a.group};
            float* rows = scores + c.t * row_floats + size_t(slice.h0) * a.n_kv_max;
            score_slice(a, batch[c.t], slice, uses_tinyblas(a, batch[c.t]), c.c0, c.c1, rows,
                        scratch);
        }
    });
    // The softmax: one item per (token, head).
    const int64_t n_rows = int64_t(batch.size()) * a.n_head;
    pool.parallel_for(n_rows, 1, [&](int64_t begin, int64_t end) {
        thread_local Scratch scratch;
        scratch.probs.resize(a.n_kv_max);
        scratch.p16.resize(a.n_kv_max);
        for (int64_t i = begin; i < end; ++i) {
            const auto t = static_cast<size_t>(i / a.n_head);
            const int h = static_cast<int>(i % a.n_head);
            if (!is_f16(t)) {
                continue;
            }
            const BatchToken& token = batch[t];
            const size_t row = t * row_floats + size_t(h) * a.n_kv_max;
            softmax_row(a, h, padded(token.pos + 1), first_cell(a, token), token.pos, scores + row,
                        weights + row, scratch);
        }
    });
    // The weighted sums: items of (token, KV head, 32 output values), the group's heads
    // together, so each thread reads its share of every value row once per pair of heads.
    const int value_chunks = (a.head_dim_v + kValuesPerItem - 1) / kValuesPerItem;
    const int64_t n_items = int64_t(batch.size()) * n_head_kv * value_chunks;
    pool.parallel_for(n_items, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const auto t = static_cast<size_t>(i / (int64_t{n_head_kv} * value_chunks));
            if (!is_f16(t)) {
                continue;
            }
            const int g = static_cast<int>(i / value_chunks % n_head_kv);
            const int d0 = static_cast<int>(i % value_chunks) * kValuesPerItem;
            const Slice slice{.t = t, .kv_head = g, .h0 = g * a.group, .n_heads = a.group};
            weighted_values(a, batch[t], slice, d0, std::min(kValuesPerItem, a.head_dim_v - d0),
                            weights + t * row_floats + size_t(slice.h0) * a.n_kv_max);
        }
    });
}

// AttentionSplit::by_group (see attention_ggml.h).
void attend_by_group(const LayerAttention& a, std::span<const BatchToken> batch, ThreadPool& pool) {
    const int n_head_kv = a.n_head / a.group;
    // One work item: one token's query heads that share a KV head, so that each key and value
    // row is read once for all of them; split into slices when there are too few items to
    // keep every thread busy (one token of a model with few KV heads).
    const int64_t n_groups = static_cast<int64_t>(batch.size()) * n_head_kv;
    int slices = 1;
    while (slices < a.group && n_groups * slices < 2 * int64_t{pool.size()}) {
        do {
            ++slices;
        } while (a.group % slices != 0);
    }
    const int slice_heads = a.group / slices;
    const int64_t n_items = n_groups * slices;
    const auto n_tokens = static_cast<int64_t>(batch.size());
    const uint32_t n_kv_max = a.n_kv_max;
    pool.parallel_for(n_items, 1, [&](int64_t begin, int64_t end) {
        thread_local Scratch scratch;
        scratch.scores.resize(size_t(slice_heads) * n_kv_max);
        scratch.weights.resize(size_t(slice_heads) * n_kv_max);
        scratch.probs.resize(n_kv_max);
        scratch.q16.resize(size_t(slice_heads) * a.head_dim_k);
        scratch.p16.resize(n_kv_max);
        for (int64_t item = begin; item < end; ++item) {
            // KV head by KV head: a thread's consecutive items read the same rows, which a
            // prompt's items then find in its L2 (a layer's whole cache at depth does not fit).
            const int kv_head = static_cast<int>(item / (n_tokens * slices));
            const Slice slice{
                .t = static_cast<size_t>(item / slices % n_tokens),
                .kv_head = kv_head,
                .h0 = kv_head * a.group + static_cast<int>(item % slices) * slice_heads,
                .n_heads = slice_heads,
            };
            const BatchToken& token = batch[slice.t];
            if (token.cache->type() == KvCacheType::f16) {
                attend_slice(a, token, slice, scratch);
            }
        }
    });
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
    attention_ggml_layer(a, batch, *m.pool);
}

void attention_ggml_layer(const LayerAttention& a, std::span<const BatchToken> batch,
                          ThreadPool& pool, AttentionSplit split) {
    if (split == AttentionSplit::automatic) {
        // A cache of one score chunk or less gives by_cells no more items than by_group's
        // slices have, for three parallel regions instead of one (decode's first 256 tokens).
        const int64_t n_groups = static_cast<int64_t>(batch.size()) * (a.n_head / a.group);
        split = n_groups < 2 * int64_t{pool.size()} && a.head_dim_v % 8 == 0 &&
                        a.n_kv_max > kCellsPerScoreItem
                    ? AttentionSplit::by_cells
                    : AttentionSplit::by_group;
    }
    if (split == AttentionSplit::by_cells && a.head_dim_v % 8 == 0) {
        attend_by_cells(a, batch, pool);
    } else {
        attend_by_group(a, batch, pool);
    }
}

} // namespace hearth::cpu
