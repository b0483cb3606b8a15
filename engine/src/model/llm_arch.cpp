// The differences between supported architectures, as llama.cpp's llama-model.cpp sets them.
#include "llm_arch.h"

#include "hearth/model.h"

#include <array>

namespace hearth {
namespace {

constexpr std::array kArchitectures{
    ArchTraits{.name = "llama"},
    ArchTraits{.name = "mistral"},
    ArchTraits{.name = "qwen2", .rope = RopeLayout::neox, .qkv_bias = true},
    ArchTraits{.name = "qwen3", .rope = RopeLayout::neox, .qk_norm = true},
    ArchTraits{.name = "gemma3",
               .rope = RopeLayout::neox,
               .activation = FfnActivation::gelu_tanh,
               .qk_norm = true,
               .post_norms = true,
               .embed_scale = true,
               .scale_query = true},
    ArchTraits{
        .name = "qwen35", .rope = RopeLayout::neox, .qk_norm = true, .hybrid_delta_net = true},
};

} // namespace

std::optional<ArchTraits> arch_traits(std::string_view architecture) {
    for (const auto& traits : kArchitectures) {
        if (traits.name == architecture) {
            return traits;
        }
    }
    return std::nullopt;
}

bool architecture_supported(std::string_view architecture) {
    return arch_traits(architecture).has_value();
}

std::string_view supported_architectures() {
    return "llama, mistral, qwen2, qwen3, gemma3, qwen35";
}

} // namespace hearth
