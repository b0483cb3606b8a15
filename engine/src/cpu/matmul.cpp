// Matrix products over quantized weights: activation quantization, kernel choice, tiling and
// threading. The per-type arithmetic lives in vec_dot_*.cpp.
//
// Y[t][r] = sum_c W[r][c] * X[t][c]. Rows are handed to threads in chunks; within a chunk,
// tokens are taken kTokenTile at a time and each weight row is run against the tile in groups
// of kMaxTokens (the AVX2 kernels of the 32-value formats unpack a weight block once per group),
// so a weight row is read from memory once per tile while the tile's activations stay in L2.
#include "cpu/matmul.h"

#include "cpu/activation_observer.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm_block32.h"
#include "cpu/gemm_float.h"
#include "cpu/gemm_q5_k.h"
#include "cpu/gemm_q6_k.h"
#include "cpu/int8_gemm.h"
#include "cpu/kernels.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace hearth::cpu {
namespace {

using namespace quant;

constexpr int64_t kTokenTile = 32;
// Fewest rows per chunk: below this a chunk's hand-out costs more than its arithmetic.
constexpr int64_t kMinRowsPerChunk = 16;

// Rows (or packed items) [0, n) over the pool. One token's in tapered chunks: a decode step's
// regions last microseconds, and parallel_for's even chunks leave one thread waiting for the
// other's last chunk. A batch's in even chunks (the tiles want whole multiples of their rows).
// Each row's result does not depend on the chunk that holds it, so the bits are the same.
void for_rows(ThreadPool& pool, int64_t n_tokens, int64_t n, int64_t grain,
              const std::function<void(int64_t, int64_t)>& fn) {
    if (n_tokens == 1) {
        pool.parallel_for_tapered(n, grain, fn);
    } else {
        pool.parallel_for(n, grain, fn);
    }
}

// The AVX-512 single-token kernels (kernels.h's gemv_avx512, repack.h's gemv_*_avx512).
bool use_avx512_gemv() {
    return kernel_level() == KernelLevel::avx2 && avx512_kernels_enabled();
}

VecDotFn select_kernel(TensorType type) {
    if (kernel_level() == KernelLevel::avx2) {
        if (VecDotFn fn = vec_dot_avx2(type)) {
            return fn;
        }
    }
    return vec_dot_portable(type);
}

// The kernel for this shape. At the avx2 level, ggml hands F32 and F16 batches of two or more
// tokens to llamafile_sgemm, whose tinyBLAS (AVX2: 8-float vectors, 16 registers) takes them
// when k % 8 == 0 and m % 4 == 0 and sums each output in one FMA accumulator, and single tokens
// to vec_dot (four accumulators). Hearth takes tinyBLAS's order for every token count: a
// token's products must not depend on how many tokens share its pass (the scheduler mixes one
// request's prompt with the others' next tokens), so batches match llama.cpp to the bit and a
// lone token differs from its vec_dot in the last bits, as before.
VecDotFn select_kernel(const WeightMatrix& w, int64_t /*n_tokens*/, MatmulOp op) {
    if (op == MatmulOp::mul_mat && w.n_cols % 8 == 0 && w.n_rows % 4 == 0 &&
        kernel_level() == KernelLevel::avx2) {
        if (VecDotFn fn = vec_dot_tinyblas_avx2(w.type)) {
            return fn;
        }
    }
    return select_kernel(w.type);
}

// A matmul() call's operands, and where its activations go (act_bytes per token).
struct MatmulOperands {
    const WeightMatrix& w;
    const float* x;
    int64_t n_tokens;
    int64_t x_stride;
    float* y;
    int64_t y_stride;
    uint8_t* act;
    size_t act_bytes;
};

// One matmul() over a matrix with an 8-row packed copy (Q4_0, Q4_K at the avx2 level): groups
// of 8 rows through the packed kernel, the rows past the last full group through the per-row
// one. Its items are the groups, then the tail rows one by one.
struct PackedJob : MatmulOperands {
    bool q4_0;
    int64_t n_blocks;
    // Q4_0: 8 × each activation block's sum, for the unsigned-nibble products of the kernel
    // (Q8_K carries its own sums): n_tokens × n_blocks.
    int32_t* block_sums;
    int64_t n_groups;
    int64_t n_tail;
    size_t group_bytes;
    VecDotFn row_kernel;
    bool gemv;     // one token with the AVX-512 kernels: a chunk's groups in one call (same bits)
    bool batch512; // batches with them: a chunk's groups per token tile in one call (same bits)

