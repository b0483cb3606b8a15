// The forward pass, written to follow llama.cpp's CPU numerics where it is cheap to do so
// (RMSNorm accumulated in double, RoPE angles by repeated multiplication in float, the
// query and the attention weights rounded to F16 before they meet the F16 cache), so that
// greedy generations agree token for token. At the avx2 kernel level the SwiGLU, the RoPE
// rotation and the attention follow ggml's AVX2 build operation for operation (ggml_numerics.h),
// which makes the logits bit-identical to llama.cpp's on the models checked; the portable
// level keeps the simpler order.
//
// Per layer, for each token t (x: residual stream, (n_tokens, n_embd)):
//   h = rmsnorm(x) * attn_norm
//   q = Wq h (+bq), k = Wk h (+bk), v = Wv h (+bv); [qk-norm]; rope(q, k, pos)
//   cache[pos] = (k, v); a = softmax(q·K / sqrt(d)) V over the cached positions ≤ pos
//   x += [post-norm] Wo a
//   h = rmsnorm(x) * ffn_norm;  x += [post-norm] W_down (act(W_gate h) * W_up h)
// logits = W_out (rmsnorm(x) * output_norm) for the tokens that want them.
// A hybrid model's recurrent layers mix tokens with the gated delta-net (cpu/delta_net.h)
// instead of attention; the feed-forward is the same.
// run() is embed, layers [0, n_layer), head; run_to and run_from cut it at a layer, for a
// model whose first layers run on the GPU.
#include "cpu/forward.h"

#include "cpu/attention_ggml.h"
#include "cpu/cpu_features.h"
#include "cpu/delta_net.h"
#include "cpu/flash_attention.h"
#include "cpu/ggml_numerics.h"
#include "cpu/matmul.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "cpu/soft_cap.h"
#include "hearth/quant.h"
#include "model/activation_math.h"
#include "model/attention_math.h"
#include "model/model_impl.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <vector>

