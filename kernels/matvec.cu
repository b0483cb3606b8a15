// Fused dequantize + matrix-vector products for decode, and the embedding row lookup.
//
// Math. For b < n_batch (1..8 activation vectors) and each weight row r:
//   y[b][r] = sum_{c < n_cols} W[r][c] * x[b][c]
// W[r][c] is decoded in registers by block_formats.cuh exactly as hearth::dequantize decodes
// it; each product is accumulated with a float32 fused multiply-add into a per-lane partial
// sum, and the 32 partial sums of a warp are added by a butterfly (__shfl_xor_sync). The
// activations stay float32: no Q8_1 quantization of x as llama.cpp's mmvq does for dp4a.
// At batch <= 8 the kernel is bound by the weight bytes it streams, not by arithmetic, and
// float activations make y a rounding-only distance from the exact product (the CPU path,
// which quantizes x to 8 bits, is further from it).
//
// Layout and work decomposition. Weights stay in their GGUF block layout, rows padded at
// upload to a multiple of 16 bytes is allowed (row_bytes is the row pitch). A CTA of 256
// threads = 8 warps owns 8 consecutive rows, one warp per row. A row is cut into units of 8
// consecutive values (8 divides every block size); lane l takes units l, l + 32, l + 64, ...
// so that the 32 lanes of a warp read 256 consecutive values, i.e. one contiguous span of the
// row (144 bytes of Q4_0, 288 of Q8_0, 512 of F16) per step: every 32-byte sector fetched
// from HBM is used whole, by neighbouring lanes. For each unit the lane decodes the 8 weights
// once and multiplies them with the 8 matching values of every activation vector of the
// batch, so the weights are read once per launch whatever the batch. F32/F16/BF16 rows are
// read with 16-byte loads when the rows are 16-byte aligned. Activations are read through
// the L1/L2 caches (they are small and every row re-reads them).
//
// What is not done yet, and why it matters (to be measured on a GPU): the block formats'
// odd sizes (18 bytes for Q4_0) forbid 16-byte loads in the GGUF layout, so a lane issues
// several narrow loads per unit; a repacked layout (quants and scales in separate 16-byte
// aligned streams) would cut the load instructions 4-8x. Enough bytes in flight per SM comes
// from occupancy here (8 rows per CTA, many CTAs per SM), not from explicit prefetching.
#include "block_formats.cuh"
#include "common.cuh"
#include "matvec.cuh"

#include <climits>

