// Memory arithmetic before loading: what a model needs at a context, and what we have.
#include "hearth/memory_plan.h"

#include "hearth/speculation.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <initializer_list>
#include <numeric>
#include <sstream>

namespace hearth {
namespace {

// A byte count computed in floating point, as uint64_t; UINT64_MAX when it does not fit (a
// plain conversion would be undefined), so that a huge need never looks small.
uint64_t saturating_bytes(double bytes) {
    constexpr double kLimit = 18446744073709549568.0; // the largest double below 2^64
    if (!(bytes < kLimit)) {                          // NaN too
        return UINT64_MAX;
    }
    return bytes > 0 ? static_cast<uint64_t>(bytes) : 0;
}

uint64_t saturating_sum(std::initializer_list<uint64_t> terms) {
    uint64_t sum = 0;
    for (uint64_t term : terms) {
        if (__builtin_add_overflow(sum, term, &sum)) {
            return UINT64_MAX;
        }
    }
    return sum;
}

} // namespace

MemoryPlan plan_memory(const ModelInfo& info, const MemoryPlanOptions& options) {
    MemoryPlan plan;
    plan.n_ctx = options.n_ctx ? options.n_ctx : info.n_ctx_train;
    plan.n_seq = std::max<uint32_t>(options.n_seq, 1);
    plan.weights_bytes = info.weights_bytes;

    // Q8_0 stores 32 values in 34 bytes; F16 two bytes a value.
    const double bytes_per_element = options.kv_type == KvCacheType::q8_0 ? 34.0 / 32.0 : 2.0;
    plan.n_attention_layers = info.n_attention_layers();
    plan.kv_bytes_per_token = static_cast<double>(info.kv_elements_per_token()) * bytes_per_element;
    plan.kv_bytes = saturating_bytes(plan.kv_bytes_per_token * plan.n_ctx * plan.n_seq);
    plan.recurrent_bytes_per_seq = saturating_bytes(2.0 * double(info.recurrent_state_bytes()));
    plan.recurrent_bytes =
        saturating_bytes(double(plan.recurrent_bytes_per_seq) * double(plan.n_seq));
    plan.speculation_bytes_per_seq = info.recurrent_verify_bytes(1 + kMaxDraftTokens);

    // One batch of activations in float32: the residual stream and its normalised copy,
    // Q/K/V, the attention output, the feed-forward gate and up projections, plus one
    // row of attention scores per head over the whole context, and one row of logits
    // per sequence.
    const uint64_t n_batch = std::max<uint32_t>(options.n_batch, 1);
    const uint64_t q_width = static_cast<uint64_t>(info.n_head) * info.head_dim_k;
    const uint64_t kv_width =
        static_cast<uint64_t>(info.n_head_kv) * (info.head_dim_k + info.head_dim_v);
    // A hybrid model's recurrent layers: the projection before and after the convolution,
    // the output gate and the delta rule's output, four small per-head values.
    const LinearAttentionInfo& la = info.linear_attention;
    const uint64_t recurrent_width =
        info.recurrent_layers.empty()
            ? 0
            : 2 * la.conv_channels() + 2ull * la.d_inner + 2ull * la.n_v_heads;
    uint64_t per_token = 3ull * info.n_embd + q_width + kv_width + 2ull * info.n_ff +
                         recurrent_width + (info.recurrent_layers.empty() ? 0 : q_width);
    // gemma4's per-layer embedding inputs: looked up, projected and combined, every layer's.
    per_token += 3ull * info.n_layer * info.n_embd_per_layer;
    if (info.n_expert > 0) {
        // The routed feed-forward: router probabilities, the gathered input, an expert's gate
        // and up, and each routed slot's output (cpu/moe_ffn.h).
        per_token += info.n_expert + info.n_embd + 2ull * info.n_ff_exp +
                     uint64_t{info.n_expert_used} * info.n_embd;
        // qwen35moe's shared expert: its gate and up, its output and its gate's weight.
        per_token += info.n_ff_shexp > 0 ? 2ull * info.n_ff_shexp + info.n_embd + 1 : 0;
        // gemma4's experts beside its dense FFN: their input, the router's and their output.
        per_token += info.layer_shapes.empty() ? 0 : 3ull * info.n_embd;
    }
    const uint64_t scores = static_cast<uint64_t>(info.n_head) * plan.n_ctx;
    plan.scratch_bytes =
        4 * (n_batch * per_token + scores + static_cast<uint64_t>(info.n_vocab) * plan.n_seq);

    // The headroom the CUDA forward keeps free for the context, graphs and cuBLAS's workspace
    // (the same constant, so that the plan refuses what the forward would refuse).
    plan.overhead_bytes = options.device == DeviceKind::cuda ? kOffloadGpuHeadroom : 0;
    plan.total_bytes = saturating_sum({plan.weights_bytes, plan.kv_bytes, plan.recurrent_bytes,
                                       plan.scratch_bytes, plan.overhead_bytes});
    return plan;
}

namespace {

// The CUDA backend starts every buffer on a 256-byte boundary (cuda_detail::align_up).
uint64_t align_gpu(uint64_t n) {
    constexpr uint64_t kAlign = 256;
    return (n + kAlign - 1) / kAlign * kAlign;
}

// The arithmetic of a split at one context, for any number of GPU layers (the formulas are
// in memory_plan.h).
class SplitArithmetic {
public:
    SplitArithmetic(const ModelInfo& info, const OffloadOptions& options, uint32_t n_ctx)
        : info_(info), options_(options), n_ctx_(n_ctx), n_seq_(std::max(options.n_seq, 1u)) {
        // prefix_[i]: the weights of layers [0, i)
        prefix_.resize(info.n_layer + 1, 0);
        std::partial_sum(info.layer_weight_bytes.begin(), info.layer_weight_bytes.end(),
                         prefix_.begin() + 1);
    }

