// qwen35's gated delta-net layers in the CUDA forward's step and prefill chunks, in the order of
// the CPU's DeltaNet::run (cpu/delta_net.cpp), on the rows' attention-normed input b.h:
//   qkv = W_qkv h;  z = W_z h;  beta_in = W_beta h;  alpha_in = W_alpha h
//   qkv = silu(conv(qkv)) over each sequence's conv state;  l2-normalise q and k per head
//   core = delta rule over each sequence's state (beta and the decay computed from the inputs)
//   core = rms_norm(core) · ssm_norm · silu(z) per head;  o = W_out core
// Every launch is asynchronous on the forward's stream with fixed sizes, so a captured graph
// replays it; a token at position 0 starts its sequence's state over inside the kernels.
#include "backend/cuda/delta_net_step.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "delta_net.cuh"

#include <algorithm>
#include <cstdint>
#include <fmt/format.h>
#include <utility>
#include <vector>

namespace hearth::cuda_detail {

uint64_t delta_net_scratch_bytes(const ModelInfo& info, uint64_t rows) {
    const LinearAttentionInfo& la = info.linear_attention;
    if (info.recurrent_layers.empty() || rows == 0) {
        return 0;
    }
    const uint64_t q_width = uint64_t(info.n_head) * info.head_dim_k;
    // Must match take_delta_net_scratch().
    return align_up(rows * la.conv_channels() * sizeof(float)) +
           2 * align_up(rows * la.d_inner * sizeof(float)) +
           2 * align_up(rows * la.n_v_heads * sizeof(float)) +
           align_up(rows * 2 * q_width * sizeof(float)) + align_up(rows * q_width * sizeof(float));
}

DeltaNetBuffers take_delta_net_scratch(Arena& arena, const ModelInfo& info, uint64_t rows) {
    const LinearAttentionInfo& la = info.linear_attention;
    if (info.recurrent_layers.empty() || rows == 0) {
        return {};
    }
    const size_t q_width = size_t(info.n_head) * info.head_dim_k;
    DeltaNetBuffers b;
    b.qkv = arena.take<float>(rows * la.conv_channels());
    b.z = arena.take<float>(rows * la.d_inner);
    b.core = arena.take<float>(rows * la.d_inner);
    b.beta = arena.take<float>(rows * la.n_v_heads);
    b.alpha = arena.take<float>(rows * la.n_v_heads);
    b.projection = arena.take<float>(rows * 2 * q_width);
    b.query_gate = arena.take<float>(rows * q_width);
    return b;
}

uint64_t device_recurrent_bytes(const ModelInfo& info, uint32_t n_layers, uint32_t n_seq) {
    const LinearAttentionInfo& la = info.linear_attention;
    uint64_t bytes = 0;
    for (uint32_t il = 0; il < n_layers; ++il) {
        if (info.is_recurrent(il)) {
            bytes += align_up(uint64_t(n_seq) * la.conv_state_floats() * sizeof(float)) +
                     align_up(uint64_t(n_seq) * la.ssm_state_floats() * sizeof(float));
        }
    }
    return bytes;
}

Result<void> CudaForwardImpl::check_delta_net() const {
    const ModelInfo& info = m_.info;
    const LinearAttentionInfo& la = info.linear_attention;
    if (la.d_state > uint32_t(kernels::kDeltaNetMaxState) ||
        la.d_conv > uint32_t(kernels::kDeltaNetMaxConv)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA delta-net kernels take states of at most {} values a "
                                "head and at most {} convolution taps (this model: {} and {})",
                                kernels::kDeltaNetMaxState, kernels::kDeltaNetMaxConv, la.d_state,
                                la.d_conv));
    }
    if (info.head_dim_k != info.head_dim_v) { // the output gate has the query's width
        return fail(ErrorCode::unsupported,
                    "qwen35's attention layers need equal key and value head sizes");
    }
    return {};
}

Result<void> CudaForwardImpl::take_recurrent_state() {
    const ModelInfo& info = m_.info;
    const LinearAttentionInfo& la = info.linear_attention;
    recurrent_.assign(selection_.n_layers, DeviceRecurrentLayer{});
    if (m_.arch.hybrid_delta_net) {
        state_positions_.assign(options_.n_seq, 0);
    }
    for (uint32_t il = 0; il < selection_.n_layers; ++il) {
        if (!info.is_recurrent(il)) {
            continue;
        }
        const size_t conv = size_t(options_.n_seq) * la.conv_state_floats();
        const size_t ssm = size_t(options_.n_seq) * la.ssm_state_floats();
        recurrent_[il].conv = kv_.take<float>(conv);
        recurrent_[il].ssm = kv_.take<float>(ssm);
        // Zeroed once so that no slot ever holds uninitialised memory; a sequence's first
        // token (position 0) starts its state over regardless.
        HEARTH_CUDA_TRY(cudaMemset(recurrent_[il].conv, 0, conv * sizeof(float)),
                        "zeroing the recurrent state");
        HEARTH_CUDA_TRY(cudaMemset(recurrent_[il].ssm, 0, ssm * sizeof(float)),
                        "zeroing the recurrent state");
    }
    return {};
}

