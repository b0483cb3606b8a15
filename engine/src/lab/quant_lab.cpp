// The quantization lab around the measurement: the files made or found in the out dir, the
// rule of thumb, the verdict for a memory budget, and the whole run (hearth/quant_lab.h).
#include "hearth/quant_lab.h"

#include "hearth/memory_plan.h"
#include "hearth/model.h"
#include "hearth/model_info.h"
#include "hearth/session.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <unistd.h>

namespace hearth {
namespace {

std::string type_name(QuantFileType type) {
    return std::string(quant_file_type_name(type));
}

// Fails with `io`, naming the directory, when files cannot be made in it.
Result<void> check_writable_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
        return fail(ErrorCode::io, fmt::format("cannot use {} as the out dir: {}", dir.string(),
                                               ec ? ec.message() : "it is not a directory"));
    }
    const auto probe = dir / fmt::format(".hearth-quant-lab-probe-{}", ::getpid());
    std::FILE* file = std::fopen(probe.c_str(), "wb");
    if (!file) {
        return fail(ErrorCode::io, fmt::format("the out dir {} is not writable: {}", dir.string(),
                                               std::strerror(errno)));
    }
    std::fclose(file);
    std::filesystem::remove(probe, ec);
    return {};
}

std::string describe_reference(const GgufFile& source) {
    const auto file_type = source.header().get_int("general.file_type");
    std::string name = file_type ? file_type_name(*file_type) : std::string();
    return name.empty() ? std::string("reference") : name;
}

// Makes `type`'s file unless one matching the plan is there; says which in `reused`.
Result<void> ensure_quantization(const GgufFile& source, const std::filesystem::path& path,
                                 const QuantizeOptions& options, const LabProgressFn& progress,
                                 const std::atomic<bool>* cancel, bool& reused) {
    const std::string label = type_name(options.type);
    reused = false;
    std::string stage = label + ": quantizing";
    if (std::filesystem::exists(path)) {
        const auto mismatch = quantization_mismatch(source, path, options);
        if (!mismatch) {
            reused = true;
            return {};
        }
        stage = fmt::format("{}: remaking {} ({})", label, path.filename().string(), *mismatch);
    }
    const auto on_tensor = [&](const QuantizeProgress& p) {
        return !progress || progress({stage, p.tensor_index + 1, p.tensor_count});
    };
    auto done = quantize_model(source, path, options, on_tensor, cancel);
    if (!done) {
        return std::unexpected(done.error());
    }
    return {};
}

} // namespace

std::filesystem::path quantization_path(const std::filesystem::path& model,
                                        const std::filesystem::path& out_dir, QuantFileType type,
                                        bool with_imatrix) {
    return out_dir / fmt::format("{}.{}{}.gguf", model.stem().string(), type_name(type),
                                 with_imatrix ? ".imatrix" : "");
}

std::optional<std::string> quantization_mismatch(const GgufFile& source,
                                                 const std::filesystem::path& existing,
                                                 const QuantizeOptions& options) {
    auto file = GgufFile::open(existing);
    if (!file) {
        return fmt::format("not a readable GGUF: {}", file.error().message);
    }
    auto plan = plan_quantization(source, options);
    if (!plan) {
        return plan.error().message;
    }
    const auto file_type = file->header().get_int("general.file_type");
    if (file_type != static_cast<int64_t>(options.type)) {
        return fmt::format("its general.file_type is {}, not {}",
                           file_type ? std::to_string(*file_type) : "missing",
                           static_cast<uint32_t>(options.type));
    }
    const auto imatrix_file = file->header().get_string("quantize.imatrix.file");
    const std::string wanted_imatrix = options.imatrix ? options.imatrix_file.substr(0, 127) : "";
    if (imatrix_file.value_or("") != wanted_imatrix) {
        return fmt::format("made with the importance matrix '{}', not '{}'",
                           imatrix_file.value_or(""), wanted_imatrix);
    }
    if (file->file_size() != plan->output_bytes) {
        return fmt::format("{} bytes where the quantization makes {}", file->file_size(),
                           plan->output_bytes);
    }
    if (file->tensors().size() != plan->tensors.size()) {
        return fmt::format("{} tensors where the quantization makes {}", file->tensors().size(),
                           plan->tensors.size());
    }
    for (size_t i = 0; i < plan->tensors.size(); ++i) {
        const GgufTensorInfo& have = file->tensors()[i];
        const QuantizeTensorPlan& want = plan->tensors[i];
        if (have.name != want.name || have.type != want.to || have.dims != want.dims) {
            return fmt::format("tensor {} is {} {} where the quantization makes {} {}", i,
                               have.name, tensor_type_name(have.type), want.name,
                               tensor_type_name(want.to));
        }
    }
    return std::nullopt;
}

std::string rule_of_thumb(QuantFileType type) {
    switch (quant_file_type_base(type)) {
    case TensorType::Q8_0:
        return "INT8: ~1% quality loss";
    case TensorType::Q2_K:
    case TensorType::Q3_K:
        return "INT2: 10%+ quality loss";
    case TensorType::Q6_K:
    case TensorType::Q5_K:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
        return "INT5-6: between INT8's ~1% and INT4's 3-5%";
    default:
        return "INT4: 3-5% quality loss";
    }
}

