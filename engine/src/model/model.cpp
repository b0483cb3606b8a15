// Model loading: map the file (every part of a split model), check the architecture, bind and
// shape-check every tensor, page the weights in with progress and cancel.
#include "cpu/gated_attention.h"
#include "cpu/memory_pages.h"
#include "cpu/repack.h"
#include "hearth/quant.h"
#include "model/bind_dense.h"
#include "model/bind_gemma4.h"
#include "model/model_impl.h"
#include "model/repack_cache.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace hearth {
namespace {

std::string shape_text(const std::vector<uint64_t>& dims) {
    std::string out = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(dims[i]);
    }
    return out + "]";
}

class Binder {
public:
    explicit Binder(const GgufFile& file) : file_(file) {}

    const GgufTensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

    // A matrix of n_rows × n_cols (GGML dims {n_cols, n_rows}).
    Result<cpu::WeightMatrix> matrix(const std::string& name, uint64_t n_cols, uint64_t n_rows) {
        const GgufTensorInfo* tensor = find(name);
        if (!tensor) {
            return fail(ErrorCode::bad_format, fmt::format("tensor '{}' is missing", name));
        }
        if (tensor->dims.size() != 2 || tensor->dims[0] != n_cols || tensor->dims[1] != n_rows) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}' has shape {}, expected [{}, {}] for this "
                                    "architecture's hyper-parameters",
                                    name, shape_text(tensor->dims), n_cols, n_rows));
        }
        if (!cpu::matmul_supports(tensor->type)) {
            return fail(ErrorCode::unsupported,
                        fmt::format("tensor '{}' has type {}, which Hearth cannot compute with yet",
                                    name, tensor_type_name(tensor->type)));
        }
        used_ += 1;
        const auto traits = tensor_type_traits(tensor->type);
        return cpu::WeightMatrix{
            .type = tensor->type,
            .data = file_.tensor_data(*tensor).data(),
            .n_cols = static_cast<int64_t>(n_cols),
            .n_rows = static_cast<int64_t>(n_rows),
            .row_bytes = n_cols / traits.block_size * traits.type_size,
        };
    }

    // A vector of n float32 values (norm weights, biases), converted at load.
    Result<std::vector<float>> vector(const std::string& name, uint64_t n) {
        const GgufTensorInfo* tensor = find(name);
        if (!tensor) {
            return fail(ErrorCode::bad_format, fmt::format("tensor '{}' is missing", name));
        }
        if (tensor->n_elements != n || tensor->dims[0] != n) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}' has shape {}, expected [{}]", name,
                                    shape_text(tensor->dims), n));
        }
        used_ += 1;
        return file_.read_tensor_f32(*tensor);
    }

    // A (n_rows, n_cols) table of float32 values (a convolution's taps), converted at load.
    Result<std::vector<float>> table(const std::string& name, uint64_t n_cols, uint64_t n_rows) {
        const GgufTensorInfo* tensor = find(name);
        if (!tensor) {
            return fail(ErrorCode::bad_format, fmt::format("tensor '{}' is missing", name));
        }
        if (tensor->dims.size() != 2 || tensor->dims[0] != n_cols || tensor->dims[1] != n_rows) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}' has shape {}, expected [{}, {}]", name,
                                    shape_text(tensor->dims), n_cols, n_rows));
        }
        used_ += 1;
        return file_.read_tensor_f32(*tensor);
    }

    Result<std::vector<float>> optional_vector(const std::string& name, uint64_t n) {
        if (!find(name)) {
            return std::vector<float>{};
        }
        return vector(name, n);
    }

    size_t used() const { return used_; }

private:
    const GgufFile& file_;
    size_t used_ = 0;
};

// The Q, K and V biases are optional together: the forward pass adds all three when the
// first is there, so a layer with only some of them would read past an empty one.
Result<void> check_qkv_biases(const LayerWeights& layer, const std::string& prefix) {
    const std::pair<const std::vector<float>*, const char*> biases[] = {
        {&layer.bq, "attn_q.bias"}, {&layer.bk, "attn_k.bias"}, {&layer.bv, "attn_v.bias"}};
    const bool any = std::ranges::any_of(biases, [](auto& b) { return !b.first->empty(); });
    for (const auto& [bias, name] : biases) {
        if (any && bias->empty()) {
            return fail(ErrorCode::bad_format,
                        fmt::format("tensor '{}{}' is missing: the Q, K and V biases come "
                                    "together",
                                    prefix, name));
        }
    }
    return {};
}

