// The rules of mixture-of-experts routing that the CPU (cpu/moe_ffn.cpp's route_token) and
// the CUDA router kernel (kernels/moe.cu) share, written once for both compilers: how router
// scores rank, and llama.cpp's floor on the top-k weights' sum.
#pragma once

#include "quant/block_layout.h" // HEARTH_HOST_DEVICE

#include <cmath>

namespace hearth::moe {

// The smallest normal F16, which llama.cpp clamps the top-k weights' sum to before dividing.
inline constexpr float kMinWeightSum = 6.103515625e-5f;

// A router score as ranked: a NaN (from a file's NaN weights) ranks last.
HEARTH_HOST_DEVICE inline float routing_rank(float score) {
    return score != score ? -INFINITY : score;
}

// Whether expert a (score sa) is chosen before expert b (score sb): the larger score first,
// the lower index first on equal scores. A strict total order, so the k chosen experts and
// their order are one answer whatever sorts them. llama.cpp's CPU argsort (std::sort on the
// scores alone) agrees up to 16 experts, where libstdc++ sorts by stable insertion, and
// leaves larger ties to the library's partitioning; exact ties of a real router's float
// scores are all but impossible.
HEARTH_HOST_DEVICE inline bool ranks_before(float sa, int a, float sb, int b) {
    const float ra = routing_rank(sa), rb = routing_rank(sb);
    return ra > rb || (ra == rb && a < b);
}

} // namespace hearth::moe