    OffloadBytes gpu(uint32_t n_gpu_layers) const {
        if (n_gpu_layers == 0) {
            return {};
        }
        const uint64_t cells = uint64_t{n_seq_} * n_ctx_;
        const uint64_t k_width = uint64_t{info_.n_head_kv} * info_.head_dim_k;
        const uint64_t v_width = uint64_t{info_.n_head_kv} * info_.head_dim_v;
        const uint64_t q_width = uint64_t{info_.n_head} * info_.head_dim_k;
        const uint64_t o_width = uint64_t{info_.n_head} * info_.head_dim_v;
        const uint64_t rows = kOffloadGpuRows;
        const uint64_t float_buffers = [&] {
            const uint64_t chunks = (uint64_t{n_ctx_} + 255) / 256;
            return 2 * align_gpu(rows * info_.n_embd * 4) +
                   align_gpu(rows * std::max<uint64_t>(info_.n_embd, o_width) * 4) +
                   align_gpu(rows * q_width * 4) + align_gpu(rows * k_width * 4) +
                   align_gpu(rows * v_width * 4) + align_gpu(rows * o_width * 4) +
                   2 * align_gpu(rows * info_.n_ff * 4) +
                   align_gpu(rows * info_.n_head * chunks * (2 + info_.head_dim_v) * 4);
        }();
        OffloadBytes bytes;
        bytes.weights = prefix_[n_gpu_layers];
        // qwen35's recurrent layers: a fixed state per sequence instead of KV cells, and the
        // delta-net's buffers (backend/cuda/delta_net_step.cpp).
        const LinearAttentionInfo& la = info_.linear_attention;
        for (uint32_t il = 0; il < n_gpu_layers; ++il) {
            bytes.kv += info_.is_recurrent(il)
                            ? align_gpu(n_seq_ * la.conv_state_floats() * 4) +
                                  align_gpu(n_seq_ * la.ssm_state_floats() * 4)
                            : align_gpu(cells * k_width * 2) + align_gpu(cells * v_width * 2);
        }
        const uint64_t delta_buffers =
            info_.recurrent_layers.empty()
                ? 0
                : align_gpu(rows * la.conv_channels() * 4) + 2 * align_gpu(rows * la.d_inner * 4) +
                      2 * align_gpu(rows * la.n_v_heads * 4) + align_gpu(rows * 2 * q_width * 4) +
                      align_gpu(rows * q_width * 4);
        bytes.scratch = align_gpu(3 * rows * sizeof(int32_t)) + float_buffers + delta_buffers;
        return bytes;
    }