// A gated delta-net layer's own tensors (its norms and feed-forward are bound as any
// layer's), shaped from the ssm.* sizes.
Result<void> bind_delta_net(Model::Impl& m, Binder& bind, uint32_t il) {
    const ModelInfo& info = m.info;
    const LinearAttentionInfo& la = info.linear_attention;
    cpu::DeltaNetWeights& w = m.layers[il].delta;
    const std::string p = fmt::format("blk.{}.", il);
    auto assign = [](auto& target, auto&& result) -> Result<void> {
        if (!result) {
            return std::unexpected(result.error());
        }
        target = std::move(*result);
        return {};
    };
    Result<void> steps[] = {
        assign(w.w_qkv, bind.matrix(p + "attn_qkv.weight", info.n_embd, la.conv_channels())),
        assign(w.w_z, bind.matrix(p + "attn_gate.weight", info.n_embd, la.d_inner)),
        assign(w.w_beta, bind.matrix(p + "ssm_beta.weight", info.n_embd, la.n_v_heads)),
        assign(w.w_alpha, bind.matrix(p + "ssm_alpha.weight", info.n_embd, la.n_v_heads)),
        assign(w.w_out, bind.matrix(p + "ssm_out.weight", la.d_inner, info.n_embd)),
        assign(w.conv, bind.table(p + "ssm_conv1d.weight", la.d_conv, la.conv_channels())),
        assign(w.dt_bias, bind.vector(p + "ssm_dt.bias", la.n_v_heads)),
        assign(w.a, bind.vector(p + "ssm_a", la.n_v_heads)),
        assign(w.norm, bind.vector(p + "ssm_norm.weight", la.d_state)),
    };
    for (auto& step : steps) {
        if (!step) {
            return std::unexpected(step.error());
        }
    }
    return {};
}

Result<void> bind_layers(Model::Impl& m, Binder& bind) {
    const ModelInfo& info = m.info;
    const uint64_t q_width = uint64_t{info.n_head} * info.head_dim_k;
    const uint64_t k_width = uint64_t{info.n_head_kv} * info.head_dim_k;
    const uint64_t v_width = uint64_t{info.n_head_kv} * info.head_dim_v;
    const uint64_t o_width = uint64_t{info.n_head} * info.head_dim_v;
    const bool moe = uses_experts(m.arch, info);
    m.layers.resize(info.n_layer);
    for (uint32_t il = 0; il < info.n_layer; ++il) {
        LayerWeights& layer = m.layers[il];
        const std::string p = fmt::format("blk.{}.", il);
        auto assign = [](auto& target, auto&& result) -> Result<void> {
            if (!result) {
                return std::unexpected(result.error());
            }
            target = std::move(*result);
            return {};
        };
        // qwen35: recurrent layers have no attention; the others a gated query
        // ([q | gate] per head); the feed-forward norm is post_attention_norm (ArchTraits).
        const bool attends = !info.is_recurrent(il);
        const uint64_t q_rows = m.arch.hybrid_delta_net ? 2 * q_width : q_width;
        Result<void> steps[] = {
            assign(layer.attn_norm, bind.vector(p + "attn_norm.weight", info.n_embd)),
            attends ? bind_qkv(layer, bind, p, m.arch.fused_gate_up, info.n_embd, q_rows, k_width,
                               v_width)
                    : bind_delta_net(m, bind, il),
            attends ? assign(layer.wo, bind.matrix(p + "attn_output.weight", o_width, info.n_embd))
                    : Result<void>{},
            assign(layer.ffn_norm,
                   bind.vector(p + std::string(m.arch.ffn_norm) + ".weight", info.n_embd)),
            moe ? assign(layer.experts,
                         bind_experts(m.file, info, p, m.arch.expert_biases, m.arch.shared_expert))
                : bind_gate_up(layer, bind, p, m.arch.fused_gate_up, info.n_embd, info.n_ff),
            moe ? Result<void>{}
                : assign(layer.w_down, bind.matrix(p + "ffn_down.weight", info.n_ff, info.n_embd)),
            refuse_unsupported_tensors(m, bind, p),
            m.arch.qkv_bias ? assign(layer.bq, bind.optional_vector(p + "attn_q.bias", q_width))
                            : Result<void>{},
            m.arch.qkv_bias ? assign(layer.bk, bind.optional_vector(p + "attn_k.bias", k_width))
                            : Result<void>{},
            m.arch.qkv_bias ? assign(layer.bv, bind.optional_vector(p + "attn_v.bias", v_width))
                            : Result<void>{},
            m.arch.qk_norm && attends
                ? assign(layer.q_norm, bind.vector(p + "attn_q_norm.weight", info.head_dim_k))
                : Result<void>{},
            m.arch.qk_norm && attends
                ? assign(layer.k_norm, bind.vector(p + "attn_k_norm.weight", info.head_dim_k))
                : Result<void>{},
            m.arch.post_norms ? assign(layer.post_attn_norm,
                                       bind.vector(p + "post_attention_norm.weight", info.n_embd))
                              : Result<void>{},
            m.arch.post_norms
                ? assign(layer.post_ffn_norm, bind.vector(p + "post_ffw_norm.weight", info.n_embd))
                : Result<void>{},
            m.arch.attn_out_bias
                ? assign(layer.bo, bind.vector(p + "attn_output.bias", info.n_embd))
                : Result<void>{},
            m.arch.attn_sinks
                ? assign(layer.attn_sinks, bind.vector(p + "attn_sinks.weight", info.n_head))
                : Result<void>{},
        };
        for (auto& step : steps) {
            if (!step) {
                return std::unexpected(step.error());
            }
        }
        if (auto biases = check_qkv_biases(layer, p); !biases) {
            return biases;
        }
        layer.no_rope = m.arch.nope_period != 0 && (il + 1) % m.arch.nope_period == 0;
    }
    return {};
}