namespace hearth::kernels {
namespace {

using namespace formats;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kUnit = 8; // values per decode step

// The 8 weights of unit u of a row in a block format (n_cols is a multiple of 8 there).
template <class F>
struct BlockSource {
    __device__ static void decode(const uint8_t* row, int64_t u, int64_t /*n_cols*/, bool /*vec*/,
                                  float (&v)[kUnit]) {
        using Block = typename F::Block;
        constexpr int units_per_block = F::qk / kUnit;
        const int64_t block = u / units_per_block;
        const int i0 = static_cast<int>(u % units_per_block) * kUnit;
        F::values(
            *reinterpret_cast<const Block*>(row + block * static_cast<int64_t>(sizeof(Block))), i0,
            v);
    }
};

// The 8 weights of unit u of an F32 / F16 / BF16 row; values past n_cols read as 0.
template <class P>
struct PlainSource {
    __device__ static void decode(const uint8_t* row, int64_t u, int64_t n_cols, bool vec,
                                  float (&v)[kUnit]) {
        constexpr int size = P::size;
        const int64_t c0 = u * kUnit;
        const uint8_t* p = row + c0 * size;
        if (vec && c0 + kUnit <= n_cols) {
            // 8 elements are 32 (F32) or 16 (F16, BF16) bytes: whole 16-byte words.
            constexpr int n_words = kUnit * size / 4;
            uint32_t w[n_words];
#pragma unroll
            for (int q = 0; q < n_words / 4; ++q) {
                const uint4 word = reinterpret_cast<const uint4*>(p)[q];
                w[4 * q] = word.x;
                w[4 * q + 1] = word.y;
                w[4 * q + 2] = word.z;
                w[4 * q + 3] = word.w;
            }
#pragma unroll
            for (int k = 0; k < kUnit; ++k) {
                if constexpr (size == 4) {
                    v[k] = P::decode(w[k]);
                } else {
                    v[k] = P::decode((w[k / 2] >> (16 * (k % 2))) & 0xffffu);
                }
            }
            return;
        }
#pragma unroll
        for (int k = 0; k < kUnit; ++k) {
            uint32_t raw = 0;
            if (c0 + k < n_cols) {
#pragma unroll
                for (int byte = 0; byte < size; ++byte) {
                    raw |= static_cast<uint32_t>(p[k * size + byte]) << (8 * byte);
                }
                v[k] = P::decode(raw);
            } else {
                v[k] = 0.0f;
            }
        }
    }
};

// 8 activations from c0; past n_cols they read as 0 (the weights there are 0 too).
__device__ __forceinline__ void load_x(const float* x, int64_t c0, int64_t n_cols, bool vec,
                                       float (&xv)[kUnit]) {
    if (vec && c0 + kUnit <= n_cols) {
        const float4 a = reinterpret_cast<const float4*>(x + c0)[0];
        const float4 b = reinterpret_cast<const float4*>(x + c0)[1];
        xv[0] = a.x, xv[1] = a.y, xv[2] = a.z, xv[3] = a.w;
        xv[4] = b.x, xv[5] = b.y, xv[6] = b.z, xv[7] = b.w;
        return;
    }
#pragma unroll
    for (int k = 0; k < kUnit; ++k) {
        xv[k] = c0 + k < n_cols ? x[c0 + k] : 0.0f;
    }
}

// One warp per row; see the top of the file.
template <class Source>
__global__ void __launch_bounds__(kThreads)
    matvec_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_rows, int64_t n_cols,
                  const float* __restrict__ x, int64_t x_stride, float* __restrict__ y,
                  int64_t y_stride, int n_batch, bool vec_w, bool vec_x) {
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
    if (row >= n_rows) {
        return; // whole warps leave together: no shuffle below misses a lane
    }
    const uint8_t* w_row = w + row * static_cast<int64_t>(row_bytes);
    const int64_t n_units = (n_cols + kUnit - 1) / kUnit;
    float acc[kMatvecMaxBatch];
#pragma unroll
    for (int b = 0; b < kMatvecMaxBatch; ++b) {
        acc[b] = 0.0f;
    }
    for (int64_t u = lane; u < n_units; u += 32) {
        float v[kUnit];
        Source::decode(w_row, u, n_cols, vec_w, v);
        const int64_t c0 = u * kUnit;
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            if (b < n_batch) {
                float xv[kUnit];
                load_x(x + b * x_stride, c0, n_cols, vec_x, xv);
                float s = acc[b];
#pragma unroll
                for (int k = 0; k < kUnit; ++k) {
                    s = fmaf(v[k], xv[k], s);
                }
                acc[b] = s;
            }
        }
    }
#pragma unroll
    for (int b = 0; b < kMatvecMaxBatch; ++b) {
        if (b < n_batch) {
            float s = acc[b];
#pragma unroll
            for (int offset = 16; offset > 0; offset /= 2) {
                s += __shfl_xor_sync(0xffffffffu, s, offset);
            }
            if (lane == 0) {
                y[b * y_stride + row] = s;
            }
        }
    }
}

// The mixture-of-experts form: blockIdx.y is the slot, whose expert ids[slot] selects the
// weight matrix (experts `expert_bytes` apart, read from device memory so that a captured
// graph follows each replay's routing); its input is x row slot / slots_per_x, its output y
// row slot. Only the selected experts' rows are read. Rows as matvec_kernel, one vector.
template <class Source>
__global__ void __launch_bounds__(kThreads)
    matvec_experts_kernel(const uint8_t* __restrict__ w, size_t expert_bytes, int n_expert,
                          size_t row_bytes, int64_t n_rows, int64_t n_cols,
                          const int32_t* __restrict__ ids, const float* __restrict__ x,
                          int64_t x_stride, int slots_per_x, float* __restrict__ y,
                          int64_t y_stride, bool vec_w, bool vec_x) {
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
    if (row >= n_rows) {
        return; // whole warps leave together
    }
    const int slot = static_cast<int>(blockIdx.y);
    const int32_t expert = ids[slot];
    float* out = y + slot * y_stride + row;
    if (expert < 0 || expert >= n_expert) {
        if (lane == 0) {
            *out = __int_as_float(0x7fc00000); // quiet NaN: a bad id shows in the logits
        }
        return;
    }
    const uint8_t* w_row =
        w + expert * static_cast<int64_t>(expert_bytes) + row * static_cast<int64_t>(row_bytes);
    const float* x_row = x + (slot / slots_per_x) * x_stride;
    const int64_t n_units = (n_cols + kUnit - 1) / kUnit;
    float acc = 0.0f;
    for (int64_t u = lane; u < n_units; u += 32) {
        float v[kUnit];
        Source::decode(w_row, u, n_cols, vec_w, v);
        float xv[kUnit];
        load_x(x_row, u * kUnit, n_cols, vec_x, xv);
#pragma unroll
        for (int k = 0; k < kUnit; ++k) {
            acc = fmaf(v[k], xv[k], acc);
        }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        acc += __shfl_xor_sync(0xffffffffu, acc, offset);
    }
    if (lane == 0) {
        *out = acc;
    }
}

