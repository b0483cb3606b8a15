// Partial offload (hybrid_forward.cpp): the first layers of a model on the GPU, the rest, the
// embeddings and the output head on the CPU, behind the CudaForward interface.
#pragma once

#include "backend/cuda/cuda_forward.h"
#include "model/model_impl.h"

#include <cstdint>
#include <memory>

namespace hearth::cuda_detail {

// A forward with layers [0, gpu_layers) on GPU options.device (1 <= gpu_layers <= n_layer).
// Fails as CudaForward::create does for the GPU part (out_of_memory with the arithmetic), and
// with out_of_memory when the CPU layers' KV cache exceeds the available RAM.
Result<std::unique_ptr<CudaForward>>
create_hybrid_forward(const Model::Impl& m, const CudaForwardOptions& options, uint32_t gpu_layers);

} // namespace hearth::cuda_detail
