// The CUDA forward's step: up to 8 token rows through every layer, enqueued on the forward's
// stream, captured once per row count as a CUDA graph and replayed, with no host
// synchronisation inside; the host waits once, at the end of each step.
//
// (qwen35's recurrent layers replace the attention with the gated delta-net,
// delta_net_step.cpp, and its attention layers gate their output: [q | gate] = Wq h,
// a *= sigmoid(gate).)
// Per step of n rows (x: residual stream, (n, n_embd); shapes in floats):
//   x = embd[tokens] * embd_scale;  for each layer:  h = rmsnorm(x [+= o]) * attn_norm
//   q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv);  [per-head rmsnorm of q and k]
//   [rope(q, k, pos) unless the layer has none];  [q *= temperature(pos)]
//   cache[slot][pos] = f16(k, v)
//   a = attention(q, cache[slot][window start..pos]) [soft-capped scores, sinks]
//   o = [post-norm] (Wo a [+ bo])
//   h = rmsnorm(x += o) * ffn_norm;  o = [post-norm] W_down act(W_gate h) * (W_up h)
//   (a mixture-of-experts layer: o = the routed feed-forward of h, cuda_experts.h [+ the
//   shared expert's, shared_expert_step.cpp])
//   (gemma4: its layers' attention, experts and per-layer embeddings, gemma4_step.cpp)
// logits = W_out (rmsnorm(x += o) * output_norm) [soft-capped].
// A prompt run of kPrefillMinRows or more tokens goes through cuda_prefill_step.cpp instead
// (unless prefill_rows is 0 or cuBLAS is missing); other tokens, 8 at a time, through this
// step (each row attends to its own position).
#include "attention_variants.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "delta_net.cuh"
#include "elementwise.cuh"
#include "rms_norm.cuh"

#include <algorithm>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

namespace hearth::cuda_detail {

#define HEARTH_LAUNCH(call, what) HEARTH_CUDA_TRY((call), (what))

// Q, K and V of a layer for n rows: the products (with their biases and per-head norms).
Result<CudaForwardImpl::QkvRows> CudaForwardImpl::enqueue_qkv(const DeviceLayerWeights& L,
                                                              const StepBuffers& b, int n,
                                                              const MatmulFn& matmul) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd;
    const int64_t q_width = int64_t(info.n_head) * info.head_dim_k;
    const int64_t k_width = int64_t(info.n_head_kv) * info.head_dim_k;
    const int64_t v_width = int64_t(info.n_head_kv) * info.head_dim_v;
    const float eps = static_cast<float>(info.norm_rms_eps);
    cudaStream_t s = stream_;
#define HEARTH_MATMUL(w, x, x_stride, y, y_stride, what)                                           \
    do {                                                                                           \
        if (auto ok_ = matmul((w), (x), (x_stride), (y), (y_stride), (what)); !ok_) {              \
            return std::unexpected(ok_.error());                                                   \
        }                                                                                          \
    } while (false)
    // The rows' q, k and v: three products into their buffers, or (a fused attn_qkv) one
    // product into the q buffer, sized for it, whose rows then hold q | k | v.
    QkvRows r{b.q, b.k, b.v, q_width, k_width, v_width};
    if (L.qkv.n_rows > 0) {
        HEARTH_MATMUL(L.qkv, b.h, n_embd, b.q, L.qkv.n_rows, "attn_qkv");
        r.k = b.q + q_width;
        r.v = r.k + k_width;
        r.q_stride = r.k_stride = r.v_stride = L.qkv.n_rows;
    } else {
        if (m_.arch.hybrid_delta_net) { // qwen35: [query | gate] per head
            HEARTH_MATMUL(L.wq, b.h, n_embd, b.delta->projection, 2 * q_width, "attn_q");
            HEARTH_LAUNCH(kernels::launch_split_query_gate(b.delta->projection, b.q,
                                                           b.delta->query_gate, n, int(info.n_head),
                                                           int(info.head_dim_k), s),
                          "split_query_gate");
        } else {
            HEARTH_MATMUL(L.wq, b.h, n_embd, b.q, q_width, "attn_q");
        }
        HEARTH_MATMUL(L.wk, b.h, n_embd, b.k, k_width, "attn_k");
        HEARTH_MATMUL(L.wv, b.h, n_embd, b.v, v_width, "attn_v");
    }
    if (L.bq != nullptr) {
        HEARTH_LAUNCH(kernels::launch_add_bias(r.q, L.bq, int(q_width), n, r.q_stride, s),
                      "add_bias(attn_q)");
        HEARTH_LAUNCH(kernels::launch_add_bias(r.k, L.bk, int(k_width), n, r.k_stride, s),
                      "add_bias(attn_k)");
        HEARTH_LAUNCH(kernels::launch_add_bias(r.v, L.bv, int(v_width), n, r.v_stride, s),
                      "add_bias(attn_v)");
    }
    if (L.q_norm != nullptr) { // (never with a fused attn_qkv: cuda_weights.cpp)
        // Rows of q and k are whole heads back to back: n × heads rows of head_dim_k.
        HEARTH_LAUNCH(kernels::launch_rms_norm(b.q, L.q_norm, b.q, int(info.head_dim_k),
                                               n * int(info.n_head), info.head_dim_k, eps, s),
                      "rms_norm(attn_q_norm)");
        HEARTH_LAUNCH(kernels::launch_rms_norm(b.k, L.k_norm, b.k, int(info.head_dim_k),
                                               n * int(info.n_head_kv), info.head_dim_k, eps, s),
                      "rms_norm(attn_k_norm)");
    }
#undef HEARTH_MATMUL
    return r;
}

