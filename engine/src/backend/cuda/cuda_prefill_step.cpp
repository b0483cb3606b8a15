// The CUDA forward's prefill path: a run of at least kPrefillMinRows tokens of one sequence at
// consecutive positions (a prompt) goes through the layers in chunks of up to
// options_.prefill_rows rows instead of 8-row steps, so that each weight matrix is read once per
// chunk rather than once per 8 tokens.
//
// Per chunk of n rows at positions p0..p0+n-1 of slot s, the decode step's operations in the
// same order (cuda_step.cpp), with two substitutions:
//   - the matrix products of a layer (but the router's) go through CublasPrefill::matmul (weights
//     dequantized to F16 tiles, activations rounded to F16, tensor cores, float32 sums);
//   - the attention is launch_prompt_attention (kernels/prompt_attention.cu): causal over the
//     chunk, whose keys and values kv_append has just written, and the cells before it.
// Logits are computed only for the rows that want them and the chunk's last row (sample()
// reads the last row's): those rows' normalised hidden states are gathered 8 at a time into
// the step's buffer and multiplied by the output matrix with launch_matvec, so the scratch
// never holds n x n_vocab floats. Not captured in a graph: the host waits once per chunk.
//
// cuBLAS is loaded on the first prompt; when it cannot be (or a matrix type has no F16
// dequantizer), prefill is off for good, prefill_status() says why, and prompts run in 8-row
// steps as before.
#include "attention.cuh"
#include "attention_variants.cuh"
#include "backend/cuda/cublas_prefill.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "dequantize.cuh"
#include "elementwise.cuh"
#include "prompt_attention.cuh"
#include "rms_norm.cuh"

#include <algorithm>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace hearth::cuda_detail {

namespace {

struct PrefillWidths {
    size_t q, k, v, o;
};

PrefillWidths widths(const ModelInfo& info) {
    return {size_t(info.n_head) * info.head_dim_k, size_t(info.n_head_kv) * info.head_dim_k,
            size_t(info.n_head_kv) * info.head_dim_v, size_t(info.n_head) * info.head_dim_v};
}

} // namespace

uint64_t prefill_scratch_bytes(const Model::Impl& m, uint32_t rows) {
    if (rows == 0) {
        return 0;
    }
    const ModelInfo& info = m.info;
    const PrefillWidths w = widths(info);
    const size_t R = rows;
    // Must match take_prefill_scratch(): ints, then x, o, h, q, k, v, attn, gate, up, moe and
    // the delta-net buffers.
    return align_up(3 * R * sizeof(int32_t)) + 3 * align_up(R * info.n_embd * sizeof(float)) +
           align_up(R * q_buffer_width(m) * sizeof(float)) + align_up(R * w.k * sizeof(float)) +
           align_up(R * w.v * sizeof(float)) + align_up(R * w.o * sizeof(float)) +
           2 * align_up(R * info.n_ff * sizeof(float)) + moe_scratch_bytes(info, R) +
           delta_net_scratch_bytes(info, R) + gemma4_scratch_bytes(m, R);
}

uint64_t prefill_cublas_bytes(const ModelInfo& info, uint32_t rows) {
    if (rows == 0) {
        return 0;
    }
    // The weight tile, and the F16 copy of the widest activation a product reads.
    // (qwen35's ssm_out reads d_inner, qwen35moe's ffn_down_shexp n_ff_shexp, gemma4's
    // per-layer embedding projection n_embd_per_layer.)
    const size_t widest = std::max({size_t(info.n_embd), widths(info).o, size_t(info.n_ff),
                                    size_t(info.linear_attention.d_inner), size_t(info.n_ff_shexp),
                                    size_t(info.n_embd_per_layer)});
    return kPrefillTileBytes + uint64_t(rows) * widest * sizeof(uint16_t);
}

Result<void> CudaForwardImpl::take_prefill_scratch() {
    if (!prefill_enabled()) {
        return {};
    }
    const ModelInfo& info = m_.info;
    const PrefillWidths w = widths(info);
    const size_t R = options_.prefill_rows;
    prefill_.ints = scratch_.take<int32_t>(3 * R);
    prefill_.x = scratch_.take<float>(R * info.n_embd);
    prefill_.o = scratch_.take<float>(R * info.n_embd);
    prefill_.h = scratch_.take<float>(R * info.n_embd);
    prefill_.q = scratch_.take<float>(R * q_buffer_width(m_)); // q | k | v after a fused product
    prefill_.k = scratch_.take<float>(R * w.k);
    prefill_.v = scratch_.take<float>(R * w.v);
    prefill_.attn = scratch_.take<float>(R * w.o);
    prefill_.gate = scratch_.take<float>(R * info.n_ff);
    prefill_.up = scratch_.take<float>(R * info.n_ff);
    prefill_.moe = take_moe_buffers(scratch_, info, R);
    delta_prefill_ = take_delta_net_scratch(scratch_, info, R);
    gemma4_prefill_ = take_gemma4_buffers(scratch_, m_, R, prefill_.ints);
    HEARTH_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&host_prefill_ints_), 3 * R * sizeof(int32_t)),
        "cudaMallocHost(prefill inputs)");
    return {};
}

