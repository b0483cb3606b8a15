// The gated delta-net layers of a hybrid model (see delta_net.h), the bookkeeping of the
// sequences' recurrent states around a batch, and their rewind after a speculative pass.
#include "cpu/delta_net.h"

#include "cpu/cpu_features.h"
#include "cpu/delta_net_ggml.h"
#include "cpu/delta_net_math.h"
#include "cpu/ggml_numerics.h"
#include "cpu/rms_norm.h"
#include "model/model_impl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <fmt/format.h>

namespace hearth::cpu {
namespace {

float dot(int64_t n, const float* x, const float* y, bool ggml_order) {
    if (ggml_order) {
        return ggml::vec_dot_f32(n, x, y);
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        sum += x[i] * y[i];
    }
    return sum;
}

void mad(int64_t n, float* y, const float* x, float v, bool ggml_order) {
    if (ggml_order) {
        ggml::vec_mad_f32(n, y, x, v);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        y[i] += x[i] * v;
    }
}

} // namespace

void silu_row(int64_t n, float* y, const float* x, const float* ones) {
    if (kernel_level() == KernelLevel::avx2) {
        ggml::swiglu_f32(n, y, x, ones);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        y[i] = delta_net::silu(x[i]);
    }
}

void l2_norm(float* x, int64_t n, float eps) {
    const float nf = static_cast<float>(n);
    rms_norm(x, nullptr, x, n, eps / nf);
    const float scale = 1.0f / std::sqrt(nf);
    for (int64_t i = 0; i < n; ++i) {
        x[i] *= scale;
    }
}

float conv_channel_step(float* past, float x, const float* taps, size_t d_conv, float* window) {
    const size_t kept = d_conv - 1;
    std::copy_n(past, kept, window);
    window[kept] = x;
    const float y = kernel_level() == KernelLevel::avx2
                        ? ggml::conv_dot(int64_t(d_conv), window, taps)
                        : dot(int64_t(d_conv), window, taps, false);
    std::copy_n(window + 1, kept, past);
    return y;
}

void delta_rule_token(float* s, const float* q, const float* k, const float* v, float beta,
                      float decay, int64_t d, float scale, float* delta, float* out) {
    const bool ggml_order = kernel_level() == KernelLevel::avx2;
    for (int64_t i = 0; i < d * d; ++i) {
        s[i] *= decay;
    }
    for (int64_t j = 0; j < d; ++j) {
        delta[j] = (v[j] - dot(d, s + j * d, k, ggml_order)) * beta;
    }
    for (int64_t j = 0; j < d; ++j) {
        mad(d, s + j * d, k, delta[j], ggml_order);
    }
    for (int64_t j = 0; j < d; ++j) {
        out[j] = dot(d, s + j * d, q, ggml_order) * scale;
    }
}

void gated_norm_head(float* o, float* z, const float* norm, int64_t d, float eps,
                     const float* ones) {
    silu_row(d, z, z, ones);
    rms_norm(o, norm, o, d, eps);
    for (int64_t i = 0; i < d; ++i) {
        o[i] *= z[i];
    }
}

DeltaNet::DeltaNet(const Model::Impl& model) : m_(model) {}

void DeltaNet::ensure_capacity(size_t n) {
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const size_t channels = la.conv_channels();
    if (n > capacity_) {
        qkv_.resize(n * channels);
        conv_.resize(n * channels);
        z_.resize(n * la.d_inner);
        core_.resize(n * la.d_inner);
        beta_.resize(n * la.n_v_heads);
        g_.resize(n * la.n_v_heads);
        const int64_t widest = std::max<int64_t>(m_.info.n_embd, la.d_inner);
        size_t row_bytes = 0;
        for (TensorType type : {TensorType::Q8_0, TensorType::Q4_1, TensorType::Q4_K,
                                TensorType::F16, TensorType::F32}) {
            row_bytes = std::max(row_bytes, activation_row_bytes(type, widest));
        }
        scratch_.resize(n * row_bytes + 64);
        capacity_ = n;
    }
    ones_.assign(std::max<size_t>(channels, la.d_inner), 1.0f);
    delta_.resize(size_t(m_.pool->size()) * la.d_state);
    read_.resize(delta_.size());
}

// The input projections and the per-head gates: beta = sigmoid(W_beta h),
// g = a · softplus(W_alpha h + dt_bias).
void DeltaNet::project(uint32_t layer, const float* h, size_t n) {
    const DeltaNetWeights& w = m_.layers[layer].delta;
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const int64_t nt = static_cast<int64_t>(n);
    const int64_t n_embd = m_.info.n_embd;
    const int64_t n_heads = la.n_v_heads;
    ThreadPool& pool = *m_.pool;
    matmul(w.w_qkv, h, nt, n_embd, qkv_.data(), static_cast<int64_t>(la.conv_channels()),
           scratch_.data(), pool);
    matmul(w.w_z, h, nt, n_embd, z_.data(), la.d_inner, scratch_.data(), pool);
    matmul(w.w_beta, h, nt, n_embd, beta_.data(), n_heads, scratch_.data(), pool);
    matmul(w.w_alpha, h, nt, n_embd, g_.data(), n_heads, scratch_.data(), pool);
    for (size_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < n_heads; ++i) {
            float& beta = beta_[t * size_t(n_heads) + size_t(i)];
            beta = delta_net::sigmoid(beta);
            float& g = g_[t * size_t(n_heads) + size_t(i)];
            g = delta_net::log_decay(g, w.dt_bias[size_t(i)], w.a[size_t(i)]);
        }
    }
}

