// The transformer forward pass on the CPU: a batch of tokens (from one or several
// sequences, each with its own KV cache) in, logits out for the tokens that ask.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cpu/kv_cache.h"
#include "hearth/error.h"
#include "hearth/model.h"

namespace hearth::cpu {

struct BatchToken {
    int32_t token = 0;
    uint32_t pos = 0;         // position in its sequence
    KvCache* cache = nullptr; // the sequence's cache; positions [0, pos] are attended
    bool want_logits = false;
};

class Forward {
public:
    explicit Forward(const ::hearth::Model::Impl& model);

    // Runs the batch; writes n_vocab logits per token with want_logits, in batch order,
    // into `logits`. Tokens of one sequence must come in position order, and a sequence's
    // earlier positions must already be in its cache. Fails with `invalid_argument` for a
    // token id out of range or a position past the cache.
    Result<void> run(std::span<const BatchToken> batch, float* logits);

private:
    void attention(uint32_t layer, std::span<const BatchToken> batch);
    void ensure_capacity(size_t n_tokens);

    const ::hearth::Model::Impl& m_;
    size_t capacity_ = 0;
    // Activations, one row per token: (n_tokens, width).
    std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, out_;
    std::vector<uint8_t> scratch_;     // quantized activation rows for matmul
    std::vector<float> scores_;        // (n_threads, n_ctx_max) attention rows
    std::vector<float> q_rounded_;     // (n_threads, head_dim) query rounded to F16
    std::vector<float> rope_cos_, rope_sin_; // (n_tokens, n_rot / 2)
};

} // namespace hearth::cpu