// Gemma 2 and 3: which layers attend to a sliding window. `sliding_window_pattern` is either
// a period n (layer il slides unless il % n == n - 1; 0 means every layer slides; the
// architecture's period when absent) or a per-layer array of booleans, one per layer.
Result<void> assign_sliding_layers(Model::Impl& m) {
    if (m.arch.swa_period == 0 || m.info.sliding_window == 0) {
        return {};
    }
    const std::string pattern_key = m.info.architecture + ".attention.sliding_window_pattern";
    const std::string base_key = m.info.architecture + ".rope.freq_base_swa";
    const GgufValue* pattern = m.file.find(pattern_key);
    const GgufArray* per_layer = pattern ? pattern->as_array() : nullptr;
    std::optional<std::vector<bool>> flags;
    if (per_layer) {
        flags = per_layer->flags();
        if (!flags || flags->size() != m.info.n_layer) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} must hold one boolean for each of the {} layers, but it "
                                    "is {}",
                                    pattern_key, m.info.n_layer, pattern->to_display_string()));
        }
    }
    const auto period =
        pattern && !per_layer ? pattern->as_uint() : std::optional<uint64_t>(m.arch.swa_period);
    if (!period || *period > kMaxLayers) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} must be a period from 0 to {} layers or an array of "
                                "booleans, but it is {}",
                                pattern_key, kMaxLayers, pattern->to_display_string()));
    }
    for (uint32_t il = 0; il < m.info.n_layer; ++il) {
        m.layers[il].sliding = flags ? (*flags)[il] : *period == 0 || il % *period != *period - 1;
    }
    // gemma2's sliding layers default to the model's base, gemma3's to 10000.
    m.rope_freq_base_swa = m.arch.swa_rope_scaled ? m.info.rope_freq_base : 10000.0;
    if (const GgufValue* base = m.file.find(base_key)) {
        const auto value = base->type == GgufType::boolean ? std::nullopt : base->as_float();
        if (!value || !std::isfinite(*value) || *value <= 1.0) {
            return fail(ErrorCode::bad_format,
                        fmt::format("{} must be a finite number above 1, but it is {}", base_key,
                                    base->to_display_string()));
        }
        m.rope_freq_base_swa = *value;
    }
    return {};
}

