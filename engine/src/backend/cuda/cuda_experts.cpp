// See cuda_experts.h.
#include "backend/cuda/cuda_experts.h"

#include "backend/cuda/cuda_check.h"
#include "hearth/model_info.h"
#include "matvec.cuh"
#include "moe.cuh"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace hearth::cuda_detail {

// The router kernel's bounds are the loader's (hearth/model_info.h), which nvcc cannot include:
// every model that loads fits the kernel.
static_assert(kernels::kMoeMaxExperts == int(kMaxExperts), "the router's expert bound differs");
static_assert(kernels::kMoeMaxUsed == int(kMaxExpertsUsed), "the router's used bound differs");

namespace {

// The span of a 3-D expert tensor in the mapping: every expert's view `stride` bytes after the
// one before (the file's layout; a fused gate_up tensor's gate and up views interleave, each
// with the stride of the whole). 0 stride for one expert.
struct ExpertSpan {
    const uint8_t* base = nullptr;
    size_t stride = 0, bytes = 0;
    bool regular = false;
};

ExpertSpan expert_span(const std::vector<cpu::WeightMatrix>& views) {
    ExpertSpan span;
    if (views.empty()) {
        return span;
    }
    const size_t matrix = size_t(views[0].n_rows) * views[0].row_bytes;
    span.base = static_cast<const uint8_t*>(views[0].data);
    const auto* second = views.size() > 1 ? static_cast<const uint8_t*>(views[1].data) : nullptr;
    span.stride = second != nullptr && second > span.base ? size_t(second - span.base) : matrix;
    span.regular = span.stride >= matrix;
    for (size_t e = 0; e < views.size() && span.regular; ++e) {
        span.regular = static_cast<const uint8_t*>(views[e].data) == span.base + e * span.stride &&
                       views[e].type == views[0].type && views[e].row_bytes == views[0].row_bytes;
    }
    span.bytes = span.stride * (views.size() - 1) + matrix;
    return span;
}

uint64_t vector_bytes(const std::vector<float>& v) {
    return v.empty() ? 0 : align_up(v.size() * sizeof(float));
}

Result<const float*> upload_vector(Arena& arena, const std::vector<float>& v,
                                   const std::string& name) {
    if (v.empty()) {
        return nullptr;
    }
    float* dst = arena.take<float>(v.size());
    HEARTH_CUDA_TRY(cudaMemcpy(dst, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice),
                    fmt::format("uploading {}", name));
    return dst;
}

Result<DeviceExpertTensor> upload_tensor(Arena& arena, const std::vector<cpu::WeightMatrix>& views,
                                         const std::string& name) {
    const ExpertSpan span = expert_span(views);
    if (!span.regular) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA backend reads {} as one 3-D tensor, but its experts "
                                "are not evenly spaced",
                                name));
    }
    if (!kernels::can_launch_matvec(int(views[0].type))) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA backend has no matrix kernel for {} ({})",
                                tensor_type_name(views[0].type), name));
    }
    void* dst = arena.take<uint8_t>(span.bytes);
    HEARTH_CUDA_TRY(cudaMemcpy(dst, span.base, span.bytes, cudaMemcpyHostToDevice),
                    fmt::format("uploading {} ({} bytes)", name, span.bytes));
    return DeviceExpertTensor{
        int(views[0].type), dst, span.stride, views[0].row_bytes, views[0].n_rows, views[0].n_cols};
}

// The shared expert's four matrices, in upload order, with their tensor names.
auto shared_matrices(const ExpertWeights& w) {
    return std::array{&w.shared_gate_inp, &w.shared_gate, &w.shared_up, &w.shared_down};
}
constexpr std::array<const char*, 4> kSharedNames{"ffn_gate_inp_shexp", "ffn_gate_shexp",
                                                  "ffn_up_shexp", "ffn_down_shexp"};

// One 2-D matrix (the router, a shared-expert matrix) copied into `arena`.
Result<DeviceMatrix> upload_matrix(Arena& arena, const cpu::WeightMatrix& w,
                                   const std::string& name) {
    if (!kernels::can_launch_matvec(int(w.type))) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA backend has no matrix kernel for {} ({})",
                                tensor_type_name(w.type), name));
    }
    const size_t bytes = size_t(w.n_rows) * w.row_bytes;
    void* dst = arena.take<uint8_t>(bytes);
    HEARTH_CUDA_TRY(cudaMemcpy(dst, w.data, bytes, cudaMemcpyHostToDevice),
                    fmt::format("uploading {}", name));
    return DeviceMatrix{int(w.type), dst, w.row_bytes, w.n_rows, w.n_cols};
}