// The grouped form for prompt chunks: blockIdx.y is the expert e, whose slots are
// order[offsets[e] .. offsets[e + 1]) (launch_group_by_expert); each warp reads its row of W_e
// once per 8 of them, multiplying it with their inputs as matvec_kernel does a batch. Per slot,
// the same lanes, products, order and butterfly as matvec_experts_kernel: the same bits.
template <class Source>
__global__ void __launch_bounds__(kThreads)
    matvec_grouped_kernel(const uint8_t* __restrict__ w, size_t expert_bytes, size_t row_bytes,
                          int64_t n_rows, int64_t n_cols, const int32_t* __restrict__ order,
                          const int32_t* __restrict__ offsets, const float* __restrict__ x,
                          int64_t x_stride, int slots_per_x, float* __restrict__ y,
                          int64_t y_stride, bool vec_w, bool vec_x) {
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
    const int expert = static_cast<int>(blockIdx.y);
    if (row >= n_rows) {
        return; // whole warps leave together
    }
    const int begin = offsets[expert], end = offsets[expert + 1];
    const uint8_t* w_row =
        w + expert * static_cast<int64_t>(expert_bytes) + row * static_cast<int64_t>(row_bytes);
    const int64_t n_units = (n_cols + kUnit - 1) / kUnit;
    for (int first = begin; first < end; first += kMatvecMaxBatch) {
        const int n_batch = min(kMatvecMaxBatch, end - first);
        int slot[kMatvecMaxBatch];
        float acc[kMatvecMaxBatch];
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            slot[b] = b < n_batch ? order[first + b] : 0;
            acc[b] = 0.0f;
        }
        for (int64_t u = lane; u < n_units; u += 32) {
            float v[kUnit];
            Source::decode(w_row, u, n_cols, vec_w, v);
            const int64_t c0 = u * kUnit;
#pragma unroll
            for (int b = 0; b < kMatvecMaxBatch; ++b) {
                if (b < n_batch) {
                    float xv[kUnit];
                    load_x(x + (slot[b] / slots_per_x) * x_stride, c0, n_cols, vec_x, xv);
                    float s = acc[b];
#pragma unroll
                    for (int k = 0; k < kUnit; ++k) {
                        s = fmaf(v[k], xv[k], s);
                    }
                    acc[b] = s;
                }
            }
        }
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            if (b < n_batch) {
                float s = acc[b];
#pragma unroll
                for (int offset = 16; offset > 0; offset /= 2) {
                    s += __shfl_xor_sync(0xffffffffu, s, offset);
                }
                if (lane == 0) {
                    y[slot[b] * y_stride + row] = s;
                }
            }
        }
    }
}

// One thread per unit of 8 values; blockIdx.y is the token.
template <class Source>
__global__ void __launch_bounds__(kThreads)
    get_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n_rows, int64_t n_cols,
                    const int32_t* __restrict__ tokens, float scale, float* __restrict__ x,
                    int64_t x_stride, bool vec_w) {
    const int64_t u = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    const int64_t c0 = u * kUnit;
    if (c0 >= n_cols) {
        return;
    }
    const int32_t token = tokens[blockIdx.y];
    float* out = x + static_cast<int64_t>(blockIdx.y) * x_stride;
    float v[kUnit];
    if (token < 0 || token >= n_rows) {
#pragma unroll
        for (int k = 0; k < kUnit; ++k) {
            v[k] = __int_as_float(0x7fc00000); // quiet NaN: a bad id shows in the logits
        }
    } else {
        Source::decode(w + token * static_cast<int64_t>(row_bytes), u, n_cols, vec_w, v);
    }
#pragma unroll
    for (int k = 0; k < kUnit; ++k) {
        if (c0 + k < n_cols) {
            out[c0 + k] = scale == 1.0f ? v[k] : v[k] * scale;
        }
    }
}

bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Packed bytes of one row, or 0 when n_cols is not a whole number of blocks.
template <class Source>
struct RowSize;
template <class F>
struct RowSize<BlockSource<F>> {
    static size_t bytes(int64_t n_cols) {
        return n_cols % F::qk == 0 ? static_cast<size_t>(n_cols / F::qk) * sizeof(typename F::Block)
                                   : 0;
    }
};
template <class P>
struct RowSize<PlainSource<P>> {
    static size_t bytes(int64_t n_cols) { return static_cast<size_t>(n_cols) * P::size; }
};