// What read_model_info accepts for any architecture but this engine cannot run: heads that
// do not share KV heads evenly, no feed-forward, a RoPE size it cannot rotate, a scaling it
// does not implement, or a block count that is not the blocks the file holds. Checked before
// anything is sized from the hyper-parameters.
// llama.cpp multiplies a matrix's product by its `NAME.scale` tensor when the file has one (NVFP4
// conversions write them beside attention, feed-forward, expert and output matrices). Hearth
// applies gemma4's router input scale and the experts' output scales; a file with any other is
// refused naming it, rather than run without it.
Result<void> check_weight_scales(const ModelInfo& info, const GgufFile& file) {
    for (const GgufTensorInfo& tensor : file.tensors()) {
        const std::string& name = tensor.name;
        if (!name.ends_with(".scale")) {
            continue;
        }
        const bool applied =
            name.ends_with(".ffn_down_exps.scale") ||
            (info.architecture == "gemma4" && name.ends_with(".ffn_gate_inp.scale"));
        if (!applied) {
            return fail(ErrorCode::unsupported,
                        fmt::format("tensor '{}' is a weight scale (as NVFP4 conversions write) "
                                    "that Hearth does not apply yet",
                                    gguf_printable(name)));
        }
    }
    return {};
}

Result<void> check_runnable(const ModelInfo& info, const GgufFile& file) {
    const std::string arch = info.architecture + ".";
    // gemma4's heads are checked layer by layer (read_gemma4_layer_shapes).
    if (info.layer_shapes.empty() &&
        (info.n_head_kv > info.n_head || info.n_head % info.n_head_kv != 0)) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}attention.head_count {} is not a multiple of "
                                "{}attention.head_count_kv {}: the attention heads cannot share "
                                "the KV heads evenly",
                                arch, info.n_head, arch, info.n_head_kv));
    }
    // An all-experts model needs feed_forward_length only for the widths its expert keys do
    // not give (check_expert_hparams).
    if (info.n_ff == 0 && arch_traits(info.architecture)->experts != Experts::required) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}feed_forward_length is missing or 0", arch));
    }
    if (info.n_rot == 0 || info.n_rot % 2 != 0 || info.n_rot > info.head_dim_k) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}rope.dimension_count {} must be even, from 2 to the head size "
                                "{}",
                                arch, info.n_rot, info.head_dim_k));
    }
    if (info.n_vocab == 0) {
        return fail(ErrorCode::bad_format,
                    fmt::format("the vocabulary size is unknown: neither {}vocab_size nor "
                                "tokenizer.ggml.tokens gives it",
                                arch));
    }
    const std::string& scaling = info.rope_scaling.type;
    const bool longrope = scaling == "longrope" && arch_traits(info.architecture)->longrope;
    if (scaling != "none" && scaling != "linear" && scaling != "yarn" && !longrope) {
        return fail(ErrorCode::unsupported,
                    fmt::format("{}rope.scaling.type '{}' is not supported (Hearth runs none, "
                                "linear and yarn, and longrope for phi3 and mistral3)",
                                arch, gguf_printable(scaling)));
    }
    if (info.recurrent_layers.size() == info.n_layer && info.head_dim_k != info.head_dim_v) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}attention.key_length {} and value_length {} must be equal in a "
                                "model with recurrent layers",
                                arch, info.head_dim_k, info.head_dim_v));
    }
    if (auto scales = check_weight_scales(info, file); !scales) {
        return scales;
    }
    uint32_t n_blocks = 0; // one past the highest block index among the tensors
    for (const GgufTensorInfo& tensor : file.tensors()) {
        if (auto block = tensor_block_index(tensor.name)) {
            n_blocks = std::max(n_blocks, std::min(*block, kMaxLayers) + 1);
        }
    }
    // A hybrid model's multi-token-prediction blocks come after its layers (validated by
    // read_model_info); their tensors stay unused.
    const int64_t n_extra = info.recurrent_layers.empty()
                                ? 0
                                : file.header().get_int(arch + "nextn_predict_layers").value_or(0);
    if (n_blocks != info.n_layer + n_extra) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}block_count is {} but the file holds tensors of {} blocks", arch,
                                info.n_layer + n_extra, n_blocks));
    }
    return {};
}

