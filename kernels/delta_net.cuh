// Launch interface of qwen35's gated delta-net kernels (kernels/delta_net.cu): the short causal
// convolution over the conv state, the l2 normalisation of q and k, the gated delta rule over
// the recurrent state, the gated RMSNorm of its output, and the full-attention layers' output
// gate. Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
//
// The state of every sequence is device memory, one slot per sequence, laid out as the CPU's
// RecurrentState keeps a layer's: the conv state (channels, d_conv - 1), oldest input first,
// and the delta-rule state (n_v_heads, d_state, d_state), row j of a head holding column j of S.
// A token at position 0 starts its sequence over: the kernels read its slot's state as zeros.
// Tokens of one sequence must come in position order; tokens of different sequences may mix.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

// Largest d_state the delta-rule kernel takes (each lane keeps d_state / 32 values of a row).
inline constexpr int kDeltaNetMaxState = 256;
// Largest d_conv the convolution takes (its window lives in registers).
inline constexpr int kDeltaNetMaxConv = 16;

// Rows of the step: positions[t] and seq_slots[t] (device memory) for each of n_tokens tokens. A
// token whose slot is outside [0, n_slots) is skipped (its outputs left unwritten): the host
// checks slots before a step, this only keeps a bad one from writing out of bounds.
struct RecurrentRows {
    const int32_t* positions = nullptr;
    const int32_t* seq_slots = nullptr;
    int n_tokens = 0;
    int n_slots = 0;
};

// For each token t and channel c < channels:
//   y[t, c] = silu(Σ_i window[i] · taps[c, i]),  window = (conv state of c, x[t, c])
// and the conv state of c moves on by x[t, c]. x and y rows x_stride / y_stride floats apart
// (y may equal x); `conv_state` the slot 0 state, slot_stride floats between slots; taps
// (channels, d_conv). cudaErrorInvalidValue for sizes out of range (d_conv < 1 or above
// kDeltaNetMaxConv), strides below channels, null pointers.
cudaError_t launch_delta_net_conv(const float* x, int64_t x_stride, float* y, int64_t y_stride,
                                  float* conv_state, int64_t slot_stride, const float* taps,
                                  int channels, int d_conv, const RecurrentRows& rows,
                                  cudaStream_t stream);

// In place, n_heads heads of head_dim floats of each of n_tokens rows (row t at x + t * stride):
//   x = rms_norm(x, eps / head_dim) / sqrt(head_dim)
// (cpu::l2_norm). cudaErrorInvalidValue for non-positive sizes, stride < n_heads * head_dim,
// null x.
cudaError_t launch_l2_norm_heads(float* x, int n_tokens, int n_heads, int head_dim, int64_t stride,
                                 float eps, cudaStream_t stream);

// The shapes of a gated delta-net layer (ModelInfo::linear_attention).
struct DeltaRuleShape {
    int d_state = 0;
    int n_k_heads = 0; // value head h reads key head h % n_k_heads
    int n_v_heads = 0;
};

// For each token, in order, and each value head h:
//   beta = sigmoid(beta_in[t, h]),  decay = exp(a[h] · softplus(alpha_in[t, h] + dt_bias[h]))
//   S = decay S;  S += k ⊗ beta (v − Sᵀk);  out[t, h] = Sᵀq / sqrt(d_state)
// with q, k, v from the convolved row t of `qkv` (q | k | v: n_k_heads, n_k_heads and n_v_heads
// heads of d_state), beta_in and alpha_in rows n_v_heads floats apart, `ssm_state` the slot 0
// state (slot_stride floats between slots), out rows out_stride floats apart
// (cpu::delta_rule_token). cudaErrorInvalidValue for d_state outside [1, kDeltaNetMaxState],
// n_v_heads not a multiple of n_k_heads, strides too small, null pointers.
cudaError_t launch_delta_rule(const float* qkv, int64_t qkv_stride, const float* beta_in,
                              const float* alpha_in, const float* dt_bias, const float* a,
                              float* ssm_state, int64_t slot_stride, float* out, int64_t out_stride,
                              const DeltaRuleShape& shape, const RecurrentRows& rows,
                              cudaStream_t stream);

// In place, n_heads heads of head_dim floats of each of n_tokens rows of o (row t at
// o + t * stride, z the same):  o = rms_norm(o) · norm · silu(z)  (cpu::gated_norm_head; z is
// left as it was). cudaErrorInvalidValue for non-positive sizes, small stride, null pointers.
cudaError_t launch_gated_rms_norm(float* o, const float* z, const float* norm, int n_tokens,
                                  int n_heads, int head_dim, int64_t stride, float eps,
                                  cudaStream_t stream);

// qwen35's gated query: each of n_tokens rows of `projection` holds, per head, head_dim query
// values then head_dim gate values; q and gate receive them as (n_tokens, n_heads * head_dim)
// (cpu::AttentionGate::split). cudaErrorInvalidValue for non-positive sizes or null pointers.
cudaError_t launch_split_query_gate(const float* projection, float* q, float* gate, int n_tokens,
                                    int n_heads, int head_dim, cudaStream_t stream);

// x[i] *= sigmoid(gate[i]) for i < n (cpu::AttentionGate::apply). cudaErrorInvalidValue for
// n < 0 or null pointers.
cudaError_t launch_sigmoid_gate(float* x, const float* gate, int64_t n, cudaStream_t stream);

} // namespace hearth::kernels
