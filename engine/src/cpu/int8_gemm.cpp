// The int8 prefill path's driver (activation quantization, per-group conversion, threading)
// and its portable kernel, which is also the scalar reference the AVX2 kernel must match bit
// for bit.
//
// Memory: the weights are converted 8 rows at a time into a per-thread buffer just before the
// kernel reads them (n_cols / 32 * 384 bytes per group: 66 KiB for a 5632-wide row, 4 groups
// kept at a time, and int8_convert_group's 8 rows of integers, 1.5 bytes per value), so no int8
// copy of the model is kept; each weight is converted once per matmul and used by every token
// of it.
//
// Only the avx2 level takes this path: the portable kernel is the tests' scalar reference (one
// std::fma per term, bit for bit the vector kernels) and slower than the portable exact ones.
#include "cpu/int8_gemm.h"

#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/thread_pool.h"
#include "hearth/prefill_numerics.h"
#include "hearth/quant.h"
#include "quant/blocks.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hearth::cpu {
namespace {

// Cache blocking: kPanelGroups groups are converted together (4 × 66 KiB at the widest
// TinyLlama row) and run against kTokenChunk tokens at a time (64 × 5632 bytes), so both stay
// in L2 while each converted weight is still used by every token.
constexpr int64_t kPanelGroups = 4;
constexpr int64_t kTokenChunk = 64;

// The activation arrays of one matmul, per calling thread so prompt batches do not allocate.
struct ActivationBuffers {
    std::vector<int8_t> qs;
    std::vector<float> d;
    std::vector<float> neg_dsum32;
    std::vector<float> neg_dsum16;
    std::vector<int32_t> sum32;
};

// Part `part` of `n_parts` of the bytes [begin, end), prefetched into the cache: the weights
// of a thread's next panel, spread over the current panel's token chunks, so their conversion
// reads the cache instead of waiting on memory (it did: 70% of the F16 conversion's samples
// sat on its loads, each 4 KiB row a fresh page for the hardware prefetcher; docs/PERFORMANCE.md,
// "Float fast prefill on AVX2").
void prefetch_part(const uint8_t* begin, const uint8_t* end, int64_t part, int64_t n_parts) {
    constexpr int64_t kLine = 64;
    const int64_t size = end - begin;
    for (int64_t i = size * part / n_parts / kLine * kLine; i < size * (part + 1) / n_parts;
         i += kLine) {
        __builtin_prefetch(begin + i, 0, 2);
    }
}

void quantize_token(const float* x, int64_t n_cols, int8_t* qs, float* d, float* neg_dsum32,
                    float* neg_dsum16, int32_t* sum32) {
    thread_local std::vector<quant::BlockQ8_0> blocks;
    const int64_t n_blocks = n_cols / kInt8Block;
    blocks.resize(static_cast<size_t>(n_blocks));
    quantize_row_q8_0(x, blocks.data(), n_cols);
    for (int64_t b = 0; b < n_blocks; ++b) {
        const quant::BlockQ8_0& blk = blocks[static_cast<size_t>(b)];
        const float scale = fp16_to_fp32(blk.d);
        int sums[2] = {0, 0};
        for (int i = 0; i < 32; ++i) {
            qs[32 * b + i] = blk.qs[i];
            sums[i / 16] += blk.qs[i];
        }
        d[b] = scale;
        neg_dsum32[b] = -(scale * static_cast<float>(sums[0] + sums[1]));
        neg_dsum16[2 * b] = -(scale * static_cast<float>(sums[0]));
        neg_dsum16[2 * b + 1] = -(scale * static_cast<float>(sums[1]));
        sum32[b] = sums[0] + sums[1];
    }
}

// The avx2 level's kernels, fastest first: the VNNI ones where the CPU has them, AVX512-VNNI's
// first (its 512-bit tile of 16 rows: 1.4-1.6× the 256-bit one per CPU second on the Xeon,
// docs/PERFORMANCE.md, "A 512-bit int8 tile for AVX-512 CPUs").
std::vector<Int8Kernel> avx2_family() {
    std::vector<Int8Kernel> kernels;
    if (cpu_has_avx512_vnni()) {
        kernels.push_back({"avx512vnni", &int8_gemm_avx512vnni});
    }
    if (cpu_has_avx_vnni()) {
        kernels.push_back({"avxvnni", &int8_gemm_avxvnni});
    }
    kernels.push_back({"avx2", &int8_gemm_avx2});
    return kernels;
}

const Int8Kernel& best_avx2_kernel() {
    // Found once: matmul() asks for every prompt batch.
    static const Int8Kernel best = avx2_family().front();
    return best;
}

Int8GemmFn best_kernel() {
    return kernel_level() == KernelLevel::avx2 ? best_avx2_kernel().fn : &int8_gemm_portable;
}

} // namespace

