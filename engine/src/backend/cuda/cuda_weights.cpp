// See cuda_weights.h.
#include "backend/cuda/cuda_weights.h"

#include "hearth/tensor_type.h"
#include "matvec.cuh"

#include <algorithm>
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

namespace hearth::cuda_detail {
namespace {

size_t matrix_bytes(const cpu::WeightMatrix& w) {
    return align_up(size_t(w.n_rows) * w.row_bytes);
}

size_t vector_bytes(const std::vector<float>& v) {
    return v.empty() ? 0 : align_up(v.size() * sizeof(float));
}

// The one matrix whose rows are wq's, wk's then wv's (phi3's attn_qkv, bound as row views:
// model/bind_dense.h), or nullopt when they are separate tensors or the layer has Q/K norms.
std::optional<cpu::WeightMatrix> fused_qkv(const LayerWeights& L) {
    auto follows = [](const cpu::WeightMatrix& a, const cpu::WeightMatrix& b) {
        return a.type == b.type && a.row_bytes == b.row_bytes && a.n_cols == b.n_cols &&
               b.data == static_cast<const uint8_t*>(a.data) + size_t(a.n_rows) * a.row_bytes;
    };
    if (!L.q_norm.empty() || !L.k_norm.empty() || !follows(L.wq, L.wk) || !follows(L.wk, L.wv)) {
        return std::nullopt;
    }
    cpu::WeightMatrix all = L.wq;
    all.n_rows = L.wq.n_rows + L.wk.n_rows + L.wv.n_rows;
    return all;
}

// A view of rows [first, first + n_rows) of a device matrix.
DeviceMatrix device_rows(const DeviceMatrix& w, int64_t first, int64_t n_rows) {
    DeviceMatrix view = w;
    view.data = static_cast<const uint8_t*>(w.data) + size_t(first) * w.row_bytes;
    view.n_rows = n_rows;
    return view;
}

// The optional per-layer vectors, in upload order.
template <class Layer>
auto layer_vectors(Layer& L) {
    return std::array{&L.attn_norm,
                      &L.ffn_norm,
                      &L.bq,
                      &L.bk,
                      &L.bv,
                      &L.q_norm,
                      &L.k_norm,
                      &L.post_attn_norm,
                      &L.post_ffn_norm,
                      &L.attn_sinks,
                      &L.ple_post_norm,
                      &L.router_input_scale,
                      &L.ffn_post_norm_1,
                      &L.ffn_pre_norm_2,
                      &L.ffn_post_norm_2,
                      &L.bo};
}

// The host's V matrix when it is its own upload: not gemma4's K-as-V (a view of wk instead).
const cpu::WeightMatrix& own_wv(const LayerWeights& L) {
    static const cpu::WeightMatrix none;
    return L.v_from_k ? none : L.wv;
}

// gemma4's model-wide matrices and vectors, in upload order (empty for other models).
auto gemma4_matrices(const Gemma4Weights& g) {
    return std::array{&g.token_embd, &g.model_proj};
}
auto gemma4_vectors(const Gemma4Weights& g) {
    return std::array{&g.proj_norm, &g.rope_freqs};
}

// A gated delta-net layer's matrices and vectors, in upload order (empty for other layers).
auto delta_matrices(const cpu::DeltaNetWeights& w) {
    return std::array{&w.w_qkv, &w.w_z, &w.w_beta, &w.w_alpha, &w.w_out};
}
auto delta_vectors(const cpu::DeltaNetWeights& w) {
    return std::array{&w.conv, &w.dt_bias, &w.a, &w.norm};
}

class Uploader {
public:
    Uploader(CudaWeights& w) : w_(w) {}

    Result<void> matrix(const cpu::WeightMatrix& src, DeviceMatrix& out, std::string_view name) {
        // A matrix the layer does not have (experts in place of ffn_*, qwen35's recurrent
        // layers without attention).
        if (src.data == nullptr && src.n_rows == 0) {
            out = DeviceMatrix{};
            return {};
        }
        if (!kernels::can_launch_matvec(int(src.type))) {
            return fail(ErrorCode::unsupported,
                        fmt::format("the CUDA backend has no matrix kernel for {} ({})",
                                    tensor_type_name(src.type), name));
        }
        const size_t bytes = size_t(src.n_rows) * src.row_bytes;
        void* dst = w_.arena.take<uint8_t>(bytes);
        HEARTH_CUDA_TRY(cudaMemcpy(dst, src.data, bytes, cudaMemcpyHostToDevice),
                        fmt::format("uploading {} ({} bytes)", name, bytes));
        out = DeviceMatrix{int(src.type), dst, src.row_bytes, src.n_rows, src.n_cols};
        return {};
    }