    int64_t n_items() const { return n_groups + n_tail; }
};

// Whether matmul() runs w through its 8-row packed copy (matmul_group's parts too).
bool uses_packed_rows(const WeightMatrix& w) {
    return w.packed && repack_supported(w.type);
}

// `sums` holds the Q4_0 block sums (resized here).
PackedJob packed_job(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                     float* y, int64_t y_stride, uint8_t* act, std::vector<int32_t>& sums) {
    PackedJob job{
        {w, x, n_tokens, x_stride, y, y_stride, act, activation_row_bytes(w.type, w.n_cols)},
        w.type == TensorType::Q4_0,
        w.n_cols / QK8_0,
        nullptr,
        w.n_rows / kPackRows,
        w.n_rows % kPackRows,
        repacked_bytes(w.type, kPackRows, w.n_cols),
        select_kernel(w.type),
        n_tokens == 1 && use_avx512_gemv(),
        n_tokens > 1 && use_avx512_gemv()};
    if (job.q4_0) {
        sums.resize(static_cast<size_t>(n_tokens * job.n_blocks));
        job.block_sums = sums.data();
    }
    return job;
}

// Activation rows t0..t1 to Q8_0 / Q8_K, with Q4_0's block sums.
void quantize_packed(const PackedJob& job, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
        uint8_t* act = job.act + t * job.act_bytes;
        quantize_activation_row(job.w.type, job.x + t * job.x_stride, act, job.w.n_cols);
        if (job.q4_0) {
            q8_0_block_sums_x8(act, job.block_sums + t * job.n_blocks, job.n_blocks);
        }
    }
}

// Items i0..i1 (groups, then tail rows) against every token. Same tiling as run_rows below.
void run_packed(const PackedJob& job, int64_t i0, int64_t i1) {
    const WeightMatrix& w = job.w;
    const auto* packed = static_cast<const uint8_t*>(w.packed);
    const auto* rows = static_cast<const uint8_t*>(w.data);
    const uint8_t* act = job.act;
    const size_t act_bytes = job.act_bytes;
    if (job.gemv && i0 < job.n_groups) {
        const int64_t g1 = std::min(i1, job.n_groups);
        const uint8_t* first = packed + static_cast<size_t>(i0) * job.group_bytes;
        float* out = job.y + i0 * kPackRows;
        if (job.q4_0) {
            gemv_q4_0_x8_avx512(w.n_cols, first, g1 - i0, act, job.block_sums, out);
        } else {
            gemv_q4_k_x8_avx512(w.n_cols, first, g1 - i0, act, out);
        }
        i0 = g1;
    }
    if (job.batch512 && i0 < job.n_groups) {
        const int64_t g1 = std::min(i1, job.n_groups);
        const uint8_t* first = packed + static_cast<size_t>(i0) * job.group_bytes;
        for (int64_t t0 = 0; t0 < job.n_tokens; t0 += kTokenTile) {
            const int n_tok = static_cast<int>(std::min(job.n_tokens - t0, kTokenTile));
            float* out = job.y + t0 * job.y_stride + i0 * kPackRows;
            if (job.q4_0) {
                gemm_q4_0_x8_avx512(w.n_cols, first, g1 - i0, act + t0 * act_bytes, act_bytes,
                                    job.block_sums + t0 * job.n_blocks, job.n_blocks, n_tok, out,
                                    job.y_stride);
            } else {
                gemm_q4_k_x8_avx512(w.n_cols, first, g1 - i0, act + t0 * act_bytes, act_bytes,
                                    n_tok, out, job.y_stride);
            }
        }
        i0 = g1;
    }
    for (int64_t t0 = 0; t0 < job.n_tokens; t0 += kTokenTile) {
        const int64_t t1 = std::min(job.n_tokens, t0 + kTokenTile);
        const int n_tok = static_cast<int>(t1 - t0);
        for (int64_t i = i0; i < i1; ++i) {
            if (i < job.n_groups) {
                const uint8_t* group = packed + static_cast<size_t>(i) * job.group_bytes;
                float* out = job.y + t0 * job.y_stride + i * kPackRows;
                if (job.q4_0) {
                    gemm_q4_0_x8(w.n_cols, group, act + t0 * act_bytes, act_bytes,
                                 job.block_sums + t0 * job.n_blocks, job.n_blocks, out,
                                 job.y_stride, n_tok);
                } else {
                    gemm_q4_k_x8(w.n_cols, group, act + t0 * act_bytes, act_bytes, out,
                                 job.y_stride, n_tok);
                }
                continue;
            }
            const int64_t r = job.n_groups * kPackRows + (i - job.n_groups);
            const void* row = rows + static_cast<size_t>(r) * w.row_bytes;
            for (int64_t t = t0; t < t1; t += kMaxTokens) {
                const int n = static_cast<int>(std::min<int64_t>(kMaxTokens, t1 - t));
                job.row_kernel(w.n_cols, row, act + t * act_bytes, act_bytes,
                               job.y + t * job.y_stride + r, job.y_stride, n);
            }
        }
    }
}