// The causal convolution over each channel's last d_conv inputs (the state keeps d_conv - 1
// of them, oldest first), token after token of each sequence, then silu; q and k
// l2-normalised per head.
void DeltaNet::convolve(uint32_t layer, std::span<const BatchToken> batch) {
    const DeltaNetWeights& w = m_.layers[layer].delta;
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const size_t channels = la.conv_channels();
    std::vector<float> window(la.d_conv);
    for (size_t t = 0; t < batch.size(); ++t) {
        RecurrentState& state = *batch[t].state;
        float* history = state.conv(layer); // (channels, kept)
        const float* x = qkv_.data() + t * channels;
        float* y = conv_.data() + t * channels;
        for (size_t c = 0; c < channels; ++c) {
            y[c] = conv_channel_step(history + c * (la.d_conv - 1), x[c],
                                     w.conv.data() + c * la.d_conv, la.d_conv, window.data());
        }
        if (state.checkpoint_wanted(batch[t].pos + 1)) {
            state.take_checkpoint_conv(layer);
        }
        silu_row(int64_t(channels), y, y, ones_.data());
        const float eps = static_cast<float>(m_.info.norm_rms_eps);
        for (size_t head = 0; head < 2 * size_t(la.n_k_heads); ++head) {
            l2_norm(y + head * la.d_state, la.d_state, eps);
        }
        if (float* log = state.log_row(layer, batch[t].pos)) {
            // Speculation: what replay_verified runs this token with again.
            const size_t n_heads = la.n_v_heads;
            log = std::copy_n(x, channels, log);
            log = std::copy_n(y, channels, log);
            log = std::copy_n(beta_.data() + t * n_heads, n_heads, log);
            std::copy_n(g_.data() + t * n_heads, n_heads, log);
        }
    }
}

// The delta rule, value head by value head (spread over the pool), each head's tokens in
// batch order: decay, the write of k ⊗ beta (v − Sᵀk), the read Sᵀq. The state of a head is
// kept transposed, as ggml keeps it: row j is column j of S, so each product is a row dot.
void DeltaNet::delta_rule(uint32_t layer, std::span<const BatchToken> batch) {
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const int64_t d = la.d_state;
    const size_t channels = la.conv_channels();
    const size_t key_width = la.key_width();
    const int64_t n_heads = la.n_v_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    m_.pool->run([&](int thread, int threads) {
        float* delta = delta_.data() + size_t(thread) * size_t(d);
        for (int64_t head = thread; head < n_heads; head += threads) {
            const size_t k_head = size_t(head % la.n_k_heads);
            for (size_t t = 0; t < batch.size(); ++t) {
                RecurrentState& state = *batch[t].state;
                float* s = state.ssm(layer) + size_t(head) * size_t(d * d);
                const float* row = conv_.data() + t * channels;
                const float* q = row + k_head * size_t(d);
                const float* k = row + key_width + k_head * size_t(d);
                const float* v = row + 2 * key_width + size_t(head) * size_t(d);
                const float beta = beta_[t * size_t(n_heads) + size_t(head)];
                const float decay = std::exp(g_[t * size_t(n_heads) + size_t(head)]);
                float* out = core_.data() + t * la.d_inner + size_t(head) * size_t(d);
                delta_rule_token(s, q, k, v, beta, decay, d, scale, delta, out);
                if (state.checkpoint_wanted(batch[t].pos + 1)) {
                    state.take_checkpoint_ssm(layer, static_cast<uint32_t>(head));
                }
            }
        }
    });
}

// Each head's output RMS-normed with ssm_norm, times silu(z).
void DeltaNet::gated_norm(uint32_t layer, size_t n) {
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const float* norm = m_.layers[layer].delta.norm.data();
    const float eps = static_cast<float>(m_.info.norm_rms_eps);
    for (size_t t = 0; t < n; ++t) {
        float* z = z_.data() + t * la.d_inner;
        float* o = core_.data() + t * la.d_inner;
        for (size_t head = 0; head < la.n_v_heads; ++head) {
            gated_norm_head(o + head * la.d_state, z + head * la.d_state, norm, la.d_state, eps,
                            ones_.data());
        }
    }
}

