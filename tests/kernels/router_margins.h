// For GPU-against-CPU comparisons of mixture-of-experts models: which prompt positions the CPU
// routes through a near-tie. A token whose k-th and (k+1)-th router logits lie closer than the
// two devices' hidden states differ may choose another expert on the GPU, which is a different
// computation, not an error; the comparison then stops before the first such position (a
// changed token reaches the later ones through attention).
//
// RouterMargins watches the CPU's matrix products (cpu::ActivationObserver): for each layer's
// router it recomputes the logits in double from the dequantized weights and the observed
// inputs and records a position as a near-tie when that gap is below `margin` times the
// largest |logit|. Softmax-then-top-k ranks by the logits' order, so their gap is the margin.
#pragma once

#include "cpu/activation_observer.h"
#include "hearth/quant.h"
#include "model/model_impl.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <vector>

namespace cuda_test {

class RouterMargins : public hearth::cpu::ActivationObserver {
public:
    RouterMargins(const hearth::Model::Impl& m, double margin) : m_(m), margin_(margin) {
        for (size_t il = 0; il < m.layers.size(); ++il) {
            const hearth::ExpertWeights& e = m.layers[il].experts;
            if (e.empty()) {
                continue;
            }
            const hearth::cpu::WeightMatrix& r = e.router;
            std::vector<float> rows(size_t(r.n_rows * r.n_cols));
            for (int64_t i = 0; i < r.n_rows; ++i) {
                const auto* src = static_cast<const uint8_t*>(r.data) + size_t(i) * r.row_bytes;
                if (!hearth::dequantize(r.type, src, rows.data() + i * r.n_cols, r.n_cols)) {
                    rows.assign(rows.size(), std::numeric_limits<float>::quiet_NaN());
                }
            }
            routers_[r.data] = Router{il, std::move(rows), 0};
        }
        hearth::cpu::set_activation_observer(this);
    }
    ~RouterMargins() override { hearth::cpu::set_activation_observer(nullptr); }
    RouterMargins(const RouterMargins&) = delete;
    RouterMargins& operator=(const RouterMargins&) = delete;

    void observe(const hearth::cpu::WeightMatrix& w, const float* x, int64_t n_tokens,
                 int64_t x_stride, hearth::cpu::MatmulOp) override {
        const auto it = routers_.find(w.data);
        if (it == routers_.end()) {
            return;
        }
        Router& r = it->second;
        const auto& bias = m_.layers[r.layer].experts.router_bias;
        const int n_used = int(m_.info.n_expert_used);
        for (int64_t t = 0; t < n_tokens; ++t) {
            std::vector<double> logits(size_t(w.n_rows));
            for (int64_t e = 0; e < w.n_rows; ++e) {
                double sum = bias.empty() ? 0.0 : double(bias[size_t(e)]);
                for (int64_t c = 0; c < w.n_cols; ++c) {
                    sum += double(r.rows[size_t(e * w.n_cols + c)]) * double(x[t * x_stride + c]);
                }
                logits[size_t(e)] = sum;
            }
            std::ranges::sort(logits, std::greater<>());
            double scale = 0.0;
            for (const double l : logits) {
                scale = std::max(scale, std::abs(l));
            }
            const size_t position = r.seen + size_t(t);
            if (n_used < int(logits.size()) &&
                !(logits[size_t(n_used - 1)] - logits[size_t(n_used)] >= margin_ * scale)) {
                first_near_tie_ = std::min(first_near_tie_, position);
            }
        }
        r.seen += size_t(n_tokens);
    }

    // The first position routed through a near-tie in some layer (SIZE_MAX: none).
    size_t first_near_tie() const { return first_near_tie_; }

private:
    struct Router {
        size_t layer = 0;
        std::vector<float> rows; // dequantized (n_expert, n_embd)
        size_t seen = 0;         // tokens this layer's router has seen
    };
    const hearth::Model::Impl& m_;
    double margin_;
    std::map<const void*, Router> routers_;
    size_t first_near_tie_ = std::numeric_limits<size_t>::max();
};

} // namespace cuda_test