Result<void> CudaForwardImpl::enqueue_dense_ffn(const DeviceLayerWeights& L, const StepBuffers& b,
                                                int n, const MatmulFn& matmul) {
    const int64_t n_embd = m_.info.n_embd;
    const int64_t n_ff = L.gate.n_rows; // gemma4's differ by layer
    cudaStream_t s = stream_;
    if (auto ok = matmul(L.gate, b.h, n_embd, b.gate, n_ff, "ffn_gate"); !ok) {
        return ok;
    }
    if (auto ok = matmul(L.up, b.h, n_embd, b.up, n_ff, "ffn_up"); !ok) {
        return ok;
    }
    HEARTH_LAUNCH(kernels::launch_glu(glu_, b.gate, b.up, b.gate, int64_t(n) * n_ff, s), "glu");
    return matmul(L.down, b.gate, n_ff, b.o, n_embd, "ffn_down");
}

// The layers' operations on n rows, in the order of the CPU forward, with the matrix products
// and the attention supplied by the caller: the decode step's matrix-vector kernels and
// flash-decoding, or prefill's cuBLAS products and tiled prompt attention. One sequence of
// operations for both, so that an architecture's extra operation cannot be missing from one.
Result<void> CudaForwardImpl::enqueue_layers(const StepBuffers& b, int n, const MatmulFn& matmul,
                                             const AttentionFn& attention) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd;
    const int64_t q_width = int64_t(info.n_head) * info.head_dim_k;
    const int64_t o_width = int64_t(info.n_head) * info.head_dim_v;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const int32_t* positions = b.positions;
    cudaStream_t s = stream_;
    const CudaWeights& W = *weights_;