void DeltaNet::replay_verified(RecurrentState& state, uint32_t position) {
    const uint32_t start = state.verify_position();
    if (!state.verifying() || position == state.position()) {
        state.end_verify();
        return;
    }
    assert(position > start && position < state.position());
    state.restore_verify_start();
    const LinearAttentionInfo& la = m_.info.linear_attention;
    const size_t channels = la.conv_channels();
    const size_t kept = la.d_conv - 1;
    const int64_t d = la.d_state;
    const size_t n_heads = la.n_v_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    ensure_capacity(1);
    for (uint32_t layer = 0; layer < m_.info.n_layer; ++layer) {
        if (!m_.info.is_recurrent(layer)) {
            continue;
        }
        // The convolution's state is its last inputs: each channel's shifts x in, as
        // conv_channel_step does.
        float* history = state.conv(layer); // (channels, kept)
        for (uint32_t pos = start; pos < position && kept > 0; ++pos) {
            const float* x = state.log_row(layer, pos);
            for (size_t c = 0; c < channels; ++c) {
                float* past = history + c * kept;
                std::copy_n(past + 1, kept - 1, past);
                past[kept - 1] = x[c];
            }
        }
        // The delta rule, as delta_rule() runs it, from the logged q, k, v, beta and g.
        m_.pool->run([&](int thread, int threads) {
            float* delta = delta_.data() + size_t(thread) * size_t(d);
            float* out = read_.data() + size_t(thread) * size_t(d); // Sᵀq, not needed again
            for (size_t head = size_t(thread); head < n_heads; head += size_t(threads)) {
                const size_t k_head = head % la.n_k_heads;
                float* s = state.ssm(layer) + head * size_t(d * d);
                for (uint32_t pos = start; pos < position; ++pos) {
                    const float* row = state.log_row(layer, pos) + channels;
                    const float* q = row + k_head * size_t(d);
                    const float* k = row + la.key_width() + k_head * size_t(d);
                    const float* v = row + 2 * la.key_width() + head * size_t(d);
                    const float beta = row[channels + head];
                    const float decay = std::exp(row[channels + n_heads + head]);
                    delta_rule_token(s, q, k, v, beta, decay, d, scale, delta, out);
                }
            }
        });
    }
    state.set_position(position);
    state.end_verify();
}

void DeltaNet::run(uint32_t layer, std::span<const BatchToken> batch, const float* h, float* out) {
    const size_t n = batch.size();
    ensure_capacity(n);
    project(layer, h, n);
    convolve(layer, batch);
    delta_rule(layer, batch);
    gated_norm(layer, n);
    const LinearAttentionInfo& la = m_.info.linear_attention;
    matmul(m_.layers[layer].delta.w_out, core_.data(), static_cast<int64_t>(n), la.d_inner, out,
           m_.info.n_embd, scratch_.data(), *m_.pool);
}

Result<void> check_recurrent_batch(const Model::Impl& model, std::span<const BatchToken> batch,
                                   uint32_t first_layer, uint32_t last_layer) {
    // The last layers may run alone (the CPU part of a partial offload, its first layers'
    // states on the GPU); the position bookkeeping happens where the last layer runs.
    if (last_layer != model.info.n_layer) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the layers of a model with recurrent layers run to the last "
                                "together; [{}, {}) of {} cannot run alone",
                                first_layer, last_layer, model.info.n_layer));
    }
    // Each sequence's next position, in order of appearance (a batch holds few sequences).
    std::vector<std::pair<const RecurrentState*, uint32_t>> next;
    for (const BatchToken& t : batch) {
        if (!t.state || t.state->empty()) {
            return fail(ErrorCode::invalid_argument,
                        "a token of a model with recurrent layers comes without its sequence's "
                        "recurrent state");
        }
        auto seen =
            std::ranges::find(next, t.state, &std::pair<const RecurrentState*, uint32_t>::first);
        const uint32_t expected = seen != next.end() ? seen->second
                                  : t.pos == 0       ? 0
                                                     : t.state->position();
        if (t.pos != expected) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("position {} cannot be computed: the sequence's recurrent "
                                    "state stands at position {} and cannot be moved back; "
                                    "run the sequence again from an earlier checkpoint or "
                                    "from the start",
                                    t.pos, expected));
        }
        if (seen != next.end()) {
            seen->second = t.pos + 1;
        } else {
            next.emplace_back(t.state, t.pos + 1);
        }
    }
    return {};
}

void begin_recurrent_batch(std::span<const BatchToken> batch) {
    for (const BatchToken& t : batch) {
        if (t.state && t.pos == 0) {
            t.state->reset();
        }
    }
}

void end_recurrent_batch(std::span<const BatchToken> batch) {
    for (const BatchToken& t : batch) {
        if (t.state && t.state->position() <= t.pos) {
            t.state->commit_checkpoint(t.state->position(), t.pos + 1);
            t.state->set_position(t.pos + 1);
        }
    }
}

} // namespace hearth::cpu