namespace hearth::cpu {
namespace {

float silu(float x) {
    return x / (1.0f + std::exp(-x));
}

float round_to_f16(float x) {
    return fp16_to_fp32(fp32_to_fp16(x));
}

// LongRoPE (phi3): the factors of the sequence's context (longrope_factor_set).
const float* longrope_factors(const Model::Impl& m, const KvCache& cache) {
    const std::vector<float>* set = longrope_factor_set(m, cache.n_ctx());
    return set != nullptr ? set->data() : nullptr;
}

// mistral3's attention temperature (Llama 4's): the query times
// 1 + scale · log(floor(pos / n_ctx_orig) + 1), as llama.cpp computes it: the quotient in
// float, the rest in double.
float attention_temperature(const ModelInfo& info, uint32_t pos) {
    const auto floor_scale = static_cast<float>(
        info.rope_scaling.n_ctx_orig ? info.rope_scaling.n_ctx_orig : info.n_ctx_train);
    return attention_math::attention_temperature(pos, floor_scale, info.attn_temperature_scale);
}

} // namespace

void gated_activation(FfnActivation activation, float* gate, const float* up, size_t n_rows,
                      int64_t width) {
    const size_t n = n_rows * size_t(width);
    if (activation == FfnActivation::swiglu_oai) {
        // ggml_swiglu_oai (alpha 1.702, limit 7): the gate clamped above, up on both sides.
        constexpr float kAlpha = 1.702f;
        constexpr float kLimit = 7.0f;
        for (size_t i = 0; i < n; ++i) {
            const float x = std::min(gate[i], kLimit);
            const float y = std::clamp(up[i], -kLimit, kLimit);
            gate[i] = x / (1.0f + std::exp(kAlpha * (-x))) * (y + 1.0f);
        }
        return;
    }
    const bool gelu = activation == FfnActivation::gelu_tanh;
    if (!gelu && kernel_level() == KernelLevel::avx2) {
        // ggml's vectorised SiLU (its own exp), row by row as ggml_vec_swiglu_f32.
        for (size_t t = 0; t < n_rows; ++t) {
            float* g = gate + t * width;
            ggml::swiglu_f32(width, g, g, up + t * width);
        }
    } else {
        for (size_t i = 0; i < n; ++i) {
            gate[i] = (gelu ? activation_math::gelu_tanh(gate[i]) : silu(gate[i])) * up[i];
        }
    }
}

Forward::Forward(const Model::Impl& model)
    : m_(model),
      delta_net_(model.arch.hybrid_delta_net ? std::make_unique<DeltaNet>(model) : nullptr) {}
Forward::Forward(Forward&&) noexcept = default;
Forward::~Forward() = default;

void Forward::ensure_capacity(size_t n) {
    if (n <= capacity_) {
        return;
    }
    const ModelInfo& info = m_.info;
    const size_t q_width = size_t{info.n_head} * info.head_dim_k;
    const size_t k_width = size_t{info.n_head_kv} * info.head_dim_k;
    const size_t v_width = size_t{info.n_head_kv} * info.head_dim_v;
    const size_t o_width = size_t{info.n_head} * info.head_dim_v;
    x_.resize(n * info.n_embd);
    h_.resize(n * std::max<size_t>(info.n_embd, o_width));
    q_.resize(n * q_width);
    k_.resize(n * k_width);
    v_.resize(n * v_width);
    attn_.resize(n * o_width);
    gate_.resize(n * info.n_ff);
    up_.resize(n * info.n_ff);
    out_.resize(n * info.n_embd);
    size_t widest = std::max<size_t>({info.n_embd, info.n_ff, o_width});
    size_t act_bytes = 0;
    for (TensorType type :
         {TensorType::Q8_0, TensorType::Q4_1, TensorType::Q4_K, TensorType::F16, TensorType::F32}) {
        act_bytes = std::max(act_bytes, activation_row_bytes(type, static_cast<int64_t>(widest)));
    }
    scratch_.resize(n * act_bytes + 64);
    rope_cos_.resize(n * info.n_rot / 2);
    rope_sin_.resize(n * info.n_rot / 2);
    capacity_ = n;
}

void Forward::attention(uint32_t layer, std::span<const BatchToken> batch) {
    if (std::any_of(batch.begin(), batch.end(),
                    [](const BatchToken& t) { return t.cache->type() == KvCacheType::q8_0; })) {
        attention_flash_q8_0(m_, layer, batch, q_.data(), attn_.data());
    }
    if (kernel_level() == KernelLevel::avx2) {
        attention_ggml(m_, layer, batch, q_.data(), attn_.data());
        return;
    }
    const ModelInfo& info = m_.info;
    const AttentionDims dims = info.attention_dims(layer); // gemma4's differ by layer
    const int n_head = static_cast<int>(dims.n_head);
    const int head_dim_k = static_cast<int>(dims.head_dim_k);
    const int head_dim_v = static_cast<int>(dims.head_dim_v);
    const int group = n_head / static_cast<int>(dims.n_head_kv);
    const size_t q_width = size_t(n_head) * head_dim_k;
    const size_t o_width = size_t(n_head) * head_dim_v;
    const float scale = m_.attn_scale;
    const bool sliding = m_.layers[layer].sliding && info.sliding_window > 0;
    const bool scale_query = m_.arch.scale_query;
    const float q_scale = scale_query ? scale : 1.0f;
    const float score_scale = scale_query ? 1.0f : scale;
    const ScoreSoftCap soft_cap(info.attn_logit_softcap);
    uint32_t max_ctx = 0;
    for (const auto& t : batch) {
        max_ctx = std::max(max_ctx, t.pos + 1);
    }
    ThreadPool& pool = *m_.pool;
    const size_t n_threads = static_cast<size_t>(pool.size());
    if (scores_.size() < n_threads * max_ctx) {
        scores_.resize(n_threads * max_ctx);
    }
    if (q_rounded_.size() < n_threads * head_dim_k) {
        q_rounded_.resize(n_threads * head_dim_k);
    }
    const int64_t n_items = static_cast<int64_t>(batch.size()) * n_head;
    pool.run([&](int thread, int threads) {
        float* scores = scores_.data() + size_t(thread) * max_ctx;
        float* q16 = q_rounded_.data() + size_t(thread) * head_dim_k;
        for (int64_t item = thread; item < n_items; item += threads) {
            const size_t t = static_cast<size_t>(item / n_head);
            const int h = static_cast<int>(item % n_head);
            const BatchToken& token = batch[t];
            if (token.cache->type() != KvCacheType::f16) {
                continue;
            }
            const int kv_head = h / group;
            const float* q = q_.data() + t * q_width + size_t(h) * head_dim_k;
            for (int i = 0; i < head_dim_k; ++i) {
                q16[i] = round_to_f16(q[i] * q_scale);
            }
            const uint32_t first = sliding && token.pos + 1 > info.sliding_window
                                       ? token.pos + 1 - info.sliding_window
                                       : 0;
            const uint32_t n_pos = token.pos + 1 - first;
            float max_score = -INFINITY;
            for (uint32_t j = 0; j < n_pos; ++j) {
                const uint16_t* k = token.cache->k(layer, first + j) + size_t(kv_head) * head_dim_k;
                scores[j] = soft_cap(dot_f16_f32(k, q16, head_dim_k)) * score_scale;
                max_score = std::max(max_score, scores[j]);
            }
            const auto& layer_sinks = m_.layers[layer].attn_sinks;
            const float* sinks = layer_sinks.empty() ? nullptr : layer_sinks.data();
            if (sinks) {
                max_score = std::max(max_score, sinks[h]); // gpt-oss: a sink logit per head
            }
            double sum = sinks ? std::exp(sinks[h] - max_score) : 0.0;
            for (uint32_t j = 0; j < n_pos; ++j) {
                scores[j] = std::exp(scores[j] - max_score);
                sum += scores[j];
            }
            const float inv_sum = static_cast<float>(1.0 / sum);
            float* out = attn_.data() + t * o_width + size_t(h) * head_dim_v;
            std::fill(out, out + head_dim_v, 0.0f);
            for (uint32_t j = 0; j < n_pos; ++j) {
                const float weight = round_to_f16(scores[j] * inv_sum);
                const uint16_t* v = token.cache->v(layer, first + j) + size_t(kv_head) * head_dim_v;
                axpy_f16_f32(v, weight, out, head_dim_v);
            }
        }
    });
}

// Token ids always; with caches, that each token's cache has its position and the layers
// [first_layer, last_layer) that will write to it.
Result<void> Forward::check_batch(std::span<const BatchToken> batch, bool with_caches,
                                  uint32_t first_layer, uint32_t last_layer) const {
    const ModelInfo& info = m_.info;
    for (const auto& t : batch) {
        if (t.token < 0 || static_cast<uint32_t>(t.token) >= info.n_vocab) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token id {} is outside the vocabulary (0..{})", t.token,
                                    info.n_vocab - 1));
        }
        if (!with_caches) {
            continue;
        }
        if (!t.cache || t.pos >= t.cache->n_ctx()) {
            return fail(ErrorCode::context_full,
                        fmt::format("position {} is past the context of {} tokens", t.pos,
                                    t.cache ? t.cache->n_ctx() : 0));
        }
        if (!t.cache->holds_layers(first_layer, last_layer)) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("the KV cache holds layers [{}, {}) but the forward pass "
                                    "runs layers [{}, {})",
                                    t.cache->first_layer(), t.cache->n_layer(), first_layer,
                                    last_layer));
        }
    }
    if (with_caches && m_.arch.hybrid_delta_net) {
        return check_recurrent_batch(m_, batch, first_layer, last_layer);
    }
    return {};
}

