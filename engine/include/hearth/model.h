// A loaded model: its GGUF file mapped in memory, its weights bound to the layers of its
// architecture (read from metadata alone), its tokenizer, and the CPU backend that runs it.
//
// A Model is immutable once loaded and shared (std::shared_ptr<const Model>) by every
// Session that uses it; its const functions are safe from any thread. The weights are read
// in place from the mapping: nothing is dequantized at load.
#pragma once

#include "hearth/error.h"
#include "hearth/gguf.h"
#include "hearth/model_info.h"
#include "hearth/tokenizer.h"

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace hearth {

// True when Model::load runs models of this `general.architecture` ("llama", "qwen2", ...);
// for any other, load fails with `unsupported` and names the ones it runs.
bool architecture_supported(std::string_view architecture);
// The architectures Hearth runs, for messages: "llama, mistral, qwen2, qwen3, gemma3".
std::string_view supported_architectures();
// True when the forward pass computes with weight matrices of this type (Q4_K, F16, ...);
// a model with another type fails to load with `unsupported`, naming the tensor.
bool weight_type_supported(TensorType type);

struct LoadOptions {
    int n_threads = 0; // 0: the machine's physical cores
    // Called with the fraction loaded (0..1) while the weights are paged in. Returning
    // false cancels the load, which then fails with ErrorCode::cancelled.
    std::function<bool(double fraction)> on_progress;
};

// One step of Model::load and the wall time it took (`hearth-cli run --timings`).
struct LoadPhase {
    std::string_view name; // a static string: "tokenizer", "repack", ...
    double ms = 0;
};

class Model {
public:
    // Fails with `io`/`bad_format` for an unreadable file or one that is not a regular file,
    // `unsupported` for an architecture, tensor type or RoPE scaling Hearth does not run
    // (named in the message), `bad_format` for a hyper-parameter missing, of the wrong type
    // or out of range (the key named; the bounds are in model_info.h), a block_count other
    // than the blocks the file holds, or a tensor missing or of the wrong shape (named, with
    // both shapes). Every check comes before anything is sized from the file's values.
    static Result<std::shared_ptr<const Model>> load(const std::filesystem::path& path,
                                                     const LoadOptions& options = {});

    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelInfo& info() const;
    const Tokenizer& tokenizer() const;
    const GgufFile& file() const;
    int n_threads() const;
    // The steps of the load that made this model, in order, with their times.
    std::span<const LoadPhase> load_phases() const;

    struct Impl; // private to the engine
    const Impl& impl() const { return *impl_; }

private:
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace hearth