    OffloadBytes cpu(uint32_t n_gpu_layers) const {
        const uint32_t n_cpu_layers = info_.n_layer - n_gpu_layers;
        OffloadBytes bytes;
        bytes.weights =
            info_.non_layer_weight_bytes + prefix_[info_.n_layer] - prefix_[n_gpu_layers];
        bytes.kv = uint64_t{n_cpu_layers} * n_seq_ * n_ctx_ * info_.n_head_kv *
                       (info_.head_dim_k + info_.head_dim_v) * 2 +
                   // qwen35: each sequence's cpu::RecurrentState (live and checkpoint)
                   uint64_t{n_seq_} * 2 * info_.recurrent_state_bytes();
        bytes.scratch = plan_memory(info_, {.n_ctx = n_ctx_,
                                            .n_seq = n_seq_,
                                            .n_batch = options_.n_batch,
                                            .kv_type = KvCacheType::f16,
                                            .device = DeviceKind::cpu})
                            .scratch_bytes;
        return bytes;
    }

    bool gpu_fits(uint32_t n_gpu_layers) const {
        return n_gpu_layers == 0 ||
               gpu(n_gpu_layers).total() + options_.gpu_headroom_bytes <= options_.gpu_free_bytes;
    }
    bool host_fits(uint32_t n_gpu_layers) const {
        return options_.host_available_bytes == 0 ||
               cpu(n_gpu_layers).total() <= options_.host_available_bytes;
    }