std::vector<Int8Kernel> int8_gemm_kernels() {
    std::vector<Int8Kernel> kernels;
    if (kernel_level() == KernelLevel::avx2) {
        kernels = avx2_family();
    }
    kernels.push_back({"portable", &int8_gemm_portable});
    return kernels;
}

void int8_gemm_portable(int64_t n_blocks, const BlockInt8x8* group, const Int8Activations& x,
                        int64_t n_tok, Int8Format format, float* y, int64_t y_stride, int n_rows) {
    const int n_segments = int8_format_segments(format);
    const bool half_scales = n_segments == 2;
    const int seg_values = kInt8Block / n_segments;
    for (int64_t t = 0; t < n_tok; ++t) {
        const int8_t* xq = x.qs + t * x.qs_stride;
        const float* xd = x.d + t * x.d_stride;
        for (int row = 0; row < n_rows; ++row) {
            const BlockInt8x8* blocks = group + row / kInt8Rows * n_blocks;
            const int r = row % static_cast<int>(kInt8Rows);
            float acc = 0.0f;
            for (int64_t b = 0; b < n_blocks; ++b) {
                const BlockInt8x8& blk = blocks[b];
                for (int h = 0; h < n_segments; ++h) {
                    int32_t isum = 0;
                    for (int k = h * seg_values; k < (h + 1) * seg_values; ++k) {
                        isum += static_cast<int32_t>(blk.qs[32 * (k / 4) + 4 * r + k % 4]) *
                                xq[32 * b + k];
                    }
                    const float neg_dsum = half_scales
                                               ? x.neg_dsum16[t * 2 * x.d_stride + 2 * b + h]
                                               : x.neg_dsum32[t * x.d_stride + b];
                    acc = std::fma(blk.scale[h][r] * xd[b], static_cast<float>(isum), acc);
                    acc = std::fma(blk.min[h][r], neg_dsum, acc);
                }
            }
            y[t * y_stride + row] = acc;
        }
    }
}

bool use_int8_gemm(const WeightMatrix& w, int64_t n_tokens, MatmulOp op) {
    // Q8_0 takes this path on AVX2-only CPUs too since the AVX2 kernel keeps its sums in
    // registers: 1.44-1.50× the exact tiled Q8_0 kernel per CPU second (it was 0.94-1.04×;
    // docs/PERFORMANCE.md, "The AVX2 int8 kernel without spills").
    // F32 matrices in GGUF files are the MoE routers (ffn_gate_inp) and the odd small head: a
    // few MiB, where 8-bit weights would buy nothing measurable and could flip an expert choice
    // at a near-tie. They keep the exact kernel.
    const bool router = w.type == TensorType::F32;
    // Where the AVX-512 exact kernels run, they match or beat this path on packed Q4_0/Q4_K
    // (repack_batch_avx512.cpp: 208-307 GOP/s per CPU second against 156-187 with the 256-bit
    // int8 tile, about even with the 512-bit one), so fast numerics keep the exact kernel there
    // (docs/PERFORMANCE.md, "The idle table, session 13"). Q6_K takes this path since the
    // 512-bit tile (docs/PERFORMANCE.md, "A 512-bit int8 tile for AVX-512 CPUs").
    const bool packed_q4 =
        w.packed != nullptr && (w.type == TensorType::Q4_0 || w.type == TensorType::Q4_K);
    const bool exact_faster = avx512_kernels_enabled() && packed_q4;
    return op == MatmulOp::mul_mat && n_tokens >= kInt8MinTokens &&
           kernel_level() == KernelLevel::avx2 && prefill_numerics() == PrefillNumerics::fast &&
           int8_gemm_supported(w.type) && w.n_cols % kInt8Block == 0 && !router && !exact_faster;
}