Result<void> Forward::check_layer(uint32_t layer, const char* what) const {
    if (layer > m_.info.n_layer) {
        return fail(ErrorCode::invalid_argument, fmt::format("{} {} is past the model's {} layers",
                                                             what, layer, m_.info.n_layer));
    }
    return {};
}

// Embeddings: rows of token_embd, dequantized, times sqrt(n_embd) where the architecture
// scales them (gemma).
Result<void> Forward::embed_rows(std::span<const BatchToken> batch, float* x) {
    const int64_t n_embd = m_.info.n_embd;
    const float embd_scale = m_.arch.embed_scale ? std::sqrt(static_cast<float>(n_embd)) : 1.0f;
    for (size_t t = 0; t < batch.size(); ++t) {
        const auto* row = static_cast<const uint8_t*>(m_.token_embd.data) +
                          size_t(batch[t].token) * m_.token_embd.row_bytes;
        float* xt = x + t * n_embd;
        if (auto ok = dequantize(m_.token_embd.type, row, xt, n_embd); !ok) {
            return std::unexpected(ok.error());
        }
        if (embd_scale != 1.0f) {
            for (int64_t i = 0; i < n_embd; ++i) {
                xt[i] *= embd_scale;
            }
        }
    }
    return {};
}

Result<void> Forward::run(std::span<const BatchToken> batch, float* logits) {
    if (batch.empty()) {
        return {};
    }
    if (auto ok = check_batch(batch, true, 0, m_.info.n_layer); !ok) {
        return ok;
    }
    ensure_capacity(batch.size());
    if (auto ok = embed_rows(batch, x_.data()); !ok) {
        return ok;
    }
    if (auto ok = gemma4_per_layer_inputs(batch); !ok) {
        return ok;
    }
    begin_recurrent_batch(batch);
    run_layers(batch, 0, m_.info.n_layer);
    end_recurrent_batch(batch);
    output_head(batch, logits);
    return {};
}