bool CudaForwardImpl::prefill_enabled() const {
    return options_.prefill_rows > 0 && selection_.head;
}

std::string CudaForwardImpl::prefill_status() const {
    if (options_.prefill_rows == 0) {
        return "prefill off: disabled by the caller";
    }
    if (!selection_.head) {
        return "prefill off: partial offload runs prompts in 8-row steps";
    }
    if (!prefill_note_.empty()) {
        return "prefill off: " + prefill_note_;
    }
    return cublas_ != nullptr ? "cuBLAS prefill" : "cuBLAS prefill (not loaded yet)";
}

size_t CudaForwardImpl::prefill_run_length(std::span<const CudaBatchToken> batch,
                                           size_t first) const {
    if (!prefill_enabled() || !prefill_note_.empty()) {
        return 0;
    }
    size_t end = first + 1;
    while (end < batch.size() && batch[end].seq == batch[first].seq &&
           batch[end].pos == batch[end - 1].pos + 1) {
        ++end;
    }
    return end - first >= size_t(kPrefillMinRows) ? end - first : 0;
}

bool CudaForwardImpl::ensure_prefill() {
    if (cublas_ != nullptr) {
        return true;
    }
    if (!prefill_note_.empty()) {
        return false;
    }
    for (size_t il = 0; il < weights_->layers.size(); ++il) {
        const DeviceLayerWeights& L = weights_->layers[il];
        const DeviceDeltaNetWeights& D = L.delta; // qwen35's recurrent layers (else empty)
        const DeviceExperts& E = L.experts;       // qwen35moe's shared expert (else empty)
        for (const DeviceMatrix* w :
             {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down, &D.w_qkv, &D.w_z, &D.w_beta,
              &D.w_alpha, &D.w_out, &E.shared_gate_inp, &E.shared_gate, &E.shared_up,
              &E.shared_down, &L.ple_gate, &L.ple_proj, &weights_->gemma4.model_proj}) {
            if (!kernels::can_launch_dequantize(w->type)) {
                prefill_note_ =
                    fmt::format("layer {} has a matrix of type id {}, which has no F16 dequantizer",
                                il, w->type);
                return false;
            }
        }
    }
    auto made = CublasPrefill::create(stream_, kPrefillTileBytes);
    if (!made) {
        prefill_note_ = made.error().message;
        return false;
    }
    cublas_ = std::move(*made);
    return true;
}

#define HEARTH_LAUNCH(call, what) HEARTH_CUDA_TRY((call), (what))

Result<void> CudaForwardImpl::enqueue_prefill_chunk(std::span<const CudaBatchToken> rows) {
    const ModelInfo& info = m_.info;
    const int n = int(rows.size());
    const int64_t n_embd = info.n_embd;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const size_t R = options_.prefill_rows;
    const int slot = int(rows[0].seq), p0 = int(rows[0].pos);
    const PrefillScratch& P = prefill_;
    const int32_t* tokens = P.ints;
    const int32_t* positions = P.ints + R;
    const int32_t* slots = P.ints + 2 * R;
    cudaStream_t s = stream_;
    const CudaWeights& W = *weights_;

    for (int r = 0; r < n; ++r) {
        host_prefill_ints_[r] = rows[size_t(r)].token;
        host_prefill_ints_[R + size_t(r)] = int32_t(rows[size_t(r)].pos);
        host_prefill_ints_[2 * R + size_t(r)] = int32_t(rows[size_t(r)].seq);
    }
    // (The previous chunk's copy is complete: run_prefill waits for each chunk.)
    HEARTH_LAUNCH(cudaMemcpyAsync(P.ints, host_prefill_ints_, 3 * R * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, s),
                  "copying the prefill tokens");
    HEARTH_LAUNCH(kernels::launch_get_rows(W.token_embd.type, W.token_embd.data,
                                           W.token_embd.row_bytes, W.token_embd.n_rows, n_embd,
                                           tokens, n, embd_scale_, P.x, n_embd, s),
                  "get_rows(token_embd)");
    const StepBuffers buffers{P.x,
                              P.o,
                              P.h,
                              P.q,
                              P.k,
                              P.v,
                              P.attn,
                              P.gate,
                              P.up,
                              positions,
                              slots,
                              P.moe,
                              &delta_prefill_,
                              &gemma4_prefill_};
    auto chunk_matmul = [&](const DeviceMatrix& m, const float* x, int64_t, float* y,
                            int64_t y_stride, const char*) {
        // cuBLAS reads the chunk's rows of x back to back (x_stride is their width).
        return cublas_->matmul(m.type, m.data, m.row_bytes, m.n_rows, m.n_cols, x, n, y, y_stride);
    };
    auto chunk_attention = [&](const DeviceLayerCache& C, int window, const float* sinks,
                               const float* q, int64_t q_stride) {
        return check(kernels::launch_prompt_attention(
                         q, q_stride, C.k, C.v, C.layout, slot, p0, n, window, q_scale_,
                         score_scale_, P.attn, attention_out_stride(C), s, attn_soft_cap_, sinks),
                     "prompt_attention");
    };
    if (auto ok = enqueue_layers(buffers, n, chunk_matmul, chunk_attention); !ok) {
        return ok;
    }
    HEARTH_LAUNCH(
        kernels::launch_add_rms_norm(P.x, P.o, W.output_norm, P.h, int(n_embd), n, n_embd, eps, s),
        "add_rms_norm(output)");
    return {};
}