#define HEARTH_MATMUL(w, x, x_stride, y, y_stride, what)                                           \
    do {                                                                                           \
        if (auto ok_ = matmul((w), (x), (x_stride), (y), (y_stride), (what)); !ok_) {              \
            return ok_;                                                                            \
        }                                                                                          \
    } while (false)
    if (m_.arch.gemma4_layers) {
        if (auto ok = enqueue_gemma4_inputs(b, n, matmul); !ok) {
            return ok;
        }
    }
    for (size_t il = 0; il < W.layers.size(); ++il) {
        const DeviceLayerWeights& L = W.layers[il];
        const DeviceLayerCache& C = caches_[il];
        if (il == 0) {
            HEARTH_LAUNCH(
                kernels::launch_rms_norm(b.x, L.attn_norm, b.h, int(n_embd), n, n_embd, eps, s),
                "rms_norm");
        } else {
            HEARTH_LAUNCH(kernels::launch_add_rms_norm(b.x, b.o, L.attn_norm, b.h, int(n_embd), n,
                                                       n_embd, eps, s),
                          "add_rms_norm");
        }
        if (info.is_recurrent(il)) { // qwen35's gated delta-net in place of attention
            if (auto ok = enqueue_delta_net(il, b, n, matmul); !ok) {
                return ok;
            }
        } else if (m_.arch.gemma4_layers) { // each layer at its own sizes (gemma4_step.cpp)
            if (auto ok = enqueue_gemma4_attention(il, b, n, matmul, attention); !ok) {
                return ok;
            }
        } else {
            auto qkv = enqueue_qkv(L, b, n, matmul);
            if (!qkv) {
                return std::unexpected(qkv.error());
            }
            const auto [q, k, v, q_stride, k_stride, v_stride] = *qkv;
            const kernels::RopeConfig& rope = L.sliding ? rope_sliding_ : rope_;
            if (!m_.layers[il].no_rope) { // smollm3's NoPE layers
                HEARTH_LAUNCH(kernels::launch_rope(q, n, int(info.n_head), int(info.head_dim_k),
                                                   q_stride, positions, rope, s),
                              "rope(q)");
                HEARTH_LAUNCH(kernels::launch_rope(k, n, int(info.n_head_kv), int(info.head_dim_k),
                                                   k_stride, positions, rope, s),
                              "rope(k)");
            }
            if (info.attn_temperature_scale != 0.0) { // mistral3
                HEARTH_LAUNCH(kernels::launch_attention_temperature(q, n, int(q_width), q_stride,
                                                                    positions, temperature_floor_,
                                                                    info.attn_temperature_scale, s),
                              "attention_temperature");
            }
            HEARTH_LAUNCH(kernels::launch_kv_append(k, k_stride, v, v_stride, n, C.k, C.v, C.layout,
                                                    b.slots, positions, s),
                          "kv_append");
            const int window = L.sliding ? int(info.sliding_window) : 0;
            if (auto ok = attention(C, window, L.attn_sinks, q, q_stride); !ok) {
                return ok;
            }
            if (m_.arch.hybrid_delta_net) {
                HEARTH_LAUNCH(kernels::launch_sigmoid_gate(b.attn, b.delta->query_gate,
                                                           int64_t(n) * o_width, s),
                              "sigmoid_gate(attention)");
            }
            HEARTH_MATMUL(L.wo, b.attn, o_width, b.o, n_embd, "attn_output");
        }
        if (L.bo != nullptr) { // gpt-oss
            HEARTH_LAUNCH(kernels::launch_add_bias(b.o, L.bo, int(n_embd), n, n_embd, s),
                          "add_bias(attn_output)");
        }
        if (L.post_attn_norm != nullptr) {
            HEARTH_LAUNCH(kernels::launch_rms_norm(b.o, L.post_attn_norm, b.o, int(n_embd), n,
                                                   n_embd, eps, s),
                          "rms_norm(post_attention_norm)");
        }
        HEARTH_LAUNCH(
            kernels::launch_add_rms_norm(b.x, b.o, L.ffn_norm, b.h, int(n_embd), n, n_embd, eps, s),
            "add_rms_norm");
        if (L.experts.present && m_.arch.gemma4_layers) { // experts beside the dense FFN
            if (auto ok = enqueue_gemma4_experts(il, b, n, matmul); !ok) {
                return ok;
            }
        } else if (L.experts.present) {
            if (auto ok = enqueue_moe_ffn(L.experts, info, m_.arch, b.moe, b.h, n, b.o, s); !ok) {
                return ok;
            }
            if (L.experts.has_shared_expert()) { // qwen35moe
                if (auto ok = enqueue_shared_expert(L.experts, b, n, b.o, matmul); !ok) {
                    return ok;
                }
            }
        } else if (auto ok = enqueue_dense_ffn(L, b, n, matmul); !ok) {
            return ok;
        }
        if (L.post_ffn_norm != nullptr) {
            HEARTH_LAUNCH(
                kernels::launch_rms_norm(b.o, L.post_ffn_norm, b.o, int(n_embd), n, n_embd, eps, s),
                "rms_norm(post_ffw_norm)");
        }
        if (m_.arch.gemma4_layers) {
            if (auto ok = enqueue_gemma4_layer_output(il, b, n, matmul); !ok) {
                return ok;
            }
        }
    }