// Reads every page of the weights once, so that the first token does not pay for disk reads
// nor page faults, reporting progress; returns false when cancelled. The weights are the
// tensors' bytes (part after part of a split model) but those of packed matrices, whose rows
// are read from the packed copy (`released`: their data pointers, sorted), and that copy itself
// when it is mapped from the cache.
bool page_in(const Model::Impl& m, std::span<const void* const> released, bool packed_mapped,
             const LoadOptions& options) {
    std::vector<std::span<const uint8_t>> ranges;
    uint64_t total = 0;
    // The embedding table's rows are looked up one per token: they fault in as used, unless
    // the output head multiplies them all (tied and not packed). Resident memory then stays
    // below the file's size.
    const bool lookup_only = m.output.data != m.token_embd.data || m.output.packed != nullptr;
    for (const GgufTensorInfo& tensor : m.file.tensors()) {
        const std::span<const uint8_t> data = m.file.tensor_data(tensor);
        if (lookup_only && data.data() == m.token_embd.data) {
            continue;
        }
        if (!data.empty() && !std::ranges::binary_search(released, data.data())) {
            ranges.push_back(data);
            total += data.size();
        }
    }
    if (packed_mapped) {
        ranges.emplace_back(m.packed_weights.data(), m.packed_weights.size());
        total += m.packed_weights.size();
    }
    constexpr uint64_t kChunk = 8ull << 20; // progress is reported (may cancel) between chunks
    uint64_t done = 0;
    for (const std::span<const uint8_t> range : ranges) {
        for (uint64_t at = 0; at < range.size(); at += kChunk) {
            if (options.on_progress && !options.on_progress(double(done) / double(total))) {
                return false;
            }
            const uint64_t n = std::min<uint64_t>(kChunk, range.size() - at);
            cpu::prefault(range.subspan(at, n));
            done += n;
        }
    }
    return !options.on_progress || options.on_progress(1.0);
}

// Times the steps of a load: mark() ends one and starts the next.
class PhaseClock {
public:
    void mark(std::string_view name) {
        const auto now = std::chrono::steady_clock::now();
        phases_.push_back({name, std::chrono::duration<double, std::milli>(now - last_).count()});
        last_ = now;
    }
    std::vector<LoadPhase> take() { return std::move(phases_); }

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::vector<LoadPhase> phases_;
};