Result<void> CudaForwardImpl::prefill_logits(std::span<const CudaBatchToken> rows, float* logits,
                                             size_t& out_row) {
    const ModelInfo& info = m_.info;
    const size_t n_embd = info.n_embd, n_vocab = info.n_vocab;
    const DeviceMatrix& out = weights_->output;
    cudaStream_t s = stream_;
    // The rows that want logits, and the last row (sample() reads it), in order.
    std::vector<size_t> picked;
    for (size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].want_logits || r + 1 == rows.size()) {
            picked.push_back(r);
        }
    }
    for (size_t g0 = 0; g0 < picked.size(); g0 += kMaxRows) {
        const size_t g = std::min<size_t>(kMaxRows, picked.size() - g0);
        bool copy = false;
        for (size_t i = 0; i < g; ++i) {
            const size_t r = picked[g0 + i];
            copy = copy || rows[r].want_logits;
            HEARTH_LAUNCH(cudaMemcpyAsync(h_ + i * n_embd, prefill_.h + r * n_embd,
                                          n_embd * sizeof(float), cudaMemcpyDeviceToDevice, s),
                          "gathering the rows that want logits");
        }
        HEARTH_LAUNCH(kernels::launch_matvec(out.type, out.data, out.row_bytes, out.n_rows,
                                             out.n_cols, h_, int64_t(n_embd), logits_,
                                             int64_t(n_vocab), int(g), s),
                      "matvec(output)");
        if (final_soft_cap_ != 0.0f) { // gemma2
            HEARTH_LAUNCH(
                kernels::launch_soft_cap(logits_, int64_t(g * n_vocab), final_soft_cap_, s),
                "soft_cap(logits)");
        }
        if (copy) {
            HEARTH_LAUNCH(cudaMemcpyAsync(host_logits_, logits_, g * n_vocab * sizeof(float),
                                          cudaMemcpyDeviceToHost, s),
                          "copying logits");
        }
        // Faults of the chunk's kernels surface here (once per group of 8 picked rows).
        HEARTH_CUDA_TRY(cudaStreamSynchronize(s), "prefill chunk");
        last_rows_ = int(g); // the last group ends with the chunk's last row
        for (size_t i = 0; i < g; ++i) {
            if (rows[picked[g0 + i]].want_logits) {
                std::copy_n(host_logits_ + i * n_vocab, n_vocab, logits + out_row * n_vocab);
                ++out_row;
            }
        }
    }
    return {};
}

Result<void> CudaForwardImpl::run_prefill(std::span<const CudaBatchToken> rows, float* logits,
                                          size_t& out_row) {
    if (!ensure_prefill()) { // no cuBLAS: the 8-row steps
        for (size_t first = 0; first < rows.size(); first += kMaxRows) {
            const size_t n = std::min<size_t>(kMaxRows, rows.size() - first);
            if (auto ok = run_step_rows(rows.subspan(first, n), logits, out_row); !ok) {
                return ok;
            }
        }
        return {};
    }
    const size_t chunk = options_.prefill_rows;
    for (size_t first = 0; first < rows.size(); first += chunk) {
        const auto part = rows.subspan(first, std::min(chunk, rows.size() - first));
        if (auto ok = enqueue_prefill_chunk(part); !ok) {
            return ok;
        }
        if (auto ok = prefill_logits(part, logits, out_row); !ok) {
            return ok;
        }
    }
    return {};
}

} // namespace hearth::cuda_detail
