// Launch interface of the mixture-of-experts kernels (kernels/moe.cu): the router's top-k
// selection and weights, the experts' biased gated activation, and the weighted sum of the
// experts' outputs. The expert matrix products themselves are matvec.cuh's
// launch_matvec_experts. Everything is read from and written to device memory, so a captured
// CUDA graph routes each replay's tokens without a host round trip.
//
// Plain C++ declarations, no device code: the engine's CUDA backend (compiled by g++) includes
// it. Launchers refuse what they cannot do and never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// How router logits become the chosen experts and their weights (hearth::Routing's values).
enum class MoeRouting : int {
    softmax_top_k = 0, // softmax over all experts, the k best, weights re-normalised
    top_k_softmax = 1, // the k best logits, weights a softmax over them (gpt-oss)
};

// The largest expert count and number used per token the router kernel takes: the loader's
// kMaxExperts / kMaxExpertsUsed (hearth/model_info.h; cuda_experts.cpp checks they agree).
inline constexpr int kMoeMaxExperts = 1024;
inline constexpr int kMoeMaxUsed = 64;

// For each token t in [0, n_tokens), as the CPU's route_token (cpu/moe_ffn.cpp):
//   l = logits[t * n_expert ..] (+ bias when non-null), in place; softmax_top_k first turns
//   l into probabilities; the n_used experts that rank first by moe::ranks_before
//   (model/expert_routing.h: the larger first, NaN last, the lower index on a tie) go to
//   selected[t * n_used + s], largest first, and their weights to weights[t * n_used + s].
// One thread per token; exp is CUDA's expf (within 2 ulps of the CPU's), sums are in double
// as the CPU's. cudaErrorInvalidValue for n_expert outside 1..kMoeMaxExperts, n_used outside
// 1..min(n_expert, kMoeMaxUsed), n_tokens < 0 or null pointers; else the launch's error.
cudaError_t launch_moe_route(MoeRouting routing, float* logits, const float* bias, int n_expert,
                             int n_used, int n_tokens, int32_t* selected, float* weights,
                             cudaStream_t stream);

// Groups a chunk's slots by expert for launch_matvec_grouped (matvec.cuh): afterwards
// order[offsets[e] .. offsets[e + 1]) are the slots s in [0, n_slots) with ids[s] == e, in
// increasing s, for e in [0, n_expert); offsets[n_expert] is the number of slots listed (ids
// outside [0, n_expert) are left out). order: n_slots ints, offsets: n_expert + 1 ints, device
// memory. One CTA, one thread per expert (a counting sort that keeps token order): meant for
// prompt chunks, where it is small beside the products. cudaErrorInvalidValue for n_expert
// outside 1..kMoeMaxExperts, n_slots < 0 or null pointers; else the launch's error.
cudaError_t launch_group_by_expert(const int32_t* ids, int n_slots, int n_expert, int32_t* order,
                                   int32_t* offsets, cudaStream_t stream);

// The experts' gated activations (hearth::FfnActivation's SwiGLU values).
enum class MoeGlu : int {
    swiglu = 0,     // silu(g) * u
    swiglu_oai = 1, // gpt-oss: g clamped above at 7, u to [-7, 7]: g sigmoid(1.702 g) (u + 1)
    geglu = 2,      // gemma4's experts: gelu_tanh(g) * u (model/activation_math.h)
};

// For slot s in [0, n_slots) and i in [0, width), with e = ids[s] and row = s * stride + i:
//   g = gate[row] (+ gate_bias[e * width + i]), u = up[row] (+ up_bias[e * width + i]),
//   gate[row] = act(g, u)
// (the CPU adds each expert's biases, then runs gated_activation). The biases may be null
// (no biases); a slot whose id is outside [0, n_expert) is written NaN. cudaErrorInvalidValue
// for bad sizes or null pointers; else the launch's error.
cudaError_t launch_moe_glu(MoeGlu kind, float* gate, const float* up, int64_t stride,
                           const float* gate_bias, const float* up_bias, const int32_t* ids,
                           int n_expert, int n_slots, int64_t width, cudaStream_t stream);

// For token t in [0, n_tokens) and i in [0, n_embd), the slots s = t * n_used + k in order:
//   d_k = down[s * down_stride + i] (* scale[e]) (+ bias[e * n_embd + i]),  e = ids[s]
//   out[t * out_stride + i] = d_0 w_0, then + d_k w_k for k = 1 .. n_used - 1
// each product and sum rounded on its own, in the CPU's order (ggml_mul then ggml_add), so
// equal inputs give equal bits. scale / bias may be null. A slot with a bad id reads NaN.
cudaError_t launch_moe_combine(const float* down, int64_t down_stride, const float* weights,
                               const int32_t* ids, int n_expert, const float* scale,
                               const float* bias, int n_tokens, int n_used, int64_t n_embd,
                               float* out, int64_t out_stride, cudaStream_t stream);

} // namespace hearth::kernels
