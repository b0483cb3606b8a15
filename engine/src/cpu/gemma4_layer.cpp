// gemma4's parts of the forward pass (llama.cpp's src/models/gemma4.cpp): attention at each
// layer's own sizes, reading an earlier layer's cache where the layer shares one; the
// per-layer embedding inputs; and what follows a layer's feed-forward (the per-layer
// embedding, the output scale). Forward's members, kept out of forward.cpp.
#include "cpu/cpu_features.h"
#include "cpu/forward.h"
#include "cpu/matmul.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "hearth/quant.h"
#include "model/model_impl.h"

#include <algorithm>
#include <cmath>

namespace hearth::cpu {

// llama.cpp's build_inp_per_layer and project_per_layer_inputs: for each token and layer,
//   (rmsnorm(per_layer_model_proj · x / sqrt(n_embd)) · per_layer_proj_norm
//    + per_layer_token_embd[token] · sqrt(n_embd_per_layer)) / sqrt(2)
// with x the scaled embedding; kept layer-major, (n_layer, n_tokens, n_embd_per_layer).
Result<void> Forward::gemma4_per_layer_inputs(std::span<const BatchToken> batch) {
    const ModelInfo& info = m_.info;
    const int64_t n_epl = info.n_embd_per_layer;
    if (n_epl == 0) {
        return {};
    }
    const size_t n = batch.size();
    const int64_t width = n_epl * info.n_layer;
    const Gemma4Weights& g = m_.gemma4;
    std::vector<float>& selected = ple_gate_; // the looked-up rows, before the projection joins
    selected.resize(n * width);
    ple_projected_.resize(n * width);
    ple_inputs_.resize(n * width);
    const float embd_scale = std::sqrt(static_cast<float>(n_epl));
    for (size_t t = 0; t < n; ++t) {
        const auto* row = static_cast<const uint8_t*>(g.token_embd.data) +
                          size_t(batch[t].token) * g.token_embd.row_bytes;
        float* out = selected.data() + t * width;
        if (auto ok = dequantize(g.token_embd.type, row, out, width); !ok) {
            return ok;
        }
        for (int64_t i = 0; i < width; ++i) {
            out[i] *= embd_scale;
        }
    }
    const int64_t n_embd = info.n_embd;
    matmul(g.model_proj, x_.data(), static_cast<int64_t>(n), n_embd, ple_projected_.data(), width,
           scratch_.data(), *m_.pool);
    const float proj_scale = 1.0f / std::sqrt(static_cast<float>(n_embd));
    const float input_scale = 1.0f / std::sqrt(2.0f);
    const float eps = static_cast<float>(info.norm_rms_eps);
    for (size_t t = 0; t < n; ++t) {
        for (uint32_t il = 0; il < info.n_layer; ++il) {
            float* p = ple_projected_.data() + t * width + il * n_epl;
            const float* s = selected.data() + t * width + il * n_epl;
            float* out = ple_inputs_.data() + (size_t{il} * n + t) * n_epl;
            for (int64_t i = 0; i < n_epl; ++i) {
                p[i] *= proj_scale;
            }
            rms_norm(p, g.proj_norm.data(), p, n_epl, eps);
            for (int64_t i = 0; i < n_epl; ++i) {
                out[i] = (p[i] + s[i]) * input_scale;
            }
        }
    }
    return {};
}

// x += rmsnorm(Wo · attention(q, K, V)) · post_attention_norm, then h = rmsnorm(x) · ffn_norm,
// with q, k and v at this layer's sizes: q and k normed per head with their weights, v
// without one, q and k rotated (the global layers with rope_freqs), k and v stored unless the
// layer reads an earlier layer's cache.
void Forward::gemma4_attention_block(uint32_t il, std::span<const BatchToken> batch) {
    const ModelInfo& info = m_.info;
    const LayerShape& shape = info.layer_shapes[il];
    const LayerWeights& L = m_.layers[il];
    const size_t n = batch.size();
    const int64_t nt = static_cast<int64_t>(n);
    const int64_t n_embd = info.n_embd;
    const int n_head = static_cast<int>(shape.n_head);
    const int n_head_kv = static_cast<int>(shape.n_head_kv);
    const int head_dim = static_cast<int>(shape.head_dim);
    const int64_t q_width = int64_t(n_head) * head_dim;
    const int64_t kv_width = int64_t(n_head_kv) * head_dim;
    const bool owns_kv = shape.kv_layer == il;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const bool fused_rope = kernel_level() == KernelLevel::avx2;
    ThreadPool& pool = *m_.pool;

    RopeParams rope = rope_params(m_, shape.sliding);
    rope.n_rot = static_cast<int>(shape.n_rot);
    rope.freq_factors = shape.sliding ? nullptr : m_.gemma4.rope_freqs.data();
    const size_t half = shape.n_rot / 2;
    for (size_t t = 0; t < n; ++t) {
        rope_angles(rope, batch[t].pos, rope_cos_.data() + t * half, rope_sin_.data() + t * half);
        rms_norm(x_.data() + t * n_embd, L.attn_norm.data(), h_.data() + t * n_embd, n_embd, eps);
    }
    matmul(L.wq, h_.data(), nt, n_embd, q_.data(), q_width, scratch_.data(), pool);
    if (owns_kv) {
        matmul(L.wk, h_.data(), nt, n_embd, k_.data(), kv_width, scratch_.data(), pool);
        if (L.v_from_k) {
            std::copy_n(k_.data(), n * kv_width, v_.data()); // before K's norm and RoPE
        } else {
            matmul(L.wv, h_.data(), nt, n_embd, v_.data(), kv_width, scratch_.data(), pool);
        }
    }
    for (size_t t = 0; t < n; ++t) {
        const float* cos_t = rope_cos_.data() + t * half;
        const float* sin_t = rope_sin_.data() + t * half;
        float* q = q_.data() + t * q_width;
        for (int h = 0; h < n_head; ++h) {
            rms_norm(q + h * head_dim, L.q_norm.data(), q + h * head_dim, head_dim, eps);
        }
        apply_rope(q, n_head, head_dim, rope.n_rot, m_.arch.rope, cos_t, sin_t, fused_rope);
        if (!owns_kv) {
            continue;
        }
        float* k = k_.data() + t * kv_width;
        float* v = v_.data() + t * kv_width;
        for (int h = 0; h < n_head_kv; ++h) {
            rms_norm(k + h * head_dim, L.k_norm.data(), k + h * head_dim, head_dim, eps);
            rms_norm(v + h * head_dim, nullptr, v + h * head_dim, head_dim, eps);
        }
        apply_rope(k, n_head_kv, head_dim, rope.n_rot, m_.arch.rope, cos_t, sin_t, fused_rope);
        batch[t].cache->store(il, batch[t].pos, k, v);
    }
    attention(il, batch);
    matmul(L.wo, attn_.data(), nt, q_width, out_.data(), n_embd, scratch_.data(), pool);
    add_mixer_output(il, n);
}

// After the feed-forward's residual: x += rmsnorm(proj · (gelu(inp_gate · x) · input)) ·
// post_norm with the layer's per-layer input, then x *= layer_output_scale.
void Forward::gemma4_layer_output(uint32_t il, size_t n) {
    const ModelInfo& info = m_.info;
    const LayerWeights& L = m_.layers[il];
    const int64_t n_embd = info.n_embd;
    const int64_t n_epl = info.n_embd_per_layer;
    const float eps = static_cast<float>(info.norm_rms_eps);
    if (n_epl > 0) {
        const int64_t nt = static_cast<int64_t>(n);
        ple_gate_.resize(n * n_epl);
        matmul(L.ple_gate, x_.data(), nt, n_embd, ple_gate_.data(), n_epl, scratch_.data(),
               *m_.pool);
        // gelu(gate) · input: ggml_gelu then ggml_mul, as the GeGLU computes it.
        gated_activation(FfnActivation::gelu_tanh, ple_gate_.data(),
                         ple_inputs_.data() + size_t{il} * n * n_epl, n, n_epl);
        matmul(L.ple_proj, ple_gate_.data(), nt, n_epl, out_.data(), n_embd, scratch_.data(),
               *m_.pool);
        for (size_t t = 0; t < n; ++t) {
            float* o = out_.data() + t * n_embd;
            float* x = x_.data() + t * n_embd;
            rms_norm(o, L.ple_post_norm.data(), o, n_embd, eps);
            for (int64_t i = 0; i < n_embd; ++i) {
                x[i] += o[i];
            }
        }
    }
    if (L.out_scale != 1.0f) {
        for (size_t i = 0; i < n * size_t(n_embd); ++i) {
            x_[i] *= L.out_scale;
        }
    }
}

} // namespace hearth::cpu
