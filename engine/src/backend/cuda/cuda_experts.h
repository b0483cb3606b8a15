// The CUDA backend's mixture-of-experts feed-forward (qwen3moe, llama with experts, gpt-oss,
// qwen35moe): a layer's router and 3-D expert tensors on the device, their upload, the scratch
// a step of n rows needs, and the enqueued routed feed-forward, the CPU's (cpu/moe_ffn.cpp) step
// for step:
//
//   logits = W_router h (+ bias)                 launch_matvec (float32, exact weights)
//   ids, w = route(logits)                       launch_moe_route, on the device
//   g, u   = W_gate,e h, W_up,e h  per slot      launch_matvec_experts (only e's rows)
//   g      = act(g + b_gate,e, u + b_up,e)       launch_moe_glu
//   d      = W_down,e g                          launch_matvec_experts
//   out    = sum_s w_s (d_s * c_e + b_down,e)    launch_moe_combine
// and qwen35moe's shared expert after them (shared_expert_step.cpp), as the dense feed-forward:
//   s      = W_down,sh swiglu(W_gate,sh h, W_up,sh h)   the step's matrix products, launch_glu
//   out   += s * sigmoid(W_gate_inp,sh h)               launch_add_gated_shared_expert
//
// Everything between the router and the sum reads the choice from device memory, so a step
// captured as a CUDA graph routes each replay's tokens without the host. Prompt chunks use
// the same router and activations, with the (token, slot) pairs grouped by expert on the device
// (launch_group_by_expert) so that each expert's rows are read once per 8 of its slots
// (launch_matvec_grouped) rather than once per slot; cuBLAS over each expert's gathered rows,
// which would read them once per chunk, is the next step.
#pragma once

#include "backend/cuda/device_arena.h"
#include "backend/cuda/device_matrix.h"
#include "hearth/error.h"
#include "model/model_impl.h"
#include "model/moe_weights.h"

#include <cstdint>
#include <cuda_runtime_api.h>
#include <string>

namespace hearth::cuda_detail {

// n_expert matrices of n_rows x n_cols of one type, expert e's at data + e * expert_bytes (a
// GGUF 3-D expert tensor as the file lays it out). The router is one matrix (expert_bytes 0).
struct DeviceExpertTensor {
    int type = 0;
    const void* data = nullptr;
    size_t expert_bytes = 0, row_bytes = 0;
    int64_t n_rows = 0, n_cols = 0;
};

// A layer's experts on the device; `present` is false for a dense layer. Optional vectors are
// null when the model has none (gpt-oss's biases, the per-expert output scales).
struct DeviceExperts {
    bool present = false;
    DeviceExpertTensor router, gate, up, down;
    const float* router_bias = nullptr; // (n_expert)
    const float* gate_bias = nullptr;   // (n_expert, n_ff_exp)
    const float* up_bias = nullptr;     // (n_expert, n_ff_exp)
    const float* down_bias = nullptr;   // (n_expert, n_embd)
    const float* down_scale = nullptr;  // (n_expert)
    // qwen35moe's shared expert (n_rows 0 elsewhere): every token's SwiGLU feed-forward, scaled
    // by the sigmoid of its gate input's product and added to the routed sum.
    DeviceMatrix shared_gate_inp;        // (1, n_embd)
    DeviceMatrix shared_gate, shared_up; // (n_ff_shexp, n_embd)
    DeviceMatrix shared_down;            // (n_embd, n_ff_shexp)
    bool has_shared_expert() const { return shared_gate.n_rows > 0; }
};

// Why the CUDA backend cannot run model m's experts (`unsupported`), or success (also for a
// model without experts).
Result<void> check_cuda_experts(const Model::Impl& m);

// Arena bytes of one layer's experts (each buffer 256-byte aligned); 0 for a dense layer.
uint64_t plan_expert_bytes(const ExpertWeights& w);

// Uploads one layer's experts (`blk` is "blk.N." for messages) into `arena`; adds what a
// decoded token reads (the router and its bias, n_expert_used experts' matrices and vectors,
// the shared expert) to `decode`.
Result<void> upload_experts(const ExpertWeights& w, const ModelInfo& info, const std::string& blk,
                            Arena& arena, DeviceExperts& out, uint64_t& decode);

// The routed feed-forward's scratch for up to `rows` rows.
struct MoeBuffers {
    float* logits = nullptr;    // (rows, n_expert)
    int32_t* ids = nullptr;     // (rows, n_expert_used)
    float* weights = nullptr;   // (rows, n_expert_used)
    float* gate = nullptr;      // (rows * n_expert_used, n_ff_exp)
    float* up = nullptr;        // (rows * n_expert_used, n_ff_exp)
    float* down = nullptr;      // (rows * n_expert_used, n_embd)
    int32_t* order = nullptr;   // (rows * n_expert_used) the slots grouped by expert
    int32_t* offsets = nullptr; // (n_expert + 1) where each expert's slots start in `order`
    // qwen35moe's shared expert (null without one)
    float* shared_gate = nullptr;   // (rows, n_ff_shexp)
    float* shared_up = nullptr;     // (rows, n_ff_shexp)
    float* shared_out = nullptr;    // (rows, n_embd)
    float* shared_weight = nullptr; // (rows) the gate input's logit
};

// Scratch bytes of MoeBuffers for `rows` rows; 0 for a model without experts.
uint64_t moe_scratch_bytes(const ModelInfo& info, size_t rows);
// Carves them out of `arena` (planned with moe_scratch_bytes); all null without experts.
MoeBuffers take_moe_buffers(Arena& arena, const ModelInfo& info, size_t rows);

// Enqueues on `stream` out[t] = the routed feed-forward of h[t] for n rows (h, out: rows of
// n_embd floats, device memory), routed by the router's logits of router_input[t] (gemma4:
// rows of n_embd floats of their own) or, null, of h[t].
Result<void> enqueue_moe_ffn(const DeviceExperts& e, const ModelInfo& info, const ArchTraits& arch,
                             const MoeBuffers& b, const float* h, int n, float* out,
                             cudaStream_t stream, const float* router_input = nullptr);

} // namespace hearth::cuda_detail
