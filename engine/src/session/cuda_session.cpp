// See cuda_session.h.
#include "session/cuda_session.h"

#include "hearth/cuda_device.h"

#include <fmt/format.h>
#include <vector>

namespace hearth::cuda_session {

Result<std::shared_ptr<CudaForward>> create_forward(const Model& model,
                                                    const SessionOptions& options, uint32_t n_seq) {
    if (!cuda_backend_available()) {
        return fail(ErrorCode::device, "this build of Hearth has no CUDA backend (built without "
                                       "CUDA): run on the CPU, or rebuild with -DHEARTH_CUDA=ON");
    }
    if (options.kv_type != KvCacheType::f16) {
        return fail(ErrorCode::unsupported,
                    fmt::format("the CUDA backend keeps an F16 KV cache; a {} cache runs on the "
                                "CPU only",
                                kv_cache_type_name(options.kv_type)));
    }
    // Asked first so that a machine without a GPU gets the runtime's reason, not a failed
    // cudaSetDevice.
    auto devices = list_cuda_devices();
    if (!devices) {
        return fail(ErrorCode::device, fmt::format("cannot run on CUDA device {}: {}",
                                                   options.cuda_device, devices.error().message));
    }
    if (options.cuda_device < 0 || size_t(options.cuda_device) >= devices->size()) {
        return fail(ErrorCode::device,
                    devices->empty()
                        ? std::string("cannot run on CUDA: no CUDA device found")
                        : fmt::format("there is no CUDA device {}: this machine has {} (0..{})",
                                      options.cuda_device, devices->size(), devices->size() - 1));
    }
    auto forward = CudaForward::create(model, {.n_ctx = options.n_ctx,
                                               .n_seq = n_seq,
                                               .device = options.cuda_device,
                                               .use_graphs = true,
                                               .gpu_layers = options.gpu_layers});
    if (!forward) {
        return std::unexpected(forward.error());
    }
    return std::shared_ptr<CudaForward>(std::move(*forward));
}

uint32_t rewind_recurrent_state(Session::Impl& s, uint32_t wanted) {
    if (!s.cuda) {
        return s.state.rewind(wanted);
    }
    // The device keeps no checkpoint (yet): its state stays only where it stands.
    const std::optional<uint32_t> at = s.cuda->forward->recurrent_position(s.cuda->seq);
    return !at || *at == wanted ? wanted : 0;
}

Result<void> run(Session::Impl& s, std::span<const int32_t> sequence, size_t start, size_t end,
                 bool all_logits, float* logits) {
    std::vector<CudaBatchToken> batch;
    batch.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
        batch.push_back({.token = sequence[i],
                         .pos = static_cast<uint32_t>(i),
                         .seq = s.cuda->seq,
                         .want_logits = all_logits || i + 1 == sequence.size()});
    }
    return s.cuda->forward->run(batch, logits);
}

} // namespace hearth::cuda_session
