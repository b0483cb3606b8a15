// How many of a model's layers run on the GPU: all of them, as many as fit (partial offload
// when not all do), or a number the user chose. hearth-cli's --gpu-layers and the desktop
// app's setting both parse and print it here.
#pragma once

#include "hearth/error.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth {

// The whole model on the GPU, refused when it does not fit.
inline constexpr int32_t kAllGpuLayers = -1;
// The whole model when it fits, else the first layers that fit, the rest on the CPU.
inline constexpr int32_t kAutoGpuLayers = -2;

// "all", "auto" or a layer count >= 1. Fails with `invalid_argument` naming the forms.
Result<int32_t> parse_gpu_layers(std::string_view text);

// "all", "auto" or the number.
std::string gpu_layers_label(int32_t gpu_layers);

} // namespace hearth
