// Binding a mixture-of-experts layer: shape and type checks of the router and the 3-D expert
// tensors, then one WeightMatrix per expert over its slice of the mapped tensor.
#include "model/moe_weights.h"

#include "hearth/tensor_type.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <tuple>

namespace hearth {
namespace {

std::string dims_text(const std::vector<uint64_t>& dims) {
    std::string out = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(dims[i]);
    }
    return out + "]";
}

// The tensor `name` of GGML shape `expected` (2 or 3 dims) and a type matmul computes with.
Result<const GgufTensorInfo*> find_shaped(const GgufFile& file, const std::string& name,
                                          const std::vector<uint64_t>& expected) {
    const GgufTensorInfo* tensor = file.find_tensor(name);
    if (!tensor) {
        return fail(ErrorCode::bad_format, fmt::format("tensor '{}' is missing", name));
    }
    if (tensor->dims != expected) {
        return fail(ErrorCode::bad_format,
                    fmt::format("tensor '{}' has shape {}, expected {} for this architecture's "
                                "hyper-parameters",
                                name, dims_text(tensor->dims), dims_text(expected)));
    }
    if (!cpu::matmul_supports(tensor->type)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("tensor '{}' has type {}, which Hearth cannot compute with yet",
                                name, tensor_type_name(tensor->type)));
    }
    return tensor;
}

// The tensor `name` as a matrix of n_rows × n_cols (GGML dims {n_cols, n_rows}; a single row
// may also be stored as the 1-D {n_cols}, as llama.cpp's quantizer writes a [n_cols, 1] one).
Result<cpu::WeightMatrix> bind_matrix(const GgufFile& file, const std::string& name,
                                      uint64_t n_cols, uint64_t n_rows) {
    const GgufTensorInfo* one_dim = file.find_tensor(name);
    const bool single_row = n_rows == 1 && one_dim && one_dim->dims.size() == 1;
    auto tensor = find_shaped(file, name,
                              single_row ? std::vector<uint64_t>{n_cols}
                                         : std::vector<uint64_t>{n_cols, n_rows});
    if (!tensor) {
        return std::unexpected(tensor.error());
    }
    const auto traits = tensor_type_traits((*tensor)->type);
    return cpu::WeightMatrix{
        .type = (*tensor)->type,
        .data = file.tensor_data(**tensor).data(),
        .n_cols = static_cast<int64_t>(n_cols),
        .n_rows = static_cast<int64_t>(n_rows),
        .row_bytes = n_cols / traits.block_size * traits.type_size,
    };
}

// qwen35moe's shared expert: its gate input (one row, F32 as the converters keep it) and its
// SwiGLU matrices of n_ff_shexp rows.
Result<void> bind_shared_expert(const GgufFile& file, const ModelInfo& info,
                                const std::string& prefix, ExpertWeights& experts) {
    const std::tuple<cpu::WeightMatrix*, const char*, uint64_t, uint64_t> parts[] = {
        {&experts.shared_gate_inp, "ffn_gate_inp_shexp.weight", info.n_embd, 1},
        {&experts.shared_gate, "ffn_gate_shexp.weight", info.n_embd, info.n_ff_shexp},
        {&experts.shared_up, "ffn_up_shexp.weight", info.n_embd, info.n_ff_shexp},
        {&experts.shared_down, "ffn_down_shexp.weight", info.n_ff_shexp, info.n_embd},
    };
    for (const auto& [target, name, n_cols, n_rows] : parts) {
        auto bound = bind_matrix(file, prefix + name, n_cols, n_rows);
        if (!bound) {
            return std::unexpected(bound.error());
        }
        *target = *bound;
    }
    return {};
}

// One matrix of n_rows × n_cols per expert, consecutive in the tensor's data.
Result<std::vector<cpu::WeightMatrix>> bind_expert_matrices(const GgufFile& file,
                                                            const std::string& name,
                                                            uint64_t n_cols, uint64_t n_rows,
                                                            uint32_t n_expert) {
    auto tensor = find_shaped(file, name, {n_cols, n_rows, n_expert});
    if (!tensor) {
        return std::unexpected(tensor.error());
    }
    const auto traits = tensor_type_traits((*tensor)->type);
    const size_t row_bytes = n_cols / traits.block_size * traits.type_size;
    const auto* data = file.tensor_data(**tensor).data();
    std::vector<cpu::WeightMatrix> experts(n_expert);
    for (uint32_t e = 0; e < n_expert; ++e) {
        experts[e] = cpu::WeightMatrix{
            .type = (*tensor)->type,
            .data = data + size_t{e} * n_rows * row_bytes,
            .n_cols = static_cast<int64_t>(n_cols),
            .n_rows = static_cast<int64_t>(n_rows),
            .row_bytes = row_bytes,
        };
    }
    return experts;
}

// The experts' gate and up matrices: ffn_gate_exps and ffn_up_exps, or one ffn_gate_up_exps
// (llama.cpp's converter with --fuse-gate-up-exps) whose expert e holds e's gate rows, then its up
// rows. Each row's product is the same dot product either way, so the views compute what
// llama.cpp's single mul_mat_id over the fused rows does.
Result<void> bind_gate_up(const GgufFile& file, const ModelInfo& info, const std::string& prefix,
                          ExpertWeights& experts) {
    const std::string fused_name = prefix + "ffn_gate_up_exps.weight";
    if (!file.find_tensor(fused_name)) {
        for (auto [target, name] : {std::pair{&experts.gate, "ffn_gate_exps.weight"},
                                    std::pair{&experts.up, "ffn_up_exps.weight"}}) {
            auto bound = bind_expert_matrices(file, prefix + name, info.n_embd, info.n_ff_exp,
                                              info.n_expert);
            if (!bound) {
                return std::unexpected(bound.error());
            }
            *target = std::move(*bound);
        }
        return {};
    }
    auto fused =
        bind_expert_matrices(file, fused_name, info.n_embd, 2ull * info.n_ff_exp, info.n_expert);
    if (!fused) {
        return std::unexpected(fused.error());
    }
    for (const cpu::WeightMatrix& both : *fused) {
        cpu::WeightMatrix gate = both;
        gate.n_rows = info.n_ff_exp;
        cpu::WeightMatrix up = gate;
        up.data = static_cast<const uint8_t*>(both.data) + size_t{info.n_ff_exp} * both.row_bytes;
        experts.gate.push_back(gate);
        experts.up.push_back(up);
    }
    return {};
}