void matmul_int8(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool, Int8GemmFn kernel) {
    const int64_t n_cols = w.n_cols;
    const int64_t n_blocks = n_cols / kInt8Block;
    // Pool threads must see this thread's buffers: use them through a plain reference.
    thread_local ActivationBuffers buffers;
    ActivationBuffers& act = buffers;
    act.qs.resize(static_cast<size_t>(n_tokens * n_cols));
    act.d.resize(static_cast<size_t>(n_tokens * n_blocks));
    act.neg_dsum32.resize(static_cast<size_t>(n_tokens * n_blocks));
    act.neg_dsum16.resize(static_cast<size_t>(n_tokens * 2 * n_blocks));
    act.sum32.resize(static_cast<size_t>(n_tokens * n_blocks));
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            quantize_token(x + t * x_stride, n_cols, act.qs.data() + t * n_cols,
                           act.d.data() + t * n_blocks, act.neg_dsum32.data() + t * n_blocks,
                           act.neg_dsum16.data() + t * 2 * n_blocks,
                           act.sum32.data() + t * n_blocks);
        }
    });
    const Int8Activations acts{act.qs.data(),
                               static_cast<size_t>(n_cols),
                               act.d.data(),
                               act.neg_dsum32.data(),
                               act.neg_dsum16.data(),
                               act.sum32.data(),
                               n_blocks};
    if (kernel == nullptr) {
        kernel = best_kernel();
    }
    const Int8Format format = int8_gemm_format(w.type);
    // Threads take whole kernel calls (pairs of groups), so only the matrix's last call is short.
    const int64_t n_calls = (w.n_rows + kInt8CallRows - 1) / kInt8CallRows;
    constexpr int64_t kGroupsPerCall = kInt8CallRows / kInt8Rows;
    constexpr int64_t kPanelCalls = kPanelGroups / kGroupsPerCall;
    static_assert(kPanelGroups % kGroupsPerCall == 0);
    pool.parallel_for(n_calls, 1, [&](int64_t c0, int64_t c1) {
        thread_local std::vector<BlockInt8x8> panel;
        panel.resize(static_cast<size_t>(kPanelGroups * n_blocks));
        for (int64_t pc = c0; pc < c1; pc += kPanelCalls) {
            // Groups [p0, p1) of the matrix: those with a row below w.n_rows.
            const int64_t p0 = pc * kGroupsPerCall;
            const int64_t p1 = std::min({std::min(c1, pc + kPanelCalls) * kGroupsPerCall,
                                         (w.n_rows + kInt8Rows - 1) / kInt8Rows});
            for (int64_t g = p0; g < p1; ++g) {
                int8_convert_group(w, g * kInt8Rows, panel.data() + (g - p0) * n_blocks);
            }
            // The rows of this thread's next panel (none after its last).
            const int64_t next_row0 = std::min(p1 * kInt8Rows, w.n_rows);
            const int64_t next_row1 = std::min(
                (std::min(c1, pc + 2 * kPanelCalls) * kGroupsPerCall) * kInt8Rows, w.n_rows);
            const auto* rows = static_cast<const uint8_t*>(w.data);
            const int64_t n_chunks = (n_tokens + kTokenChunk - 1) / kTokenChunk;
            for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
                const int64_t n_tok = std::min(kTokenChunk, n_tokens - t0);
                prefetch_part(rows + next_row0 * static_cast<int64_t>(w.row_bytes),
                              rows + std::max(next_row0, next_row1) *
                                         static_cast<int64_t>(w.row_bytes),
                              t0 / kTokenChunk, n_chunks);
                const Int8Activations chunk{acts.qs + t0 * acts.qs_stride,
                                            acts.qs_stride,
                                            acts.d + t0 * n_blocks,
                                            acts.neg_dsum32 + t0 * n_blocks,
                                            acts.neg_dsum16 + t0 * 2 * n_blocks,
                                            acts.sum32 + t0 * n_blocks,
                                            n_blocks};
                for (int64_t g = p0; g < p1; g += kGroupsPerCall) {
                    const int64_t row0 = g * kInt8Rows;
                    const auto n_rows = static_cast<int>(std::min(kInt8CallRows, w.n_rows - row0));
                    kernel(n_blocks, panel.data() + (g - p0) * n_blocks, chunk, n_tok, format,
                           y + t0 * y_stride + row0, y_stride, n_rows);
                }
            }
        }
    });
}

} // namespace hearth::cpu
