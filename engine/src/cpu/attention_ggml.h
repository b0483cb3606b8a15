// Attention over an F16 KV cache as llama.cpp's CPU graph computes it without flash attention
// (attention_ggml.cpp), bit for bit at the avx2 kernel level.
#pragma once

#include "cpu/forward.h"
#include "cpu/soft_cap.h"
#include "cpu/thread_pool.h"
#include "model/model_impl.h"

#include <cstdint>
#include <span>

namespace hearth::cpu {

// For the tokens of `batch` (F16 caches): q_all holds the batch's queries,
// (n_tokens, n_head × head_dim_k); writes (n_tokens, n_head × head_dim_v) into attn_out. Each
// token uses the kernels its BatchToken::kernels names. Runs over the model's thread pool.
void attention_ggml(const Model::Impl& m, uint32_t layer, std::span<const BatchToken> batch,
                    const float* q_all, float* attn_out);

// What every work item of one layer's attention reads (attention_ggml builds it from the model).
struct LayerAttention {
    uint32_t layer;
    int n_head, head_dim_k, head_dim_v, group; // group: query heads per KV head
    size_t q_width, o_width;
    int64_t v_width; // cache stride between cells
    bool sliding;
    uint32_t sliding_window;
    const float* sinks;
    float q_scale, score_scale;
    ScoreSoftCap soft_cap; // before the softmax's scale
    uint32_t n_kv_max;     // the batch's largest pos + 1, rounded up to a multiple of 32
    bool batch_tinyblas;   // the batch has two or more tokens
    const float* q_all;
    float* attn_out;
};

// How one layer's work is dealt to the threads; the results are the same bits either way.
//   by_group: one item per token's GQA group (sliced by heads where there are too few groups
//     to keep the threads busy), each item streaming its KV head's whole cache;
//   by_cells: flash-decoding's split, three passes: the scores by chunks of cells, the
//     softmax by head, the weighted sums by 32 output values — every thread reads a share of
//     each KV head's cache, so one token's attention uses all the threads;
//   automatic: by_cells where the batch has fewer GQA groups than twice the threads (decode,
//     small speculative batches), the value rows allow the tiles and the longest cache spans
//     more than one 256-cell score chunk; by_group otherwise (one parallel region, not three).
enum class AttentionSplit { automatic, by_group, by_cells };

// attention_ggml's work for a layer described by `a`, over `pool`'s threads.
void attention_ggml_layer(const LayerAttention& a, std::span<const BatchToken> batch,
                          ThreadPool& pool, AttentionSplit split = AttentionSplit::automatic);

} // namespace hearth::cpu