#undef HEARTH_MATMUL
    return {};
}

Result<void> CudaForwardImpl::enqueue_step(int n, bool copy_logits) {
    const ModelInfo& info = m_.info;
    const int64_t n_embd = info.n_embd, n_vocab = info.n_vocab;
    const float eps = static_cast<float>(info.norm_rms_eps);
    const int32_t* tokens = d_ints_;
    const int32_t* positions = d_ints_ + kMaxRows;
    const int32_t* slots = d_ints_ + 2 * kMaxRows;
    cudaStream_t s = stream_;
    const CudaWeights& W = *weights_;
    auto matvec = [&](const DeviceMatrix& w, const float* x, int64_t x_stride, float* y,
                      int64_t y_stride) {
        return kernels::launch_matvec(w.type, w.data, w.row_bytes, w.n_rows, w.n_cols, x, x_stride,
                                      y, y_stride, n, s);
    };

    HEARTH_LAUNCH(cudaMemcpyAsync(d_ints_, host_ints_, 3 * kMaxRows * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, s),
                  "copying the step's tokens");
    if (selection_.head) {
        HEARTH_LAUNCH(kernels::launch_get_rows(W.token_embd.type, W.token_embd.data,
                                               W.token_embd.row_bytes, W.token_embd.n_rows, n_embd,
                                               tokens, n, embd_scale_, x_, n_embd, s),
                      "get_rows(token_embd)");
    } else { // the CPU's embeddings (partial offload)
        HEARTH_LAUNCH(cudaMemcpyAsync(x_, host_x_, size_t(n) * n_embd * sizeof(float),
                                      cudaMemcpyHostToDevice, s),
                      "copying the residual stream in");
    }
    const StepBuffers buffers{x_,    o_,  h_,        q_,    k_,   v_,           attn_,
                              gate_, up_, positions, slots, moe_, &delta_step_, &gemma4_step_};
    auto step_matvec = [&](const DeviceMatrix& w, const float* x, int64_t x_stride, float* y,
                           int64_t y_stride, const char* what) {
        return check(matvec(w, x, x_stride, y, y_stride), fmt::format("matvec({})", what));
    };
    auto step_attention = [&](const DeviceLayerCache& C, int window, const float* sinks,
                              const float* q, int64_t q_stride) {
        return check(kernels::launch_attention(q, q_stride, C.k, C.v, C.layout, slots, positions, n,
                                               window, q_scale_, score_scale_, workspace_, attn_,
                                               attention_out_stride(C), s, attn_soft_cap_, sinks),
                     "attention");
    };
    if (auto ok = enqueue_layers(buffers, n, step_matvec, step_attention); !ok) {
        return ok;
    }
    if (!selection_.head) {
        // Partial offload: the last layer's output joins the residual stream, which goes back
        // to the CPU for the layers after it.
        HEARTH_LAUNCH(kernels::launch_add(x_, o_, int64_t(n) * n_embd, s), "add(residual)");
        HEARTH_LAUNCH(cudaMemcpyAsync(host_x_, x_, size_t(n) * n_embd * sizeof(float),
                                      cudaMemcpyDeviceToHost, s),
                      "copying the residual stream out");
        return {};
    }
    HEARTH_LAUNCH(
        kernels::launch_add_rms_norm(x_, o_, W.output_norm, h_, int(n_embd), n, n_embd, eps, s),
        "add_rms_norm(output)");
    HEARTH_LAUNCH(matvec(W.output, h_, n_embd, logits_, n_vocab), "matvec(output)");
    if (final_soft_cap_ != 0.0f) { // gemma2
        HEARTH_LAUNCH(kernels::launch_soft_cap(logits_, int64_t(n) * n_vocab, final_soft_cap_, s),
                      "soft_cap(logits)");
    }
    if (copy_logits) { // else they stay on the device for sample()
        HEARTH_LAUNCH(cudaMemcpyAsync(host_logits_, logits_, size_t(n) * n_vocab * sizeof(float),
                                      cudaMemcpyDeviceToHost, s),
                      "copying logits");
    }
    return {};
}