namespace {
// A slot whose state a failed run left half-advanced: only position 0 may follow.
constexpr uint32_t kStateLost = UINT32_MAX;
} // namespace

Result<void>
CudaForwardImpl::check_recurrent_positions(std::span<const CudaBatchToken> batch) const {
    if (state_positions_.empty()) {
        return {};
    }
    // Each slot's next position within the batch, in order of appearance (few slots a batch).
    std::vector<std::pair<uint32_t, uint32_t>> next;
    for (const CudaBatchToken& t : batch) {
        auto seen = std::ranges::find(next, t.seq, &std::pair<uint32_t, uint32_t>::first);
        const uint32_t expected = seen != next.end() ? seen->second
                                  : t.pos == 0       ? 0
                                                     : state_positions_[t.seq];
        if (t.pos != expected) {
            return fail(ErrorCode::invalid_argument,
                        expected == kStateLost
                            ? fmt::format("position {} of slot {} cannot be computed: a failed "
                                          "run left its recurrent state unusable; start the "
                                          "sequence again from position 0",
                                          t.pos, t.seq)
                            : fmt::format("position {} of slot {} cannot be computed: its "
                                          "recurrent state stands at position {} and cannot be "
                                          "moved back; run the sequence again from the start",
                                          t.pos, t.seq, expected));
        }
        if (seen != next.end()) {
            seen->second = t.pos + 1;
        } else {
            next.emplace_back(t.seq, t.pos + 1);
        }
    }
    return {};
}

std::optional<uint32_t> CudaForwardImpl::recurrent_position(uint32_t seq) const {
    if (state_positions_.empty()) {
        return std::nullopt;
    }
    if (seq >= state_positions_.size() || state_positions_[seq] == kStateLost) {
        return 0;
    }
    return state_positions_[seq];
}

void CudaForwardImpl::begin_recurrent_run(std::span<const CudaBatchToken> batch) {
    for (const CudaBatchToken& t : batch) {
        if (!state_positions_.empty()) {
            state_positions_[t.seq] = kStateLost;
        }
    }
}

void CudaForwardImpl::end_recurrent_run(std::span<const CudaBatchToken> batch) {
    for (const CudaBatchToken& t : batch) { // a slot's tokens come in position order
        if (!state_positions_.empty()) {
            state_positions_[t.seq] = t.pos + 1;
        }
    }
}

Result<void> CudaForwardImpl::enqueue_delta_net(size_t il, const StepBuffers& b, int n,
                                                const MatmulFn& matmul) {
    const ModelInfo& info = m_.info;
    const LinearAttentionInfo& la = info.linear_attention;
    const DeviceDeltaNetWeights& W = weights_->layers[il].delta;
    const DeviceRecurrentLayer& state = recurrent_[il];
    const DeltaNetBuffers& d = *b.delta;
    const int64_t n_embd = info.n_embd;
    const auto channels = int64_t(la.conv_channels());
    const int64_t d_inner = la.d_inner, n_v = la.n_v_heads, d_state = la.d_state;
    const float eps = static_cast<float>(info.norm_rms_eps);
    cudaStream_t s = stream_;
    const kernels::RecurrentRows rows{b.positions, b.slots, n, int(options_.n_seq)};
    for (const auto& [w, y, width, what] : {std::tuple{&W.w_qkv, d.qkv, channels, "attn_qkv"},
                                            std::tuple{&W.w_z, d.z, d_inner, "attn_gate"},
                                            std::tuple{&W.w_beta, d.beta, n_v, "ssm_beta"},
                                            std::tuple{&W.w_alpha, d.alpha, n_v, "ssm_alpha"}}) {
        if (auto ok = matmul(*w, b.h, n_embd, y, width, what); !ok) {
            return ok;
        }
    }
    HEARTH_CUDA_TRY(kernels::launch_delta_net_conv(d.qkv, channels, d.qkv, channels, state.conv,
                                                   int64_t(la.conv_state_floats()), W.conv,
                                                   int(channels), int(la.d_conv), rows, s),
                    "delta_net_conv");
    // q and k: the first 2 × n_k_heads heads of each convolved row.
    HEARTH_CUDA_TRY(kernels::launch_l2_norm_heads(d.qkv, n, int(2 * la.n_k_heads), int(d_state),
                                                  channels, eps, s),
                    "l2_norm(q, k)");
    const kernels::DeltaRuleShape shape{int(d_state), int(la.n_k_heads), int(n_v)};
    HEARTH_CUDA_TRY(kernels::launch_delta_rule(d.qkv, channels, d.beta, d.alpha, W.dt_bias, W.a,
                                               state.ssm, int64_t(la.ssm_state_floats()), d.core,
                                               d_inner, shape, rows, s),
                    "delta_rule");
    HEARTH_CUDA_TRY(kernels::launch_gated_rms_norm(d.core, d.z, W.norm, n, int(n_v), int(d_state),
                                                   d_inner, eps, s),
                    "gated_rms_norm(ssm_norm)");
    return matmul(W.w_out, d.core, d_inner, b.o, n_embd, "ssm_out");
}

} // namespace hearth::cuda_detail