    // The most layers that fit the GPU (the need grows with the layers), at a layer where the
    // forward pass can be cut (gemma4: not where the CPU's layers would read a GPU layer's cache).
    uint32_t max_gpu_layers() const {
        uint32_t n = 0;
        while (n < info_.n_layer && gpu_fits(n + 1)) {
            ++n;
        }
        while (n > 0 && !info_.kv_cut_allowed(n)) {
            --n;
        }
        return n;
    }
    // The fewest GPU layers with which the CPU part fits the host; n_layer + 1 when none do.
    uint32_t min_gpu_layers() const {
        uint32_t n = 0;
        while (n <= info_.n_layer && !host_fits(n)) {
            ++n;
        }
        return n;
    }

private:
    const ModelInfo& info_;
    const OffloadOptions& options_;
    uint32_t n_ctx_, n_seq_;
    std::vector<uint64_t> prefix_;
};

// The largest context below n_ctx at which `fits` holds (it holds at smaller contexts when it
// holds at a larger one, all needs growing with the context); 0 when none does.
template <class Fits>
uint32_t largest_context(uint32_t n_ctx, Fits fits) {
    uint32_t low = 0, high = n_ctx; // fits(low) or low = 0; !fits(high)
    while (high - low > 1) {
        const uint32_t mid = low + (high - low) / 2;
        (fits(mid) ? low : high) = mid;
    }
    return low;
}

std::string bytes_text(uint64_t bytes) {
    return format_bytes(static_cast<double>(bytes));
}

} // namespace

Result<OffloadPlan> plan_offload(const ModelInfo& info, const OffloadOptions& options) {
    if (info.n_layer == 0 || info.layer_weight_bytes.size() != info.n_layer) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("the model's per-layer weight sizes are unknown ({} for {} "
                                "layers): cannot plan a partial offload",
                                info.layer_weight_bytes.size(), info.n_layer));
    }
    OffloadPlan plan;
    plan.n_layer = info.n_layer;
    plan.n_ctx = options.n_ctx ? options.n_ctx : info.n_ctx_train;
    plan.n_seq = std::max(options.n_seq, 1u);
    plan.gpu_headroom_bytes = options.gpu_headroom_bytes;
    plan.gpu_free_bytes = options.gpu_free_bytes;
    if (plan.n_ctx == 0) {
        return fail(ErrorCode::invalid_argument, "the context is 0 tokens: cannot plan memory");
    }
    const SplitArithmetic split(info, options, plan.n_ctx);
    auto at_context = [&](uint32_t n_ctx) { return SplitArithmetic(info, options, n_ctx); };
    plan.max_gpu_layers = split.max_gpu_layers();
    const uint32_t n =
        options.n_gpu_layers ? std::min(*options.n_gpu_layers, info.n_layer) : plan.max_gpu_layers;

    if (!split.gpu_fits(n)) {
        const OffloadBytes gpu = split.gpu(n);
        const uint32_t fit_ctx =
            largest_context(plan.n_ctx, [&](uint32_t c) { return at_context(c).gpu_fits(n); });
        return fail(
            ErrorCode::out_of_memory,
            fmt::format("{} layers on the GPU need {}: weights {} + KV cache {} ({} tokens x {} "
                        "sequences) + scratch {} + headroom {}, but {} is free; at most {} "
                        "layers fit{}",
                        n, bytes_text(gpu.total() + options.gpu_headroom_bytes),
                        bytes_text(gpu.weights), bytes_text(gpu.kv), plan.n_ctx, plan.n_seq,
                        bytes_text(gpu.scratch), bytes_text(options.gpu_headroom_bytes),
                        bytes_text(options.gpu_free_bytes), plan.max_gpu_layers,
                        fit_ctx
                            ? fmt::format(", or {} at a context of at most {} tokens", n, fit_ctx)
                            : std::string()));
    }
    if (!split.host_fits(n)) {
        const OffloadBytes cpu = split.cpu(n);
        const uint32_t fewest = split.min_gpu_layers();
        std::string what_would;
        if (fewest <= info.n_layer && fewest <= plan.max_gpu_layers) {
            what_would = fmt::format("at least {} layers on the GPU would fit", fewest);
        } else {
            const uint32_t fit_ctx = largest_context(plan.n_ctx, [&](uint32_t c) {
                const SplitArithmetic s = at_context(c);
                return s.min_gpu_layers() <= s.max_gpu_layers();
            });
            what_would = fewest <= info.n_layer
                             ? fmt::format("at least {} layers on the GPU would fit, but at most "
                                           "{} fit the GPU",
                                           fewest, plan.max_gpu_layers)
                             : std::string("no split fits");
            what_would += fit_ctx ? fmt::format("; a context of at most {} tokens would", fit_ctx)
                                  : std::string("; no context would");
        }
        return fail(ErrorCode::out_of_memory,
                    fmt::format("with {} layers on the GPU, the CPU part needs {}: weights {} + KV "
                                "cache {} + scratch {}, but {} of host memory is available; {}",
                                n, bytes_text(cpu.total()), bytes_text(cpu.weights),
                                bytes_text(cpu.kv), bytes_text(cpu.scratch),
                                bytes_text(options.host_available_bytes), what_would));
    }
    plan.n_gpu_layers = n;
    plan.gpu = split.gpu(n);
    plan.cpu = split.cpu(n);
    plan.summary =
        fmt::format("{} of {} layers on the GPU ({}), {} on the CPU ({})", n, info.n_layer,
                    bytes_text(plan.gpu.total()), info.n_layer - n, bytes_text(plan.cpu.total()));
    return plan;
}

Fit assess_fit(uint64_t needed_bytes, uint64_t available_bytes) {
    if (needed_bytes > available_bytes) {
        return Fit::wont_fit;
    }
    return needed_bytes * 100 > available_bytes * 85 ? Fit::tight : Fit::fits;
}

const char* fit_name(Fit fit) {
    switch (fit) {
    case Fit::fits:
        return "fits";
    case Fit::tight:
        return "tight";
    case Fit::wont_fit:
        return "will not fit";
    }
    return "?";
}

std::optional<HostMemory> read_host_memory() {
    std::ifstream meminfo("/proc/meminfo");
    if (!meminfo) {
        return std::nullopt;
    }
    HostMemory memory;
    std::string line;
    while (std::getline(meminfo, line)) {
        std::istringstream fields(line);
        std::string key;
        uint64_t kib = 0;
        fields >> key >> kib;
        if (key == "MemTotal:") {
            memory.total_bytes = kib * 1024;
        } else if (key == "MemAvailable:") {
            memory.available_bytes = kib * 1024;
        }
    }
    if (memory.total_bytes == 0) {
        return std::nullopt;
    }
    return memory;
}

std::string format_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char buffer[32];
    if (unit == 0) {
        std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
    } else {
        std::snprintf(buffer, sizeof buffer, "%.2f %s", bytes, units[unit]);
    }
    return buffer;
}

} // namespace hearth
