// The checklist's memory item: the plan part by part against free RAM and each GPU, the rule
// of thumb beside it, and the computed changes that make a plan fit.
#include "doctor_internal.h"
#include "hearth/gpu_layers.h"

#include <algorithm>
#include <fmt/format.h>

namespace hearth {
namespace doctor {

MemoryPlanOptions plan_options(const ModelInfo& info, const PreflightSettings& settings) {
    return {.n_ctx = effective_context(info, settings),
            .n_seq = std::max<uint32_t>(settings.n_seq, 1),
            .n_batch = settings.n_batch,
            .kv_type = settings.kv_type,
            .device = DeviceKind::cpu};
}

std::optional<uint64_t> host_budget(const PreflightSettings& settings,
                                    const MachineFacts& machine) {
    if (settings.memory_budget_bytes) {
        return settings.memory_budget_bytes;
    }
    if (machine.host) {
        return machine.host->available_bytes;
    }
    return std::nullopt;
}

namespace {

bool q8_0_cache_possible(const ModelInfo& info) {
    return info.head_dim_k % 32 == 0 && info.head_dim_v % 32 == 0;
}

std::string fits_text(uint64_t needed, uint64_t available) {
    return fmt::format("needs {} of the {} available", bytes_text(needed), bytes_text(available));
}

// The file type's bits per weight: its llama.cpp name's, else measured from the file.
double file_bits_per_weight(const ModelInfo& info) {
    if (auto bits = quantization_bits_per_weight(info.file_type)) {
        return *bits;
    }
    return info.n_params ? 8.0 * double(info.weights_bytes) / double(info.n_params) : 16.0;
}

// The largest sibling quantization smaller than this file whose plan fits, with its estimate.
std::optional<Fix> smaller_quantization(const ModelInfo& info, const MemoryPlanOptions& options,
                                        uint64_t available,
                                        const std::vector<QuantSibling>& siblings) {
    const double own_bits = file_bits_per_weight(info);
    const MemoryPlan own = plan_memory(info, options);
    std::optional<Fix> best;
    double best_bits = 0;
    for (const QuantSibling& sibling : siblings) {
        const auto bits = quantization_bits_per_weight(sibling.quantization);
        if (!bits || *bits >= own_bits - 0.01 || *bits <= best_bits) {
            continue;
        }
        // The file's size when the catalog states it, else this file scaled by the bits.
        const uint64_t weights =
            sibling.size_bytes > 0
                ? sibling.size_bytes
                : static_cast<uint64_t>(double(info.weights_bytes) * *bits / own_bits);
        const uint64_t total = own.total_bytes - own.weights_bytes + weights;
        if (total > available) {
            continue;
        }
        best_bits = *bits;
        best = Fix{.label = fmt::format("Use the {} quantization ({})", sibling.quantization,
                                        sibling.file),
                   .effect = fmt::format("weights ≈{} instead of {} ({} bits a weight instead of "
                                         "{:.2f}); {}",
                                         bytes_text(weights), bytes_text(own.weights_bytes), *bits,
                                         own_bits, fits_text(total, available)),
                   .change = {.model = sibling.file},
                   .needed_bytes = total};
    }
    return best;
}

} // namespace

std::vector<Fix> memory_fixes(const ModelInfo& info, const PreflightSettings& settings,
                              uint64_t available, const std::vector<QuantSibling>& siblings) {
    std::vector<Fix> fixes;
    const MemoryPlanOptions options = plan_options(info, settings);
    const uint32_t largest = largest_fitting_context(info, options, available);
    if (largest > 0 && largest < options.n_ctx) {
        MemoryPlanOptions at = options;
        at.n_ctx = largest;
        const uint64_t total = plan_memory(info, at).total_bytes;
        fixes.push_back({.label = fmt::format("Use a context of {} tokens", thousands(largest)),
                         .effect = fmt::format("the largest that fits: {}; the KV cache holds {} "
                                               "instead of {} tokens",
                                               fits_text(total, available), thousands(largest),
                                               thousands(options.n_ctx)),
                         .change = {.context = largest},
                         .needed_bytes = total});
    }
    if (options.kv_type == KvCacheType::f16 && q8_0_cache_possible(info)) {
        MemoryPlanOptions q8 = options;
        q8.kv_type = KvCacheType::q8_0;
        const MemoryPlan plan = plan_memory(info, q8);
        if (plan.total_bytes <= available) {
            fixes.push_back(
                {.label = "Use a Q8_0 KV cache",
                 .effect = fmt::format(
                     "the cache takes {} instead of {} at {} tokens; {}", bytes_text(plan.kv_bytes),
                     bytes_text(plan_memory(info, options).kv_bytes), thousands(options.n_ctx),
                     fits_text(plan.total_bytes, available)),
                 .change = {.kv_type = KvCacheType::q8_0},
                 .needed_bytes = plan.total_bytes});
        } else if (const uint32_t q8_largest = largest_fitting_context(info, q8, available);
                   q8_largest > largest) {
            q8.n_ctx = q8_largest;
            const uint64_t total = plan_memory(info, q8).total_bytes;
            fixes.push_back({.label = fmt::format("Use a Q8_0 KV cache and a context of {} tokens",
                                                  thousands(q8_largest)),
                             .effect = fits_text(total, available),
                             .change = {.context = q8_largest, .kv_type = KvCacheType::q8_0},
                             .needed_bytes = total});
        }
    }
    if (options.n_seq > 1) {
        for (uint32_t n = options.n_seq - 1; n >= 1; --n) {
            MemoryPlanOptions fewer = options;
            fewer.n_seq = n;
            const uint64_t total = plan_memory(info, fewer).total_bytes;
            if (total <= available) {
                fixes.push_back({.label = fmt::format("Decode {} sequences together instead of {}",
                                                      n, options.n_seq),
                                 .effect = fits_text(total, available),
                                 .change = {.n_seq = n},
                                 .needed_bytes = total});
                break;
            }
        }
    }
    if (auto smaller = smaller_quantization(info, options, available, siblings)) {
        fixes.push_back(std::move(*smaller));
    }
    return fixes;
}

} // namespace doctor

uint32_t largest_fitting_context(const ModelInfo& info, MemoryPlanOptions options,
                                 uint64_t available_bytes) {
    const uint32_t high_limit = std::max<uint32_t>(info.n_ctx_train, 1);
    auto fits = [&](uint32_t n_ctx) {
        options.n_ctx = n_ctx;
        return plan_memory(info, options).total_bytes <= available_bytes;
    };
    if (!fits(1)) {
        return 0;
    }
    uint32_t low = 1, high = high_limit; // fits(low); the answer is in [low, high]
    if (fits(high)) {
        return high;
    }
    while (high - low > 1) { // fits(low), !fits(high)
        const uint32_t mid = low + (high - low) / 2;
        (fits(mid) ? low : high) = mid;
    }
    return low;
}

RuleOfThumb rule_of_thumb(const ModelInfo& info, KvCacheType kv_type) {
    using doctor::bytes_text;
    using doctor::thousands;
    RuleOfThumb rule;
    const MemoryPlan plan = plan_memory(info, {.n_ctx = 1, .kv_type = kv_type});
    rule.kv_bytes_per_token = plan.kv_bytes_per_token;
    rule.weights_bytes = info.weights_bytes;
    const auto bits = quantization_bits_per_weight(info.file_type);
    rule.weights_bytes_rule = double(info.n_params) * bits.value_or(16.0) / 8.0;

    // Llama-2-7B: 32 layers, 32 heads of 128 for keys and values, F16.
    const uint64_t kv_width = uint64_t{info.n_head_kv} * (info.head_dim_k + info.head_dim_v) / 2;
    if (info.n_head_kv > 0 && info.n_head_kv < info.n_head) {
        rule.reasons.push_back(fmt::format(
            "grouped-query attention: {} KV heads serve {} query heads, a cache {}× smaller than "
            "one head pair per query head",
            info.n_head_kv, info.n_head, info.n_head / info.n_head_kv));
    }
    if (info.head_dim_k != 128 || info.head_dim_v != 128) {
        rule.reasons.push_back(
            fmt::format("head size {} (a 7B's is 128)",
                        info.head_dim_k == info.head_dim_v
                            ? std::to_string(info.head_dim_k)
                            : fmt::format("K {} / V {}", info.head_dim_k, info.head_dim_v)));
    }
    if (plan.n_attention_layers != 32 || kv_width != 4096) {
        rule.reasons.push_back(fmt::format("{} attention layers of {} KV values each for keys and "
                                           "for values (a 7B: 32 of 4,096)",
                                           plan.n_attention_layers, thousands(kv_width)));
    }
    if (kv_type == KvCacheType::q8_0) {
        rule.reasons.push_back("a Q8_0 cache: 1.06 bytes a value instead of F16's 2");
    }
    if (info.n_attention_layers() < info.n_layer) {
        rule.reasons.push_back(fmt::format(
            "{} of {} layers keep a fixed recurrent state ({} a sequence, up to {} more while "
            "it speculates) instead of a KV cache",
            info.n_layer - info.n_attention_layers(), info.n_layer,
            bytes_text(plan.recurrent_bytes_per_seq), bytes_text(plan.speculation_bytes_per_seq)));
    }
    if (!info.layer_shapes.empty()) {
        rule.reasons.push_back("layers of different shapes, some sharing an earlier layer's cache");
    }
    return rule;
}

} // namespace hearth

