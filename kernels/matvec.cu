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
//
// The mixture-of-experts forms of these products are in matvec_experts.cu; the pieces both
// files use (row decoders, activation loads, the per-lane dot products) in matvec_rows.cuh.
#include "block_formats.cuh"
#include "common.cuh"
#include "matvec.cuh"
#include "matvec_rows.cuh"

#include <climits>

namespace hearth::kernels {
namespace {

using namespace matvec_rows;

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
    float acc[kMatvecMaxBatch];
    lane_dot_batch<Source>(
        w_row, n_cols, vec_w, [=](int b) { return x + b * x_stride; }, vec_x, n_batch, lane, acc);
#pragma unroll
    for (int b = 0; b < kMatvecMaxBatch; ++b) {
        if (b < n_batch) {
            const float s = warp_sum(acc[b]);
            if (lane == 0) {
                y[b * y_stride + row] = s;
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
    return dispatch_format(type_id,
                           SourceDispatch<MatvecArgs>{{w, row_bytes, n_rows, n_cols, x, x_stride, y,
                                                       y_stride, n_batch, stream}});
}

cudaError_t launch_get_rows(int type_id, const void* w, size_t row_bytes, int64_t n_rows,
                            int64_t n_cols, const int32_t* tokens, int n_tokens, float scale,
                            float* x, int64_t x_stride, cudaStream_t stream) {
    return dispatch_format(type_id,
                           SourceDispatch<GetRowsArgs>{{w, row_bytes, n_rows, n_cols, tokens,
                                                        n_tokens, scale, x, x_stride, stream}});
}

} // namespace hearth::kernels