struct MatvecArgs {
    const void* w;
    size_t row_bytes;
    int64_t n_rows, n_cols;
    const float* x;
    int64_t x_stride;
    float* y;
    int64_t y_stride;
    int n_batch;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (n_rows < 0 || n_cols <= 0 || n_batch < 1 || n_batch > kMatvecMaxBatch) {
            return cudaErrorInvalidValue;
        }
        const size_t packed = RowSize<Source>::bytes(n_cols);
        if (packed == 0 || row_bytes < packed) {
            return cudaErrorInvalidValue;
        }
        if (n_rows == 0) {
            return cudaSuccess;
        }
        if (w == nullptr || x == nullptr || y == nullptr ||
            (n_batch > 1 && (x_stride < n_cols || y_stride < n_rows))) {
            return cudaErrorInvalidValue;
        }
        const int64_t grid = (n_rows + kWarps - 1) / kWarps;
        if (grid > INT_MAX) {
            return cudaErrorInvalidValue;
        }
        const bool vec_w = aligned16(w) && row_bytes % 16 == 0;
        const bool vec_x = aligned16(x) && x_stride % 4 == 0;
        matvec_kernel<Source><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(w), row_bytes, n_rows, n_cols, x, x_stride, y, y_stride,
            n_batch, vec_w, vec_x);
        return cudaGetLastError();
    }
    template <class F>
    cudaError_t operator()() const {
        return run<BlockSource<F>>();
    }
    template <class P>
    cudaError_t plain() const {
        return run<PlainSource<P>>();
    }
};

struct ExpertMatvecArgs {
    const void* w;
    size_t expert_bytes;
    int n_expert;
    size_t row_bytes;
    int64_t n_rows, n_cols;
    const int32_t* ids;
    int n_slots;
    const float* x;
    int64_t x_stride;
    int slots_per_x;
    float* y;
    int64_t y_stride;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (n_expert <= 0 || n_rows < 0 || n_cols <= 0 || n_slots < 0 ||
            n_slots > kMatvecMaxSlots || slots_per_x < 1) {
            return cudaErrorInvalidValue;
        }
        const size_t packed = RowSize<Source>::bytes(n_cols);
        if (packed == 0 || row_bytes < packed ||
            expert_bytes < row_bytes * static_cast<size_t>(n_rows)) {
            return cudaErrorInvalidValue;
        }
        if (n_rows == 0 || n_slots == 0) {
            return cudaSuccess;
        }
        if (w == nullptr || ids == nullptr || x == nullptr || y == nullptr ||
            (n_slots > slots_per_x && x_stride < n_cols) || (n_slots > 1 && y_stride < n_rows)) {
            return cudaErrorInvalidValue;
        }
        const int64_t grid_x = (n_rows + kWarps - 1) / kWarps;
        if (grid_x > INT_MAX) {
            return cudaErrorInvalidValue;
        }
        const bool vec_w = aligned16(w) && row_bytes % 16 == 0 && expert_bytes % 16 == 0;
        const bool vec_x = aligned16(x) && x_stride % 4 == 0;
        const dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(n_slots));
        matvec_experts_kernel<Source><<<grid, kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(w), expert_bytes, n_expert, row_bytes, n_rows, n_cols, ids,
            x, x_stride, slots_per_x, y, y_stride, vec_w, vec_x);
        return cudaGetLastError();
    }
    template <class F>
    cudaError_t operator()() const {
        return run<BlockSource<F>>();
    }
    template <class P>
    cudaError_t plain() const {
        return run<PlainSource<P>>();
    }
};