kernels::MoeGlu glu_of(FfnActivation activation) {
    switch (activation) {
    case FfnActivation::swiglu_oai:
        return kernels::MoeGlu::swiglu_oai;
    case FfnActivation::gelu_tanh:
        return kernels::MoeGlu::geglu;
    default:
        return kernels::MoeGlu::swiglu;
    }
}

// A prompt chunk's experts, after routing: the slots grouped by expert, each expert's rows
// read once per 8 of its slots, the same activation and sum as a step's.
Result<void> enqueue_grouped_experts(const DeviceExperts& e, const ModelInfo& info,
                                     const ArchTraits& arch, const MoeBuffers& b, const float* h,
                                     int n, float* out, cudaStream_t s) {
    const int n_expert = int(info.n_expert), n_used = int(info.n_expert_used);
    const int64_t n_embd = info.n_embd, n_ff = info.n_ff_exp;
    const int slots = n * n_used;
    HEARTH_CUDA_TRY(kernels::launch_group_by_expert(b.ids, slots, n_expert, b.order, b.offsets, s),
                    "group_by_expert");
    HEARTH_CUDA_TRY(kernels::launch_matvec_grouped(
                        e.gate.type, e.gate.data, e.gate.expert_bytes, n_expert, e.gate.row_bytes,
                        n_ff, n_embd, b.order, b.offsets, h, n_embd, n_used, b.gate, n_ff, s),
                    "matvec_grouped(ffn_gate_exps)");
    HEARTH_CUDA_TRY(kernels::launch_matvec_grouped(e.up.type, e.up.data, e.up.expert_bytes,
                                                   n_expert, e.up.row_bytes, n_ff, n_embd, b.order,
                                                   b.offsets, h, n_embd, n_used, b.up, n_ff, s),
                    "matvec_grouped(ffn_up_exps)");
    HEARTH_CUDA_TRY(kernels::launch_moe_glu(glu_of(arch.activation), b.gate, b.up, n_ff,
                                            e.gate_bias, e.up_bias, b.ids, n_expert, slots, n_ff,
                                            s),
                    "moe_glu");
    HEARTH_CUDA_TRY(kernels::launch_matvec_grouped(
                        e.down.type, e.down.data, e.down.expert_bytes, n_expert, e.down.row_bytes,
                        n_embd, n_ff, b.order, b.offsets, b.gate, n_ff, 1, b.down, n_embd, s),
                    "matvec_grouped(ffn_down_exps)");
    HEARTH_CUDA_TRY(kernels::launch_moe_combine(b.down, n_embd, b.weights, b.ids, n_expert,
                                                e.down_scale, e.down_bias, n, n_used, n_embd, out,
                                                n_embd, s),
                    "moe_combine");
    return {};
}

} // namespace

Result<void> check_cuda_experts(const Model::Impl& m) {
    const ModelInfo& info = m.info;
    if (m.layers.empty() || m.layers[0].experts.empty()) {
        return {};
    }
    if (info.n_expert > uint32_t(kernels::kMoeMaxExperts) ||
        info.n_expert_used > uint32_t(kernels::kMoeMaxUsed)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA router takes at most {} experts, {} per token (this "
                                "model: {}, {}): it runs on the CPU",
                                kernels::kMoeMaxExperts, kernels::kMoeMaxUsed, info.n_expert,
                                info.n_expert_used));
    }
    return {};
}

uint64_t plan_expert_bytes(const ExpertWeights& w) {
    if (w.empty()) {
        return 0;
    }
    uint64_t bytes = align_up(size_t(w.router.n_rows) * w.router.row_bytes);
    for (const auto* views : {&w.gate, &w.up, &w.down}) {
        bytes += align_up(expert_span(*views).bytes);
    }
    for (const auto* v : {&w.router_bias, &w.gate_bias, &w.up_bias, &w.down_bias, &w.down_scale}) {
        bytes += vector_bytes(*v);
    }
    if (w.has_shared_expert()) {
        for (const cpu::WeightMatrix* m : shared_matrices(w)) {
            bytes += align_up(size_t(m->n_rows) * m->row_bytes);
        }
    }
    return bytes;
}

