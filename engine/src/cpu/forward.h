// The transformer forward pass on the CPU: a batch of tokens (from one or several
// sequences, each with its own KV cache) in, logits out for the tokens that ask.
#pragma once

#include "cpu/kv_cache.h"
#include "hearth/error.h"
#include "hearth/model.h"

#include <cstdint>
#include <span>
#include <vector>

namespace hearth::cpu {

// Which attention kernels a token uses. llama.cpp picks them by the size of the batch the
// token is in (tinyBLAS for two or more tokens, ggml_vec_dot_f16 for one), so the choice
// is part of a token's numerics: a sequence decoded in a batch with others keeps the
// single-token kernels, and a prompt split differently keeps the kernels of the split it
// would have had alone. F16 caches only; Q8_0 caches always run flash attention.
enum class AttentionKernels {
    by_batch_size, // prompt-batch kernels when the batch holds two or more tokens
    single_token,
    prompt_batch,
};

struct BatchToken {
    int32_t token = 0;
    uint32_t pos = 0;         // position in its sequence
    KvCache* cache = nullptr; // the sequence's cache; positions [0, pos] are attended
    bool want_logits = false;
    AttentionKernels kernels = AttentionKernels::by_batch_size;
};

class Forward {
public:
    explicit Forward(const ::hearth::Model::Impl& model);

    // Runs the batch; writes n_vocab logits per token with want_logits, in batch order,
    // into `logits`. Tokens of one sequence must come in position order, and a sequence's
    // earlier positions must already be in its cache. Fails with `invalid_argument` for a
    // token id out of range or a position past the cache. Each token's result depends only
    // on its sequence's cache and its `kernels`, not on the other tokens in the batch.
    Result<void> run(std::span<const BatchToken> batch, float* logits);

private:
    void attention(uint32_t layer, std::span<const BatchToken> batch);
    void ensure_capacity(size_t n_tokens);

    const ::hearth::Model::Impl& m_;
    size_t capacity_ = 0;
    // Activations, one row per token: (n_tokens, width).
    std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, out_;
    std::vector<uint8_t> scratch_;           // quantized activation rows for matmul
    std::vector<float> scores_;              // (n_threads, n_ctx_max) attention rows
    std::vector<float> q_rounded_;           // (n_threads, head_dim) query rounded to F16
    std::vector<float> rope_cos_, rope_sin_; // (n_tokens, n_rot / 2)
};

} // namespace hearth::cpu
