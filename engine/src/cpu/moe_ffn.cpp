// The routed feed-forward (see moe_ffn.h): routing in ggml's order, tokens grouped by expert,
// each selected expert's matrices run once over its tokens, outputs summed in slot order.
#include "cpu/moe_ffn.h"

#include "cpu/cpu_features.h"
#include "cpu/forward.h"
#include "cpu/ggml_numerics.h"
#include "cpu/matmul.h"
#include "hearth/model_info.h"
#include "model/expert_routing.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hearth::cpu {
namespace {

void softmax_in_place(float* x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; ++i) {
        max = std::max(max, x[i]);
    }
    double sum = 0.0;
    if (kernel_level() == KernelLevel::avx2) {
        sum = ggml::soft_max_f32(n, x, x, max);
    } else {
        for (int i = 0; i < n; ++i) {
            x[i] = std::exp(x[i] - max);
            sum += static_cast<double>(x[i]);
        }
    }
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (int i = 0; i < n; ++i) {
        x[i] *= inv_sum;
    }
}

// x += the bias of expert e (row e of `bias`, width wide), when the model has biases.
void add_bias(float* x, const std::vector<float>& bias, int e, int64_t width) {
    if (bias.empty()) {
        return;
    }
    const float* b = bias.data() + int64_t(e) * width;
    for (int64_t i = 0; i < width; ++i) {
        x[i] += b[i];
    }
}

// x *= the scale of expert e, when the model has per-expert scales (llama.cpp's ggml_mul of
// the mul_mat_id result by the scales it gathered, before any bias).
void scale_row(float* x, const std::vector<float>& scales, int e, int64_t width) {
    if (scales.empty()) {
        return;
    }
    const float scale = scales[static_cast<size_t>(e)];
    for (int64_t i = 0; i < width; ++i) {
        x[i] *= scale;
    }
}

} // namespace

void route_token(Routing routing, float* logits, int n_expert, int n_used, int32_t* selected,
                 float* weights) {
    if (routing == Routing::softmax_top_k) {
        softmax_in_place(logits, n_expert);
    }
    // ggml_argsort (descending) then its first n_used, in the strict order of
    // moe::ranks_before (NaN last, ties to the lower index), which the CUDA router shares. A
    // NaN compared as such would break std::sort's ordering requirement, which lets the sort
    // read outside the range.
    thread_local std::vector<int32_t> order;
    order.resize(static_cast<size_t>(n_expert));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [logits](int32_t a, int32_t b) {
        return moe::ranks_before(logits[a], a, logits[b], b);
    });
    for (int s = 0; s < n_used; ++s) {
        selected[s] = order[static_cast<size_t>(s)];
        weights[s] = logits[selected[s]];
    }
    if (routing == Routing::top_k_softmax) {
        softmax_in_place(weights, n_used);
        return;
    }
    double sum = 0.0; // ggml_sum_rows: a double accumulator, rounded to float
    for (int s = 0; s < n_used; ++s) {
        sum += static_cast<double>(weights[s]);
    }
    const float divisor = std::max(static_cast<float>(sum), moe::kMinWeightSum);
    for (int s = 0; s < n_used; ++s) {
        weights[s] /= divisor;
    }
}

void MoeFeedForward::ensure_capacity(const ModelInfo& info, const ExpertWeights& w,
                                     int64_t n_tokens) {
    const auto n = static_cast<size_t>(n_tokens);
    const size_t n_slots = n * info.n_expert_used;
    probs_.resize(n * info.n_expert);
    selected_.resize(n_slots);
    weights_.resize(n_slots);
    by_expert_.resize(n_slots);
    expert_start_.resize(size_t{info.n_expert} + 1);
    x_.resize(n * info.n_embd);
    gate_.resize(n * info.n_ff_exp);
    up_.resize(n * info.n_ff_exp);
    down_.resize(n_slots * info.n_embd);
    const size_t act_bytes = std::max({activation_row_bytes(w.router.type, info.n_embd),
                                       activation_row_bytes(w.gate[0].type, info.n_embd),
                                       activation_row_bytes(w.up[0].type, info.n_embd),
                                       activation_row_bytes(w.down[0].type, info.n_ff_exp)});
    scratch_.resize(n * act_bytes + 64);
}