// Drops a packed matrix's mapped rows from this process's resident memory: they stay in the
// file and are faulted back if read.
void release_mapped_rows(const cpu::WeightMatrix& w) {
#if defined(__linux__)
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(w.data);
    const uintptr_t end = begin + static_cast<uintptr_t>(w.n_rows) * w.row_bytes;
    const uintptr_t first = (begin + page - 1) / page * page;
    const uintptr_t last = end / page * page;
    if (last > first) {
        madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
#else
    (void)w;
#endif
}

// What repack_weights did: the data pointers of the matrices whose mapped rows it released
// (sorted), and whether the packed copy is mapped from the cache rather than built.
struct Repacked {
    std::vector<const void*> released;
    bool from_cache = false;
};

// Interleaves, 8 rows at a time, every matrix whose type has a packed kernel on this CPU
// (cpu/repack.h), into one allocation, spread over the pool, or maps that allocation from the
// cache beside the model (model/repack_cache.h). Only matrices whose row count is a multiple of
// 8 are packed, as llama.cpp does, so each matrix runs wholly on one kernel and numerically as
// llama.cpp runs it. The mapped rows of a packed matrix are then released from this process's
// resident memory (they stay in the file and are faulted back if read).
Repacked repack_weights(Model::Impl& m) {
    std::vector<cpu::WeightMatrix*> targets;
    auto consider = [&](cpu::WeightMatrix& w) {
        if (cpu::repack_supported(w.type) && w.n_rows % cpu::kPackRows == 0) {
            targets.push_back(&w);
        }
    };
    for (LayerWeights& layer : m.layers) {
        for (cpu::WeightMatrix* w :
             {&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.w_gate, &layer.w_up, &layer.w_down,
              &layer.delta.w_qkv, &layer.delta.w_z, &layer.delta.w_beta, &layer.delta.w_alpha,
              &layer.delta.w_out, &layer.ple_gate, &layer.ple_proj}) {
            if (w->data) { // a recurrent layer has no attention matrices, others no delta-net
                consider(*w);
            }
        }
        for (auto* experts : {&layer.experts.gate, &layer.experts.up, &layer.experts.down}) {
            std::ranges::for_each(*experts, consider);
        }
        if (layer.experts.has_shared_expert()) { // its 1-row gate input is never packed
            for (cpu::WeightMatrix* w : {&layer.experts.shared_gate, &layer.experts.shared_up,
                                         &layer.experts.shared_down}) {
                consider(*w);
            }
        }
    }
    consider(m.output);
    if (m.gemma4.model_proj.data) {
        consider(m.gemma4.model_proj); // a repeating-layer matrix in llama.cpp: repacked there
    }
    if (targets.empty()) {
        return {};
    }
    std::vector<size_t> offsets;
    size_t total = 0;
    for (const cpu::WeightMatrix* w : targets) {
        offsets.push_back(total);
        total += (cpu::repacked_bytes(w->type, w->n_rows, w->n_cols) + 63) / 64 * 64;
    }
    // The layout cached beside the model when it is one, mapped from the page cache; else
    // repacked here into zeroed pages (page-aligned: every block row starts on a cache line),
    // and cached for the next load.
    std::vector<PackedMatrixShape> layout;
    for (size_t i = 0; i < targets.size(); ++i) {
        layout.push_back({targets[i]->type, targets[i]->n_rows, targets[i]->n_cols, offsets[i]});
    }
    const bool cache = repack_cache_wanted(m.file, total);
    if (cache) {
        m.packed_weights = open_repack_cache(m.file, layout, total);
    }
    const bool cached = !m.packed_weights.empty();
    if (!cached) {
        m.packed_weights = cpu::PageBuffer::zeroed(total);
    }
    uint8_t* base = m.packed_weights.data();
    const bool tied = m.output.data == m.token_embd.data;
    m.pool->parallel_for(static_cast<int64_t>(targets.size()), 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            cpu::WeightMatrix& w = *targets[static_cast<size_t>(i)];
            uint8_t* out = base + offsets[static_cast<size_t>(i)];
            if (!cached) {
                cpu::repack_rows(w, out);
            }
            w.packed = out;
            if (!(tied && &w == &m.output)) { // the embedding rows are looked up from the mapping
                release_mapped_rows(w);
            }
        }
    });
    if (cache && !cached) {
        store_repack_cache(m.file, layout, {base, total}); // best effort: a miss repacks again
    }
    Repacked repacked{.released = {}, .from_cache = cached};
    for (const cpu::WeightMatrix* w : targets) {
        if (!(tied && w == &m.output)) {
            repacked.released.push_back(w->data);
        }
    }
    std::ranges::sort(repacked.released);
    return repacked;
}

} // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ModelInfo& Model::info() const {
    return impl_->info;
}
const Tokenizer& Model::tokenizer() const {
    return impl_->tokenizer;
}
const GgufFile& Model::file() const {
    return impl_->file;
}
int Model::n_threads() const {
    return impl_->pool->size();
}
std::span<const LoadPhase> Model::load_phases() const {
    return impl_->load_phases;
}