void matmul_packed(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride,
                   float* y, int64_t y_stride, void* scratch, ThreadPool& pool) {
    // Kept per calling thread so decode steps do not allocate.
    thread_local std::vector<int32_t> sums;
    const PackedJob job =
        packed_job(w, x, n_tokens, x_stride, y, y_stride, static_cast<uint8_t*>(scratch), sums);
    if (n_tokens == 1) {
        quantize_packed(job, 0, 1);
    } else {
        pool.parallel_for(n_tokens, 1,
                          [&job](int64_t t0, int64_t t1) { quantize_packed(job, t0, t1); });
    }
    for_rows(pool, n_tokens, job.n_items(), kMinRowsPerChunk / kPackRows,
             [&job](int64_t i0, int64_t i1) { run_packed(job, i0, i1); });
}

} // namespace

bool matmul_supports(TensorType type) {
    return vec_dot_portable(type) != nullptr;
}

TensorType dot_type(TensorType weight_type) {
    switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
    case TensorType::IQ4_NL:
    case TensorType::MXFP4:
    case TensorType::NVFP4:
        return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
        return TensorType::Q8_1;
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::IQ4_XS:
    case TensorType::TQ1_0:
    case TensorType::TQ2_0:
    case TensorType::IQ2_XXS:
    case TensorType::IQ2_XS:
    case TensorType::IQ2_S:
    case TensorType::IQ3_XXS:
    case TensorType::IQ3_S:
    case TensorType::IQ1_S:
    case TensorType::IQ1_M:
        return TensorType::Q8_K;
    case TensorType::F16:
        return TensorType::F16;
    case TensorType::BF16:
        return TensorType::BF16;
    default:
        return TensorType::F32;
    }
}

size_t activation_row_bytes(TensorType weight_type, int64_t n_cols) {
    const auto n = static_cast<size_t>(n_cols);
    switch (dot_type(weight_type)) {
    case TensorType::Q8_0:
        return n / QK8_0 * sizeof(BlockQ8_0);
    case TensorType::Q8_1:
        return n / QK8_0 * sizeof(BlockQ8_1);
    case TensorType::Q8_K:
        return n / QK_K * sizeof(BlockQ8_K);
    case TensorType::F16:
    case TensorType::BF16:
        return n * sizeof(uint16_t);
    default:
        return n * sizeof(float);
    }
}

namespace {
std::atomic<ActivationObserver*> g_activation_observer{nullptr};
} // namespace

void set_activation_observer(ActivationObserver* observer) {
    g_activation_observer.store(observer, std::memory_order_release);
}

