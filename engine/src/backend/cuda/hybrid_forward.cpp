// Partial offload: a model that does not fit the GPU runs its first N layers there and the rest
// on the CPU. Per batch:
//   x = embeddings (CPU)  ->  layers [0, N) (GPU, CudaForwardImpl::run_layers, the residual
//   stream copied in and out: n_embd floats per token each way)  ->  layers [N, n_layer),
//   output norm and head (CPU, cpu::Forward::run_from)
// The GPU keeps the KV cache of its layers; each slot has a CPU KvCache of the other layers.
// A hybrid model (qwen35) keeps the recurrent state of each layer where the layer runs: the
// GPU's in its arena, the others in a cpu::RecurrentState per slot; both check that a slot's
// tokens continue where its state stands, the CPU's before the GPU runs.
// The embeddings and the head stay on the CPU so that the GPU's memory goes to layers.
#include "backend/cuda/hybrid_forward.h"

#include "backend/cuda/cuda_forward_impl.h"
#include "cpu/delta_net.h"
#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "hearth/memory_plan.h"

#include <fmt/format.h>
#include <vector>

namespace hearth::cuda_detail {
namespace {

class HybridForward final : public CudaForward {
public:
    HybridForward(const Model::Impl& m, std::unique_ptr<CudaForwardImpl> gpu, uint32_t gpu_layers)
        : m_(m), gpu_(std::move(gpu)), gpu_layers_(gpu_layers), cpu_(m) {}

    Result<void> init(uint32_t n_seq) {
        const ModelInfo& info = m_.info;
        // F16 cells: (layers on the CPU) x n_ctx x (key + value widths) x 2 bytes.
        const uint64_t per_slot = host_kv_per_cell(info) * gpu_->n_ctx() * sizeof(uint16_t);
        const uint64_t host_kv = per_slot * n_seq;
        // qwen35: a recurrent state per slot (cpu::RecurrentState holds every recurrent layer's,
        // those of the GPU's layers unused, live and a checkpoint copy).
        const uint64_t host_state = uint64_t(n_seq) * 2 * info.recurrent_state_bytes();
        if (auto host = read_host_memory(); host && host_kv + host_state > host->available_bytes) {
            return fail(ErrorCode::out_of_memory,
                        fmt::format("the KV cache of the {} layers on the CPU needs {} ({} "
                                    "sequences x {} tokens{}), but {} of RAM is available",
                                    info.n_layer - gpu_layers_,
                                    format_bytes(double(host_kv + host_state)), n_seq,
                                    gpu_->n_ctx(),
                                    host_state == 0 ? std::string()
                                                    : fmt::format(", with their recurrent state {}",
                                                                  format_bytes(double(host_state))),
                                    format_bytes(double(host->available_bytes))));
        }
        if (!info.recurrent_layers.empty()) {
            states_.resize(n_seq, cpu::RecurrentState(info));
        }
        caches_.reserve(n_seq);
        for (uint32_t i = 0; i < n_seq; ++i) { // (gemma4's at each layer's widths)
            caches_.emplace_back(info, gpu_->n_ctx(), KvCacheType::f16, gpu_layers_);
        }
        report_ = gpu_->memory();
        report_.host_kv_bytes = host_kv;
        return {};
    }

    Result<void> run(std::span<const CudaBatchToken> batch, float* logits) override {
        if (auto ok = gpu_->check_batch(batch); !ok) {
            return ok;
        }
        cpu_batch_.clear();
        for (const CudaBatchToken& t : batch) {
            if (t.want_logits && logits == nullptr) {
                return fail(ErrorCode::invalid_argument,
                            "logits requested without an output buffer");
            }
            cpu::BatchToken c;
            c.token = t.token;
            c.pos = t.pos;
            c.cache = &caches_[t.seq];
            c.want_logits = t.want_logits;
            c.state = states_.empty() ? nullptr : &states_[t.seq];
            cpu_batch_.push_back(c);
        }
        if (!states_.empty()) { // before the GPU's states move
            if (auto ok = cpu::check_recurrent_batch(m_, cpu_batch_, gpu_layers_, m_.info.n_layer);
                !ok) {
                return ok;
            }
        }
        residual_.resize(batch.size() * m_.info.n_embd);
        if (auto ok = cpu_.embed(cpu_batch_, residual_.data()); !ok) {
            return ok;
        }
        if (auto ok = gpu_->run_layers(batch, residual_.data(), residual_.data()); !ok) {
            return ok;
        }
        ran_ = ran_ || !batch.empty();
        return cpu_.run_from(cpu_batch_, gpu_layers_, residual_.data(), logits);
    }

