// gemma4's expert layers (Gemma 4 26B-A4B; llama.cpp's src/models/gemma4.cpp, is_moe_layer):
// the dense feed-forward and the routed experts side by side, each with norms of its own.
// A member of Forward, kept out of forward.cpp; the routing is MoeFeedForward's.
#include "cpu/forward.h"
#include "cpu/rms_norm.h"
#include "model/model_impl.h"

#include <cmath>

namespace hearth::cpu {

// With a the residual after attention (x_) and h = rmsnorm(a) · ffn_norm (h_):
//   dense   = rmsnorm(FFN(h)) · post_ffw_norm_1
//   r       = rmsnorm(a) / sqrt(n_embd) · ffn_gate_inp.scale       (the router's input)
//   experts = rmsnorm(MoE(rmsnorm(a) · pre_ffw_norm_2, routed by r)) · post_ffw_norm_2
//   out_    = dense + experts
// in ggml's order: the scale and the weights applied one multiplication at a time.
void Forward::gemma4_experts_block(uint32_t il, size_t n) {
    const ModelInfo& info = m_.info;
    const LayerWeights& L = m_.layers[il];
    const int64_t n_embd = info.n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const float router_scale = 1.0f / std::sqrt(static_cast<float>(n_embd));
    const size_t width = n * static_cast<size_t>(n_embd);
    experts_in_.resize(width);
    router_in_.resize(width);
    experts_out_.resize(width);

    dense_feed_forward(L, n);
    for (size_t t = 0; t < n; ++t) {
        const float* a = x_.data() + t * n_embd;
        float* dense = out_.data() + t * n_embd;
        float* r = router_in_.data() + t * n_embd;
        rms_norm(dense, L.ffn_post_norm_1.data(), dense, n_embd, eps);
        rms_norm(a, L.ffn_pre_norm_2.data(), experts_in_.data() + t * n_embd, n_embd, eps);
        rms_norm(a, nullptr, r, n_embd, eps);
        for (int64_t i = 0; i < n_embd; ++i) {
            r[i] *= router_scale;
        }
        for (int64_t i = 0; i < n_embd; ++i) {
            r[i] *= L.router_input_scale[static_cast<size_t>(i)];
        }
    }
    moe_.run(info, m_.arch, L.experts, experts_in_.data(), static_cast<int64_t>(n),
             experts_out_.data(), *m_.pool, router_in_.data());
    for (size_t t = 0; t < n; ++t) {
        float* dense = out_.data() + t * n_embd;
        float* experts = experts_out_.data() + t * n_embd;
        rms_norm(experts, L.ffn_post_norm_2.data(), experts, n_embd, eps);
        for (int64_t i = 0; i < n_embd; ++i) {
            dense[i] += experts[i];
        }
    }
}

} // namespace hearth::cpu