Result<void> Forward::embed(std::span<const BatchToken> batch, float* residual) {
    if (batch.empty()) {
        return {};
    }
    if (auto ok = check_batch(batch, false, 0, 0); !ok) {
        return ok;
    }
    return embed_rows(batch, residual);
}

Result<void> Forward::run_from(std::span<const BatchToken> batch, uint32_t first_layer,
                               const float* residual, float* logits) {
    if (auto ok = check_layer(first_layer, "first layer"); !ok) {
        return ok;
    }
    if (batch.empty()) {
        return {};
    }
    if (auto ok = check_batch(batch, true, first_layer, m_.info.n_layer); !ok) {
        return ok;
    }
    ensure_capacity(batch.size());
    // gemma4's per-layer inputs come from the embeddings, which the residual is only at layer
    // 0: past it, the batch's own embeddings give them, then the residual takes their place.
    const bool own_embeddings = m_.info.n_embd_per_layer > 0 && first_layer > 0;
    const size_t n_floats = batch.size() * m_.info.n_embd;
    if (own_embeddings) {
        if (auto ok = embed_rows(batch, x_.data()); !ok) {
            return ok;
        }
    } else {
        std::copy_n(residual, n_floats, x_.data());
    }
    if (auto ok = gemma4_per_layer_inputs(batch); !ok) { // (nothing for other models)
        return ok;
    }
    if (own_embeddings) {
        std::copy_n(residual, n_floats, x_.data());
    }
    begin_recurrent_batch(batch); // hybrid models: the states of layers [first_layer, n_layer)
    run_layers(batch, first_layer, m_.info.n_layer);
    end_recurrent_batch(batch);
    output_head(batch, logits);
    return {};
}

Result<void> Forward::run_to(std::span<const BatchToken> batch, uint32_t last_layer,
                             float* residual) {
    if (auto ok = check_layer(last_layer, "last layer"); !ok) {
        return ok;
    }
    if (batch.empty()) {
        return {};
    }
    if (auto ok = check_batch(batch, true, 0, last_layer); !ok) {
        return ok;
    }
    ensure_capacity(batch.size());
    if (auto ok = embed_rows(batch, x_.data()); !ok) {
        return ok;
    }
    if (auto ok = gemma4_per_layer_inputs(batch); !ok) {
        return ok;
    }
    run_layers(batch, 0, last_layer);
    std::copy_n(x_.data(), batch.size() * m_.info.n_embd, residual);
    return {};
}

void Forward::run_layers(std::span<const BatchToken> batch, uint32_t first_layer,
                         uint32_t last_layer) {
    const ModelInfo& info = m_.info;
    const size_t n = batch.size();
    ThreadPool& pool = *m_.pool;
    const int64_t n_embd = info.n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const int64_t nt = static_cast<int64_t>(n);

    for (uint32_t il = first_layer; il < last_layer; ++il) {
        const LayerWeights& L = m_.layers[il];
        if (info.is_recurrent(il)) {
            delta_net_block(il, batch);
        } else if (m_.arch.gemma4_layers) {
            gemma4_attention_block(il, batch);
        } else {
            attention_block(il, batch);
        }
        if (m_.arch.gemma4_layers && !L.experts.empty()) {
            gemma4_experts_block(il, n);
        } else if (!L.experts.empty()) {
            moe_.run(info, m_.arch, L.experts, h_.data(), nt, out_.data(), pool);
        } else {
            dense_feed_forward(L, n);
        }
        for (size_t t = 0; t < n; ++t) {
            float* x = x_.data() + t * n_embd;
            float* o = out_.data() + t * n_embd;
            if (!L.post_ffn_norm.empty()) {
                rms_norm(o, L.post_ffn_norm.data(), o, n_embd, eps);
            }
            for (int64_t i = 0; i < n_embd; ++i) {
                x[i] += o[i];
            }
        }
        if (m_.arch.gemma4_layers) {
            gemma4_layer_output(il, n);
        }
    }
}