namespace {

// One matmul() call over the plain rows: its buffers and the kernels chosen for its shape.
struct RowJob : MatmulOperands {
    VecDotFn kernel;
    VecDotScaledFn scaled_kernel = nullptr;
    float* scales = nullptr;
    int64_t scales_stride = 0;
    // Batch kernels (at most one is set; see choose_batch_kernels).
    bool block32_tiles = false;
    decltype(&gemm_block32_avx2) block32_gemm = gemm_block32_avx2;
    decltype(&gemm_q5_k_avx2) q5_k_gemm = nullptr;
    GemmQ6KFn q6_k_tiles = nullptr;
    GemmFloatFn float_tiles = nullptr;
    float* xf = nullptr;
    // One token with the AVX-512 kernels: a chunk's rows in one call (same bits).
    GemvFn gemv = nullptr;
};

// The register-tiled batch kernels at the avx2 level, each with the per-row kernel's bits; the
// buffers they need are kept per calling thread so that prompt batches do not allocate each time
// (`act_scales`: the caller's, for the activations' block scales).
void choose_batch_kernels(RowJob& job, std::vector<float>& act_scales) {
    const WeightMatrix& w = job.w;
    const bool batch = job.n_tokens > 1 && kernel_level() == KernelLevel::avx2;
    // The 32-value formats: tiles of 3 rows × 4 tokens (gemm_block32.h), and where the CPU has
    // them, the AVX-512 tiles (twice the width). One token (decode) reads each weight once
    // either way and is bound by memory; it keeps the per-row kernel.
    job.block32_tiles = batch && gemm_block32_supported(w.type);
    if (avx512_kernels_enabled()) {
        job.block32_gemm = gemm_block32_avx512;
    }
    // Q5_K: tiles of 4 rows × 64 tokens (gemm_q5_k.h).
    if (batch && w.type == TensorType::Q5_K) {
        job.q5_k_gemm = avx512_kernels_enabled() ? gemm_q5_k_avx512 : gemm_q5_k_avx2;
    }
    // Q6_K: tiles over rows unpacked once per token tile (gemm_q6_k.h).
    if (batch && w.type == TensorType::Q6_K) {
        job.q6_k_tiles = avx512_kernels_enabled() ? gemm_q6_k_avx512() : gemm_q6_k_avx2();
    }
    // Their single tokens (and the portable level's batches): the activations' f16 block scales
    // converted once here rather than once per weight row (the same bits; the kernel's float
    // work roughly halves).
    job.scaled_kernel = !job.block32_tiles && kernel_level() == KernelLevel::avx2
                            ? vec_dot_scaled_avx2(w.type)
                            : nullptr;
    if (job.scaled_kernel) {
        job.scales_stride = activation_scale_count(w.type, w.n_cols);
        act_scales.resize(static_cast<size_t>(job.n_tokens * job.scales_stride));
        job.scales = act_scales.data();
    }
    // Float weights (F16 in tinyBLAS's order, BF16): register tiles over the activations
    // widened once to f32 (gemm_float.h).
    thread_local std::vector<float> float_act;
    if (job.n_tokens > 1 && gemm_float_takes(w.type, job.kernel)) {
        job.float_tiles = use_avx512_gemv() ? gemm_float_avx512(w.type) : nullptr;
        job.float_tiles = job.float_tiles ? job.float_tiles : gemm_float_avx2(w.type);
        float_act.resize(float_act_floats(job.n_tokens, w.n_cols));
        job.xf = float_act.data();
    }
    const bool tinyblas = job.kernel != nullptr && job.kernel == vec_dot_tinyblas_avx2(w.type);
    if (job.n_tokens == 1 && use_avx512_gemv()) {
        job.gemv = tinyblas ? gemv_tinyblas_avx512(w.type) : gemv_avx512(w.type);
        if (job.gemv == nullptr && gemm_float_takes(w.type, job.kernel)) {
            job.gemv = gemv_float_avx512(w.type); // BF16
        }
    }
    if (job.n_tokens == 1 && job.gemv == nullptr && kernel_level() == KernelLevel::avx2) {
        job.gemv = tinyblas ? gemv_tinyblas_avx2(w.type) : gemv_avx2(w.type);
    }
}

// Activation rows t0..t1 to the dot type, with what the chosen kernels read besides.
void convert_activations(const RowJob& job, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
        quantize_activation_row(job.w.type, job.x + t * job.x_stride, job.act + t * job.act_bytes,
                                job.w.n_cols);
        if (job.xf) {
            widen_float_activation(job.w.type, job.act + t * job.act_bytes, job.w.n_cols, t,
                                   job.n_tokens, job.xf);
        }
        if (job.scales) {
            activation_scales(job.w.type, job.act + t * job.act_bytes,
                              job.scales + t * job.scales_stride, job.w.n_cols);
        }
    }
}