Result<void> CudaForwardImpl::run_step(int n, bool copy_logits) {
    bool launched = false;
    if (options_.use_graphs) {
        if (graphs_[copy_logits][size_t(n)] == nullptr) {
            // Capture once per row count; on any failure, fall back to plain launches for good
            // and say why in graph_status().
            auto begin = check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                               "cudaStreamBeginCapture");
            if (begin) {
                auto enqueued = enqueue_step(n, copy_logits);
                cudaGraph_t graph = nullptr;
                auto ended = check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
                cudaGraphExec_t exec = nullptr;
                auto made = enqueued && ended ? check(cudaGraphInstantiate(&exec, graph, 0),
                                                      "cudaGraphInstantiate")
                                              : Result<void>{};
                if (graph != nullptr) {
                    cudaGraphDestroy(graph);
                }
                if (!enqueued || !ended || !made) {
                    options_.use_graphs = false;
                    graph_note_ = !enqueued ? enqueued.error().message
                                  : !ended  ? ended.error().message
                                            : made.error().message;
                } else {
                    graphs_[copy_logits][size_t(n)] = exec;
                }
            } else {
                options_.use_graphs = false;
                graph_note_ = begin.error().message;
            }
        }
        if (graphs_[copy_logits][size_t(n)] != nullptr) {
            HEARTH_CUDA_TRY(cudaGraphLaunch(graphs_[copy_logits][size_t(n)], stream_),
                            "cudaGraphLaunch");
            launched = true;
        }
    }
    if (!launched) {
        if (auto ok = enqueue_step(n, copy_logits); !ok) {
            return ok;
        }
    }
    // The one host synchronisation of a step; kernel faults surface here.
    HEARTH_CUDA_TRY(cudaStreamSynchronize(stream_), "decode step");
    return {};
}

Result<void> CudaForwardImpl::check_batch(std::span<const CudaBatchToken> batch) const {
    const ModelInfo& info = m_.info;
    for (const CudaBatchToken& t : batch) {
        if (t.token < 0 || uint32_t(t.token) >= info.n_vocab) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("token id {} is outside the vocabulary (0..{})", t.token,
                                    info.n_vocab - 1));
        }
        if (t.seq >= options_.n_seq) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("sequence slot {} does not exist (the CUDA forward has {})",
                                    t.seq, options_.n_seq));
        }
        if (t.pos >= options_.n_ctx) {
            return fail(
                ErrorCode::context_full,
                fmt::format("position {} is past the context of {} tokens", t.pos, options_.n_ctx));
        }
    }
    return check_recurrent_positions(batch);
}

