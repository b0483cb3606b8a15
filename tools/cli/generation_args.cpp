// Shared options of hearth-cli's generating commands.
#include "generation_args.h"

#include "hearth/file_input.h"

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

namespace hearth::cli {

void add_generation_options(ArgSpec& spec) {
    for (const char* option : {"--n-predict", "--temp", "--top-k", "--top-p", "--min-p",
                               "--repeat-penalty", "--repeat-last-n", "--presence-penalty",
                               "--frequency-penalty", "--seed", "--ctx", "--threads", "--batch",
                               "--template", "--system", "--kv-type", "--device", "--gpu-layers"}) {
        spec.options.insert(option);
    }
    spec.short_names["-n"] = "--n-predict";
    spec.short_names["-c"] = "--ctx";
    spec.short_names["-t"] = "--threads";
    spec.short_names["-s"] = "--seed";
}

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
    auto read_int = [&](const char* option, long long low, long long high,
                        auto& target) -> Result<void> {
        auto value = args.get_int(option);
        if (!value) {
            return std::unexpected(value.error());
        }
        if (*value) {
            if (**value < low || **value > high) {
                return fail(ErrorCode::invalid_argument,
                            fmt::format("{} must be between {} and {}, got {}", option, low, high,
                                        **value));
            }
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
        read_int("--top-k", 0, 1 << 30, out.sampling.top_k),
        read_int("--repeat-last-n", -1, 1 << 30, out.sampling.repeat_last_n),
        read_int("--seed", 0, (1ll << 62), seed),
        read_int("--n-predict", 1, 1 << 24, out.max_tokens),
        read_int("--ctx", 1, 1 << 24, out.session.n_ctx),
        read_int("--batch", 1, 4096, out.session.n_batch),
        read_int("--threads", 1, 1024, out.n_threads),
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
    if (auto kv = args.get("--kv-type")) {
        auto type = parse_kv_cache_type(*kv);
        if (!type) {
            return fail(ErrorCode::invalid_argument,
                        fmt::format("--kv-type must be f16 or q8_0, got '{}'", *kv));
        }
        out.session.kv_type = *type;
    }
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
    return out;
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

} // namespace hearth::cli