void Forward::dense_feed_forward(const LayerWeights& L, size_t n) {
    const int64_t n_embd = m_.info.n_embd;
    const int64_t n_ff = L.w_gate.n_rows; // gemma4's differ by layer
    const auto nt = static_cast<int64_t>(n);
    ThreadPool& pool = *m_.pool;
    const MatmulTarget gate_up[] = {{&L.w_gate, gate_.data(), n_ff}, {&L.w_up, up_.data(), n_ff}};
    matmul_group(gate_up, h_.data(), nt, n_embd, scratch_.data(), pool);
    // A batch's rows over the pool (each row's values are computed alone, so the bits do not
    // depend on the split); one token's on this thread, where a hand-off would cost more.
    if (n == 1) {
        gated_activation(m_.arch.activation, gate_.data(), up_.data(), n, n_ff);
    } else {
        pool.parallel_for(nt, 1, [&](int64_t t0, int64_t t1) {
            gated_activation(m_.arch.activation, gate_.data() + t0 * n_ff, up_.data() + t0 * n_ff,
                             static_cast<size_t>(t1 - t0), n_ff);
        });
    }
    matmul(L.w_down, gate_.data(), nt, n_ff, out_.data(), n_embd, scratch_.data(), pool);
}

// A gated delta-net layer: its recurrent token mixer in place of attention.
void Forward::delta_net_block(uint32_t il, std::span<const BatchToken> batch) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    for (size_t t = 0; t < batch.size(); ++t) {
        rms_norm(x_.data() + t * n_embd, m_.layers[il].attn_norm.data(), h_.data() + t * n_embd,
                 n_embd, eps);
    }
    delta_net_->run(il, batch, h_.data(), out_.data());
    add_mixer_output(il, batch.size());
}

void Forward::rewind_verified(RecurrentState& state, uint32_t position) {
    if (delta_net_ && !state.empty()) {
        delta_net_->replay_verified(state, position);
    }
}

void Forward::add_mixer_output(uint32_t il, size_t n) {
    const LayerWeights& L = m_.layers[il];
    const int64_t n_embd = m_.info.n_embd;
    const float eps = static_cast<float>(m_.info.norm_rms_eps);
    for (size_t t = 0; t < n; ++t) {
        float* x = x_.data() + t * n_embd;
        float* o = out_.data() + t * n_embd;
        for (size_t i = 0; i < L.bo.size(); ++i) {
            o[i] += L.bo[i];
        }
        if (!L.post_attn_norm.empty()) {
            rms_norm(o, L.post_attn_norm.data(), o, n_embd, eps);
        }
        for (int64_t i = 0; i < n_embd; ++i) {
            x[i] += o[i];
        }
        rms_norm(x, L.ffn_norm.data(), h_.data() + t * n_embd, n_embd, eps);
    }
}