Result<std::shared_ptr<const Model>> Model::load(const std::filesystem::path& path,
                                                 const LoadOptions& options) {
    PhaseClock clock;
    auto file = GgufFile::open(path);
    if (!file) {
        return std::unexpected(file.error());
    }
    clock.mark("header");
    auto fail_in_file = [&](Error error) {
        error.message = path.string() + ": " + error.message;
        return std::unexpected(error);
    };
    auto info = read_model_info(file->header(), file->file_size());
    if (!info) {
        return fail_in_file(info.error());
    }
    auto arch = arch_traits(info->architecture);
    if (!arch) {
        return fail_in_file({ErrorCode::unsupported,
                             fmt::format("architecture '{}' is not supported (Hearth runs {})",
                                         info->architecture, supported_architectures())});
    }
    if (auto runnable = check_runnable(*info, *file); !runnable) {
        return fail_in_file(runnable.error());
    }
    if (uses_experts(*arch, *info)) {
        if (auto experts = check_expert_hparams(*info, *arch); !experts) {
            return fail_in_file(experts.error());
        }
    }
    clock.mark("checks");
    auto tokenizer = Tokenizer::from_gguf(file->header());
    if (!tokenizer) {
        return fail_in_file(tokenizer.error());
    }
    clock.mark("tokenizer");
    if (static_cast<uint32_t>(tokenizer->n_vocab()) != info->n_vocab) {
        return fail_in_file(
            {ErrorCode::bad_format, fmt::format("the vocabulary has {} tokens but the model {}",
                                                tokenizer->n_vocab(), info->n_vocab)});
    }

    auto impl = std::make_unique<Impl>(Impl{.file = std::move(*file),
                                            .info = std::move(*info),
                                            .arch = *arch,
                                            .tokenizer = std::move(*tokenizer),
                                            .token_embd = {},
                                            .output = {},
                                            .output_norm = {},
                                            .rope_freq_factors = {},
                                            .layers = {},
                                            .rope_freq_base_swa = 10000.0,
                                            .attn_scale = 1.0f,
                                            .rope_factors_long = {},
                                            .rope_factors_short = {},
                                            .rope_long_above = 0,
                                            .rope_attn_factor = 1.0f,
                                            .pool = nullptr,
                                            .packed_weights = {},
                                            .rope_at_position_zero = {},
                                            .gemma4 = {},
                                            .load_phases = {}});
    Binder bind(impl->file);
    const ModelInfo& mi = impl->info;
    auto embd = bind.matrix("token_embd.weight", mi.n_embd, mi.n_vocab);
    if (!embd) {
        return fail_in_file(embd.error());
    }
    impl->token_embd = *embd;
    if (bind.find("output.weight")) {
        auto output = bind.matrix("output.weight", mi.n_embd, mi.n_vocab);
        if (!output) {
            return fail_in_file(output.error());
        }
        impl->output = *output;
    } else {
        impl->output = impl->token_embd; // tied embeddings
    }
    auto output_norm = bind.vector("output_norm.weight", mi.n_embd);
    if (!output_norm) {
        return fail_in_file(output_norm.error());
    }
    impl->output_norm = std::move(*output_norm);
    if (bind.find("rope_freqs.weight") && !impl->arch.gemma4_layers) {
        auto factors = bind.vector("rope_freqs.weight", mi.n_rot / 2);
        if (!factors) {
            return fail_in_file(factors.error());
        }
        impl->rope_freq_factors = std::move(*factors);
    }
    if (auto rope = bind_rope_extras(*impl, bind); !rope) {
        return fail_in_file(rope.error());
    }
    if (auto layers =
            impl->arch.gemma4_layers ? bind_gemma4(*impl, bind) : bind_layers(*impl, bind);
        !layers) {
        return fail_in_file(layers.error());
    }
    if (auto sliding = assign_sliding_layers(*impl); !sliding) {
        return fail_in_file(sliding.error());
    }
    if (impl->arch.hybrid_delta_net) {
        impl->rope_at_position_zero =
            cpu::imrope_pairs_at_position_zero(mi.n_rot, mi.rope_sections);
    }
    // Gemma 2 and 3 27B were trained with 1/sqrt(n_embd / n_head) (their query_pre_attn_scalar);
    // llama.cpp recognises them by their 46 and 62 layers, as GGUF does not carry the scalar.
    const bool gemma_27b = (mi.architecture == "gemma3" && mi.n_layer == 62) ||
                           (mi.architecture == "gemma2" && mi.n_layer == 46);
    impl->attn_scale =
        1.0f / std::sqrt(static_cast<float>(gemma_27b ? mi.n_embd / mi.n_head : mi.head_dim_k));
    if (impl->arch.gemma4_layers) {
        impl->attn_scale = 1.0f; // llama.cpp's f_attention_scale for Gemma 4 (its q/k norms)
    }
    clock.mark("bind");
    const int n_threads = options.n_threads > 0 ? options.n_threads : cpu::default_thread_count();
    impl->pool = std::make_unique<cpu::ThreadPool>(n_threads);
    clock.mark("threads");
    const Repacked repacked = repack_weights(*impl);
    clock.mark("repack");
    if (!page_in(*impl, repacked.released, repacked.from_cache, options)) {
        return fail(ErrorCode::cancelled, "loading " + path.string() + " was cancelled");
    }
    clock.mark("page-in");
    impl->load_phases = clock.take();
    return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

} // namespace hearth
