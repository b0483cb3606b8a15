// The mixture-of-experts matrix-vector products: each (token, expert) slot multiplies its
// input row by its expert's weight matrix, chosen on the device from the routing.
//
// Math. For slot s with expert e = ids[s] and each row r of W_e:
//   y[s][r] = sum_{c < n_cols} W_e[r][c] * x[s / slots_per_x][c]
// with the weights decoded, multiplied and summed exactly as matvec.cu's kernel does a batch
// of one (matvec_rows.cuh holds the pieces both files use), so a slot's y row is a dense
// matvec's bits.
//
// Two launch forms. launch_matvec_experts (decode): grid (rows / 8, slots), one slot per
// blockIdx.y, its expert read from `ids` on the device (a captured CUDA graph follows each
// replay's routing); only the selected experts' rows are read. launch_matvec_grouped (prompt
// chunks): grid (rows / 8, experts), the slots grouped by expert beforehand (moe.cuh's
// launch_group_by_expert), each warp reading its row of W_e once per 8 of its slots.
#include "block_formats.cuh"
#include "common.cuh"
#include "matvec.cuh"
#include "matvec_rows.cuh"

#include <climits>

namespace hearth::kernels {
namespace {

using namespace matvec_rows;

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
    acc = warp_sum(acc);
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
    for (int first = begin; first < end; first += kMatvecMaxBatch) {
        const int n_batch = min(kMatvecMaxBatch, end - first);
        int slot[kMatvecMaxBatch];
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            slot[b] = b < n_batch ? order[first + b] : 0;
        }
        float acc[kMatvecMaxBatch];
        lane_dot_batch<Source>(
            w_row, n_cols, vec_w, [&](int b) { return x + (slot[b] / slots_per_x) * x_stride; },
            vec_x, n_batch, lane, acc);
#pragma unroll
        for (int b = 0; b < kMatvecMaxBatch; ++b) {
            if (b < n_batch) {
                const float s = warp_sum(acc[b]);
                if (lane == 0) {
                    y[slot[b] * y_stride + row] = s;
                }
            }
        }
    }
}

// What both expert launchers are given and check alike: n_expert weight matrices of n_rows
// rows of n_cols values (row pitch row_bytes, experts expert_bytes apart) and the input and
// output rows.
struct ExpertMatrices {
    const void* w;
    size_t expert_bytes;
    int n_expert;
    size_t row_bytes;
    int64_t n_rows, n_cols;
    const float* x;
    int64_t x_stride;
    int slots_per_x;
    float* y;
    int64_t y_stride;

    // cudaErrorInvalidValue for n_expert < 1, n_rows < 0, n_cols < 1, slots_per_x < 1, n_cols
    // not a whole number of blocks, a row_bytes smaller than a packed row or an expert_bytes
    // smaller than n_rows rows; else cudaSuccess.
    template <class Source>
    cudaError_t check_sizes() const {
        if (n_expert <= 0 || n_rows < 0 || n_cols <= 0 || slots_per_x < 1) {
            return cudaErrorInvalidValue;
        }
        const size_t packed = RowSize<Source>::bytes(n_cols);
        if (packed == 0 || row_bytes < packed ||
            expert_bytes < row_bytes * static_cast<size_t>(n_rows)) {
            return cudaErrorInvalidValue;
        }
        return cudaSuccess;
    }

    // The launch grid, kWarps rows per CTA along x and `n_y` (slots or experts) along y, in
    // *grid; cudaErrorInvalidValue for a null w, x or y, or more row CTAs than a grid holds.
    cudaError_t launch_grid(int n_y, dim3* grid) const {
        if (w == nullptr || x == nullptr || y == nullptr) {
            return cudaErrorInvalidValue;
        }
        const int64_t grid_x = (n_rows + kWarps - 1) / kWarps;
        if (grid_x > INT_MAX) {
            return cudaErrorInvalidValue;
        }
        *grid = dim3(static_cast<unsigned>(grid_x), static_cast<unsigned>(n_y));
        return cudaSuccess;
    }

