// quantize_model (hearth/quantize.h): each tensor read to float32 (converted or dequantized),
// quantized over the threads a slab of rows at a time, and written to a temporary file beside
// the output that is renamed over it once complete.
#include "hearth/quant.h"
#include "hearth/quantize.h"
#include "quant/block_layout.h"
#include "quant/quantize_plan.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <thread>
#include <unistd.h>

namespace hearth {

namespace {

namespace fs = std::filesystem;

// Float rows held at once per tensor slab: bounds the working memory (docs/LIMITS.md).
constexpr uint64_t kSlabFloats = uint64_t{16} << 20;

std::string human_bytes(uint64_t bytes) {
    if (bytes >= (uint64_t{1} << 30))
        return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1 << 30));
    if (bytes >= (uint64_t{1} << 20))
        return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
    return fmt::format("{} bytes", bytes);
}

// Source rows as float32, exactly as ggml converts them.
Result<void> read_rows(TensorType type, const uint8_t* src, float* dst, int64_t n) {
    switch (type) {
    case TensorType::F32:
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return {};
    case TensorType::F16:
    case TensorType::BF16: {
        for (int64_t i = 0; i < n; ++i) {
            uint16_t bits = 0;
            std::memcpy(&bits, src + 2 * i, 2);
            dst[i] = type == TensorType::F16 ? quant::fp16_bits_to_fp32(bits)
                                             : quant::bf16_bits_to_fp32(bits);
        }
        return {};
    }
    default:
        return dequantize(type, src, dst, n);
    }
}

// An open output file, removed on destruction unless committed.
class TempFile {
public:
    TempFile(fs::path path, int fd) : path_(std::move(path)), fd_(fd) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0)
            ::close(fd_);
        if (!committed_) {
            std::error_code ignored;
            fs::remove(path_, ignored);
        }
    }
    Result<void> write(const void* data, size_t size) {
        const auto* p = static_cast<const uint8_t*>(data);
        while (size > 0) {
            const ssize_t n = ::write(fd_, p, size);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                return fail(ErrorCode::io, fmt::format("{}: write failed: {}", path_.string(),
                                                       std::strerror(n < 0 ? errno : ENOSPC)));
            }
            p += n;
            size -= static_cast<size_t>(n);
        }
        return {};
    }
    Result<void> commit(const fs::path& final_path) {
        if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
            fd_ = -1;
            return fail(ErrorCode::io,
                        fmt::format("{}: cannot flush: {}", path_.string(), std::strerror(errno)));
        }
        fd_ = -1;
        std::error_code error;
        fs::rename(path_, final_path, error);
        if (error) {
            return fail(ErrorCode::io, fmt::format("cannot rename {} to {}: {}", path_.string(),
                                                   final_path.string(), error.message()));
        }
        committed_ = true;
        return {};
    }

private:
    fs::path path_;
    int fd_ = -1;
    bool committed_ = false;
};

Result<void> check_output_path(const GgufFile& input, const fs::path& output) {
    std::error_code error;
    for (const GgufPart& part : input.parts()) {
        if (fs::exists(output, error) && fs::equivalent(part.path, output, error)) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("the output {} is the input: refusing to overwrite it",
                                    output.string()));
        }
    }
    if (fs::exists(output, error) && !fs::is_regular_file(output, error)) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the output {} exists and is not a regular file", output.string()));
    }
    return {};
}

// The importance weights of a tensor's rows: one block of n_per_row per expert, a row's block
// found from its index in the whole tensor (llama.cpp's imatrix_for_row).
struct RowImportance {
    const float* weights = nullptr; // null: quantized without
    int64_t first_row = 0;          // the slab's first row in the tensor
    int64_t rows_per_expert = 1;
    const float* for_row(int64_t row, int64_t n_per_row) const {
        if (weights == nullptr)
            return nullptr;
        return weights + (first_row + row) / rows_per_expert * n_per_row;
    }
};