    Result<CudaSample> sample(const SamplingParams& params, std::span<const int32_t>, double u,
                              int n_top) override {
        if (!ran_) {
            return fail(ErrorCode::invalid_argument,
                        "sample() before any run(): there are no logits");
        }
        if (auto ok = params.validate(); !ok) {
            return std::unexpected(ok.error());
        }
        if (n_top < 0 || !(u >= 0.0 && u < 1.0)) {
            return fail(ErrorCode::invalid_argument, "sample(): bad n_top or u");
        }
        CudaSample host; // the logits are the CPU's: sample them there
        host.needs_host = true;
        return host;
    }

    Result<void> last_logits(float*) override {
        return fail(ErrorCode::unsupported,
                    "a partial offload computes its logits on the CPU: ask run() for them");
    }

    Result<void> copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                            uint32_t to) override {
        if (auto ok = gpu_->copy_cells(from_seq, to_seq, from, to); !ok) {
            return ok;
        }
        if (from_seq != to_seq && from < to) {
            caches_[to_seq].copy_cells_from(caches_[from_seq], from, to);
        }
        return {};
    }

    CudaMemoryReport memory() const override { return report_; }
    std::optional<uint32_t> recurrent_position(uint32_t seq) const override {
        auto gpu = gpu_->recurrent_position(seq);
        if (!gpu || seq >= states_.size()) {
            return gpu;
        }
        // A run whose CPU part failed left the two devices' states at different places.
        return states_[seq].position() == *gpu ? gpu : std::optional<uint32_t>(0);
    }
    uint32_t n_ctx() const override { return gpu_->n_ctx(); }
    std::string graph_status() const override { return gpu_->graph_status(); }
    std::string prefill_status() const override { return gpu_->prefill_status(); }

private:
    // Key and value elements of one cell over the CPU's layers: each layer's widths (gemma4's
    // differ by layer, its shared layers have none), else the model's (every layer's, as the
    // cache sizes them).
    uint64_t host_kv_per_cell(const ModelInfo& info) const {
        if (info.layer_shapes.empty()) {
            return uint64_t(info.n_layer - gpu_layers_) * info.n_head_kv *
                   (info.head_dim_k + info.head_dim_v);
        }
        uint64_t elements = 0;
        for (uint32_t il = gpu_layers_; il < info.n_layer; ++il) {
            elements += info.kv_layer(il) == il ? 2 * info.layer_shapes[il].kv_width() : 0;
        }
        return elements;
    }

    const Model::Impl& m_;
    std::unique_ptr<CudaForwardImpl> gpu_;
    uint32_t gpu_layers_;
    cpu::Forward cpu_;
    std::vector<cpu::KvCache> caches_;        // one per slot, layers [gpu_layers_, n_layer)
    std::vector<cpu::RecurrentState> states_; // qwen35: one per slot
    std::vector<cpu::BatchToken> cpu_batch_;
    std::vector<float> residual_;
    CudaMemoryReport report_;
    bool ran_ = false;
};

} // namespace

Result<std::unique_ptr<CudaForward>> create_hybrid_forward(const Model::Impl& m,
                                                           const CudaForwardOptions& options,
                                                           uint32_t gpu_layers) {
    if (gpu_layers == 0 || gpu_layers > m.info.n_layer) {
        return fail(ErrorCode::invalid_argument,
                    fmt::format("a partial offload puts 1 to {} layers on the GPU, not {}",
                                m.info.n_layer, gpu_layers));
    }
    auto gpu = std::make_unique<CudaForwardImpl>(m, options, WeightSelection{gpu_layers, false});
    if (auto ok = gpu->init(); !ok) {
        return std::unexpected(ok.error());
    }
    auto hybrid = std::make_unique<HybridForward>(m, std::move(gpu), gpu_layers);
    if (auto ok = hybrid->init(options.n_seq); !ok) {
        return std::unexpected(ok.error());
    }
    return std::unique_ptr<CudaForward>(std::move(hybrid));
}

} // namespace hearth::cuda_detail
