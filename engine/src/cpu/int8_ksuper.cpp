// The int8 path's super-block layout for the K-quants (int8_ksuper.h): the driver (Q8_K
// activations, per-group conversion, threading) and the portable kernel, which defines the bits
// every ISA kernel must give.
//
// Memory: the activations (292 bytes per 256 values and token) and the converted panels
// (int8_panels.h) live for one matmul only.
#include "cpu/int8_ksuper.h"

#include "cpu/cpu_features.h"
#include "cpu/int8_panels.h"
#include "cpu/kernels.h"
#include "cpu/thread_pool.h"

#include <cmath>
#include <vector>

namespace hearth::cpu {

void int8_ksuper_portable(int64_t n_super, const BlockKSuper8* group, const KSuperActivations& x,
                          int64_t n_tok, int /*max_q*/, float* y, int64_t y_stride, int n_rows) {
    for (int64_t t = 0; t < n_tok; ++t) {
        const quant::BlockQ8_K* xt = x.x + t * x.stride;
        for (int row = 0; row < n_rows; ++row) {
            const BlockKSuper8* blocks = group + row / kInt8Rows * n_super;
            const int r = row % static_cast<int>(kInt8Rows);
            float acc = 0.0f;
            for (int64_t b = 0; b < n_super; ++b) {
                const BlockKSuper8& blk = blocks[b];
                const quant::BlockQ8_K& xb = xt[b];
                int32_t isum = 0;
                int32_t imin = 0;
                for (int s = 0; s < kKSubBlocks; ++s) {
                    int32_t dot = 0;
                    for (int k = 16 * s; k < 16 * s + 16; ++k) {
                        dot +=
                            static_cast<int32_t>(blk.qs[32 * (k / 4) + 4 * r + k % 4]) * xb.qs[k];
                    }
                    isum += blk.scale[s][r][0] * dot;
                    imin += blk.neg_min[s / 2][r][s % 2] * xb.bsums[s];
                }
                acc = std::fma(blk.d[r] * xb.d, static_cast<float>(isum), acc);
                acc = std::fma(blk.dmin[r] * xb.d, static_cast<float>(imin), acc);
            }
            y[t * y_stride + row] = acc;
        }
    }
}

KSuperGemmFn int8_ksuper_kernel_for(Int8GemmFn kernel) {
    if (kernel == nullptr) {
        if (kernel_level() != KernelLevel::avx2) {
            return &int8_ksuper_portable;
        }
        // The int8 path's own preference order (int8_gemm_kernels()).
        kernel = int8_gemm_kernels().front().fn;
    }
    if (kernel == &int8_gemm_avx512vnni) {
        return &int8_ksuper_avx512vnni;
    }
    if (kernel == &int8_gemm_avxvnni) {
        return &int8_ksuper_avxvnni;
    }
    if (kernel == &int8_gemm_avx2) {
        return &int8_ksuper_avx2;
    }
    return &int8_ksuper_portable;
}

void matmul_ksuper(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                   float* y, int64_t y_stride, ThreadPool& pool, KSuperGemmFn kernel) {
    const int64_t n_super = w.n_cols / kKSuper;
    std::vector<quant::BlockQ8_K> act(static_cast<size_t>(n_tokens * n_super));
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            quantize_row_q8_K(x + t * x_stride, act.data() + t * n_super, w.n_cols);
        }
    });
    const int max_q = int8_ksuper_max_q(w.type);
    int8_for_each_call<BlockKSuper8>(
        w, n_super, n_tokens, pool,
        [&](int64_t row0, BlockKSuper8* out) { int8_ksuper_convert_group(w, row0, out); },
        [&](const BlockKSuper8* groups, int64_t t0, int64_t n_tok, int64_t row0, int n_rows) {
            const KSuperActivations chunk{act.data() + t0 * n_super, n_super};
            kernel(n_super, groups, chunk, n_tok, max_q, y + t0 * y_stride + row0, y_stride,
                   n_rows);
        });
}

} // namespace hearth::cpu