// A bias of GGML shape `expected` (1-D or 2-D), converted to float32.
Result<std::vector<float>> read_bias(const GgufFile& file, const std::string& name,
                                     const std::vector<uint64_t>& expected) {
    const GgufTensorInfo* tensor = file.find_tensor(name);
    if (!tensor) {
        return fail(ErrorCode::bad_format, fmt::format("tensor '{}' is missing", name));
    }
    if (tensor->dims != expected) {
        return fail(ErrorCode::bad_format,
                    fmt::format("tensor '{}' has shape {}, expected {}", name,
                                dims_text(tensor->dims), dims_text(expected)));
    }
    return file.read_tensor_f32(*tensor);
}

Result<void> bind_biases(const GgufFile& file, const ModelInfo& info, const std::string& prefix,
                         ExpertWeights& experts) {
    const std::pair<std::vector<float>*, std::pair<const char*, std::vector<uint64_t>>> biases[] = {
        {&experts.router_bias, {"ffn_gate_inp.bias", {info.n_expert}}},
        {&experts.gate_bias, {"ffn_gate_exps.bias", {info.n_ff_exp, info.n_expert}}},
        {&experts.up_bias, {"ffn_up_exps.bias", {info.n_ff_exp, info.n_expert}}},
        {&experts.down_bias, {"ffn_down_exps.bias", {info.n_embd, info.n_expert}}},
    };
    for (const auto& [target, spec] : biases) {
        auto bias = read_bias(file, prefix + spec.first, spec.second);
        if (!bias) {
            return std::unexpected(bias.error());
        }
        *target = std::move(*bias);
    }
    return {};
}

// ffn_down_exps.scale, when the file has it: one finite factor per expert, multiplying that
// expert's down projection (llama.cpp's build_lora_mm_id with a scale).
Result<void> bind_down_scale(const GgufFile& file, const ModelInfo& info, const std::string& prefix,
                             ExpertWeights& experts) {
    const std::string name = prefix + "ffn_down_exps.scale";
    if (!file.find_tensor(name)) {
        return {};
    }
    auto scale = read_bias(file, name, {info.n_expert});
    if (!scale) {
        return std::unexpected(scale.error());
    }
    if (!std::ranges::all_of(*scale, [](float s) { return std::isfinite(s); })) {
        return fail(ErrorCode::bad_format,
                    fmt::format("tensor '{}' must hold finite factors", name));
    }
    experts.down_scale = std::move(*scale);
    return {};
}

} // namespace

uint64_t ExpertWeights::bytes_per_expert() const {
    if (empty()) {
        return 0;
    }
    auto bytes = [](const cpu::WeightMatrix& w) { return uint64_t(w.n_rows) * w.row_bytes; };
    return bytes(gate[0]) + bytes(up[0]) + bytes(down[0]);
}

Result<void> check_expert_hparams(const ModelInfo& info, const ArchTraits& traits) {
    const std::string arch = info.architecture + ".";
    if (info.n_expert == 0) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}expert_count is missing or 0: a {} model routes every token to "
                                "experts",
                                arch, info.architecture));
    }
    // read_model_info keeps 1 <= n_expert_used <= n_expert <= kMaxExperts.
    if (info.n_ff_exp == 0) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}expert_feed_forward_length is missing or 0, and {}"
                                "feed_forward_length does not give the experts' width",
                                arch, arch));
    }
    if (traits.shared_expert && info.n_ff_shexp == 0) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}expert_shared_feed_forward_length is missing or 0, and {}"
                                "feed_forward_length does not give the shared expert's width",
                                arch, arch));
    }
    return {};
}

Result<ExpertWeights> bind_experts(const GgufFile& file, const ModelInfo& info,
                                   const std::string& prefix, bool biases, bool shared) {
    ExpertWeights experts;
    auto router = bind_matrix(file, prefix + "ffn_gate_inp.weight", info.n_embd, info.n_expert);
    if (!router) {
        return std::unexpected(router.error());
    }
    experts.router = *router;
    if (auto bound = bind_gate_up(file, info, prefix, experts); !bound) {
        return std::unexpected(bound.error());
    }
    auto down = bind_expert_matrices(file, prefix + "ffn_down_exps.weight", info.n_ff_exp,
                                     info.n_embd, info.n_expert);
    if (!down) {
        return std::unexpected(down.error());
    }
    experts.down = std::move(*down);
    if (auto bound = bind_down_scale(file, info, prefix, experts); !bound) {
        return std::unexpected(bound.error());
    }
    // ffn_gate_exps.scale and ffn_up_exps.scale are refused by check_weight_scales (model.cpp).
    if (biases) {
        if (auto bound = bind_biases(file, info, prefix, experts); !bound) {
            return std::unexpected(bound.error());
        }
    }
    if (shared) {
        if (auto bound = bind_shared_expert(file, info, prefix, experts); !bound) {
            return std::unexpected(bound.error());
        }
    }
    return experts;
}

} // namespace hearth
