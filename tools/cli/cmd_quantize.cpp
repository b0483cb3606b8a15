// `hearth-cli quantize IN.gguf OUT.gguf TYPE`: llama-quantize's file types and per-tensor mix
// (hearth/quantize.h), with a line per tensor on stderr; Ctrl+C cancels and leaves no file.
#include "cli_args.h"
#include "commands.h"
#include "hearth/gguf.h"
#include "hearth/quantize.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int /*signal*/) {
    g_cancel.store(true);
}

std::string type_list() {
    std::string list;
    for (QuantFileType type : quant_file_types()) {
        if (!list.empty())
            list += ", ";
        list += quant_file_type_name(type);
    }
    return list;
}

std::string mib(uint64_t bytes) {
    return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1 << 20));
}

} // namespace

const CommandSpec& quantize_spec() {
    static const CommandSpec spec{
        .program = "hearth-cli",
        .name = "quantize",
        .synopsis = "IN.gguf OUT.gguf TYPE [OPTIONS]",
        .summary = fmt::format("Quantizes a model as llama-quantize does, byte for byte: TYPE is "
                               "one of {}. The source may be F32, F16, BF16 or a higher-bit "
                               "quantization (its quality then bounds the output's).",
                               type_list()),
        .options = {
            option("--imatrix", "FILE",
                   "an importance matrix (GGUF or legacy .dat, from hearth-cli imatrix or "
                   "llama-imatrix): rounding errors weighted by each column's mean squared "
                   "activation, as llama-quantize --imatrix"),
            flag("--keep-output-f16",
                 "keep output.weight (and tied token embeddings) in F16, as llama-quantize's "
                 "--output-tensor-type f16"),
            option("--threads", "N", "CPU threads, 1 to 1024 (default: every hardware thread)")
                .alias("-t")
                .within(IntRange{1, 1024}),
        }};
    return spec;
}

int cmd_quantize(const Args& args) {
    // Installed before anything is printed: whoever sees a line of ours may signal us, and the
    // quantizer sees the flag after the tensor in hand (tst_quantize relies on this order).
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    if (args.positionals.size() != 3) {
        return usage_error(*args.spec, "expects IN.gguf OUT.gguf TYPE");
    }
    const auto type = parse_quant_file_type(args.positionals[2]);
    if (!type) {
        return usage_error(*args.spec, fmt::format("unknown type '{}': one of {}",
                                                   args.positionals[2], type_list()));
    }
    auto threads = args.get_int("--threads");
    if (!threads) {
        return usage_error(*args.spec, threads.error().message);
    }
    QuantizeOptions options{.type = *type,
                            .keep_output_f16 = args.has("--keep-output-f16"),
                            .threads = static_cast<unsigned>(threads->value_or(0))};
    if (auto imatrix_path = args.get("--imatrix")) {
        auto imatrix = load_imatrix(*imatrix_path);
        if (!imatrix) {
            return report_error(imatrix.error().message.c_str());
        }
        std::fprintf(stderr, "importance matrix %s: %zu entries, %u chunks\n",
                     imatrix_path->c_str(), imatrix->entries.size(), imatrix->chunk_count);
        options.imatrix = std::make_shared<const ImportanceMatrix>(std::move(*imatrix));
        options.imatrix_file = *imatrix_path;
    }

    auto input = GgufFile::open(args.positionals[0]);
    if (!input) {
        return report_error(input.error().message.c_str());
    }
    auto plan = plan_quantization(*input, options);
    if (!plan) {
        return report_error(plan.error().message.c_str());
    }
    if (!plan->requantized_from.empty()) {
        std::string from;
        for (TensorType t : plan->requantized_from) {
            from += (from.empty() ? "" : ", ") + std::string(tensor_type_name(t));
        }
        std::fprintf(stderr,
                     "note: requantizing tensors stored as %s: the output's quality is bounded by "
                     "the source's, not that of a %s made from F16\n",
                     from.c_str(), std::string(quant_file_type_name(*type)).c_str());
    }
    for (const std::string& name : plan->missing_importance) {
        std::fprintf(stderr, "note: the importance matrix has no entry for %s: quantized without\n",
                     name.c_str());
    }
    std::fprintf(stderr, "quantizing %s (%s) to %s as %s (%s)\n", args.positionals[0].c_str(),
                 mib(plan->input_bytes).c_str(), args.positionals[1].c_str(),
                 std::string(quant_file_type_name(*type)).c_str(), mib(plan->output_bytes).c_str());

    const auto progress = [](const QuantizeProgress& p) {
        const QuantizeTensorPlan& t = *p.tensor;
        std::fprintf(stderr, "[%4zu/%4zu] %-40s %6s -> %-6s%s\n", p.tensor_index + 1,
                     p.tensor_count, t.name.c_str(), std::string(tensor_type_name(t.from)).c_str(),
                     std::string(tensor_type_name(t.to)).c_str(),
                     t.fell_back  ? " (row length does not divide into blocks: fallback)"
                     : t.weighted ? " (imatrix)"
                                  : "");
        return true;
    };
    auto done = quantize_model(*input, args.positionals[1], options, progress, &g_cancel);
    if (!done) {
        if (done.error().code == ErrorCode::cancelled) {
            std::fprintf(stderr, "hearth-cli: cancelled; no output written\n");
            return 130;
        }
        return report_error(done.error().message.c_str());
    }
    std::fprintf(stderr, "wrote %s: %s\n", args.positionals[1].c_str(),
                 mib(done->output_bytes).c_str());
    return 0;
}

} // namespace hearth::cli
