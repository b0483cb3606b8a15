// Launch interface of the gated activations (kernels/glu.cu): SwiGLU and GeGLU.
// Plain C++ declarations for the engine's CUDA backend; launchers never print or exit.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace hearth::kernels {

enum class GluKind : int { swiglu = 0, geglu = 1 };

// out[i] = act(gate[i]) * up[i] for i in [0, n): act = SiLU (swiglu) or GELU-tanh with the
// CPU's F16 roundings (geglu). Float32 device memory; out may equal gate or up.
// cudaErrorInvalidValue for n < 0 or null pointers; else the launch's error.
cudaError_t launch_glu(GluKind kind, const float* gate, const float* up, float* out, int64_t n,
                       cudaStream_t stream);

} // namespace hearth::kernels
