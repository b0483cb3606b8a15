// Shared options of hearth-cli's generating commands.
#include "generation_args.h"

#include "hearth/file_input.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

namespace hearth::cli {

Result<GenerationArgs> read_generation_args(const Args& args) {
    GenerationArgs out;
    auto read_float = [&](const char* option, float& target) -> Result<void> {
        auto value = args.get_float(option);
        if (!value) {
            return std::unexpected(value.error());
        }
        if (*value) {
            target = static_cast<float>(**value);
        }
        return {};
    };
    // The range is the one the option's declaration gives (command_specs.cpp).
    auto read_int = [&](const char* option, auto& target) -> Result<void> {
        auto value = args.get_int(option);
        if (!value) {
            return std::unexpected(value.error());
        }
        if (*value) {
            target = static_cast<std::remove_reference_t<decltype(target)>>(**value);
        }
        return {};
    };
    uint64_t seed = out.sampling.seed;
    Result<void> steps[] = {
        read_float("--temp", out.sampling.temperature),
        read_float("--top-p", out.sampling.top_p),
        read_float("--min-p", out.sampling.min_p),
        read_float("--repeat-penalty", out.sampling.repeat_penalty),
        read_float("--presence-penalty", out.sampling.presence_penalty),
        read_float("--frequency-penalty", out.sampling.frequency_penalty),
        read_int("--top-k", out.sampling.top_k),
        read_int("--repeat-last-n", out.sampling.repeat_last_n),
        read_int("--seed", seed),
        read_int("--n-predict", out.max_tokens),
        read_int("--ctx", out.session.n_ctx),
        read_int("--batch", out.session.n_batch),
        read_int("--threads", out.n_threads),
        read_int("--draft-max", out.speculation.draft_max),
        read_int("--draft-min", out.speculation.draft_min),
        read_int("--lookup", out.speculation.lookup_ngram),
        read_float("--draft-p-min", out.speculation.draft_p_min),
    };
    for (auto& step : steps) {
        if (!step) {
            return std::unexpected(step.error());
        }
    }
    out.sampling.seed = seed;
    if (auto valid = out.sampling.validate(); !valid) {
        return std::unexpected(valid.error());
    }
    auto kv_type = read_kv_type(args);
    if (!kv_type) {
        return std::unexpected(kv_type.error());
    }
    out.session.kv_type = *kv_type;
    auto device = read_device(args);
    if (!device) {
        return std::unexpected(device.error());
    }
    out.device = *device;
    auto gpu_layers = read_gpu_layers(args);
    if (!gpu_layers) {
        return std::unexpected(gpu_layers.error());
    }
    out.session.gpu_layers = *gpu_layers;
    out.template_name = args.get("--template").value_or("");
    out.system_prompt = args.get("--system").value_or("");
    out.draft_path = args.get("--draft").value_or("");
    if (!out.draft_path.empty() && args.get("--lookup")) {
        return fail(ErrorCode::invalid_argument,
                    "--draft and --lookup are two ways to draft: choose one");
    }
    out.speculation.mode = !out.draft_path.empty() ? SpeculationMode::draft_model
                           : args.get("--lookup")  ? SpeculationMode::lookup
                                                   : SpeculationMode::off;
    if (!out.speculation.enabled() && (args.get("--draft-max") || args.get("--draft-min"))) {
        return fail(ErrorCode::invalid_argument,
                    "--draft-max and --draft-min size a draft: give --draft MODEL or --lookup N");
    }
    if (out.speculation.mode != SpeculationMode::draft_model && args.get("--draft-p-min")) {
        return fail(ErrorCode::invalid_argument,
                    "--draft-p-min is the draft model's confidence: give --draft MODEL");
    }
    if (!(out.speculation.draft_p_min >= 0.0f && out.speculation.draft_p_min <= 1.0f)) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("--draft-p-min takes a probability from 0 to 1, not {}",
                                out.speculation.draft_p_min));
    }
    if (out.speculation.draft_min > out.speculation.draft_max) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("--draft-min ({}) is more than --draft-max ({})",
                                out.speculation.draft_min, out.speculation.draft_max));
    }
    return out;
}

