// qwen35's gated delta-net layers in the CUDA forward (delta_net_step.cpp; their weights are in
// cuda_weights.h): the per-sequence recurrent state, the scratch of a step's or a prefill
// chunk's rows, and the memory arithmetic of both, before anything is allocated.
#pragma once

#include "backend/cuda/device_arena.h"
#include "hearth/model_info.h"

#include <cstdint>

namespace hearth::cuda_detail {

// One recurrent layer's state of every sequence: slot s at conv + s * conv_slot_floats and
// ssm + s * ssm_slot_floats, laid out as cpu::RecurrentState lays out a layer's.
struct DeviceRecurrentLayer {
    float* conv = nullptr;
    float* ssm = nullptr;
};

// Scratch of the delta-net and gated-attention layers for a number of rows, (rows, width) each:
// qkv (conv_channels; the convolution's output overwrites its input), z and core (d_inner),
// beta and alpha (n_v_heads), the gated query's projection (2 × n_head × head_dim_k) and its
// gate (n_head × head_dim_k). All null for a model without recurrent layers.
struct DeltaNetBuffers {
    float *qkv = nullptr, *z = nullptr, *core = nullptr, *beta = nullptr, *alpha = nullptr;
    float *projection = nullptr, *query_gate = nullptr;
};

// Bytes of the scratch above for `rows` rows (0 without recurrent layers).
uint64_t delta_net_scratch_bytes(const ModelInfo& info, uint64_t rows);
// Carves that scratch out of `arena` (planned by delta_net_scratch_bytes).
DeltaNetBuffers take_delta_net_scratch(Arena& arena, const ModelInfo& info, uint64_t rows);

// The recurrent state of n_seq sequences over the recurrent layers among [0, n_layers): one live
// copy, as the CPU keeps per sequence (the CPU also keeps a checkpoint copy for its sessions'
// rewinds, which the device does not yet; see docs/ARCHITECTURE.md).
uint64_t device_recurrent_bytes(const ModelInfo& info, uint32_t n_layers, uint32_t n_seq);

} // namespace hearth::cuda_detail
