// `hearth-cli doctor MODEL [--ctx N] [--device D] [--slots N] [--memory-budget BYTES] [--warmup]
// [--json]`: the pre-flight checklist from the file's header and this machine, the context
// window's cost; with --warmup the model is loaded and run: the first and second run, the plan
// against resident memory, and the doctor's diagnoses of a real reply.
#include "cli_args.h"
#include "commands.h"
#include "doctor_output.h"
#include "generation_args.h"
#include "hearth/diagnosis.h"
#include "hearth/memory_probe.h"
#include "hearth/preflight.h"
#include "hearth/prompt.h"
#include "json_output.h"

#include <QFile>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>

namespace hearth::cli {
namespace {

// The question the warm-up and the probe reply ask.
constexpr const char* kProbeQuestion = "What is the capital of France? Answer in one sentence.";
// Tokens of each --warmup reply unless -n says: enough for a loop or a runaway reply to show.
constexpr int32_t kDefaultDoctorTokens = 64;

// The catalog's other quantizations of this model (resources/catalog.json, compiled in).
std::vector<QuantSibling> catalog_siblings(const std::string& model_path) {
    QFile file(QStringLiteral(":/hearth/catalog.json"));
    if (!file.open(QIODevice::ReadOnly)) {
        return {};
    }
    const QByteArray bytes = file.readAll();
    const std::string name = std::filesystem::path(model_path).filename().string();
    auto siblings = catalog_quant_siblings(std::string_view(bytes.constData(), bytes.size()), name);
    return siblings ? *siblings : std::vector<QuantSibling>{};
}

Result<PreflightSettings> read_settings(const Args& args, const GenerationArgs& generation) {
    PreflightSettings settings;
    settings.n_ctx = generation.session.n_ctx;
    settings.n_batch = generation.session.n_batch;
    settings.kv_type = generation.session.kv_type;
    settings.device = generation.device;
    settings.gpu_layers = generation.session.gpu_layers;
    settings.n_threads = generation.n_threads;
    settings.template_name = generation.template_name;
    settings.system_prompt = generation.system_prompt;
    settings.sampling = generation.sampling;
    auto slot_count = args.get_int("--slots"); // (Qt's moc reserves `slots`)
    if (!slot_count) {
        return std::unexpected(slot_count.error());
    }
    settings.n_seq = slot_count->has_value() ? static_cast<uint32_t>(**slot_count) : 1;
    if (auto text = args.get("--memory-budget")) {
        auto bytes = parse_size(*text);
        if (!bytes) {
            return fail(ErrorCode::invalid_argument, "--memory-budget: " + bytes.error().message);
        }
        settings.memory_budget_bytes = *bytes;
    }
    return settings;
}

// The model loaded and run: warm-up, memory truth, a probe reply and its diagnoses.
Result<RunReport> run_model(const std::string& path, const GenerationArgs& generation,
                            const PreflightSettings& settings, const ModelInfo& info,
                            const ModelFileFacts& file, const MachineFacts& machine,
                            int32_t max_tokens) {
    RunReport report;
    const uint64_t resident_before = read_resident_bytes().value_or(0);
    const auto start = std::chrono::steady_clock::now();
    auto model = Model::load(path, {.n_threads = generation.n_threads, .on_progress = {}});
    if (!model) {
        return std::unexpected(model.error());
    }
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const uint64_t resident_after_load = read_resident_bytes().value_or(0);
    auto format = resolve_cli_template(**model, generation.template_name);
    if (!format) {
        return std::unexpected(format.error());
    }
    std::vector<ChatMessage> messages;
    if (!generation.system_prompt.empty()) {
        messages.push_back({"system", generation.system_prompt});
    }
    messages.push_back({"user", kProbeQuestion});
    auto text = render_prompt(*format, messages, true);
    if (!text) {
        return std::unexpected(text.error());
    }
    auto prompt = tokenize_prompt((*model)->tokenizer(), *text);
    if (!prompt) {
        return std::unexpected(prompt.error());
    }
    SessionOptions options = generation.session;
    options.n_ctx = effective_context(info, settings);
    options.device = DeviceKind::cpu; // the memory truth and roofline are the CPU's
    auto session = Session::create(*model, options);
    if (!session) {
        return std::unexpected(session.error());
    }
    auto warmup = measure_warmup(*session, load_ms, *prompt, max_tokens);
    if (!warmup) {
        return std::unexpected(warmup.error());
    }
    report.warmup = *warmup;
    MemoryPlanOptions plan_options{
        .n_ctx = options.n_ctx, .n_batch = options.n_batch, .kv_type = options.kv_type};
    report.memory_truth = compare_memory(plan_memory(info, plan_options), resident_before,
                                         resident_after_load, read_resident_bytes().value_or(0));
    auto probe = probe_reply(*session, *format, *text, *prompt, generation, settings, info, file,
                             machine, max_tokens);
    if (!probe) {
        return std::unexpected(probe.error());
    }
    report.probe = std::move(*probe);
    report.probe.question = kProbeQuestion;
    return report;
}

} // namespace

int cmd_doctor(const Args& args) {
    if (args.positionals.size() != 1) {
        return usage_error(*args.spec, "expects one MODEL");
    }
    auto generation = read_generation_args(args);
    if (!generation) {
        return usage_error(*args.spec, generation.error().message);
    }
    auto settings = read_settings(args, *generation);
    if (!settings) {
        return usage_error(*args.spec, settings.error().message);
    }
    const std::string& path = args.positionals[0];
    auto gguf = GgufFile::open(path);
    if (!gguf) {
        return report_error(gguf.error().message.c_str());
    }
    auto info = read_model_info(gguf->header(), gguf->file_size());
    if (!info) {
        return report_error((path + ": " + info.error().message).c_str());
    }
    auto file = read_model_file_facts(*gguf);
    if (!file) {
        return report_error((path + ": " + file.error().message).c_str());
    }
    const MachineFacts machine = read_machine_facts();
    if (args.has("--calibrate")) {
        return run_calibration(path, *generation);
    }
    DoctorReport report;
    report.path = path;
    std::optional<WarmupMeasurement> warmup;
    if (args.has("--warmup")) {
        const int32_t max_tokens =
            args.get("--n-predict") ? generation->max_tokens : kDefaultDoctorTokens;
        auto run = run_model(path, *generation, *settings, *info, *file, machine, max_tokens);
        if (!run) {
            return report_error(run.error().message.c_str());
        }
        warmup = run->warmup;
        report.run = std::move(*run);
    }
    report.checklist =
        run_preflight(*info, *file, *settings, machine, catalog_siblings(path), warmup);
    report.context_cost = context_cost(*info, settings->kv_type, settings->n_seq);
    report.n_ctx = effective_context(*info, *settings);
    if (args.has("--json")) {
        std::cout << json_text(doctor_json(report)) << '\n';
    } else {
        print_doctor(report);
    }
    return 0;
}

} // namespace hearth::cli
