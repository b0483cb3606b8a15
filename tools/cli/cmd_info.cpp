// `hearth-cli info MODEL [--ctx N] [--gpu-free SIZE [--gpu-layers N]] [--json]`: what a model
// is and what running it costs, and how it would split between a GPU and the CPU.
#include "cli_args.h"
#include "commands.h"
#include "hearth/cuda_device.h"
#include "hearth/gguf.h"
#include "hearth/gpu_layers.h"
#include "hearth/memory_plan.h"
#include "hearth/model_info.h"
#include "json_output.h"
#include "layer_kinds.h"

#include <charconv>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>

namespace hearth::cli {
namespace {

std::string format_count(uint64_t n) {
    if (n >= 1'000'000'000) {
        return fmt::format("{:.2f} B", n / 1e9);
    }
    if (n >= 1'000'000) {
        return fmt::format("{:.2f} M", n / 1e6);
    }
    return std::to_string(n);
}

// The requested split, or the refusal, as JSON.
nlohmann::json offload_json(const Result<OffloadPlan>& plan, uint64_t gpu_free_bytes) {
    if (!plan) {
        return {{"gpu_free_bytes", gpu_free_bytes}, {"error", plan.error().message}};
    }
    auto side = [](const OffloadBytes& b) {
        return nlohmann::json{{"weights_bytes", b.weights},
                              {"kv_bytes", b.kv},
                              {"scratch_bytes", b.scratch},
                              {"total_bytes", b.total()}};
    };
    return {{"gpu_free_bytes", gpu_free_bytes},
            {"gpu_headroom_bytes", plan->gpu_headroom_bytes},
            {"n_ctx", plan->n_ctx},
            {"n_layer", plan->n_layer},
            {"n_gpu_layers", plan->n_gpu_layers},
            {"max_gpu_layers", plan->max_gpu_layers},
            {"gpu", side(plan->gpu)},
            {"cpu", side(plan->cpu)},
            {"summary", plan->summary}};
}

void print_offload(const Result<OffloadPlan>& plan, uint64_t gpu_free_bytes, uint32_t n_ctx) {
    auto bytes = [](uint64_t n) { return format_bytes(static_cast<double>(n)); };
    std::printf("\npartial offload with %s free on the GPU, at a context of %u tokens\n",
                bytes(gpu_free_bytes).c_str(), n_ctx);
    if (!plan) {
        std::printf("  will not fit           %s\n", plan.error().message.c_str());
        return;
    }
    std::printf("  split                  %s\n", plan->summary.c_str());
    std::printf("  on the GPU             weights %s + KV cache %s + scratch %s (+ %s kept free)\n",
                bytes(plan->gpu.weights).c_str(), bytes(plan->gpu.kv).c_str(),
                bytes(plan->gpu.scratch).c_str(), bytes(plan->gpu_headroom_bytes).c_str());
    std::printf("  on the CPU             weights %s + KV cache %s + scratch %s\n",
                bytes(plan->cpu.weights).c_str(), bytes(plan->cpu.kv).c_str(),
                bytes(plan->cpu.scratch).c_str());
}

nlohmann::json to_json(const ModelInfo& info, const MemoryPlan& plan, const GgufFile& file,
                       const std::optional<HostMemory>& host) {
    nlohmann::json mix = nlohmann::json::array();
    for (const auto& share : info.quant_mix) {
        mix.push_back({{"type", tensor_type_name(share.type)},
                       {"tensors", share.n_tensors},
                       {"bytes", share.n_bytes},
                       {"elements", share.n_elements}});
    }
    nlohmann::json out = {
        {"path", file.path().string()},
        {"gguf_version", file.version()},
        {"architecture", info.architecture},
        {"name", info.name},
        {"file_type", info.file_type},
        {"file_size", info.file_size},
        {"n_params", info.n_params},
        {"n_active_params", info.n_active_params},
        {"active_weight_bytes", info.active_weight_bytes},
        {"experts",
         {{"n_expert", info.n_expert},
          {"n_expert_used", info.n_expert_used},
          {"n_ff_exp", info.n_ff_exp},
          {"n_ff_shexp", info.n_ff_shexp},
          {"params", info.expert_params},
          {"bytes", info.expert_weight_bytes}}},
        {"n_tensors", file.tensors().size()},
        {"hparams",
         {{"n_layer", info.n_layer},
          {"n_embd", info.n_embd},
          {"n_head", info.n_head},
          {"n_head_kv", info.n_head_kv},
          {"head_dim_k", info.head_dim_k},
          {"head_dim_v", info.head_dim_v},
          {"n_ff", info.n_ff},
          {"n_vocab", info.n_vocab},
          {"n_ctx_train", info.n_ctx_train},
          {"n_rot", info.n_rot},
          {"rope_freq_base", info.rope_freq_base},
          {"rope_scaling",
           {{"type", info.rope_scaling.type},
            {"factor", info.rope_scaling.factor},
            {"n_ctx_orig", info.rope_scaling.n_ctx_orig}}},
          {"norm_rms_eps", info.norm_rms_eps},
          {"sliding_window", info.sliding_window},
          {"attn_logit_softcap", info.attn_logit_softcap},
          {"final_logit_softcap", info.final_logit_softcap},
          {"attn_temperature_scale", info.attn_temperature_scale},
          {"n_attention_layers", info.n_attention_layers()},
          {"recurrent_layers", info.recurrent_layers}}},
        {"quant_mix", mix},
        {"chat_template", info.chat_template.has_value()},
        {"memory",
         {{"n_ctx", plan.n_ctx},
          {"weights_bytes", plan.weights_bytes},
          {"kv_bytes_per_token", plan.kv_bytes_per_token},
          {"kv_bytes", plan.kv_bytes},
          {"recurrent_bytes_per_seq", plan.recurrent_bytes_per_seq},
          {"recurrent_bytes", plan.recurrent_bytes},
          {"speculation_bytes_per_seq", plan.speculation_bytes_per_seq},
          {"scratch_bytes", plan.scratch_bytes},
          {"total_bytes", plan.total_bytes}}},
    };
    nlohmann::json gpus = nlohmann::json::array();
    if (auto devices = list_cuda_devices()) {
        for (const auto& gpu : *devices) {
            gpus.push_back({{"index", gpu.index},
                            {"name", gpu.name},
                            {"total_bytes", gpu.total_bytes},
                            {"free_bytes", gpu.free_bytes}});
        }
    } else {
        out["gpu_unavailable"] = devices.error().message;
    }
    out["gpus"] = gpus;
    if (!info.layer_shapes.empty()) {
        out["memory"]["layer_kinds"] = layer_kinds_json(info); // gemma4
    }
    if (host) {
        out["memory"]["host_total_bytes"] = host->total_bytes;
        out["memory"]["host_available_bytes"] = host->available_bytes;
        out["memory"]["fit"] = fit_name(assess_fit(plan.total_bytes, host->available_bytes));
    }
    return out;
}

void print_text(const ModelInfo& info, const MemoryPlan& plan, const GgufFile& file,
                const std::optional<HostMemory>& host) {
    auto row = [](const char* label, const std::string& value) {
        std::printf("%-22s %s\n", label, value.c_str());
    };
    row("model", file.path().string());
    row("name", info.name.empty() ? "(none)" : info.name);
    row("architecture", info.architecture);
    row("file", fmt::format("{} ({} bytes), GGUF v{}, {} tensors", format_bytes(info.file_size),
                            info.file_size, file.version(), file.tensors().size()));
    row("file type", info.file_type.empty() ? "(not stated)" : info.file_type);
    row("parameters", fmt::format("{} ({})", format_count(info.n_params), info.n_params));
    if (info.n_expert > 0) {
        row("active parameters",
            fmt::format("{} per token ({})", format_count(info.n_active_params),
                        info.n_active_params));
    }
    const uint32_t n_recurrent = info.n_layer - info.n_attention_layers();
    row("layers", n_recurrent == 0
                      ? std::to_string(info.n_layer)
                      : fmt::format("{} ({} gated delta-net with a recurrent state, "
                                    "{} attention)",
                                    info.n_layer, n_recurrent, info.n_attention_layers()));
    if (n_recurrent > 0) {
        const LinearAttentionInfo& la = info.linear_attention;
        row("linear attention",
            fmt::format("{}-tap convolution over {} channels, {} value heads over {} key heads, "
                        "state {} × {} per head",
                        la.d_conv, la.conv_channels(), la.n_v_heads, la.n_k_heads, la.d_state,
                        la.d_state));
    }
    row("embedding size", std::to_string(info.n_embd));
    // gemma4's layers differ: the largest, with each kind under "memory".
    const char* largest = info.layer_shapes.empty() ? "" : ", the largest layer's";
    row("attention heads", fmt::format("{} (KV heads {}{})", info.n_head, info.n_head_kv, largest));
    row("head size", info.head_dim_k == info.head_dim_v
                         ? std::to_string(info.head_dim_k)
                         : fmt::format("K {} / V {}", info.head_dim_k, info.head_dim_v));
    row("feed-forward size",
        info.n_ff > 0 || info.n_expert == 0 ? std::to_string(info.n_ff) : "none (all experts)");
    if (info.n_expert > 0) {
        row("experts", fmt::format("{} per layer, {} routed per token, {} wide; {} of weights "
                                   "({} a token)",
                                   info.n_expert, info.n_expert_used, info.n_ff_exp,
                                   format_bytes(static_cast<double>(info.expert_weight_bytes)),
                                   format_bytes(static_cast<double>(info.expert_weight_bytes) *
                                                info.n_expert_used / info.n_expert)));
        if (info.n_ff_shexp > 0) {
            row("shared expert",
                fmt::format("{} wide, gated, used by every token", info.n_ff_shexp));
        }
    }
    row("vocabulary", std::to_string(info.n_vocab));
    row("trained context", std::to_string(info.n_ctx_train));
    std::string rope = fmt::format("base {}, {} dims", info.rope_freq_base, info.n_rot);
    if (info.rope_scaling.type != "none") {
        rope += fmt::format(", {} scaling ×{}", info.rope_scaling.type, info.rope_scaling.factor);
        if (info.rope_scaling.n_ctx_orig) {
            rope += fmt::format(" (from {})", info.rope_scaling.n_ctx_orig);
        }
    }
    if (info.rope_scaling.attn_factor != 1.0) {
        rope += fmt::format(", attention factor {:.4g}", info.rope_scaling.attn_factor);
    }
    row("RoPE", rope);
    row("RMS norm epsilon", fmt::format("{}", static_cast<float>(info.norm_rms_eps)));
    if (info.sliding_window) {
        row("sliding window", std::to_string(info.sliding_window));
    }
    if (info.attn_logit_softcap != 0.0 || info.final_logit_softcap != 0.0) {
        row("logit soft-capping", fmt::format("attention {:.4g}, final {:.4g}",
                                              info.attn_logit_softcap, info.final_logit_softcap));
    }
    if (info.attn_temperature_scale != 0.0) {
        row("attention temperature",
            fmt::format(
                "query × (1 + {:.4g} · ln(1 + floor(pos / {})))", info.attn_temperature_scale,
                info.rope_scaling.n_ctx_orig ? info.rope_scaling.n_ctx_orig : info.n_ctx_train));
    }
    row("chat template", info.chat_template
                             ? fmt::format("embedded ({} characters)", info.chat_template->size())
                             : std::string("none"));
    std::printf("\nquantization mix\n");
    for (const auto& share : info.quant_mix) {
        std::printf("  %-8s %4llu tensors  %12s  %5.1f%%\n",
                    std::string(tensor_type_name(share.type)).c_str(),
                    static_cast<unsigned long long>(share.n_tensors),
                    format_bytes(static_cast<double>(share.n_bytes)).c_str(),
                    100.0 * static_cast<double>(share.n_bytes) /
                        static_cast<double>(std::max<uint64_t>(info.weights_bytes, 1)));
    }
    std::printf("\nmemory at a context of %u tokens\n", plan.n_ctx);
    std::printf("  weights                %s\n",
                format_bytes(static_cast<double>(plan.weights_bytes)).c_str());
    std::printf(
        "  weights read per token %s%s\n",
        format_bytes(static_cast<double>(info.active_weight_bytes)).c_str(),
        info.n_expert > 0
            ? fmt::format("  (the experts at {} of {})", info.n_expert_used, info.n_expert).c_str()
            : "");
    if (info.layer_shapes.empty()) {
        std::printf(
            "  KV cache per token     %s  (2 × %u %slayers × %u KV heads × %u head size × 2 "
            "bytes, F16)\n",
            format_bytes(plan.kv_bytes_per_token).c_str(), plan.n_attention_layers,
            n_recurrent > 0 ? "attention " : "", info.n_head_kv,
            (info.head_dim_k + info.head_dim_v) / 2);
    } else { // gemma4: each kind of layer at its own sizes
        std::printf("  KV cache per token     %s  (F16)\n",
                    format_bytes(plan.kv_bytes_per_token).c_str());
        print_layer_kinds(info);
    }
    std::printf("  KV cache               %s  (%u tokens)\n",
                format_bytes(static_cast<double>(plan.kv_bytes)).c_str(), plan.n_ctx);
    if (n_recurrent > 0) {
        const LinearAttentionInfo& la = info.linear_attention;
        std::printf("  recurrent state        %s  (per sequence, whatever the context: %u layers × "
                    "(%llu conv + %llu state) floats × 4 bytes, twice: live and a checkpoint)\n",
                    format_bytes(static_cast<double>(plan.recurrent_bytes)).c_str(), n_recurrent,
                    static_cast<unsigned long long>(la.conv_state_floats()),
                    static_cast<unsigned long long>(la.ssm_state_floats()));
        std::printf("  speculation            +%s  (per speculating sequence, at most: a copy of "
                    "the state and the verify pass's log; not in the total)\n",
                    format_bytes(static_cast<double>(plan.speculation_bytes_per_seq)).c_str());
    }
    std::printf("  scratch                %s\n",
                format_bytes(static_cast<double>(plan.scratch_bytes)).c_str());
    std::printf("  total                  %s\n",
                format_bytes(static_cast<double>(plan.total_bytes)).c_str());
    if (auto gpus = list_cuda_devices(); gpus && !gpus->empty()) {
        for (const auto& gpu : *gpus) {
            MemoryPlanOptions on_gpu;
            on_gpu.n_ctx = plan.n_ctx;
            on_gpu.device = DeviceKind::cuda;
            const MemoryPlan gpu_plan = plan_memory(info, on_gpu);
            std::printf("  GPU %d                  %s, %s free of %s: %s (with %s of CUDA "
                        "overhead)\n",
                        gpu.index, gpu.name.c_str(),
                        format_bytes(static_cast<double>(gpu.free_bytes)).c_str(),
                        format_bytes(static_cast<double>(gpu.total_bytes)).c_str(),
                        fit_name(assess_fit(gpu_plan.total_bytes, gpu.free_bytes)),
                        format_bytes(static_cast<double>(gpu_plan.overhead_bytes)).c_str());
        }
    } else {
        std::printf("  GPU                    none usable (%s): Hearth runs on the CPU\n",
                    gpus ? "no CUDA device" : gpus.error().message.c_str());
    }
    if (host) {
        std::printf("  this machine's RAM     %s available of %s: %s\n",
                    format_bytes(static_cast<double>(host->available_bytes)).c_str(),
                    format_bytes(static_cast<double>(host->total_bytes)).c_str(),
                    fit_name(assess_fit(plan.total_bytes, host->available_bytes)));
    }
}

} // namespace

int cmd_info(const Args& args) {
    if (args.positionals.size() != 1) {
        return usage_error(*args.spec, "expects one MODEL");
    }
    auto ctx = args.get_int("--ctx");
    if (!ctx) {
        return usage_error(*args.spec, ctx.error().message);
    }
    std::optional<uint64_t> gpu_free;
    if (auto text = args.get("--gpu-free")) {
        auto size = parse_size(*text);
        if (!size) {
            return usage_error(*args.spec, "--gpu-free: " + size.error().message);
        }
        gpu_free = *size;
    }
    int32_t gpu_layers = kAutoGpuLayers;
    if (auto text = args.get("--gpu-layers")) {
        if (!gpu_free) {
            return usage_error(*args.spec,
                               "--gpu-layers needs --gpu-free: the plan is for that much memory");
        }
        auto layers = parse_gpu_layers(*text);
        if (!layers) {
            return usage_error(*args.spec, "--gpu-layers: " + layers.error().message);
        }
        gpu_layers = *layers;
    }
    auto file = GgufFile::open(args.positionals[0]);
    if (!file) {
        return report_error(file.error().message.c_str());
    }
    auto info = read_model_info(file->header(), file->file_size());
    if (!info) {
        return report_error((file->path().string() + ": " + info.error().message).c_str());
    }
    MemoryPlanOptions options;
    options.n_ctx = ctx->has_value() ? static_cast<uint32_t>(**ctx) : 0;
    const MemoryPlan plan = plan_memory(*info, options);
    const auto host = read_host_memory();
    std::optional<Result<OffloadPlan>> offload;
    if (gpu_free) {
        OffloadOptions offload_options{.n_ctx = plan.n_ctx, .gpu_free_bytes = *gpu_free};
        if (gpu_layers == kAllGpuLayers) {
            offload_options.n_gpu_layers = info->n_layer;
        } else if (gpu_layers != kAutoGpuLayers) {
            offload_options.n_gpu_layers = static_cast<uint32_t>(gpu_layers);
        }
        offload = plan_offload(*info, offload_options);
    }
    if (args.has("--json")) {
        nlohmann::json out = to_json(*info, plan, *file, host);
        if (offload) {
            out["offload"] = offload_json(*offload, *gpu_free);
        }
        std::cout << json_text(out) << '\n';
    } else {
        print_text(*info, plan, *file, host);
        if (offload) {
            print_offload(*offload, *gpu_free, plan.n_ctx);
        }
    }
    return 0;
}

} // namespace hearth::cli