struct GroupedMatvecArgs {
    const void* w;
    size_t expert_bytes;
    int n_expert;
    size_t row_bytes;
    int64_t n_rows, n_cols;
    const int32_t* order;
    const int32_t* offsets;
    const float* x;
    int64_t x_stride;
    int slots_per_x;
    float* y;
    int64_t y_stride;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (n_expert <= 0 || n_expert > 65535 || n_rows < 0 || n_cols <= 0 || slots_per_x < 1) {
            return cudaErrorInvalidValue;
        }
        const size_t packed = RowSize<Source>::bytes(n_cols);
        if (packed == 0 || row_bytes < packed ||
            expert_bytes < row_bytes * static_cast<size_t>(n_rows)) {
            return cudaErrorInvalidValue;
        }
        if (n_rows == 0) {
            return cudaSuccess;
        }
        if (w == nullptr || order == nullptr || offsets == nullptr || x == nullptr ||
            y == nullptr || x_stride < n_cols || y_stride < n_rows) {
            return cudaErrorInvalidValue;
        }
        const int64_t grid_x = (n_rows + kWarps - 1) / kWarps;
        if (grid_x > INT_MAX) {
            return cudaErrorInvalidValue;
        }
        const bool vec_w = aligned16(w) && row_bytes % 16 == 0 && expert_bytes % 16 == 0;
        const bool vec_x = aligned16(x) && x_stride % 4 == 0;
        const dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(n_expert));
        matvec_grouped_kernel<Source><<<grid, kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(w), expert_bytes, row_bytes, n_rows, n_cols, order, offsets,
            x, x_stride, slots_per_x, y, y_stride, vec_w, vec_x);
        return cudaGetLastError();
    }
    template <class F>
    cudaError_t operator()() const {
        return run<BlockSource<F>>();
    }
    template <class P>
    cudaError_t plain() const {
        return run<PlainSource<P>>();
    }
};

struct GetRowsArgs {
    const void* w;
    size_t row_bytes;
    int64_t n_rows, n_cols;
    const int32_t* tokens;
    int n_tokens;
    float scale;
    float* x;
    int64_t x_stride;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (n_rows <= 0 || n_cols <= 0 || n_tokens < 0 || n_tokens > 65535) {
            return cudaErrorInvalidValue;
        }
        const size_t packed = RowSize<Source>::bytes(n_cols);
        if (packed == 0 || row_bytes < packed) {
            return cudaErrorInvalidValue;
        }
        if (n_tokens == 0) {
            return cudaSuccess;
        }
        if (w == nullptr || tokens == nullptr || x == nullptr ||
            (n_tokens > 1 && x_stride < n_cols)) {
            return cudaErrorInvalidValue;
        }
        const int64_t n_units = (n_cols + kUnit - 1) / kUnit;
        const dim3 grid(static_cast<unsigned>((n_units + kThreads - 1) / kThreads),
                        static_cast<unsigned>(n_tokens));
        get_rows_kernel<Source><<<grid, kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(w), row_bytes, n_rows, n_cols, tokens, scale, x, x_stride,
            aligned16(w) && row_bytes % 16 == 0);
        return cudaGetLastError();
    }
    template <class F>
    cudaError_t operator()() const {
        return run<BlockSource<F>>();
    }
    template <class P>
    cudaError_t plain() const {
        return run<PlainSource<P>>();
    }
};

struct Probe {
    template <class F>
    cudaError_t operator()() const {
        return cudaSuccess;
    }
    template <class P>
    cudaError_t plain() const {
        return cudaSuccess;
    }
};

} // namespace

bool can_launch_matvec(int type_id) {
    return dispatch_format(type_id, Probe{}) == cudaSuccess;
}

cudaError_t launch_matvec(int type_id, const void* w, size_t row_bytes, int64_t n_rows,
                          int64_t n_cols, const float* x, int64_t x_stride, float* y,
                          int64_t y_stride, int n_batch, cudaStream_t stream) {
    return dispatch_format(type_id, MatvecArgs{w, row_bytes, n_rows, n_cols, x, x_stride, y,
                                               y_stride, n_batch, stream});
}

cudaError_t launch_matvec_experts(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* ids, int n_slots, const float* x, int64_t x_stride,
                                  int slots_per_x, float* y, int64_t y_stride,
                                  cudaStream_t stream) {
    return dispatch_format(type_id, ExpertMatvecArgs{w, expert_bytes, n_expert, row_bytes, n_rows,
                                                     n_cols, ids, n_slots, x, x_stride, slots_per_x,
                                                     y, y_stride, stream});
}

cudaError_t launch_matvec_grouped(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* order, const int32_t* offsets, const float* x,
                                  int64_t x_stride, int slots_per_x, float* y, int64_t y_stride,
                                  cudaStream_t stream) {
    return dispatch_format(type_id, GroupedMatvecArgs{w, expert_bytes, n_expert, row_bytes, n_rows,
                                                      n_cols, order, offsets, x, x_stride,
                                                      slots_per_x, y, y_stride, stream});
}

cudaError_t launch_get_rows(int type_id, const void* w, size_t row_bytes, int64_t n_rows,
                            int64_t n_cols, const int32_t* tokens, int n_tokens, float scale,
                            float* x, int64_t x_stride, cudaStream_t stream) {
    return dispatch_format(type_id, GetRowsArgs{w, row_bytes, n_rows, n_cols, tokens, n_tokens,
                                                scale, x, x_stride, stream});
}

} // namespace hearth::kernels
