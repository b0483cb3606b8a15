// hearth-cli doctor's output: the checklist, the context's cost and what a run found, printed
// for a person or written as one JSON object.
#include "doctor_output.h"

#include <cstdio>
#include <fmt/format.h>

namespace hearth::cli {
namespace {

// An engine JSON value (ordered) as the tool's, with invalid UTF-8 from a file replaced.
nlohmann::json plain(const nlohmann::ordered_json& value) {
    return nlohmann::json::parse(
        value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

const char* status_mark(CheckStatus status) {
    switch (status) {
    case CheckStatus::green:
        return "[ ok ]";
    case CheckStatus::amber:
        return "[warn]";
    case CheckStatus::red:
        return "[FAIL]";
    }
    return "[    ]";
}

void print_fixes(const std::vector<Fix>& fixes) {
    for (const Fix& fix : fixes) {
        std::printf("      fix: %s  %s\n           %s\n", fix.label.c_str(),
                    settings_change_json(fix.change)
                        .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                        .c_str(),
                    fix.effect.c_str());
    }
}

void print_item(const CheckItem& item) {
    std::printf("%s %-9s %s\n", status_mark(item.status), item.title.c_str(), item.summary.c_str());
    for (const Figure& figure : item.figures) {
        std::printf("      %-40s %s\n", figure.label.c_str(), figure.text.c_str());
    }
    for (const std::string& line : item.evidence) {
        std::printf("      - %s\n", line.c_str());
    }
    print_fixes(item.fixes);
}

void print_run(const RunReport& run) {
    const MemoryTruth& truth = run.memory_truth;
    std::printf("\nmemory truth (CPU): the plan said %s, the process grew by %s (%+.1f%%): %s\n",
                format_bytes(double(truth.predicted_bytes)).c_str(),
                format_bytes(double(truth.measured_bytes())).c_str(), 100 * truth.difference(),
                truth.explanation.c_str());
    const ProbeReport& probe = run.probe;
    std::printf("\nprobe reply (%d tokens, %.1f tokens/s, stopped: %s):\n  %s\n",
                probe.stats.n_generated, probe.stats.decode_tokens_per_second(),
                stop_reason_name(probe.stats.stop), probe.reply.c_str());
    std::printf("  peak entropy %.2f nats over a window, an n-gram repeated at most %zu times\n",
                probe.max_mean_entropy, probe.worst_loop_repeats);
    if (probe.bandwidth_gbs > 0) {
        std::printf("  memory bandwidth %.1f GB/s measured: roofline %.1f tokens/s\n",
                    probe.bandwidth_gbs, probe.roofline_tokens_per_second);
    }
    std::printf("\ndiagnoses: %s\n", probe.diagnoses.empty() ? "none" : "");
    for (const Diagnosis& d : probe.diagnoses) {
        std::printf("  [%s] %s: %s\n", severity_name(d.severity), d.title.c_str(),
                    d.explanation.c_str());
        for (const std::string& line : d.evidence) {
            std::printf("      - %s\n", line.c_str());
        }
        print_fixes(d.fixes);
    }
}

} // namespace

void print_doctor(const DoctorReport& report) {
    std::printf("hearth doctor: %s at a context of %u tokens\n\n", report.path.c_str(),
                report.n_ctx);
    for (const CheckItem& item : report.checklist.items) {
        print_item(item);
    }
    std::printf("\noverall: %s\n", check_status_name(report.checklist.overall()));
    std::printf("\nthe context window's cost (KV cache, and the whole plan)\n");
    for (const ContextCostPoint& point : report.context_cost) {
        std::printf("  %7u tokens  KV %10s  total %10s%s\n", point.n_ctx,
                    format_bytes(double(point.kv_bytes)).c_str(),
                    format_bytes(double(point.total_bytes)).c_str(),
                    point.beyond_trained ? "  (beyond the trained context)" : "");
    }
    if (report.run) {
        print_run(*report.run);
    }
}

nlohmann::json doctor_json(const DoctorReport& report) {
    nlohmann::json out = {{"path", report.path}, {"n_ctx", report.n_ctx}};
    out["checklist"] = plain(checklist_json(report.checklist));
    nlohmann::json cost = nlohmann::json::array();
    for (const ContextCostPoint& point : report.context_cost) {
        cost.push_back({{"n_ctx", point.n_ctx},
                        {"kv_bytes", point.kv_bytes},
                        {"total_bytes", point.total_bytes},
                        {"beyond_trained", point.beyond_trained}});
    }
    out["context_cost"] = cost;
    if (report.run) {
        const RunReport& run = *report.run;
        auto run_json = [](const WarmupRun& r) {
            return nlohmann::json{{"load_ms", r.load_ms},
                                  {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                                  {"decode_tokens_per_second", r.decode_tokens_per_second},
                                  {"ttft_ms", r.ttft_ms},
                                  {"n_prompt", r.n_prompt},
                                  {"n_generated", r.n_generated}};
        };
        out["warmup"] = {{"first", run_json(run.warmup.first)},
                         {"second", run_json(run.warmup.second)}};
        out["memory_truth"] = {{"predicted_bytes", run.memory_truth.predicted_bytes},
                               {"resident_before", run.memory_truth.resident_before},
                               {"resident_after_load", run.memory_truth.resident_after_load},
                               {"resident_after", run.memory_truth.resident_after},
                               {"measured_bytes", run.memory_truth.measured_bytes()},
                               {"difference", run.memory_truth.difference()},
                               {"explanation", run.memory_truth.explanation}};
        nlohmann::json diagnoses = nlohmann::json::array();
        for (const Diagnosis& d : run.probe.diagnoses) {
            diagnoses.push_back(plain(diagnosis_json(d)));
        }
        out["probe"] = {{"question", run.probe.question},
                        {"reply", run.probe.reply},
                        {"n_generated", run.probe.stats.n_generated},
                        {"stop", stop_reason_name(run.probe.stats.stop)},
                        {"decode_tokens_per_second", run.probe.stats.decode_tokens_per_second()},
                        {"max_mean_entropy", run.probe.max_mean_entropy},
                        {"worst_loop_repeats", run.probe.worst_loop_repeats},
                        {"bandwidth_gbs", run.probe.bandwidth_gbs},
                        {"roofline_tokens_per_second", run.probe.roofline_tokens_per_second},
                        {"diagnoses", diagnoses}};
    }
    return out;
}

} // namespace hearth::cli