// Converts and quantizes rows [0, n_rows) of one slab over `threads` threads.
Result<void> quantize_slab(const QuantizeTensorPlan& tensor, const uint8_t* src, uint8_t* dst,
                           int64_t n_rows, int64_t n_per_row, unsigned threads,
                           const RowImportance& importance, std::vector<float>& floats) {
    const TensorTypeTraits in = tensor_type_traits(tensor.from);
    const TensorTypeTraits out = tensor_type_traits(tensor.to);
    const uint64_t row_in = static_cast<uint64_t>(n_per_row) / in.block_size * in.type_size;
    const uint64_t row_out = static_cast<uint64_t>(n_per_row) / out.block_size * out.type_size;
    floats.resize(static_cast<size_t>(n_rows * n_per_row));
    const auto n_threads = static_cast<int64_t>(std::clamp<int64_t>(threads, 1, n_rows));
    std::vector<std::optional<Error>> errors(static_cast<size_t>(n_threads));
    const auto work = [&](int64_t t) {
        const int64_t first = n_rows * t / n_threads;
        const int64_t last = n_rows * (t + 1) / n_threads;
        for (int64_t row = first; row < last; ++row) {
            float* x = floats.data() + row * n_per_row;
            if (auto r = read_rows(tensor.from, src + row * row_in, x, n_per_row); !r) {
                errors[static_cast<size_t>(t)] = r.error();
                return;
            }
            for (int64_t i = 0; i < n_per_row; ++i) {
                if (!std::isfinite(x[i])) {
                    errors[static_cast<size_t>(t)] =
                        Error{ErrorCode::bad_format,
                              fmt::format("tensor {}: value {} of a row is not finite ({})",
                                          gguf_printable(tensor.name), i, x[i])};
                    return;
                }
            }
            auto q = quantize_rows(tensor.to, x, dst + row * row_out, 1, n_per_row,
                                   importance.for_row(row, n_per_row));
            if (!q) {
                errors[static_cast<size_t>(t)] = q.error();
                return;
            }
        }
    };
    std::vector<std::jthread> pool;
    for (int64_t t = 1; t < n_threads; ++t)
        pool.emplace_back(work, t);
    work(0);
    pool.clear();
    for (const auto& error : errors) {
        if (error)
            return std::unexpected(*error);
    }
    return {};
}

Result<void> write_tensor(const GgufFile& input, const GgufTensorInfo& info,
                          const QuantizeTensorPlan& tensor, TempFile& file, unsigned threads,
                          const float* importance, const std::atomic<bool>* cancel) {
    const std::span<const uint8_t> data = input.tensor_data(info);
    if (tensor.to == tensor.from)
        return file.write(data.data(), data.size());
    const auto n_per_row = static_cast<int64_t>(tensor.dims[0]);
    const auto n_rows = static_cast<int64_t>(info.n_elements / tensor.dims[0]);
    const TensorTypeTraits in = tensor_type_traits(tensor.from);
    const uint64_t row_in = tensor.dims[0] / in.block_size * in.type_size;
    const uint64_t row_out = tensor.bytes_out / static_cast<uint64_t>(n_rows);
    const int64_t slab_rows =
        std::max<int64_t>(1, static_cast<int64_t>(kSlabFloats / tensor.dims[0]));
    std::vector<float> floats;
    std::vector<uint8_t> out;
    for (int64_t first = 0; first < n_rows; first += slab_rows) {
        if (cancel != nullptr && cancel->load())
            return fail(ErrorCode::cancelled, "quantization cancelled");
        const int64_t rows = std::min(slab_rows, n_rows - first);
        out.resize(static_cast<size_t>(rows) * row_out);
        const RowImportance rows_importance{
            .weights = importance,
            .first_row = first,
            .rows_per_expert = tensor.dims.size() > 1 ? static_cast<int64_t>(tensor.dims[1]) : 1};
        auto done = quantize_slab(tensor, data.data() + static_cast<uint64_t>(first) * row_in,
                                  out.data(), rows, n_per_row, threads, rows_importance, floats);
        if (!done)
            return std::unexpected(done.error());
        if (auto w = file.write(out.data(), out.size()); !w)
            return w;
    }
    return {};
}

} // namespace