// Rows r0..r1 against every token, with the kernels choose_batch_kernels picked.
void run_rows(const RowJob& job, int64_t r0, int64_t r1) {
    const auto* rows = static_cast<const uint8_t*>(job.w.data);
    const uint8_t* first = rows + static_cast<size_t>(r0) * job.w.row_bytes;
    if (job.gemv) {
        job.gemv(job.w.n_cols, first, job.w.row_bytes, r1 - r0, job.act, job.scales, job.y + r0);
        return;
    }
    if (job.q5_k_gemm) { // its own token tiles
        job.q5_k_gemm(job.w.n_cols, first, job.w.row_bytes, r1 - r0, job.act, job.act_bytes,
                      job.n_tokens, job.y + r0, job.y_stride);
        return;
    }
    if (job.float_tiles) {
        job.float_tiles(job.w.n_cols, first, job.w.row_bytes, r1 - r0, job.xf, job.n_tokens,
                        job.y + r0, job.y_stride);
        return;
    }
    for (int64_t t0 = 0; t0 < job.n_tokens; t0 += kTokenTile) {
        const int64_t t1 = std::min(job.n_tokens, t0 + kTokenTile);
        const uint8_t* act = job.act + t0 * job.act_bytes;
        float* out = job.y + t0 * job.y_stride + r0;
        if (job.block32_tiles) {
            job.block32_gemm(job.w.type, job.w.n_cols, first, job.w.row_bytes, r1 - r0, act,
                             job.act_bytes, t1 - t0, out, job.y_stride);
            continue;
        }
        if (job.q6_k_tiles) {
            job.q6_k_tiles(job.w.n_cols, first, job.w.row_bytes, r1 - r0, act, job.act_bytes,
                           t1 - t0, out, job.y_stride);
            continue;
        }
        for (int64_t r = r0; r < r1; ++r) {
            const void* row = rows + static_cast<size_t>(r) * job.w.row_bytes;
            for (int64_t t = t0; t < t1; t += kMaxTokens) {
                const int n_tok = static_cast<int>(std::min<int64_t>(kMaxTokens, t1 - t));
                if (job.scaled_kernel) {
                    job.scaled_kernel(job.w.n_cols, row, job.act + t * job.act_bytes, job.act_bytes,
                                      job.scales + t * job.scales_stride,
                                      static_cast<size_t>(job.scales_stride),
                                      job.y + t * job.y_stride + r, job.y_stride, n_tok);
                    continue;
                }
                job.kernel(job.w.n_cols, row, job.act + t * job.act_bytes, job.act_bytes,
                           job.y + t * job.y_stride + r, job.y_stride, n_tok);
            }
        }
    }
}

} // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
            int64_t y_stride, void* scratch, ThreadPool& pool, MatmulOp op) {
    if (n_tokens <= 0 || w.n_rows <= 0) {
        return;
    }
    if (ActivationObserver* observer = g_activation_observer.load(std::memory_order_acquire))
        [[unlikely]] {
        observer->observe(w, x, n_tokens, x_stride, op);
    }
    // Programmer errors: the loader checks types and shapes before building a WeightMatrix.
    assert(matmul_supports(w.type));
    assert(w.n_cols % tensor_type_traits(w.type).block_size == 0);
    // Prompt batches with fast prefill numerics: the int8 path (int8_gemm.h).
    if (use_int8_gemm(w, n_tokens, op)) {
        matmul_int8(w, x, n_tokens, x_stride, y, y_stride, pool);
        return;
    }
    if (uses_packed_rows(w)) {
        matmul_packed(w, x, n_tokens, x_stride, y, y_stride, scratch, pool);
        return;
    }
    RowJob job{{w, x, n_tokens, x_stride, y, y_stride, static_cast<uint8_t*>(scratch),
                activation_row_bytes(w.type, w.n_cols)},
               select_kernel(w, n_tokens, op)};
    thread_local std::vector<float> act_scales;
    choose_batch_kernels(job, act_scales);
    // Activations to the dot type: on this thread for one token (a second hand-off would cost
    // more than the conversion), else over the pool.
    if (n_tokens == 1) {
        convert_activations(job, 0, 1);
    } else {
        pool.parallel_for(n_tokens, 1,
                          [&job](int64_t t0, int64_t t1) { convert_activations(job, t0, t1); });
    }
    for_rows(pool, n_tokens, w.n_rows, kMinRowsPerChunk,
             [&job](int64_t r0, int64_t r1) { run_rows(job, r0, r1); });
}

