// Attention over an F16 KV cache as llama.cpp's CPU graph computes it without flash attention
// (attention_ggml.cpp), bit for bit at the avx2 kernel level.
#pragma once

#include "cpu/forward.h"
#include "model/model_impl.h"

#include <cstdint>
#include <span>

namespace hearth::cpu {

// For the tokens of `batch` (F16 caches): q_all holds the batch's queries,
// (n_tokens, n_head × head_dim_k); writes (n_tokens, n_head × head_dim_v) into attn_out. Each
// token uses the kernels its BatchToken::kernels names. Runs over the model's thread pool.
void attention_ggml(const Model::Impl& m, uint32_t layer, std::span<const BatchToken> batch,
                    const float* q_all, float* attn_out);

} // namespace hearth::cpu