void CudaForwardImpl::stage_rows(std::span<const CudaBatchToken> rows) {
    const int n = int(rows.size());
    // Rows past n repeat the last one: the step reads only n, but the copy is of fixed size.
    for (int r = 0; r < kMaxRows; ++r) {
        const CudaBatchToken& t = rows[size_t(std::min(r, n - 1))];
        host_ints_[r] = t.token;
        host_ints_[kMaxRows + r] = int32_t(t.pos);
        host_ints_[2 * kMaxRows + r] = int32_t(t.seq);
    }
}

Result<void> CudaForwardImpl::run_layers(std::span<const CudaBatchToken> batch,
                                         const float* residual_in, float* residual_out) {
    if (selection_.head) {
        return fail(ErrorCode::invalid_argument,
                    "run_layers() is for the GPU part of a partial offload");
    }
    if (auto ok = check_batch(batch); !ok) {
        return ok;
    }
    const size_t n_embd = m_.info.n_embd;
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    begin_recurrent_run(batch);
    for (size_t first = 0; first < batch.size(); first += kMaxRows) {
        const size_t n = std::min<size_t>(kMaxRows, batch.size() - first);
        stage_rows(batch.subspan(first, n));
        std::copy_n(residual_in + first * n_embd, n * n_embd, host_x_);
        if (auto ok = run_step(int(n), false); !ok) {
            return ok;
        }
        last_rows_ = int(n);
        std::copy_n(host_x_, n * n_embd, residual_out + first * n_embd);
    }
    end_recurrent_run(batch);
    return {};
}

Result<void> CudaForwardImpl::run(std::span<const CudaBatchToken> batch, float* logits) {
    if (!selection_.head) {
        return fail(ErrorCode::invalid_argument,
                    "the GPU part of a partial offload runs through run_layers()");
    }
    if (auto ok = check_batch(batch); !ok) {
        return ok;
    }
    for (const CudaBatchToken& t : batch) {
        if (t.want_logits && logits == nullptr) {
            return fail(ErrorCode::invalid_argument, "logits requested without an output buffer");
        }
    }
    HEARTH_CUDA_TRY(cudaSetDevice(options_.device), "cudaSetDevice");
    begin_recurrent_run(batch);
    size_t out_row = 0;
    for (size_t first = 0; first < batch.size();) {
        // A prompt run goes through the prefill path (cuda_prefill_step.cpp); the other tokens
        // in 8-row steps that stop where such a run starts.
        if (const size_t n_prefill = prefill_run_length(batch, first); n_prefill > 0) {
            if (auto ok = run_prefill(batch.subspan(first, n_prefill), logits, out_row); !ok) {
                return ok;
            }
            first += n_prefill;
            continue;
        }
        size_t n = 1;
        while (n < size_t(kMaxRows) && first + n < batch.size() &&
               prefill_run_length(batch, first + n) == 0) {
            ++n;
        }
        if (auto ok = run_step_rows(batch.subspan(first, n), logits, out_row); !ok) {
            return ok;
        }
        first += n;
    }
    end_recurrent_run(batch);
    return {};
}

Result<void> CudaForwardImpl::run_step_rows(std::span<const CudaBatchToken> rows, float* logits,
                                            size_t& out_row) {
    const size_t n_vocab = m_.info.n_vocab;
    const int n = int(rows.size());
    stage_rows(rows);
    bool copy_logits = false;
    for (const CudaBatchToken& t : rows) {
        copy_logits = copy_logits || t.want_logits;
    }
    if (auto ok = run_step(n, copy_logits); !ok) {
        return ok;
    }
    last_rows_ = n;
    for (int r = 0; r < n; ++r) {
        if (rows[size_t(r)].want_logits) {
            std::copy_n(host_logits_ + size_t(r) * n_vocab, n_vocab, logits + out_row * n_vocab);
            ++out_row;
        }
    }
    return {};
}

} // namespace hearth::cuda_detail