namespace quant {

Result<void> check_free_space(const fs::path& directory, uint64_t needed) {
    std::error_code error;
    const fs::space_info space = fs::space(directory, error);
    if (error) {
        return fail(ErrorCode::io, fmt::format("cannot read the free space on {}: {}",
                                               directory.string(), error.message()));
    }
    if (space.available < needed) {
        return fail(ErrorCode::io, fmt::format("not enough disk space: needs {}, {} free on {}",
                                               human_bytes(needed), human_bytes(space.available),
                                               directory.string()));
    }
    return {};
}

} // namespace quant

Result<QuantizePlan> plan_quantization(const GgufFile& input, const QuantizeOptions& options) {
    auto model = quant::read_mix_model(input);
    if (!model)
        return std::unexpected(model.error());
    auto plan = quant::plan_tensor_types(input, *model, options);
    if (!plan)
        return std::unexpected(plan.error());
    uint64_t size = quant::serialize_output_header(input, *plan, options).size();
    for (const QuantizeTensorPlan& tensor : plan->tensors) {
        size += quant::align_up(tensor.bytes_out, plan->alignment);
    }
    plan->output_bytes = size;
    return plan;
}

Result<QuantizePlan> quantize_model(const GgufFile& input, const fs::path& output,
                                    const QuantizeOptions& options,
                                    const QuantizeProgressFn& progress,
                                    const std::atomic<bool>* cancel) {
    auto plan = plan_quantization(input, options);
    if (!plan)
        return plan;
    if (auto ok = check_output_path(input, output); !ok)
        return std::unexpected(ok.error());
    const fs::path directory = fs::absolute(output).parent_path();
    if (std::error_code error; !fs::is_directory(directory, error)) {
        return fail(ErrorCode::io,
                    fmt::format("the output's folder {} does not exist", directory.string()));
    }
    if (auto ok = quant::check_free_space(directory, plan->output_bytes); !ok) {
        return std::unexpected(ok.error());
    }
    const fs::path temp_path = fs::path(output).concat(fmt::format(".partial-{}", ::getpid()));
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(ErrorCode::io,
                    fmt::format("{}: cannot create: {}", temp_path.string(), std::strerror(errno)));
    }
    TempFile file(temp_path, fd);
    const std::vector<uint8_t> header = quant::serialize_output_header(input, *plan, options);
    if (auto w = file.write(header.data(), header.size()); !w)
        return std::unexpected(w.error());

    const unsigned threads =
        options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    uint64_t written = header.size();
    const std::vector<uint8_t> padding(plan->alignment, 0);
    const auto importance = options.imatrix ? imatrix_weights(*options.imatrix)
                                            : std::map<std::string, std::vector<float>>{};
    for (size_t i = 0; i < plan->tensors.size(); ++i) {
        const QuantizeTensorPlan& tensor = plan->tensors[i];
        const GgufTensorInfo* info = input.find_tensor(tensor.name);
        if (info == nullptr)
            return fail(ErrorCode::bad_format, "tensor vanished: " + tensor.name);
        const auto weights = tensor.weighted ? importance.find(tensor.name) : importance.end();
        const float* tensor_importance =
            weights != importance.end() ? weights->second.data() : nullptr;
        if (auto w = write_tensor(input, *info, tensor, file, threads, tensor_importance, cancel);
            !w) {
            return std::unexpected(w.error());
        }
        const uint64_t padded = quant::align_up(tensor.bytes_out, plan->alignment);
        if (auto w = file.write(padding.data(), padded - tensor.bytes_out); !w) {
            return std::unexpected(w.error());
        }
        written += padded;
        const bool go_on = !progress || progress({.tensor_index = i,
                                                  .tensor_count = plan->tensors.size(),
                                                  .tensor = &tensor,
                                                  .bytes_written = written});
        if (!go_on || (cancel != nullptr && cancel->load())) {
            return fail(ErrorCode::cancelled, "quantization cancelled");
        }
    }
    if (auto c = file.commit(output); !c)
        return std::unexpected(c.error());
    return plan;
}

} // namespace hearth
