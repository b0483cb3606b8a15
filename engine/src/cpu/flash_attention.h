// Attention over a Q8_0 KV cache, as llama.cpp's CPU flash-attention kernel computes it
// (llama.cpp accepts a quantized V cache only with flash attention).
#pragma once

#include "cpu/forward.h"
#include "model/model_impl.h"

#include <cstdint>
#include <span>

namespace hearth::cpu {

// For the tokens of `batch` whose cache is Q8_0 (others are left alone): q_all holds the
// batch's queries, (n_tokens, n_head × head_dim_k); writes (n_tokens, n_head × head_dim_v)
// into attn_out. Runs over the model's thread pool.
void attention_flash_q8_0(const Model::Impl& m, uint32_t layer, std::span<const BatchToken> batch,
                          const float* q_all, float* attn_out);

} // namespace hearth::cpu
