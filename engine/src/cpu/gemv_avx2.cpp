// The AVX2 single-token kernels (kernels.h's gemv_avx2 and gemv_tinyblas_avx2): one call takes a
// chunk's rows, so that rows can share activation loads and scale conversions, each row with the
// bits of the type's per-row AVX2 kernel. Types without such a kernel return nullptr and
// matmul() keeps the per-row kernel.
#include "cpu/kernels.h"

namespace hearth::cpu {

GemvFn gemv_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_1:
        return gemv_q4_1_avx2();
    case TensorType::Q5_K:
        return gemv_q5_k_avx2();
    case TensorType::Q6_K:
        return gemv_q6_k_avx2();
    case TensorType::BF16:
        return gemv_bf16_avx2();
    default:
        return gemv_block32_avx2(weight_type);
    }
}

GemvFn gemv_tinyblas_avx2(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::F16:
        return gemv_tinyblas_f16_avx2();
    default:
        return nullptr;
    }
}

} // namespace hearth::cpu