namespace {

// One matrix of a decode group: its rows [first_row, first_row + n_rows) of the group's row space.
struct GroupPart {
    std::optional<RowJob> rows;
    std::optional<PackedJob> packed;
    int64_t first_row = 0;
    int64_t n_rows = 0;

    // A packed matrix's item (groups of kPackRows rows, then tail rows) that row r starts:
    // each group goes to the chunk holding its first row.
    int64_t packed_item(int64_t r) const {
        const int64_t grouped = packed->n_groups * kPackRows;
        return r <= grouped ? (r + kPackRows - 1) / kPackRows : packed->n_groups + (r - grouped);
    }
    void run(int64_t r0, int64_t r1) const {
        if (rows) {
            run_rows(*rows, r0, r1);
        } else if (const int64_t i0 = packed_item(r0), i1 = packed_item(r1); i0 < i1) {
            run_packed(*packed, i0, i1);
        }
    }
};

// Per calling thread, so that decode steps do not allocate: each part's activations for the one
// token (64-byte aligned slices of `act`, a few KiB), block scales and Q4_0 block sums.
struct GroupBuffers {
    std::vector<uint8_t> act;
    std::array<std::vector<float>, kMaxMatmulGroup> scales;
    std::array<std::vector<int32_t>, kMaxMatmulGroup> sums;
};

// One token's activations converted once per (weight type, packed or not), on this thread (a
// hand-off would cost more than the conversion); then every part's rows in one parallel region.
void matmul_group_parts(std::span<const MatmulTarget> targets, const float* x, ThreadPool& pool) {
    constexpr int64_t n_tokens = 1;
    const int64_t x_stride = targets[0].w->n_cols; // one row: never stepped over
    thread_local GroupBuffers buffers;
    std::array<GroupPart, kMaxMatmulGroup> parts;
    // owner[i]: the first part with part i's conversion (weight type, packed or not), whose
    // activations part i shares; only owners have a slice of `act`.
    std::array<size_t, kMaxMatmulGroup> owner{};
    std::array<size_t, kMaxMatmulGroup> act_offset{};
    std::array<bool, kMaxMatmulGroup> converts{};
    size_t act_total = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
        const WeightMatrix& w = *targets[i].w;
        owner[i] = i;
        for (size_t j = 0; j < i && owner[i] == i; ++j) {
            const WeightMatrix& other = *targets[j].w;
            if (other.type == w.type && uses_packed_rows(other) == uses_packed_rows(w)) {
                owner[i] = j;
            }
        }
        converts[i] = owner[i] == i;
        if (converts[i]) {
            act_offset[i] = act_total;
            act_total +=
                (static_cast<size_t>(n_tokens) * activation_row_bytes(w.type, w.n_cols) + 63) / 64 *
                64;
        }
    }
    buffers.act.resize(act_total + 64);
    auto* act_base = reinterpret_cast<uint8_t*>(
        (reinterpret_cast<uintptr_t>(buffers.act.data()) + 63) / 64 * 64);
    int64_t n_rows = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
        const WeightMatrix& w = *targets[i].w;
        GroupPart& part = parts[i];
        part.first_row = n_rows;
        part.n_rows = w.n_rows;
        n_rows += w.n_rows;
        const bool packed = uses_packed_rows(w);
        const GroupPart* same = converts[i] ? nullptr : &parts[owner[i]];
        uint8_t* act = act_base + act_offset[owner[i]];
        if (packed) {
            part.packed.emplace(packed_job(w, x, n_tokens, x_stride, targets[i].y,
                                           targets[i].y_stride, act, buffers.sums[i]));
            if (same) {
                part.packed->act = same->packed->act;
                part.packed->block_sums = same->packed->block_sums;
            }
            continue;
        }
        part.rows.emplace(RowJob{{w, x, n_tokens, x_stride, targets[i].y, targets[i].y_stride, act,
                                  activation_row_bytes(w.type, w.n_cols)},
                                 select_kernel(w, n_tokens, MatmulOp::mul_mat)});
        choose_batch_kernels(*part.rows, buffers.scales[i]);
        if (same) {
            part.rows->act = same->rows->act;
            part.rows->scales = same->rows->scales;
        }
    }
    const size_t n_parts = targets.size();
    for (size_t i = 0; i < n_parts; ++i) {
        if (converts[i] && parts[i].packed) {
            quantize_packed(*parts[i].packed, 0, 1);
        } else if (converts[i]) {
            convert_activations(*parts[i].rows, 0, 1);
        }
    }
    for_rows(pool, n_tokens, n_rows, kMinRowsPerChunk, [&parts, n_parts](int64_t r0, int64_t r1) {
        for (size_t i = 0; i < n_parts; ++i) {
            const GroupPart& part = parts[i];
            const int64_t lo = std::max(r0, part.first_row) - part.first_row;
            const int64_t hi = std::min(r1, part.first_row + part.n_rows) - part.first_row;
            if (lo < hi) {
                part.run(lo, hi);
            }
        }
    });
}

} // namespace

