// hearth-bench --device cuda: prefill and decode speed of the CUDA forward, its load time, and
// the decode bandwidth roofline against the measured device-to-device copy bandwidth.
#pragma once

#include <cstdint>
#include <string>

namespace hearth::bench {

struct CudaBenchOptions {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int repetitions = 5;
    bool json = false;
    int32_t gpu_layers = -1; // hearth/gpu_layers.h: -1 all, -2 auto, N partial offload
};

// Prints the results (a Markdown table, or JSON with --json) and returns the exit status:
// 0 also when there is no usable CUDA device (it says so on stderr and skips), 1 on errors.
int bench_cuda(const CudaBenchOptions& options);

} // namespace hearth::bench
