// qwen35moe's shared expert in the CUDA forward's step and prefill chunks, after the routed
// experts have written their sum to `out` (cuda_experts.h), in the order of the CPU's
// add_shared_expert (cpu/moe_shared_expert.cpp), on the rows' feed-forward input b.h:
//   u = W_up,sh h;  g = W_gate,sh h;  g = swiglu(g, u);  s = W_down,sh g     (n_ff_shexp wide)
//   w = W_gate_inp,sh h  (one logit a row);  out += s * sigmoid(w)
// The products are the caller's (the step's matrix-vector kernels, or prefill's cuBLAS), as
// the dense feed-forward's are, so that prompts and decoded tokens use the same operations.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_forward_impl.h"
#include "glu.cuh"
#include "moe_shared.cuh"

namespace hearth::cuda_detail {

Result<void> CudaForwardImpl::enqueue_shared_expert(const DeviceExperts& e, const StepBuffers& b,
                                                    int n, float* out, const MatmulFn& matmul) {
    const int64_t n_embd = m_.info.n_embd;
    const int64_t n_ff = e.shared_gate.n_rows;
    const MoeBuffers& B = b.moe;
    // Each operation only after the one before it succeeded.
    auto ok = matmul(e.shared_up, b.h, n_embd, B.shared_up, n_ff, "ffn_up_shexp");
    if (ok) {
        ok = matmul(e.shared_gate, b.h, n_embd, B.shared_gate, n_ff, "ffn_gate_shexp");
    }
    if (ok) {
        ok = check(kernels::launch_glu(glu_, B.shared_gate, B.shared_up, B.shared_gate,
                                       int64_t(n) * n_ff, stream_),
                   "glu(shared expert)");
    }
    if (ok) {
        ok = matmul(e.shared_down, B.shared_gate, n_ff, B.shared_out, n_embd, "ffn_down_shexp");
    }
    if (ok) {
        ok = matmul(e.shared_gate_inp, b.h, n_embd, B.shared_weight, 1, "ffn_gate_inp_shexp");
    }
    if (ok) {
        ok = check(kernels::launch_add_gated_shared_expert(B.shared_out, n_embd, B.shared_weight, n,
                                                           n_embd, out, n_embd, stream_),
                   "add_gated_shared_expert");
    }
    return ok;
}

} // namespace hearth::cuda_detail
