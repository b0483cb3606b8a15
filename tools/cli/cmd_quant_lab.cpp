// `hearth-cli quant-lab MODEL --types T,... --text FILE`: makes (or finds) each quantization
// of MODEL and measures it against MODEL on the text (hearth/quant_lab.h): a table, or
// --json, and the verdict for the memory budget.
#include "cli_args.h"
#include "commands.h"
#include "generation_args.h"
#include "hearth/file_input.h"
#include "hearth/memory_plan.h"
#include "hearth/quant_lab.h"
#include "json_output.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_lab_stop_signal(int /*signal*/) {
    g_cancel.store(true);
}

std::string type_list() {
    std::string list;
    for (QuantFileType type : quant_file_types()) {
        list += (list.empty() ? "" : ", ") + std::string(quant_file_type_name(type));
    }
    return list;
}

Result<std::vector<QuantFileType>> parse_types(const std::string& text) {
    std::vector<QuantFileType> types;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string name = text.substr(start, comma - start);
        const auto type = parse_quant_file_type(name);
        if (!type) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("--types: unknown type '{}': one of {}", name, type_list()));
        }
        types.push_back(*type);
        start = comma + 1;
    }
    return types;
}

std::string mib(uint64_t bytes) {
    return fmt::format("{:.1f}", static_cast<double>(bytes) / (1 << 20));
}

nlohmann::json entry_json(const LabEntry& e) {
    const KlDivergenceSummary& q = e.quality;
    nlohmann::json j = {
        {"label", e.label},
        {"path", e.path.string()},
        {"reference", e.is_reference},
        {"file_bytes", e.file_bytes},
        {"weights_bytes", e.weights_bytes},
        {"kv_bytes", e.kv_bytes},
        {"memory_bytes", e.memory_bytes()},
        {"perplexity", q.perplexity},
        {"mean_kld", q.mean_kld},
        {"mean_kld_uncertainty", q.mean_kld_uncertainty},
        {"median_kld", q.median_kld},
        {"p99_kld", q.p99_kld},
        {"max_kld", q.max_kld},
        {"same_top", q.same_top},
        {"scored_tokens", q.count},
        {"prefill_tokens_per_second", e.prefill_tokens_per_second},
        {"decode_tokens_per_second", e.decode_tokens_per_second},
    };
    if (e.type) {
        j["rule_of_thumb"] = rule_of_thumb(*e.type);
    }
    return j;
}

void print_table(const QuantLabReport& report) {
    const double ref_ppl = report.entries.front().quality.perplexity;
    std::printf("%-18s %9s %9s %10s %9s %9s %7s %9s %8s  %s\n", "type", "file MiB", "mem MiB",
                "PPL", "mean KLD", "99% KLD", "top-1%", "prefill/s", "decode/s",
                "PPL vs ref (rule of thumb)");
    for (const LabEntry& e : report.entries) {
        const KlDivergenceSummary& q = e.quality;
        const std::string loss =
            e.is_reference ? std::string("-")
                           : fmt::format("{:+.2f}% ({})", 100 * (q.perplexity / ref_ppl - 1),
                                         e.type ? rule_of_thumb(*e.type) : "");
        std::printf("%-18s %9s %9s %10.4f %9.5f %9.5f %7.2f %9.1f %8.1f  %s\n", e.label.c_str(),
                    mib(e.file_bytes).c_str(), mib(e.memory_bytes()).c_str(), q.perplexity,
                    q.mean_kld, q.p99_kld, 100 * q.same_top, e.prefill_tokens_per_second,
                    e.decode_tokens_per_second, loss.c_str());
    }
}

} // namespace

const CommandSpec& quant_lab_spec() {
    static const CommandSpec spec{
        .program = "hearth-cli",
        .name = "quant-lab",
        .synopsis = "MODEL --types TYPES --text FILE --out-dir DIR [OPTIONS]",
        .summary =
            "Makes each quantization of MODEL (or finds it in the out dir) and measures it "
            "against MODEL on the text: size on disk and in memory, perplexity, mean and 99th "
            "percentile KL divergence and top-1 agreement (as llama-perplexity "
            "--kl-divergence), prefill and decode speed, and which type fits a memory budget.",
        .options = {
            option("--types", "T1,T2,...",
                   fmt::format("the types to measure (required): {}", type_list())),
            option("--text", "FILE", "the text to score (required)").alias("-f"),
            option("--ctx", "N",
                   fmt::format("tokens per window and the context the memory is planned for, "
                               "{} to {} (default {})",
                               kMinPerplexityContext, kMaxContextTokens, kDefaultPerplexityContext))
                .alias("-c")
                .within(IntRange{kMinPerplexityContext, kMaxContextTokens}),
            option("--chunks", "N",
                   fmt::format("score at most N windows, 1 to {} (default: every whole window)",
                               kMaxContextTokens))
                .within(IntRange{1, kMaxContextTokens}),
            option("--out-dir", "DIR",
                   "where the quantizations are made or found (required: they are the size of "
                   "models)"),
            option("--memory-budget", "MIB",
                   "the memory the verdict picks for, 1 to 16777216 (default: the memory "
                   "available now)")
                .within(IntRange{1, 1 << 24}),
            option("--imatrix", "FILE",
                   "quantize every type with this importance matrix (as quantize --imatrix); "
                   "the files are then STEM.TYPE.imatrix.gguf"),
            flag("--no-speed", "skip the prefill and decode timing"),
            option("--threads", "N", "CPU threads, 1 to 1024 (default: the physical cores)")
                .alias("-t")
                .within(IntRange{1, 1024}),
            flag("--json", "print the figures as JSON"),
        }};
    return spec;
}