void MoeFeedForward::run(const ModelInfo& info, const ArchTraits& arch, const ExpertWeights& w,
                         const float* h, int64_t n_tokens, float* out, ThreadPool& pool,
                         const float* router_input) {
    ensure_capacity(info, w, n_tokens);
    const int n_expert = static_cast<int>(info.n_expert);
    const int n_used = static_cast<int>(info.n_expert_used);
    const int64_t n_embd = info.n_embd;
    const int64_t n_ff = info.n_ff_exp;
    const auto n = static_cast<size_t>(n_tokens);

    matmul(w.router, router_input ? router_input : h, n_tokens, n_embd, probs_.data(), n_expert,
           scratch_.data(), pool);
    for (size_t t = 0; t < n; ++t) {
        float* logits = probs_.data() + t * n_expert;
        add_bias(logits, w.router_bias, 0, n_expert);
        route_token(arch.routing, logits, n_expert, n_used, selected_.data() + t * n_used,
                    weights_.data() + t * n_used);
    }

    // Slots grouped by expert (a counting sort), in token order within an expert.
    std::fill(expert_start_.begin(), expert_start_.end(), 0);
    for (int32_t e : selected_) {
        expert_start_[static_cast<size_t>(e) + 1] += 1;
    }
    std::partial_sum(expert_start_.begin(), expert_start_.end(), expert_start_.begin());
    std::vector<int64_t>& next = next_slot_;
    next.assign(expert_start_.begin(), expert_start_.end() - 1);
    for (size_t slot = 0; slot < selected_.size(); ++slot) {
        by_expert_[static_cast<size_t>(next[static_cast<size_t>(selected_[slot])]++)] =
            static_cast<int32_t>(slot);
    }

    for (int e = 0; e < n_expert; ++e) {
        const int64_t begin = expert_start_[static_cast<size_t>(e)];
        const int64_t rows = expert_start_[static_cast<size_t>(e) + 1] - begin;
        if (rows == 0) {
            continue;
        }
        for (int64_t r = 0; r < rows; ++r) {
            const size_t token = static_cast<size_t>(by_expert_[static_cast<size_t>(begin + r)]) /
                                 static_cast<size_t>(n_used);
            std::copy_n(h + token * n_embd, n_embd, x_.data() + r * n_embd);
        }
        matmul(w.gate[e], x_.data(), rows, n_embd, gate_.data(), n_ff, scratch_.data(), pool,
               MatmulOp::mul_mat_id);
        matmul(w.up[e], x_.data(), rows, n_embd, up_.data(), n_ff, scratch_.data(), pool,
               MatmulOp::mul_mat_id);
        for (int64_t r = 0; r < rows; ++r) {
            add_bias(gate_.data() + r * n_ff, w.gate_bias, e, n_ff);
            add_bias(up_.data() + r * n_ff, w.up_bias, e, n_ff);
        }
        gated_activation(arch.activation, gate_.data(), up_.data(), static_cast<size_t>(rows),
                         n_ff);
        // Straight into each slot's row when the expert has one token (decode), else via x_.
        float* y =
            rows == 1 ? down_.data() + size_t(by_expert_[size_t(begin)]) * n_embd : x_.data();
        matmul(w.down[e], gate_.data(), rows, n_ff, y, n_embd, scratch_.data(), pool,
               MatmulOp::mul_mat_id);
        for (int64_t r = 0; r < rows; ++r) {
            scale_row(y + r * n_embd, w.down_scale, e, n_embd);
            add_bias(y + r * n_embd, w.down_bias, e, n_embd);
        }
        if (rows > 1) {
            for (int64_t r = 0; r < rows; ++r) {
                const auto slot = static_cast<size_t>(by_expert_[static_cast<size_t>(begin + r)]);
                std::copy_n(x_.data() + r * n_embd, n_embd, down_.data() + slot * n_embd);
            }
        }
        traffic_.expert_bytes += w.bytes_per_expert();
        traffic_.expert_loads += 1;
    }
    traffic_.routed_tokens += n;

    // y = Σ_s w_s · down_s, in slot order: ggml_mul, then ggml_add from the first slot on.
    for (size_t t = 0; t < n; ++t) {
        float* y = out + t * n_embd;
        for (int s = 0; s < n_used; ++s) {
            const float weight = weights_[t * n_used + s];
            const float* d = down_.data() + (t * n_used + s) * n_embd;
            for (int64_t i = 0; i < n_embd; ++i) {
                y[i] = s == 0 ? d[i] * weight : y[i] + d[i] * weight;
            }
        }
    }
    if (w.has_shared_expert()) {
        add_shared_expert(info, arch, w, h, n_tokens, out, pool);
    }
}

} // namespace hearth::cpu
