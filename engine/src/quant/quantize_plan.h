// The quantizer's per-tensor type choice (quantize_plan.cpp) and GGUF writing
// (quantize_write.cpp), shared by quantize_model.cpp.
#pragma once

#include "hearth/quantize.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hearth::quant {

// llama.cpp's LLAMA_MAX_LAYERS: the most layers a model to quantize may declare
// (docs/LIMITS.md, "Quantizing").
inline constexpr uint64_t kMaxQuantizeLayers = 512;

// The hyper-parameters the type mix reads.
struct MixModel {
    std::string arch;
    uint32_t n_layer = 0;
    uint32_t n_gqa = 0;    // head_count / head_count_kv of the first layer; 0 when unknown
    uint32_t n_expert = 0; // 0 or 1 for a dense model
    bool is_70b = false;   // llama.cpp's LLM_TYPE_70B
};

Result<MixModel> read_mix_model(const GgufFile& input);

// Every tensor's output type and size, in output order (output_bytes left 0).
Result<QuantizePlan> plan_tensor_types(const GgufFile& input, const MixModel& model,
                                       const QuantizeOptions& options);

// The output file's header (up to the aligned start of the tensor data): the input's metadata
// less the split keys, general.quantization_version and general.file_type set (moved last,
// as gguf_set_val does), then with an importance matrix llama-quantize's quantize.imatrix.*
// keys, and the tensor table of `plan`.
std::vector<uint8_t> serialize_output_header(const GgufFile& input, const QuantizePlan& plan,
                                             const QuantizeOptions& options);

// Fails with `io` ("not enough disk space: needs X, Y free on DIR") when the file system of
// `directory` has less than `needed` bytes available.
Result<void> check_free_space(const std::filesystem::path& directory, uint64_t needed);

inline uint64_t align_up(uint64_t n, uint64_t alignment) {
    return (n + alignment - 1) / alignment * alignment;
}

} // namespace hearth::quant
