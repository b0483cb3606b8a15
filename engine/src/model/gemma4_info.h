// Gemma 4's per-layer sizes (llama.cpp's LLM_ARCH_GEMMA4 hyper-parameters), read and checked
// from the GGUF header before anything is sized from them.
#pragma once

#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/model_info.h"

namespace hearth {

// Fills info.layer_shapes (and n_embd_per_layer) from `gemma4.*`: the per-layer
// sliding_window_pattern, head_count, head_count_kv and feed_forward_length (a number or one
// per layer), the global (key_length, rope.dimension_count) and sliding (key_length_swa,
// rope.dimension_count_swa) head sizes, and attention.shared_kv_layers: the last layers read
// the cache of the last earlier layer of their kind, as llama.cpp's KV reuse does. Sets the
// uniform sizes of `info` to the largest layer's. Fails with `bad_format` naming the key.
Result<void> read_gemma4_layer_shapes(const GgufHeader& header, ModelInfo& info);

} // namespace hearth