Result<void> upload_experts(const ExpertWeights& w, const ModelInfo& info, const std::string& blk,
                            Arena& arena, DeviceExperts& out, uint64_t& decode) {
    out = DeviceExperts{};
    if (w.empty()) {
        return {};
    }
    auto router = upload_matrix(arena, w.router, blk + "ffn_gate_inp");
    if (!router) {
        return std::unexpected(router.error());
    }
    out.router = DeviceExpertTensor{router->type,      router->data,   0,
                                    router->row_bytes, router->n_rows, router->n_cols};
    const std::pair<const std::vector<cpu::WeightMatrix>*, DeviceExpertTensor*> tensors[] = {
        {&w.gate, &out.gate}, {&w.up, &out.up}, {&w.down, &out.down}};
    const char* names[] = {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"};
    for (size_t i = 0; i < 3; ++i) {
        auto t = upload_tensor(arena, *tensors[i].first, blk + names[i]);
        if (!t) {
            return std::unexpected(t.error());
        }
        *tensors[i].second = *t;
    }
    const std::pair<const std::vector<float>*, const float**> vectors[] = {
        {&w.router_bias, &out.router_bias},
        {&w.gate_bias, &out.gate_bias},
        {&w.up_bias, &out.up_bias},
        {&w.down_bias, &out.down_bias},
        {&w.down_scale, &out.down_scale}};
    for (const auto& [src, dst] : vectors) {
        auto v = upload_vector(arena, *src, blk + "expert vectors");
        if (!v) {
            return std::unexpected(v.error());
        }
        *dst = *v;
        // A token reads the router's bias whole, its experts' rows of the others.
        decode += (src == &w.router_bias ? src->size()
                                         : src->size() / info.n_expert * info.n_expert_used) *
                  sizeof(float);
    }
    decode += uint64_t(w.router.n_rows) * w.router.row_bytes +
              uint64_t(info.n_expert_used) * w.bytes_per_expert();
    if (w.has_shared_expert()) {
        const auto sources = shared_matrices(w);
        const std::array targets{&out.shared_gate_inp, &out.shared_gate, &out.shared_up,
                                 &out.shared_down};
        for (size_t i = 0; i < sources.size(); ++i) {
            auto m = upload_matrix(arena, *sources[i], blk + kSharedNames[i]);
            if (!m) {
                return std::unexpected(m.error());
            }
            *targets[i] = *m;
            decode += uint64_t(sources[i]->n_rows) * sources[i]->row_bytes;
        }
    }
    out.present = true;
    return {};
}

uint64_t moe_scratch_bytes(const ModelInfo& info, size_t rows) {
    if (info.n_expert == 0 || rows == 0) {
        return 0;
    }
    const size_t slots = rows * info.n_expert_used;
    const uint64_t shared = info.n_ff_shexp == 0
                                ? 0
                                : 2 * align_up(rows * info.n_ff_shexp * sizeof(float)) +
                                      align_up(rows * info.n_embd * sizeof(float)) +
                                      align_up(rows * sizeof(float));
    return align_up(rows * info.n_expert * sizeof(float)) + align_up(slots * sizeof(int32_t)) +
           align_up(slots * sizeof(float)) + 2 * align_up(slots * info.n_ff_exp * sizeof(float)) +
           align_up(slots * info.n_embd * sizeof(float)) + align_up(slots * sizeof(int32_t)) +
           align_up((info.n_expert + 1) * sizeof(int32_t)) + shared;
}

MoeBuffers take_moe_buffers(Arena& arena, const ModelInfo& info, size_t rows) {
    if (info.n_expert == 0 || rows == 0) {
        return {};
    }
    const size_t slots = rows * info.n_expert_used;
    MoeBuffers b;
    b.logits = arena.take<float>(rows * info.n_expert);
    b.ids = arena.take<int32_t>(slots);
    b.weights = arena.take<float>(slots);
    b.gate = arena.take<float>(slots * info.n_ff_exp);
    b.up = arena.take<float>(slots * info.n_ff_exp);
    b.down = arena.take<float>(slots * info.n_embd);
    b.order = arena.take<int32_t>(slots);
    b.offsets = arena.take<int32_t>(info.n_expert + 1);
    if (info.n_ff_shexp > 0) {
        b.shared_gate = arena.take<float>(rows * info.n_ff_shexp);
        b.shared_up = arena.take<float>(rows * info.n_ff_shexp);
        b.shared_out = arena.take<float>(rows * info.n_embd);
        b.shared_weight = arena.take<float>(rows);
    }
    return b;
}

Result<void> enqueue_moe_ffn(const DeviceExperts& e, const ModelInfo& info, const ArchTraits& arch,
                             const MoeBuffers& b, const float* h, int n, float* out, cudaStream_t s,
                             const float* router_input) {
    const int n_expert = int(info.n_expert), n_used = int(info.n_expert_used);
    const int64_t n_embd = info.n_embd, n_ff = info.n_ff_exp;
    // The router in float32 with the weights exact (not cuBLAS's F16 tiles, even in prefill):
    // the choice of experts is what must not drift from the CPU's.
    for (int first = 0; first < n; first += kernels::kMatvecMaxBatch) {
        const int rows = std::min(kernels::kMatvecMaxBatch, n - first);
        HEARTH_CUDA_TRY(
            kernels::launch_matvec(e.router.type, e.router.data, e.router.row_bytes,
                                   e.router.n_rows, e.router.n_cols,
                                   (router_input ? router_input : h) + int64_t(first) * n_embd,
                                   n_embd, b.logits + int64_t(first) * n_expert, n_expert, rows, s),
            "matvec(ffn_gate_inp)");
    }
    const auto routing = arch.routing == Routing::top_k_softmax
                             ? kernels::MoeRouting::top_k_softmax
                             : kernels::MoeRouting::softmax_top_k;
    HEARTH_CUDA_TRY(kernels::launch_moe_route(routing, b.logits, e.router_bias, n_expert, n_used, n,
                                              b.ids, b.weights, s),
                    "moe_route");
    if (n > kernels::kMatvecMaxBatch) {
        return enqueue_grouped_experts(e, info, arch, b, h, n, out, s);
    }
    // The (token, slot) pairs in launches of at most kMatvecMaxSlots, whole tokens each.
    const int tokens_per_launch = std::max(1, kernels::kMatvecMaxSlots / n_used);
    for (int first = 0; first < n; first += tokens_per_launch) {
        const int tokens = std::min(tokens_per_launch, n - first);
        const int64_t slot0 = int64_t(first) * n_used;
        const int slots = tokens * n_used;
        const int32_t* ids = b.ids + slot0;
        const float* x = h + int64_t(first) * n_embd;
        float* gate = b.gate + slot0 * n_ff;
        float* up = b.up + slot0 * n_ff;
        float* down = b.down + slot0 * n_embd;
        HEARTH_CUDA_TRY(kernels::launch_matvec_experts(e.gate.type, e.gate.data,
                                                       e.gate.expert_bytes, n_expert,
                                                       e.gate.row_bytes, n_ff, n_embd, ids, slots,
                                                       x, n_embd, n_used, gate, n_ff, s),
                        "matvec_experts(ffn_gate_exps)");
        HEARTH_CUDA_TRY(kernels::launch_matvec_experts(e.up.type, e.up.data, e.up.expert_bytes,
                                                       n_expert, e.up.row_bytes, n_ff, n_embd, ids,
                                                       slots, x, n_embd, n_used, up, n_ff, s),
                        "matvec_experts(ffn_up_exps)");
        HEARTH_CUDA_TRY(kernels::launch_moe_glu(glu_of(arch.activation), gate, up, n_ff,
                                                e.gate_bias, e.up_bias, ids, n_expert, slots, n_ff,
                                                s),
                        "moe_glu");
        HEARTH_CUDA_TRY(kernels::launch_matvec_experts(e.down.type, e.down.data,
                                                       e.down.expert_bytes, n_expert,
                                                       e.down.row_bytes, n_embd, n_ff, ids, slots,
                                                       gate, n_ff, 1, down, n_embd, s),
                        "matvec_experts(ffn_down_exps)");
    }
    HEARTH_CUDA_TRY(kernels::launch_moe_combine(b.down, n_embd, b.weights, b.ids, n_expert,
                                                e.down_scale, e.down_bias, n, n_used, n_embd, out,
                                                n_embd, s),
                    "moe_combine");
    return {};
}

} // namespace hearth::cuda_detail
