// See cuda_weights.h.
#include "backend/cuda/cuda_weights.h"

#include "hearth/tensor_type.h"
#include "matvec.cuh"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <mutex>
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

// The optional per-layer vectors, in upload order.
template <class Layer>
auto layer_vectors(Layer& L) {
    return std::array{&L.attn_norm, &L.ffn_norm,       &L.bq,           &L.bk, &L.bv, &L.q_norm,
                      &L.k_norm,    &L.post_attn_norm, &L.post_ffn_norm};
}

// A gated delta-net layer's matrices and vectors, in upload order (empty for other layers).
auto delta_matrices(const cpu::DeltaNetWeights& w) {
    return std::array{&w.w_qkv, &w.w_z, &w.w_beta, &w.w_alpha, &w.w_out};
}
auto delta_vectors(const cpu::DeltaNetWeights& w) {
    return std::array{&w.conv, &w.dt_bias, &w.a, &w.norm};
}

// The RoPE frequency divisors the device rotates with: the model's (or 1s), and for qwen35's
// multi-section RoPE +inf on the pairs whose section sees position 0 for text, whose angle
// is then 0 at every position exactly as the CPU's at_position_zero makes it (theta / inf = 0,
// before and after linear or YaRN scaling). Empty when neither applies.
std::vector<float> device_rope_factors(const Model::Impl& m) {
    if (m.rope_at_position_zero.empty()) {
        return m.rope_freq_factors;
    }
    std::vector<float> factors(m.rope_at_position_zero.size(), 1.0f);
    for (size_t i = 0; i < factors.size(); ++i) {
        if (i < m.rope_freq_factors.size()) {
            factors[i] = m.rope_freq_factors[i];
        }
        if (m.rope_at_position_zero[i] != 0) {
            factors[i] = std::numeric_limits<float>::infinity();
        }
    }
    return factors;
}

class Uploader {
public:
    Uploader(CudaWeights& w) : w_(w) {}

    Result<void> matrix(const cpu::WeightMatrix& src, DeviceMatrix& out, std::string_view name) {
        if (src.data == nullptr) { // a tensor the layer does not have (qwen35's attention)
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
    auto factors = up.vector(device_rope_factors(m), "rope_freqs.weight");
    if (!factors)
        return std::unexpected(factors.error());
    w->rope_freq_factors = *factors;
    w->layers.resize(selection.n_layers);
    for (uint32_t il = 0; il < selection.n_layers; ++il) {
        const LayerWeights& L = m.layers[il];
        DeviceLayerWeights& D = w->layers[il];
        const std::string blk = fmt::format("blk.{}.", il);
        const std::array<std::pair<const cpu::WeightMatrix*, DeviceMatrix*>, 7> matrices{{
            {&L.wq, &D.wq},
            {&L.wk, &D.wk},
            {&L.wv, &D.wv},
            {&L.wo, &D.wo},
            {&L.w_gate, &D.gate},
            {&L.w_up, &D.up},
            {&L.w_down, &D.down},
        }};
        static constexpr std::array<const char*, 7> kMatrixNames{
            "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        for (size_t i = 0; i < matrices.size(); ++i) {
            if (auto ok = up.matrix(*matrices[i].first, *matrices[i].second, blk + kMatrixNames[i]);
                !ok)
                return std::unexpected(ok.error());
            decode += uint64_t(matrices[i].first->n_rows) * matrices[i].first->row_bytes;
        }
        static constexpr std::array<const char*, 9> kVectorNames{
            "attn_norm",   "ffn_norm",    "attn_q.bias",         "attn_k.bias",  "attn_v.bias",
            "attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"};
        const auto sources = layer_vectors(L);
        const std::array<const float**, 9> targets{
            &D.attn_norm, &D.ffn_norm,       &D.bq,           &D.bk, &D.bv, &D.q_norm,
            &D.k_norm,    &D.post_attn_norm, &D.post_ffn_norm};
        for (size_t i = 0; i < sources.size(); ++i) {
            auto v = up.vector(*sources[i], blk + kVectorNames[i]);
            if (!v)
                return std::unexpected(v.error());
            *targets[i] = *v;
            decode += sources[i]->size() * sizeof(float);
        }
        D.sliding = L.sliding;
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
    uint64_t bytes = vector_bytes(device_rope_factors(m));
    if (selection.head) {
        bytes += matrix_bytes(m.token_embd) + vector_bytes(m.output_norm);
        if (m.output.data != m.token_embd.data) {
            bytes += matrix_bytes(m.output);
        }
    }
    for (uint32_t il = 0; il < selection.n_layers; ++il) {
        const LayerWeights& L = m.layers[il];
        for (const auto* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
            bytes += matrix_bytes(*w);
        }
        for (const std::vector<float>* v : layer_vectors(L)) {
            bytes += vector_bytes(*v);
        }
        for (const cpu::WeightMatrix* w : delta_matrices(L.delta)) {
            bytes += matrix_bytes(*w);
        }
        for (const std::vector<float>* v : delta_vectors(L.delta)) {
            bytes += vector_bytes(*v);
        }
    }
    return bytes;
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
