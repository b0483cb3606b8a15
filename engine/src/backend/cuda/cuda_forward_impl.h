// The inside of the CUDA forward pass (hearth/cuda_forward.h): the shared weights, the KV
// cache of n_seq slots and the scratch in the backend's own arenas, the stream and the captured
// step graphs. Split by concern: cuda_forward.cpp plans and allocates, cuda_step.cpp runs the
// 8-row step, cuda_sample.cpp samples on the device.
#pragma once

#include "attention.cuh"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/device_arena.h"
#include "glu.cuh"
#include "hearth/cuda_forward.h"
#include "matvec.cuh"
#include "rope.cuh"
#include "sampling.cuh"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace hearth::cuda_detail {

inline constexpr int kMaxRows = kernels::kMatvecMaxBatch;
// Device memory left free for the CUDA context's own needs (graphs, kernel stacks, the
// cuBLAS workspace of prefill): a plan that leaves less is refused.
inline constexpr uint64_t kHeadroom = 512ull << 20;

// A layer's KV cache: (n_seq, n_ctx, n_head_kv * head_dim) F16 values each.
struct DeviceLayerCache {
    uint16_t* k = nullptr;
    uint16_t* v = nullptr;
};

class CudaForwardImpl final : public CudaForward {
public:
    CudaForwardImpl(const Model::Impl& m, const CudaForwardOptions& o) : m_(m), options_(o) {}
    ~CudaForwardImpl() override;

    Result<void> init();
    Result<void> run(std::span<const CudaBatchToken> batch, float* logits) override;
    Result<CudaSample> sample(const SamplingParams& params, std::span<const int32_t> history,
                              double u, int n_top) override;
    Result<void> copy_cells(uint32_t from_seq, uint32_t to_seq, uint32_t from,
                            uint32_t to) override;
    CudaMemoryReport memory() const override { return report_; }
    uint32_t n_ctx() const override { return options_.n_ctx; }
    std::string graph_status() const override {
        return options_.use_graphs ? "graphs" : "graphs off: " + graph_note_;
    }

private:
    Result<void> check_architecture() const;
    Result<void> enqueue_step(int n, bool copy_logits);
    Result<void> run_step(int n, bool copy_logits);

    const Model::Impl& m_;
    CudaForwardOptions options_;
    CudaMemoryReport report_;
    std::shared_ptr<const CudaWeights> weights_;
    Arena kv_, scratch_;
    cudaStream_t stream_ = nullptr;
    // One graph per (row count, whether the logits come back to the host).
    std::array<std::array<cudaGraphExec_t, kMaxRows + 1>, 2> graphs_{};
    std::string graph_note_ = "disabled by the caller";

    std::vector<DeviceLayerCache> caches_;
    kernels::RopeConfig rope_, rope_sliding_;
    kernels::KvLayout kv_layout_;
    float embd_scale_ = 1.0f, q_scale_ = 1.0f, score_scale_ = 1.0f;
    kernels::GluKind glu_ = kernels::GluKind::swiglu;

    // Scratch, (kMaxRows, width) each.
    int32_t* d_ints_ = nullptr; // tokens, positions, slots: kMaxRows each
    float *x_ = nullptr, *h_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr;
    float *attn_ = nullptr, *o_ = nullptr, *gate_ = nullptr, *up_ = nullptr, *logits_ = nullptr;
    float* workspace_ = nullptr;
    int32_t* host_ints_ = nullptr; // pinned mirror of d_ints_
    float* host_logits_ = nullptr; // pinned (kMaxRows, n_vocab)
    int last_rows_ = 0;            // rows of the last step (0: none yet)

    // Sampling: the penalty window, the per-call control and the result, device and pinned.
    static constexpr size_t kMaxHistory = 4096;
    int32_t* d_history_ = nullptr;
    kernels::SampleControl* d_control_ = nullptr;
    kernels::SampleResult* d_result_ = nullptr;
    float* d_sample_work_ = nullptr; // n_vocab
    int32_t* host_history_ = nullptr;
    kernels::SampleControl* host_control_ = nullptr;
    kernels::SampleResult* host_result_ = nullptr;
};

} // namespace hearth::cuda_detail