void Forward::attention_block(uint32_t il, std::span<const BatchToken> batch) {
    const ModelInfo& info = m_.info;
    const size_t n = batch.size();
    ThreadPool& pool = *m_.pool;
    const int64_t n_embd = info.n_embd;
    const int n_head = static_cast<int>(info.n_head);
    const int n_head_kv = static_cast<int>(info.n_head_kv);
    const int head_dim_k = static_cast<int>(info.head_dim_k);
    const int head_dim_v = static_cast<int>(info.head_dim_v);
    const int64_t q_width = int64_t(n_head) * head_dim_k;
    const int64_t k_width = int64_t(n_head_kv) * head_dim_k;
    const int64_t v_width = int64_t(n_head_kv) * head_dim_v;
    const int64_t o_width = int64_t(n_head) * head_dim_v;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const int64_t nt = static_cast<int64_t>(n);
    const bool fused_rope = kernel_level() == KernelLevel::avx2;

    const LayerWeights& L = m_.layers[il];
    // gemma3's local layers have a RoPE of their own; gpt-oss's (swa_period) the global one.
    const RopeParams rope = rope_params(m_, L.sliding);
    for (size_t t = 0; t < n; ++t) {
        RopeParams token_rope = rope;
        if (const float* factors = longrope_factors(m_, *batch[t].cache)) {
            token_rope.freq_factors = factors;
        }
        rope_angles(token_rope, batch[t].pos, rope_cos_.data() + t * info.n_rot / 2,
                    rope_sin_.data() + t * info.n_rot / 2);
        rms_norm(x_.data() + t * n_embd, L.attn_norm.data(), h_.data() + t * n_embd, n_embd, eps);
    }
    // Q (qwen35: with its gate), K and V from the same h: one parallel region for a decode step.
    const MatmulTarget q_target =
        m_.arch.hybrid_delta_net
            ? MatmulTarget{&L.wq, attn_gate_.projection(n, size_t(n_head), size_t(head_dim_k)),
                           2 * q_width}
            : MatmulTarget{&L.wq, q_.data(), q_width};
    const MatmulTarget qkv[] = {q_target, {&L.wk, k_.data(), k_width}, {&L.wv, v_.data(), v_width}};
    matmul_group(qkv, h_.data(), nt, n_embd, scratch_.data(), pool);
    if (m_.arch.hybrid_delta_net) {
        attn_gate_.split(n, q_.data());
    }
    for (size_t t = 0; t < n; ++t) {
        float* q = q_.data() + t * q_width;
        float* k = k_.data() + t * k_width;
        float* v = v_.data() + t * v_width;
        if (!L.bq.empty()) {
            for (int64_t i = 0; i < q_width; ++i)
                q[i] += L.bq[i];
            for (int64_t i = 0; i < k_width; ++i)
                k[i] += L.bk[i];
            for (int64_t i = 0; i < v_width; ++i)
                v[i] += L.bv[i];
        }
        if (!L.q_norm.empty()) {
            for (int h = 0; h < n_head; ++h) {
                rms_norm(q + h * head_dim_k, L.q_norm.data(), q + h * head_dim_k, head_dim_k, eps);
            }
            for (int h = 0; h < n_head_kv; ++h) {
                rms_norm(k + h * head_dim_k, L.k_norm.data(), k + h * head_dim_k, head_dim_k, eps);
            }
        }
        const float* cos_t = rope_cos_.data() + t * info.n_rot / 2;
        const float* sin_t = rope_sin_.data() + t * info.n_rot / 2;
        if (!L.no_rope) {
            apply_rope(q, n_head, head_dim_k, rope.n_rot, m_.arch.rope, cos_t, sin_t, fused_rope);
            apply_rope(k, n_head_kv, head_dim_k, rope.n_rot, m_.arch.rope, cos_t, sin_t,
                       fused_rope);
        }
        if (info.attn_temperature_scale != 0.0) {
            const float temperature = attention_temperature(info, batch[t].pos);
            for (int64_t i = 0; i < q_width; ++i) {
                q[i] *= temperature;
            }
        }
        batch[t].cache->store(il, batch[t].pos, k, v);
    }
    attention(il, batch);
    if (m_.arch.hybrid_delta_net) {
        attn_gate_.apply(attn_.data(), n);
    }
    matmul(L.wo, attn_.data(), nt, o_width, out_.data(), n_embd, scratch_.data(), pool);
    add_mixer_output(il, n);
}

// Final norm and output projection for the tokens that want logits.
void Forward::output_head(std::span<const BatchToken> batch, float* logits) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    int64_t n_out = 0;
    for (size_t t = 0; t < batch.size(); ++t) {
        if (batch[t].want_logits) {
            rms_norm(x_.data() + t * n_embd, m_.output_norm.data(), h_.data() + n_out * n_embd,
                     n_embd, eps);
            ++n_out;
        }
    }
    if (n_out > 0) {
        matmul(m_.output, h_.data(), n_out, n_embd, logits, info.n_vocab, scratch_.data(),
               *m_.pool);
    }
    if (n_out > 0 && info.final_logit_softcap != 0.0) {
        // gemma2: ggml_scale by 1/cap, ggml_tanh, ggml_scale by cap.
        const auto cap = static_cast<float>(info.final_logit_softcap);
        const float inv_cap = 1.0f / cap;
        for (size_t i = 0; i < size_t(n_out) * info.n_vocab; ++i) {
            logits[i] = attention_math::soft_cap(logits[i], cap, inv_cap);
        }
    }
}

} // namespace hearth::cpu