    // Whether the kernels may read weights, and activations, with 16-byte loads.
    bool vec_w() const { return aligned16(w) && row_bytes % 16 == 0 && expert_bytes % 16 == 0; }
    bool vec_x() const { return aligned16(x) && x_stride % 4 == 0; }
};

struct ExpertMatvecArgs {
    ExpertMatrices m;
    const int32_t* ids;
    int n_slots;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (n_slots < 0 || n_slots > kMatvecMaxSlots) {
            return cudaErrorInvalidValue;
        }
        if (const cudaError_t bad = m.check_sizes<Source>(); bad != cudaSuccess) {
            return bad;
        }
        if (m.n_rows == 0 || n_slots == 0) {
            return cudaSuccess;
        }
        if (ids == nullptr || (n_slots > m.slots_per_x && m.x_stride < m.n_cols) ||
            (n_slots > 1 && m.y_stride < m.n_rows)) {
            return cudaErrorInvalidValue;
        }
        dim3 grid;
        if (const cudaError_t bad = m.launch_grid(n_slots, &grid); bad != cudaSuccess) {
            return bad;
        }
        matvec_experts_kernel<Source><<<grid, kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(m.w), m.expert_bytes, m.n_expert, m.row_bytes, m.n_rows,
            m.n_cols, ids, m.x, m.x_stride, m.slots_per_x, m.y, m.y_stride, m.vec_w(), m.vec_x());
        return cudaGetLastError();
    }
};

struct GroupedMatvecArgs {
    ExpertMatrices m;
    const int32_t* order;
    const int32_t* offsets;
    cudaStream_t stream;

    template <class Source>
    cudaError_t run() const {
        if (m.n_expert > 65535) { // a CUDA grid's y
            return cudaErrorInvalidValue;
        }
        if (const cudaError_t bad = m.check_sizes<Source>(); bad != cudaSuccess) {
            return bad;
        }
        if (m.n_rows == 0) {
            return cudaSuccess;
        }
        if (order == nullptr || offsets == nullptr || m.x_stride < m.n_cols ||
            m.y_stride < m.n_rows) {
            return cudaErrorInvalidValue;
        }
        dim3 grid;
        if (const cudaError_t bad = m.launch_grid(m.n_expert, &grid); bad != cudaSuccess) {
            return bad;
        }
        matvec_grouped_kernel<Source><<<grid, kThreads, 0, stream>>>(
            static_cast<const uint8_t*>(m.w), m.expert_bytes, m.row_bytes, m.n_rows, m.n_cols,
            order, offsets, m.x, m.x_stride, m.slots_per_x, m.y, m.y_stride, m.vec_w(), m.vec_x());
        return cudaGetLastError();
    }
};

} // namespace

cudaError_t launch_matvec_experts(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* ids, int n_slots, const float* x, int64_t x_stride,
                                  int slots_per_x, float* y, int64_t y_stride,
                                  cudaStream_t stream) {
    const ExpertMatrices m{w, expert_bytes, n_expert,    row_bytes, n_rows,  n_cols,
                           x, x_stride,     slots_per_x, y,         y_stride};
    return dispatch_format(type_id, SourceDispatch<ExpertMatvecArgs>{{m, ids, n_slots, stream}});
}

cudaError_t launch_matvec_grouped(int type_id, const void* w, size_t expert_bytes, int n_expert,
                                  size_t row_bytes, int64_t n_rows, int64_t n_cols,
                                  const int32_t* order, const int32_t* offsets, const float* x,
                                  int64_t x_stride, int slots_per_x, float* y, int64_t y_stride,
                                  cudaStream_t stream) {
    const ExpertMatrices m{w, expert_bytes, n_expert,    row_bytes, n_rows,  n_cols,
                           x, x_stride,     slots_per_x, y,         y_stride};
    return dispatch_format(type_id, SourceDispatch<GroupedMatvecArgs>{{m, order, offsets, stream}});
}

} // namespace hearth::kernels
