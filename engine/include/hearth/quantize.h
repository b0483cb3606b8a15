// Quantizing a model: llama-quantize's file types and per-tensor type mix, rows quantized
// byte-identically to ggml's reference quantizers, and a GGUF written safely (a temporary file
// beside the output, renamed at the end; the disk space checked first; cancel leaves nothing).
#pragma once

#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/imatrix.h"
#include "hearth/tensor_type.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

// The file types `hearth-cli quantize` makes; the values are llama.cpp's llama_ftype, written
// to general.file_type.
enum class QuantFileType : uint32_t {
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 7,
    Q5_0 = 8,
    Q5_1 = 9,
    Q2_K = 10,
    Q3_K_S = 11,
    Q3_K_M = 12,
    Q3_K_L = 13,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
    IQ4_NL = 25,
    IQ4_XS = 30,
};

// Every supported file type, in the order help texts list them.
std::span<const QuantFileType> quant_file_types();
std::string_view quant_file_type_name(QuantFileType type); // "Q4_K_M"
// Case-insensitive; nullopt for a name that is not one of quant_file_types().
std::optional<QuantFileType> parse_quant_file_type(std::string_view name);
// The tensor type most weights of the file type get (Q4_K for Q4_K_M).
TensorType quant_file_type_base(QuantFileType type);

// Whether quantize_rows can produce this tensor type.
bool can_quantize_to(TensorType type);

// Quantizes `n_rows` rows of `n_per_row` floats into `dst` (rows back to back), as ggml's
// reference quantizer for `type` does. Fails with `unsupported` for a type it cannot produce
// and `invalid_argument` for a row length that is not a whole number of blocks. Values must
// be finite. Thread-safe. With `importance` (n_per_row finite, non-negative values: an
// importance matrix's mean squared activation per column, hearth/imatrix.h) each row is
// quantized as llama-quantize --imatrix does (ggml's quantize_row_*_impl); Q8_0, F16, BF16
// and F32 ignore it, as ggml does.
Result<void> quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                           int64_t n_per_row, const float* importance = nullptr);

struct QuantizeOptions {
    QuantFileType type = QuantFileType::Q8_0;
    // output.weight (and the token embeddings when they are tied to it) kept in F16, as
    // llama-quantize's --output-tensor-type f16.
    bool keep_output_f16 = false;
    unsigned threads = 0; // 0: every hardware thread
    // An importance matrix (hearth/imatrix.h), as llama-quantize --imatrix: each matrix it has
    // an entry for is quantized with its columns weighted (for the types that take weights),
    // the IQ4_* and Q4_0/Q5_0 mixes change as llama.cpp's do with one, and the output records
    // quantize.imatrix.file (`imatrix_file`, cut to 127 bytes), .dataset, .entries_count and
    // .chunks_count. An entry whose size does not match its tensor is refused (token_embd
    // excepted: quantized without, as llama.cpp does).
    std::shared_ptr<const ImportanceMatrix> imatrix{};
    std::string imatrix_file{};
};

// What becomes of one tensor.
struct QuantizeTensorPlan {
    std::string name;
    TensorType from = TensorType::F32;
    TensorType to = TensorType::F32;
    std::vector<uint64_t> dims;
    uint64_t bytes_out = 0;
    bool fell_back = false; // its row length does not divide into the mix's type's blocks
    bool weighted = false;  // quantized with the importance matrix's entry for it
};

struct QuantizePlan {
    // In the order of the output file (llama.cpp's: by layer, then by name).
    std::vector<QuantizeTensorPlan> tensors;
    uint64_t output_bytes = 0; // the exact size of the output file
    uint64_t input_bytes = 0;
    // The quantized types among the source's tensors that are requantized (dequantized and
    // quantized again): the output's quality is then bounded by the source's.
    std::vector<TensorType> requantized_from;
    uint32_t alignment = 32;
    // With an importance matrix: the quantized tensors it has no entry for (llama.cpp quantizes
    // them without, and says so).
    std::vector<std::string> missing_importance;
};

// The output's tensor types and its exact size, from the input's header alone. Fails with
// `bad_format` for a model whose hyper-parameters or tensor names the mix needs but cannot
// read (naming the key or tensor), `unsupported` for a source tensor type it cannot read.
Result<QuantizePlan> plan_quantization(const GgufFile& input, const QuantizeOptions& options);

struct QuantizeProgress {
    size_t tensor_index = 0; // 0-based, of tensor_count
    size_t tensor_count = 0;
    const QuantizeTensorPlan* tensor = nullptr;
    uint64_t bytes_written = 0; // of QuantizePlan::output_bytes, after this tensor
};

// Called after each tensor is written; return false to cancel.
using QuantizeProgressFn = std::function<bool(const QuantizeProgress&)>;

// Quantizes `input` into `output`. The file is written to a temporary name beside `output`
// and renamed over it at the end; on any failure or cancel (the callback returning false or
// `cancel` set) the temporary file is removed and `output` is untouched. Refuses (with
// `invalid_argument`) an output that is the input, and (with `io`) a disk without room for
// the plan's exact size: "needs X, Y free on DIR". Fails with `cancelled` when cancelled.
Result<QuantizePlan> quantize_model(const GgufFile& input, const std::filesystem::path& output,
                                    const QuantizeOptions& options,
                                    const QuantizeProgressFn& progress = {},
                                    const std::atomic<bool>* cancel = nullptr);

} // namespace hearth