Result<void> load_cli_draft(GenerationArgs& args) {
    if (!args.speculation.enabled()) {
        return {};
    }
    if (args.device.automatic) {
        std::fprintf(stderr, "device: the CPU, for speculative decoding (not on CUDA yet)\n");
        args.device = DeviceRequest{.automatic = false, .kind = DeviceKind::cpu, .cuda_device = 0};
    }
    if (args.speculation.mode != SpeculationMode::draft_model) {
        return {};
    }
    auto draft = Model::load(args.draft_path, {.n_threads = args.n_threads, .on_progress = {}});
    if (!draft) {
        return fail(draft.error().code,
                    fmt::format("the --draft model: {}", draft.error().message));
    }
    args.speculation.draft_model = std::move(*draft);
    return {};
}

Result<PromptFormat> resolve_cli_template(const Model& model, const std::string& name_or_file) {
    if (is_template_name(name_or_file)) {
        return resolve_prompt_format(model, name_or_file);
    }
    const std::filesystem::path path(name_or_file);
    auto text = read_file_input(path, "the --template file", kMaxTemplateFileBytes);
    if (!text) {
        return fail(text.error().code,
                    fmt::format("--template '{}' is neither a built-in template (hearth-cli "
                                "template list) nor a readable template file: {}",
                                name_or_file, text.error().message));
    }
    return resolve_prompt_format_source(model, path.filename().string(), std::move(*text));
}

Result<KvCacheType> read_kv_type(const Args& args) {
    const std::string name = args.get("--kv-type").value_or("f16");
    const auto type = parse_kv_cache_type(name);
    if (!type) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("--kv-type must be f16 or q8_0, got '{}'", name));
    }
    return *type;
}

Result<DeviceRequest> read_device(const Args& args) {
    auto device = parse_device(args.get("--device").value_or("auto"));
    if (!device) {
        return fail(device.error().code, "--device: " + device.error().message);
    }
    return device;
}

Result<int32_t> read_gpu_layers(const Args& args) {
    auto layers = parse_gpu_layers(args.get("--gpu-layers").value_or("auto"));
    if (!layers) {
        return fail(layers.error().code, "--gpu-layers: " + layers.error().message);
    }
    return layers;
}

Result<std::vector<Session>> create_cli_sessions(const std::shared_ptr<const Model>& model,
                                                 SessionOptions options,
                                                 const DeviceRequest& device, size_t n) {
    Placement placed =
        place_sessions(model, std::move(options), device, n, FallbackPolicy::only_when_automatic);
    if (device.automatic) { // "auto" decided: say what and why
        std::fprintf(stderr, "device: %s\n", placed.choice.reason.c_str());
    }
    if (placed.fell_back) {
        std::fprintf(stderr, "device: %s\n", placed.note.c_str());
    }
    if (placed.sessions) {
        if (const auto gpu = placed.sessions->front().gpu_memory();
            gpu && gpu->gpu_layers < gpu->n_layers) {
            std::fprintf(stderr,
                         "device: partial offload: %u of %u layers on CUDA device %d, the rest "
                         "and the output head on the CPU\n",
                         gpu->gpu_layers, gpu->n_layers, gpu->cuda_device);
        }
    }
    return std::move(placed.sessions);
}

Result<std::unique_ptr<Scheduler>> create_cli_scheduler(const std::shared_ptr<const Model>& model,
                                                        SessionOptions options,
                                                        const DeviceRequest& device, size_t n,
                                                        size_t queue_capacity) {
    SchedulerOptions scheduler;
    scheduler.queue_capacity = queue_capacity;
    scheduler.step_prompt_budget = std::clamp<uint32_t>(options.n_batch, 1, kMaxStepPromptBudget);
    auto sessions = create_cli_sessions(model, std::move(options), device, n);
    if (!sessions) {
        return std::unexpected(sessions.error());
    }
    return Scheduler::create(std::move(*sessions), scheduler);
}

} // namespace hearth::cli
