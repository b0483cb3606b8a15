// See hearth/gpu_layers.h.
#include "hearth/gpu_layers.h"

#include <charconv>
#include <fmt/format.h>

namespace hearth {

Result<int32_t> parse_gpu_layers(std::string_view text) {
    if (text == "all") {
        return kAllGpuLayers;
    }
    if (text == "auto") {
        return kAutoGpuLayers;
    }
    int32_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty() && n >= 1) {
        return n;
    }
    return fail(ErrorCode::invalid_argument,
                fmt::format("GPU layers '{}': use all, auto or a number of layers from 1 (with "
                            "none, run on the CPU)",
                            text));
}

std::string gpu_layers_label(int32_t gpu_layers) {
    return gpu_layers == kAllGpuLayers    ? "all"
           : gpu_layers == kAutoGpuLayers ? "auto"
                                          : std::to_string(gpu_layers);
}

} // namespace hearth