void matmul_group(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens,
                  int64_t x_stride, void* scratch, ThreadPool& pool) {
    assert(targets.size() <= kMaxMatmulGroup);
    // Batches keep one matmul() per target: a group's batch activations held per thread would
    // stay resident outside the memory plan (tst_doctor's memory truth measured the session
    // 10% past the plan with them), while matmul() converts into the forward pass's scratch.
    if (n_tokens != 1) {
        for (const MatmulTarget& t : targets) {
            matmul(*t.w, x, n_tokens, x_stride, t.y, t.y_stride, scratch, pool);
        }
        return;
    }
    if (ActivationObserver* observer = g_activation_observer.load(std::memory_order_acquire))
        [[unlikely]] {
        for (const MatmulTarget& t : targets) {
            observer->observe(*t.w, x, n_tokens, x_stride, MatmulOp::mul_mat);
        }
    }
    for ([[maybe_unused]] const MatmulTarget& t : targets) {
        assert(matmul_supports(t.w->type));
        assert(t.w->n_cols == targets[0].w->n_cols);
    }
    matmul_group_parts(targets, x, pool);
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
    return kernel_level() == KernelLevel::avx2 ? dot_f16_f32_avx2(a, b, n)
                                               : dot_f16_f32_portable(a, b, n);
}

void axpy_f16_f32(const uint16_t* a, float scale, float* y, int64_t n) {
    if (kernel_level() == KernelLevel::avx2) {
        axpy_f16_f32_avx2(a, scale, y, n);
    } else {
        axpy_f16_f32_portable(a, scale, y, n);
    }
}

void convert_f32_to_f16(const float* x, uint16_t* out, int64_t n) {
    if (kernel_level() == KernelLevel::avx2) {
        convert_f32_to_f16_avx2(x, out, n);
    } else {
        convert_f32_to_f16_portable(x, out, n);
    }
}

} // namespace hearth::cpu