int cmd_quant_lab(const Args& args) {
    struct sigaction action {};
    action.sa_handler = on_lab_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    if (args.positionals.size() != 1 || !args.get("--types") || !args.get("--text") ||
        !args.get("--out-dir")) {
        return usage_error(*args.spec, "expects one MODEL, --types, --text and --out-dir");
    }
    auto types = parse_types(*args.get("--types"));
    if (!types) {
        return usage_error(*args.spec, types.error().message);
    }
    auto ctx = args.get_int("--ctx");
    auto chunks = args.get_int("--chunks");
    auto threads = args.get_int("--threads");
    auto budget = args.get_int("--memory-budget");
    for (const auto* value : {&ctx, &chunks, &threads, &budget}) {
        if (!*value) {
            return usage_error(*args.spec, value->error().message);
        }
    }
    auto text = read_file_input(*args.get("--text"), "the --text file", kMaxTextInputBytes);
    if (!text) {
        return report_error(text.error().message.c_str());
    }
    QuantLabOptions options;
    options.model = args.positionals[0];
    options.types = std::move(*types);
    options.text = std::move(*text);
    options.out_dir =
        args.get("--out-dir")
            .value_or(options.model.parent_path().empty() ? std::string(".")
                                                          : options.model.parent_path().string());
    options.measure.n_ctx = static_cast<uint32_t>(ctx->value_or(kDefaultPerplexityContext));
    options.measure.max_windows = static_cast<size_t>(chunks->value_or(0));
    options.measure.n_threads = static_cast<int>(threads->value_or(0));
    options.measure.measure_speed = !args.has("--no-speed");
    options.imatrix = args.get("--imatrix").value_or("");
    options.quantize_threads = static_cast<unsigned>(threads->value_or(0));
    if (budget->has_value()) {
        options.memory_budget_bytes = static_cast<uint64_t>(**budget) << 20;
    }
    // One line per stage, its count rewritten in place.
    std::string last_stage;
    const auto progress = [&](const LabProgress& p) {
        if (p.stage != last_stage && !last_stage.empty()) {
            std::fprintf(stderr, "\n");
        }
        last_stage = p.stage;
        std::fprintf(stderr, "\r%s: %zu/%zu done", p.stage.c_str(), p.done, p.total);
        return true;
    };
    auto report = run_quant_lab(options, progress, &g_cancel);
    if (!last_stage.empty()) {
        std::fprintf(stderr, "\n");
    }
    if (!report) {
        if (report.error().code == ErrorCode::cancelled) {
            std::fprintf(stderr, "hearth-cli: cancelled\n");
            return 130;
        }
        return report_error(report.error().message.c_str());
    }
    std::string bounded;
    for (TensorType t : report->reference_quantized_from) {
        bounded += (bounded.empty() ? "" : ", ") + std::string(tensor_type_name(t));
    }
    if (args.has("--json")) {
        nlohmann::json j = {{"reference_type", report->reference_type},
                            {"reference_quantized_from", nlohmann::json::array()},
                            {"n_tokens", report->n_tokens},
                            {"n_windows", report->n_windows},
                            {"n_ctx", report->n_ctx},
                            {"reused", report->reused},
                            {"memory_budget_bytes", report->memory_budget_bytes},
                            {"verdict", report->verdict},
                            {"entries", nlohmann::json::array()}};
        for (TensorType t : report->reference_quantized_from) {
            j["reference_quantized_from"].push_back(std::string(tensor_type_name(t)));
        }
        for (const LabEntry& e : report->entries) {
            j["entries"].push_back(entry_json(e));
        }
        std::printf("%s\n", json_text(j).c_str());
        return 0;
    }
    std::printf("%zu tokens, %zu windows of %u, %zu scored positions per type\n", report->n_tokens,
                report->n_windows, report->n_ctx, report->entries.front().quality.count);
    if (!bounded.empty()) {
        std::printf("note: the reference is itself quantized (%s): every figure is measured "
                    "against it, and the files made from it are bounded by its quality\n",
                    bounded.c_str());
    }
    for (const std::string& label : report->reused) {
        std::printf("%s: found already made in the out dir (header and size checked)\n",
                    label.c_str());
    }
    print_table(*report);
    std::printf("%s\n", report->verdict.c_str());
    return 0;
}

} // namespace hearth::cli
