// Sampling on the GPU over the last step's logits (or those logits brought to the host), and
// the KV cells copied between slots.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"

#include <algorithm>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace hearth::cuda_detail {

Result<void> CudaForwardImpl::copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                                         uint32_t to) {
    if (from_seq >= options_.n_seq || to_seq >= options_.n_seq || from > to ||
        to > options_.n_ctx) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("copy_cells: slots {} -> {} and positions [{}, {}) do not fit {} "
                                "slots of {} positions",
                                from_seq, to_seq, from, to, options_.n_seq, options_.n_ctx));
    }
    if (from_seq == to_seq || from == to) {
        return {};
    }
    if (m_.arch.hybrid_delta_net) {
        // A recurrent state holds every position taken in, not one cell per position.
        return fail(ErrorCode::unsupported,
                    "copy_cells: the recurrent state of a gated delta-net layer cannot be "
                    "copied by positions");
    }
    // A slot's cells are contiguous: (n_seq, n_ctx, width) per layer.
    auto cell = [&](uint32_t seq, uint32_t pos, size_t width) {
        return (size_t(seq) * options_.n_ctx + pos) * width;
    };
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    for (const DeviceLayerCache& L : caches_) {
        if (L.shared) {
            continue; // gemma4: an earlier layer's cache, copied with it
        }
        const size_t k_width = size_t(L.layout.n_head_kv) * L.layout.head_dim_k;
        const size_t v_width = size_t(L.layout.n_head_kv) * L.layout.head_dim_v;
        HEARTH_CUDA_TRY(cudaMemcpyAsync(L.k + cell(to_seq, from, k_width),
                                        L.k + cell(from_seq, from, k_width),
                                        size_t(to - from) * k_width * sizeof(uint16_t),
                                        cudaMemcpyDeviceToDevice, stream_),
                        "copying keys between slots");
        HEARTH_CUDA_TRY(cudaMemcpyAsync(L.v + cell(to_seq, from, v_width),
                                        L.v + cell(from_seq, from, v_width),
                                        size_t(to - from) * v_width * sizeof(uint16_t),
                                        cudaMemcpyDeviceToDevice, stream_),
                        "copying values between slots");
    }
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "copying cells between slots");
    return {};
}

Result<void> CudaForwardImpl::last_logits(float* out) {
    if (!selection_.head) {
        return fail(ErrorCode::unsupported,
                    "the GPU part of a partial offload has no logits: the CPU computes them");
    }
    if (last_rows_ == 0) {
        return fail(ErrorCode::invalid_argument,
                    "last_logits() before any run(): there are no logits");
    }
    if (out == nullptr) {
        return fail(ErrorCode::invalid_argument, "last_logits() without an output buffer");
    }
    const size_t n_vocab = m_.info.n_vocab;
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(out, logits_ + size_t(last_rows_ - 1) * n_vocab,
                                    n_vocab * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                    "copying the last row's logits");
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "copying the last row's logits");
    return {};
}

Result<CudaSample> CudaForwardImpl::sample(const SamplingParams& params,
                                           std::span<const int32_t> history, double u, int n_top) {
    if (!selection_.head) {
        return fail(ErrorCode::invalid_argument,
                    "the GPU part of a partial offload has no logits to sample");
    }
    if (last_rows_ == 0) {
        return fail(ErrorCode::invalid_argument, "sample() before any run(): there are no logits");
    }
    if (auto ok = params.validate(); !ok) {
        return std::unexpected(ok.error());
    }
    if (n_top < 0 || n_top > kernels::kSampleMaxTop || !(u >= 0.0 && u < 1.0)) {
        return fail(
            ErrorCode::invalid_argument,
            fmt::format("sample(): n_top must be 0..{} and u in [0, 1)", kernels::kSampleMaxTop));
    }
    const size_t window = params.penalty_window(history.size());
    if (window > kMaxHistory) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the GPU sampler penalises at most the last {} tokens, not {}",
                                kMaxHistory, window));
    }
    std::copy(history.end() - std::ptrdiff_t(window), history.end(), host_history_);
    host_control_->u = u;
    host_control_->n_history = int32_t(window);
    kernels::SampleConfig config;
    config.temperature = params.temperature;
    config.top_k = params.top_k;
    config.top_p = params.top_p;
    config.min_p = params.min_p;
    config.repeat_penalty = params.repeat_penalty;
    config.presence_penalty = params.presence_penalty;
    config.frequency_penalty = params.frequency_penalty;
    config.n_top = n_top;
    const size_t n_vocab = m_.info.n_vocab;
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(d_history_, host_history_,
                                    std::max<size_t>(window, 1) * sizeof(int32_t),
                                    cudaMemcpyHostToDevice, stream_),
                    "copying the penalty window");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(d_control_, host_control_, sizeof(kernels::SampleControl),
                                    cudaMemcpyHostToDevice, stream_),
                    "copying the draw");
    HEARTH_CUDA_TRY(kernels::launch_sample(logits_ + size_t(last_rows_ - 1) * n_vocab, int(n_vocab),
                                           d_history_, d_control_, config, d_sample_work_,
                                           d_result_, stream_),
                    "launch_sample");
    HEARTH_CUDA_TRY(cudaMemcpyAsync(host_result_, d_result_, sizeof(kernels::SampleResult),
                                    cudaMemcpyDeviceToHost, stream_),
                    "copying the token");
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "sampling");
    CudaSample out;
    out.needs_host = host_result_->status == kernels::kSampleNeedsHost;
    out.token = out.needs_host ? -1 : host_result_->token;
    for (int i = 0; i < host_result_->n_top && !out.needs_host; ++i) {
        out.top.push_back(
            {host_result_->top_tokens[i], host_result_->top_logits[i], host_result_->top_probs[i]});
    }
    return out;
}

} // namespace hearth::cuda_detail