namespace hearth {
namespace {

CheckStatus status_of(Fit fit) {
    switch (fit) {
    case Fit::fits:
        return CheckStatus::green;
    case Fit::tight:
        return CheckStatus::amber;
    case Fit::wont_fit:
        return CheckStatus::red;
    }
    return CheckStatus::red;
}

void add_plan_figures(CheckItem& item, const ModelInfo& info, const MemoryPlan& plan) {
    using namespace doctor;
    item.figures.push_back(bytes_figure("Weights", plan.weights_bytes));
    item.figures.push_back(
        bytes_figure(fmt::format("KV cache ({} tokens × {} sequence{})", thousands(plan.n_ctx),
                                 plan.n_seq, plan.n_seq == 1 ? "" : "s"),
                     plan.kv_bytes));
    if (plan.recurrent_bytes > 0) {
        item.figures.push_back(bytes_figure("Recurrent state", plan.recurrent_bytes));
    }
    item.figures.push_back(bytes_figure("Scratch", plan.scratch_bytes));
    if (plan.overhead_bytes > 0) {
        item.figures.push_back(bytes_figure("Runtime overhead", plan.overhead_bytes));
    }
    item.figures.push_back(bytes_figure("Total", plan.total_bytes));
    item.figures.push_back({"KV cache per token", bytes_text(uint64_t(plan.kv_bytes_per_token)),
                            plan.kv_bytes_per_token, "B"});
    const RuleOfThumb rule = rule_of_thumb(info, KvCacheType::f16);
    item.figures.push_back(
        {"Rule of thumb: KV per token of a 7B", "0.50 MiB", rule.kv_bytes_per_token_7b, "B"});
    item.figures.push_back(
        bytes_figure("Rule of thumb: parameters × bits / 8", uint64_t(rule.weights_bytes_rule)));
}

void add_rule_evidence(CheckItem& item, const ModelInfo& info, KvCacheType kv_type) {
    using namespace doctor;
    const RuleOfThumb rule = rule_of_thumb(info, kv_type);
    std::string why;
    for (const std::string& reason : rule.reasons) {
        why += (why.empty() ? "" : "; ") + reason;
    }
    item.evidence.push_back(fmt::format(
        "The KV cache takes {} a token, {:.3g}× the 0.5 MiB a 7B needs{}{}.",
        bytes_text(uint64_t(rule.kv_bytes_per_token)),
        rule.kv_bytes_per_token / rule.kv_bytes_per_token_7b, why.empty() ? "" : ": ", why));
    std::string mix;
    for (const QuantShare& share : info.quant_mix) {
        if (share.n_bytes * 100 >= info.weights_bytes) { // shares of 1% or more
            mix +=
                fmt::format("{}{} {:.0f}%", mix.empty() ? "" : ", ", tensor_type_name(share.type),
                            100.0 * double(share.n_bytes) / double(info.weights_bytes));
        }
    }
    item.evidence.push_back(fmt::format(
        "The weights take {}; {} parameters × {} bits / 8 would say {} (the tensors are {}).",
        bytes_text(rule.weights_bytes), thousands(info.n_params),
        info.file_type.empty() ? std::string("16") : info.file_type,
        bytes_text(uint64_t(rule.weights_bytes_rule)), mix));
}

// Whether the settings put the model on a GPU that machine has: its index, or nullopt.
std::optional<size_t> planned_gpu(const PreflightSettings& settings, const MachineFacts& machine) {
    if (!machine.cuda_built || machine.gpus.empty() || settings.kv_type != KvCacheType::f16) {
        return std::nullopt;
    }
    if (settings.device.automatic) {
        return 0;
    }
    if (settings.device.kind != DeviceKind::cuda) {
        return std::nullopt;
    }
    for (size_t i = 0; i < machine.gpus.size(); ++i) {
        if (machine.gpus[i].index == settings.device.cuda_device) {
            return i;
        }
    }
    return std::nullopt;
}

// On a GPU: the whole model, else a partial offload. True when the GPU takes the model whole.
bool check_gpu_memory(CheckItem& item, const ModelInfo& info, const PreflightSettings& settings,
                      const CudaDeviceInfo& gpu) {
    using namespace doctor;
    MemoryPlanOptions options = plan_options(info, settings);
    options.device = DeviceKind::cuda;
    const MemoryPlan plan = plan_memory(info, options);
    item.figures.push_back(
        bytes_figure(fmt::format("GPU {} free ({})", gpu.index, gpu.name), gpu.free_bytes));
    const Fit fit = assess_fit(plan.total_bytes, gpu.free_bytes);
    if (fit != Fit::wont_fit) {
        item.status = status_of(fit);
        item.summary = fmt::format("Fits on GPU {}: needs {} of {} free", gpu.index,
                                   bytes_text(plan.total_bytes), bytes_text(gpu.free_bytes));
        return true;
    }
    auto offload = plan_offload(info, {.n_ctx = options.n_ctx,
                                       .n_seq = options.n_seq,
                                       .n_batch = options.n_batch,
                                       .gpu_free_bytes = gpu.free_bytes});
    if (offload && offload->n_gpu_layers > 0) {
        item.evidence.push_back(fmt::format("GPU {} cannot hold the whole model ({} needed, {} "
                                            "free): {}.",
                                            gpu.index, bytes_text(plan.total_bytes),
                                            bytes_text(gpu.free_bytes), offload->summary));
        item.fixes.push_back(
            {.label = fmt::format("Put {} of {} layers on the GPU, the rest on the CPU",
                                  offload->n_gpu_layers, info.n_layer),
             .effect = offload->summary,
             .change = {.gpu_layers = int32_t(offload->n_gpu_layers)},
             .needed_bytes = offload->gpu.total() + offload->gpu_headroom_bytes});
    } else {
        item.evidence.push_back(fmt::format("GPU {} cannot hold even one layer ({} free).",
                                            gpu.index, bytes_text(gpu.free_bytes)));
    }
    return false;
}

} // namespace

CheckItem check_memory(const ModelInfo& info, const PreflightSettings& settings,
                       const MachineFacts& machine, const std::vector<QuantSibling>& siblings) {
    using namespace doctor;
    CheckItem item{.id = "memory", .title = "Memory"};
    const MemoryPlan plan = plan_memory(info, plan_options(info, settings));
    add_plan_figures(item, info, plan);
    add_rule_evidence(item, info, settings.kv_type);
    if (const auto gpu = planned_gpu(settings, machine);
        gpu && check_gpu_memory(item, info, settings, machine.gpus[*gpu])) {
        return item;
    }
    const auto budget = host_budget(settings, machine);
    if (!budget) {
        item.status = CheckStatus::amber;
        item.summary = fmt::format("Needs {}; this machine's free memory is unknown "
                                   "(/proc/meminfo unreadable)",
                                   bytes_text(plan.total_bytes));
        return item;
    }
    item.figures.push_back(bytes_figure(
        settings.memory_budget_bytes ? "Memory budget" : "Free RAM (MemAvailable)", *budget));
    const Fit fit = assess_fit(plan.total_bytes, *budget);
    item.status = std::max(item.status, status_of(fit));
    const char* what = settings.memory_budget_bytes ? "the memory budget" : "free RAM";
    switch (fit) {
    case Fit::fits:
        item.summary = fmt::format("Fits: needs {} of {} {}", bytes_text(plan.total_bytes),
                                   bytes_text(*budget), what);
        break;
    case Fit::tight:
        item.summary = fmt::format("Tight: needs {} of {} {} (above 85%)",
                                   bytes_text(plan.total_bytes), bytes_text(*budget), what);
        break;
    case Fit::wont_fit:
        item.summary = fmt::format("Will not fit: needs {}, {} is {}", bytes_text(plan.total_bytes),
                                   what, bytes_text(*budget));
        break;
    }
    if (fit != Fit::fits) {
        // Aim the fixes at a comfortable fit when tight, at any fit when it will not fit.
        const uint64_t target = fit == Fit::tight ? *budget / 100 * 85 : *budget;
        for (Fix& fix : memory_fixes(info, settings, target, siblings)) {
            item.fixes.push_back(std::move(fix));
        }
    }
    return item;
}

} // namespace hearth