std::string quant_lab_verdict(std::span<const LabEntry> entries, uint64_t budget_bytes) {
    const LabEntry* best = nullptr;      // the quantization that fits with the smallest KL
    const LabEntry* reference = nullptr; // when it fits
    const LabEntry* smallest = nullptr;
    for (const LabEntry& e : entries) {
        if (!smallest || e.memory_bytes() < smallest->memory_bytes()) {
            smallest = &e;
        }
        if (e.memory_bytes() > budget_bytes) {
            continue;
        }
        if (e.is_reference) {
            reference = &e;
            continue;
        }
        if (!best || e.quality.mean_kld < best->quality.mean_kld ||
            (e.quality.mean_kld == best->quality.mean_kld &&
             e.memory_bytes() < best->memory_bytes())) {
            best = &e;
        }
    }
    const auto budget = format_bytes(static_cast<double>(budget_bytes));
    const auto memory = [](const LabEntry& e) {
        return format_bytes(static_cast<double>(e.memory_bytes()));
    };
    if (best) {
        std::string verdict = fmt::format(
            "For {} of memory, pick {}: {} with its KV cache, mean KL {:.4f} from the reference, "
            "its top token {:.1f}% of the time.",
            budget, best->label, memory(*best), best->quality.mean_kld,
            100 * best->quality.same_top);
        if (reference) {
            verdict += fmt::format(" The reference, {} ({}), fits too.", reference->label,
                                   memory(*reference));
        }
        return verdict;
    }
    if (reference) {
        return fmt::format("For {} of memory only the reference fits: {} ({}); none of the "
                           "quantizations measured does.",
                           budget, reference->label, memory(*reference));
    }
    return smallest ? fmt::format("Nothing measured fits {}: the smallest, {}, needs {} (weights "
                                  "and KV cache).",
                                  budget, smallest->label, memory(*smallest))
                    : std::string("Nothing was measured.");
}

Result<QuantLabReport> run_quant_lab(const QuantLabOptions& options, const LabProgressFn& progress,
                                     const std::atomic<bool>* cancel) {
    if (options.types.empty()) {
        return fail(ErrorCode::invalid_argument, "the lab needs at least one type to measure");
    }
    for (size_t i = 0; i < options.types.size(); ++i) {
        if (std::count(options.types.begin(), options.types.end(), options.types[i]) > 1) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("{} is listed twice", type_name(options.types[i])));
        }
    }
    auto source = GgufFile::open(options.model);
    if (!source) {
        return std::unexpected(source.error());
    }
    QuantLabReport report;
    report.reference_type = describe_reference(*source);
    report.n_ctx = options.measure.n_ctx;
    std::shared_ptr<const ImportanceMatrix> imatrix;
    if (!options.imatrix.empty()) {
        auto loaded = load_imatrix(options.imatrix);
        if (!loaded) {
            return std::unexpected(loaded.error());
        }
        imatrix = std::make_shared<const ImportanceMatrix>(std::move(*loaded));
    }
    const auto quantize_options = [&](QuantFileType type) {
        return QuantizeOptions{.type = type,
                               .keep_output_f16 = false,
                               .threads = options.quantize_threads,
                               .imatrix = imatrix,
                               .imatrix_file = imatrix ? options.imatrix.string() : std::string()};
    };
    // Every type's plan before anything is made: an importance matrix for another model is
    // refused here, naming the tensor.
    for (QuantFileType type : options.types) {
        auto plan = plan_quantization(*source, quantize_options(type));
        if (!plan) {
            return std::unexpected(plan.error());
        }
        if (type == options.types.front()) {
            report.reference_quantized_from = plan->requantized_from;
        }
    }
    // The text and the out dir are checked before any file is made.
    auto reference =
        Model::load(options.model, {.n_threads = options.measure.n_threads, .on_progress = {}});
    if (!reference) {
        return std::unexpected(reference.error());
    }
    auto tokens = (*reference)
                      ->tokenizer()
                      .encode(options.text, {.add_special = true, .parse_special = false});
    if (!tokens) {
        return std::unexpected(tokens.error());
    }
    // The context is checked on the reference before any file is made: within its trained
    // context, and its KV cache allocated.
    if (auto session = Session::create(
            *reference, {.n_ctx = options.measure.n_ctx, .n_batch = options.measure.n_batch});
        !session) {
        return fail(session.error().code,
                    fmt::format("a context of {} tokens cannot be measured: {}",
                                options.measure.n_ctx, session.error().message));
    }
    report.n_tokens = tokens->size();
    const size_t whole = tokens->size() / std::max<uint32_t>(options.measure.n_ctx, 1);
    report.n_windows =
        options.measure.max_windows > 0 ? std::min(whole, options.measure.max_windows) : whole;
    if (report.n_windows == 0) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the text has {} tokens, fewer than one window of {}",
                                tokens->size(), options.measure.n_ctx));
    }
    reference->reset();
    if (auto writable = check_writable_dir(options.out_dir); !writable) {
        return std::unexpected(writable.error());
    }

    std::vector<LabCandidate> candidates;
    for (QuantFileType type : options.types) {
        const auto path =
            quantization_path(options.model, options.out_dir, type, imatrix != nullptr);
        bool reused = false;
        auto made =
            ensure_quantization(*source, path, quantize_options(type), progress, cancel, reused);
        if (!made) {
            return std::unexpected(made.error());
        }
        if (reused) {
            report.reused.push_back(type_name(type));
        }
        candidates.push_back({type_name(type), path, type});
    }
    LabMeasureOptions measure = options.measure;
    if (measure.scratch_dir.empty()) {
        measure.scratch_dir = options.out_dir;
    }
    auto entries =
        measure_quantizations(options.model, candidates, *tokens, measure, progress, cancel);
    if (!entries) {
        return std::unexpected(entries.error());
    }
    report.entries = std::move(*entries);
    report.entries.front().label = report.reference_type + " (reference)";
    if (options.memory_budget_bytes) {
        report.memory_budget_bytes = *options.memory_budget_bytes;
    } else if (const auto host = read_host_memory()) {
        report.memory_budget_bytes = host->available_bytes;
    }
    report.verdict = quant_lab_verdict(report.entries, report.memory_budget_bytes);
    return report;
}

} // namespace hearth