    // Null for an empty vector (a tensor the architecture does not have).
    Result<const float*> vector(const std::vector<float>& v, std::string_view name) {
        if (v.empty()) {
            return nullptr;
        }
        float* dst = w_.arena.take<float>(v.size());
        HEARTH_CUDA_TRY(cudaMemcpy(dst, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice),
                        fmt::format("uploading {}", name));
        return dst;
    }

private:
    CudaWeights& w_;
};

// A gated delta-net layer's weights (nothing for another layer: its matrices are empty).
Result<void> upload_delta_net(Uploader& up, const cpu::DeltaNetWeights& L, DeviceDeltaNetWeights& D,
                              const std::string& blk, uint64_t& decode) {
    if (L.w_qkv.data == nullptr) {
        return {};
    }
    static constexpr std::array<const char*, 5> kMatrixNames{"attn_qkv", "attn_gate", "ssm_beta",
                                                             "ssm_alpha", "ssm_out"};
    const std::array<DeviceMatrix*, 5> matrices{&D.w_qkv, &D.w_z, &D.w_beta, &D.w_alpha, &D.w_out};
    const auto sources = delta_matrices(L);
    for (size_t i = 0; i < sources.size(); ++i) {
        if (auto ok = up.matrix(*sources[i], *matrices[i], blk + kMatrixNames[i]); !ok) {
            return ok;
        }
        decode += uint64_t(sources[i]->n_rows) * sources[i]->row_bytes;
    }
    static constexpr std::array<const char*, 4> kVectorNames{"ssm_conv1d", "ssm_dt.bias", "ssm_a",
                                                             "ssm_norm"};
    const std::array<const float**, 4> targets{&D.conv, &D.dt_bias, &D.a, &D.norm};
    const auto vectors = delta_vectors(L);
    for (size_t i = 0; i < vectors.size(); ++i) {
        auto v = up.vector(*vectors[i], blk + kVectorNames[i]);
        if (!v) {
            return std::unexpected(v.error());
        }
        *targets[i] = *v;
        decode += vectors[i]->size() * sizeof(float);
    }
    return {};
}

// gemma4's model-wide weights (nothing for another model: they are empty). A decoded token
// reads one row of the per-layer embeddings and all of the rest.
Result<void> upload_gemma4(Uploader& up, const Gemma4Weights& g, DeviceGemma4Weights& D,
                           uint64_t& decode) {
    if (auto ok = up.matrix(g.token_embd, D.token_embd, "per_layer_token_embd.weight"); !ok) {
        return ok;
    }
    if (auto ok = up.matrix(g.model_proj, D.model_proj, "per_layer_model_proj.weight"); !ok) {
        return ok;
    }
    decode += uint64_t(g.token_embd.data ? g.token_embd.row_bytes : 0) +
              uint64_t(g.model_proj.n_rows) * g.model_proj.row_bytes;
    static constexpr std::array<const char*, 2> kNames{"per_layer_proj_norm.weight",
                                                       "rope_freqs.weight"};
    const std::array<const float**, 2> targets{&D.proj_norm, &D.rope_freqs};
    const auto vectors = gemma4_vectors(g);
    for (size_t i = 0; i < vectors.size(); ++i) {
        auto v = up.vector(*vectors[i], kNames[i]);
        if (!v) {
            return std::unexpected(v.error());
        }
        *targets[i] = *v;
        decode += vectors[i]->size() * sizeof(float);
    }
    return {};
}

Result<std::shared_ptr<CudaWeights>> upload(const Model::Impl& m, int device,
                                            const WeightSelection& selection) {
    auto w = std::make_shared<CudaWeights>();
    w->model = &m;
    w->device = device;
    w->selection = selection;
    w->bytes = plan_weight_bytes(m, selection);
    if (auto ok = w->arena.reserve(w->bytes, "weights"); !ok) {
        return std::unexpected(ok.error());
    }
    Uploader up(*w);
    uint64_t decode = 0;
    if (selection.head) {
        if (auto ok = up.matrix(m.token_embd, w->token_embd, "token_embd.weight"); !ok)
            return std::unexpected(ok.error());
        if (m.output.data == m.token_embd.data) {
            w->output = w->token_embd;
            decode += uint64_t(m.token_embd.n_rows) * m.token_embd.row_bytes;
        } else {
            if (auto ok = up.matrix(m.output, w->output, "output.weight"); !ok)
                return std::unexpected(ok.error());
            decode +=
                uint64_t(m.token_embd.row_bytes) + uint64_t(m.output.n_rows) * m.output.row_bytes;
        }
        auto norm = up.vector(m.output_norm, "output_norm.weight");
        if (!norm)
            return std::unexpected(norm.error());
        w->output_norm = *norm;
        decode += m.output_norm.size() * sizeof(float);
    }
    auto factors = up.vector(m.rope_freq_factors, "rope_freqs.weight");
    if (!factors)
        return std::unexpected(factors.error());
    w->rope_freq_factors = *factors;
    auto factors_long = up.vector(m.rope_factors_long, "rope_factors_long.weight");
    if (!factors_long)
        return std::unexpected(factors_long.error());
    w->rope_factors_long = *factors_long;
    auto factors_short = up.vector(m.rope_factors_short, "rope_factors_short.weight");
    if (!factors_short)
        return std::unexpected(factors_short.error());
    w->rope_factors_short = *factors_short;
    if (const auto& flags = m.rope_at_position_zero; !flags.empty()) {
        uint8_t* dst = w->arena.take<uint8_t>(flags.size());
        HEARTH_CUDA_TRY(cudaMemcpy(dst, flags.data(), flags.size(), cudaMemcpyHostToDevice),
                        "uploading the multi-section RoPE flags");
        w->rope_at_position_zero = dst;
    }
    if (auto ok = upload_gemma4(up, m.gemma4, w->gemma4, decode); !ok) {
        return std::unexpected(ok.error());
    }
    w->layers.resize(selection.n_layers);
    for (uint32_t il = 0; il < selection.n_layers; ++il) {
        const LayerWeights& L = m.layers[il];
        DeviceLayerWeights& D = w->layers[il];
        const std::string blk = fmt::format("blk.{}.", il);
        const std::optional<cpu::WeightMatrix> qkv = fused_qkv(L);
        if (qkv) {
            if (auto ok = up.matrix(*qkv, D.qkv, blk + "attn_qkv"); !ok)
                return std::unexpected(ok.error());
            D.wq = device_rows(D.qkv, 0, L.wq.n_rows);
            D.wk = device_rows(D.qkv, L.wq.n_rows, L.wk.n_rows);
            D.wv = device_rows(D.qkv, L.wq.n_rows + L.wk.n_rows, L.wv.n_rows);
        }
        const std::array<std::pair<const cpu::WeightMatrix*, DeviceMatrix*>, 9> matrices{{
            {&L.wq, &D.wq},
            {&L.wk, &D.wk},
            {&own_wv(L), &D.wv},
            {&L.wo, &D.wo},
            {&L.w_gate, &D.gate},
            {&L.w_up, &D.up},
            {&L.w_down, &D.down},
            {&L.ple_gate, &D.ple_gate},
            {&L.ple_proj, &D.ple_proj},
        }};
        static constexpr std::array<const char*, 9> kMatrixNames{
            "attn_q", "attn_k",   "attn_v",   "attn_output", "ffn_gate",
            "ffn_up", "ffn_down", "inp_gate", "proj"};
        for (size_t i = qkv ? 3 : 0; i < matrices.size(); ++i) {
            if (auto ok = up.matrix(*matrices[i].first, *matrices[i].second, blk + kMatrixNames[i]);
                !ok)
                return std::unexpected(ok.error());
            decode += uint64_t(matrices[i].first->n_rows) * matrices[i].first->row_bytes;
        }
        if (qkv) {
            decode += uint64_t(qkv->n_rows) * qkv->row_bytes;
        }
        D.v_from_k = L.v_from_k;
        if (L.v_from_k) { // gemma4: V is K's projection
            D.wv = D.wk;
        }
        D.out_scale = L.out_scale;
        static constexpr std::array<const char*, 16> kVectorNames{
            "attn_norm",       "ffn_norm",       "attn_q.bias",    "attn_k.bias",
            "attn_v.bias",     "attn_q_norm",    "attn_k_norm",    "post_attention_norm",
            "post_ffw_norm",   "attn_sinks",     "post_norm",      "ffn_gate_inp.scale",
            "post_ffw_norm_1", "pre_ffw_norm_2", "post_ffw_norm_2", "attn_output.bias"};
        const auto sources = layer_vectors(L);
        const std::array<const float**, 16> targets{&D.attn_norm,
                                                    &D.ffn_norm,
                                                    &D.bq,
                                                    &D.bk,
                                                    &D.bv,
                                                    &D.q_norm,
                                                    &D.k_norm,
                                                    &D.post_attn_norm,
                                                    &D.post_ffn_norm,
                                                    &D.attn_sinks,
                                                    &D.ple_post_norm,
                                                    &D.router_input_scale,
                                                    &D.ffn_post_norm_1,
                                                    &D.ffn_pre_norm_2,
                                                    &D.ffn_post_norm_2,
                                                    &D.bo};
        for (size_t i = 0; i < sources.size(); ++i) {
            auto v = up.vector(*sources[i], blk + kVectorNames[i]);
            if (!v)
                return std::unexpected(v.error());
            *targets[i] = *v;
            decode += sources[i]->size() * sizeof(float);
        }
        D.sliding = L.sliding;
        if (auto ok = upload_experts(L.experts, m.info, blk, w->arena, D.experts, decode); !ok)
            return std::unexpected(ok.error());
        if (auto ok = upload_delta_net(up, L.delta, D.delta, blk, decode); !ok) {
            return std::unexpected(ok.error());
        }
    }
    w->decode_bytes = decode;
    return w;
}

struct RegistryKey {
    const Model::Impl* model;
    int device;
    WeightSelection selection;
    bool operator<(const RegistryKey& o) const {
        return std::tie(model, device, selection) < std::tie(o.model, o.device, o.selection);
    }
};

// The live uploads. An entry's model is alive while its upload is (a forward holds both), so
// an address cannot be reused by another model while its entry is live.
std::mutex registry_mutex;
std::map<RegistryKey, std::weak_ptr<const CudaWeights>>& registry() {
    static std::map<RegistryKey, std::weak_ptr<const CudaWeights>> entries;
    return entries;
}

} // namespace

uint64_t plan_weight_bytes(const Model::Impl& m, const WeightSelection& selection) {
    uint64_t bytes = vector_bytes(m.rope_freq_factors) + vector_bytes(m.rope_factors_long) +
                     vector_bytes(m.rope_factors_short);
    if (!m.rope_at_position_zero.empty()) {
        bytes += align_up(m.rope_at_position_zero.size());
    }
    if (selection.head) {
        bytes += matrix_bytes(m.token_embd) + vector_bytes(m.output_norm);
        if (m.output.data != m.token_embd.data) {
            bytes += matrix_bytes(m.output);
        }
    }
    for (const cpu::WeightMatrix* w : gemma4_matrices(m.gemma4)) {
        bytes += matrix_bytes(*w);
    }
    for (const std::vector<float>* v : gemma4_vectors(m.gemma4)) {
        bytes += vector_bytes(*v);
    }
    for (uint32_t il = 0; il < selection.n_layers; ++il) {
        const LayerWeights& L = m.layers[il];
        if (const auto qkv = fused_qkv(L)) {
            bytes += matrix_bytes(*qkv);
        } else {
            bytes += matrix_bytes(L.wq) + matrix_bytes(L.wk) + matrix_bytes(own_wv(L));
        }
        for (const auto* w : {&L.wo, &L.w_gate, &L.w_up, &L.w_down, &L.ple_gate, &L.ple_proj}) {
            bytes += matrix_bytes(*w);
        }
        for (const std::vector<float>* v : layer_vectors(L)) {
            bytes += vector_bytes(*v);
        }
        bytes += plan_expert_bytes(L.experts);
        for (const cpu::WeightMatrix* w : delta_matrices(L.delta)) {
            bytes += matrix_bytes(*w);
        }
        for (const std::vector<float>* v : delta_vectors(L.delta)) {
            bytes += vector_bytes(*v);
        }
    }
    return bytes;
}

size_t q_buffer_width(const Model::Impl& m) {
    const ModelInfo& info = m.info;
    const size_t q_width = size_t(info.n_head) * info.head_dim_k;
    const bool fused = std::ranges::any_of(
        m.layers, [](const LayerWeights& L) { return fused_qkv(L).has_value(); });
    const size_t k_width = size_t(info.n_head_kv) * info.head_dim_k;
    const size_t v_width = size_t(info.n_head_kv) * info.head_dim_v;
    return fused ? q_width + k_width + v_width : q_width;
}

std::shared_ptr<const CudaWeights> find_shared_weights(const Model::Impl& m, int device,
                                                       const WeightSelection& selection) {
    std::lock_guard lock(registry_mutex);
    auto it = registry().find({&m, device, selection});
    return it == registry().end() ? nullptr : it->second.lock();
}

Result<std::shared_ptr<const CudaWeights>>
shared_weights(const Model::Impl& m, int device, const WeightSelection& selection, bool* uploaded) {
    // Held across the upload so that two forwards created at once upload once.
    std::lock_guard lock(registry_mutex);
    auto& entries = registry();
    std::erase_if(entries, [](const auto& entry) { return entry.second.expired(); });
    if (auto it = entries.find({&m, device, selection}); it != entries.end()) {
        if (auto live = it->second.lock()) {
            if (uploaded != nullptr) {
                *uploaded = false;
            }
            return live;
        }
    }
    auto fresh = upload(m, device, selection);
    if (!fresh) {
        return std::unexpected(fresh.error());
    }
    std::shared_ptr<const CudaWeights> weights = std::move(*fresh);
    entries[{&m, device, selection}] = weights;
    if (uploaded != nullptr) {
        *uploaded = true;
    }
    return weights;
}

} // namespace hearth::cuda_detail
