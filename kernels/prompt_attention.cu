// Prompt (prefill) attention over an F16 KV cache, tiled flash-attention style.
//
// Math: launch_attention's (kernels/attention.cu), for the rows r < n of a prompt chunk of one
// sequence at positions p0 + r; query head h reads key/value head h / (n_head / n_head_kv):
//   q' = f16(q * q_scale)
//   s_j = cap(q' . K_j) * score_scale                  j in [first_r, p0 + r]  (causal)
//   out = sum_j exp(s_j - M) V_j / sum_j exp(s_j - M), M = max_j s_j
// cap: gemma2's soft cap (attention_math::soft_cap) or none. A sink logit (gpt-oss) joins each
// row's softmax after the last tile: M' = max(M, sink), the sum and output scaled by
// exp(M - M'), the sum plus exp(sink - M').
// with first_r = max(0, p0 + r + 1 - window) for a sliding window (window 0: first_r = 0).
// The softmax weights stay float32, as in the decode kernel.
//
// Tiling: a CTA of 4 warps takes a tile of kRows = 16 query rows of one head (grid: query
// tile x head) and walks the cells [first of its first row, position of its last row] in KV
// tiles of kCells = 32, so that every K and V element is read from global memory once per
// query tile rather than once per row. Warp w owns rows 4w..4w+3 of the tile. Per KV tile:
//   1. the K tile goes to shared memory (F16 pairs, one 32-bit word per two dimensions);
//   2. score phase: lane c computes the scores of cell c for the warp's 4 rows against q'
//      (kept in shared memory as float32 for the whole tile), masks the cells outside
//      [first_r, p0 + r] to -inf, and each row updates its running maximum m and sum l
//      (online softmax: when the maximum grows from m to m', l and the output are scaled by
//      exp(m - m')); the row's weights p_c stay in lane c's registers;
//   3. the V tile replaces the K tile in shared memory;
//   4. accumulation: for each cell c, p_c is broadcast with a shuffle and lane l adds
//      p_c * V_c to the dimensions 2l + 64k and 2l + 64k + 1 (k < 4) of each row it owns.
// Four __syncthreads per KV tile separate the phases that write and read the shared tile.
// At the end each row's output is divided by its l. Rows past n in the last query tile take
// part in the loads and barriers but are never written.
//
// Shared memory: q' 16 x 256 floats (16 KiB) and one K/V tile 32 x 129 words (16.1 KiB); the
// tile's row stride of 129 words puts cell c's row in bank c % 32, so the score phase (lane c
// reads cell c) has no bank conflicts, and the accumulation (lanes read consecutive words of
// one cell) has none either. Dimensions past head_dim and cells past the chunk's last
// position are zero in shared memory, so no NaN from unused memory enters a product.
#include "common.cuh"
#include "model/attention_math.h"
#include "prompt_attention.cuh"

namespace hearth::kernels {
namespace {

constexpr int kRows = kPromptAttentionRows;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kRows / kWarps;
constexpr int kCells = 32; // one cell per lane in the score phase
constexpr int kMaxWords = kAttentionMaxHeadDim / 2;
constexpr int kTileStride = kMaxWords + 1; // odd: cell c's row starts in bank c % 32
constexpr int kWordsPerLane = kMaxWords / 32;
constexpr unsigned kFullMask = 0xffffffffu;

static_assert(kRows % kWarps == 0, "each warp owns the same number of rows");
static_assert(kMaxWords % 32 == 0, "lanes cover the widest head in whole words");

// binary16 -> float32 by the hardware conversion: exact for every non-NaN value (the cache
// holds finite values; the bit-exact software routine is used where q is rounded).
__device__ __forceinline__ float f16_to_f32(uint32_t bits) {
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(static_cast<unsigned short>(bits)));
    return value;
}

__device__ __forceinline__ float warp_max(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
    }
    return value;
}

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        value += __shfl_xor_sync(kFullMask, value, offset);
    }
    return value;
}

__host__ __device__ __forceinline__ int first_cell(int pos, int window) {
    return window > 0 && pos + 1 > window ? pos + 1 - window : 0;
}

// Copies cells [t0, t0 + kCells) of one head into `tile` as F16 pairs (word w of a cell holds
// dimensions 2w and 2w + 1, the low half first). base points at cell 0 of the head, cells
// `width` halves apart; cells past `last` and the partner of an odd last dimension are zero.
__device__ void load_tile(uint32_t (*tile)[kTileStride], const uint16_t* __restrict__ base,
                          int64_t width, int dim, int t0, int last) {
    const int words = (dim + 1) / 2;
    for (int idx = static_cast<int>(threadIdx.x); idx < kCells * words; idx += kThreads) {
        const int c = idx / words;
        const int w = idx - c * words;
        const int cell = t0 + c;
        uint32_t pair = 0;
        if (cell <= last) {
            const uint16_t* src = base + cell * width + 2 * w;
            const uint32_t hi = 2 * w + 1 < dim ? src[1] : 0u;
            pair = static_cast<uint32_t>(src[0]) | (hi << 16);
        }
        tile[c][w] = pair;
    }
}

// grid (query tile, head), kThreads threads.
__global__ void __launch_bounds__(kThreads)
    prompt_attention_kernel(const float* __restrict__ q, int64_t q_stride,
                            const uint16_t* __restrict__ k_cache,
                            const uint16_t* __restrict__ v_cache, KvLayout l, int slot, int p0,
                            int n_rows, int window, float q_scale, float score_scale,
                            float soft_cap, const float* __restrict__ sinks,
                            float* __restrict__ out, int64_t out_stride) {
    __shared__ __align__(16) float q_s[kRows][kAttentionMaxHeadDim];
    __shared__ uint32_t kv_s[kCells][kTileStride];

    const int row0 = static_cast<int>(blockIdx.x) * kRows; // first row of the tile
    const int h = static_cast<int>(blockIdx.y);
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int dk = l.head_dim_k, dv = l.head_dim_v;
    const int dk_words = (dk + 1) / 2, dv_words = (dv + 1) / 2;
    const int g = h / (l.n_head / l.n_head_kv);
    const int tile_rows = min(kRows, n_rows - row0); // >= 1 by the grid size
    const int64_t k_width = static_cast<int64_t>(l.n_head_kv) * dk;
    const int64_t v_width = static_cast<int64_t>(l.n_head_kv) * dv;
    const uint16_t* k_base = k_cache + static_cast<int64_t>(slot) * l.n_ctx * k_width + g * dk;
    const uint16_t* v_base = v_cache + static_cast<int64_t>(slot) * l.n_ctx * v_width + g * dv;

    // q' of the tile's rows; zero past dk and for rows past n_rows.
    for (int idx = static_cast<int>(threadIdx.x); idx < kRows * kAttentionMaxHeadDim;
         idx += kThreads) {
        const int i = idx / kAttentionMaxHeadDim;
        const int d = idx % kAttentionMaxHeadDim;
        float value = 0.0f;
        if (i < tile_rows && d < dk) {
            const float x = q[static_cast<int64_t>(row0 + i) * q_stride + h * dk + d];
            value = fp16_bits_to_fp32(fp32_to_fp16_bits(x * q_scale));
        }
        q_s[i][d] = value;
    }

    const float inv_cap = soft_cap != 0.0f ? 1.0f / soft_cap : 0.0f;
    // The warp's rows: position, first visible cell, running max, sum and output.
    bool row_ok[kRowsPerWarp];
    int pos[kRowsPerWarp], first[kRowsPerWarp];
    float m[kRowsPerWarp], sum[kRowsPerWarp];
    float o[kRowsPerWarp][kWordsPerLane][2];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
        const int r = warp * kRowsPerWarp + i;
        row_ok[i] = r < tile_rows;
        pos[i] = p0 + row0 + r;
        first[i] = first_cell(pos[i], window);
        m[i] = -INFINITY;
        sum[i] = 0.0f;
#pragma unroll
        for (int k = 0; k < kWordsPerLane; ++k) {
            o[i][k][0] = 0.0f;
            o[i][k][1] = 0.0f;
        }
    }

    // The cells any row of the tile sees: first is non-decreasing in the position.
    const int kv_begin = first_cell(p0 + row0, window);
    const int kv_last = p0 + row0 + tile_rows - 1;
    for (int t0 = kv_begin; t0 <= kv_last; t0 += kCells) {
        __syncthreads(); // q_s is complete; the previous V tile is consumed
        load_tile(kv_s, k_base, k_width, dk, t0, kv_last);
        __syncthreads();

        // Score phase: lane c scores cell t0 + c for the warp's rows.
        const int cell = t0 + lane;
        float dot[kRowsPerWarp];
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; ++i) {
            dot[i] = 0.0f;
        }
        for (int w = 0; w < dk_words; ++w) {
            const uint32_t pair = kv_s[lane][w];
            const float k0 = f16_to_f32(pair & 0xffffu);
            const float k1 = f16_to_f32(pair >> 16);
#pragma unroll
            for (int i = 0; i < kRowsPerWarp; ++i) {
                const float2 qv =
                    *reinterpret_cast<const float2*>(&q_s[warp * kRowsPerWarp + i][2 * w]);
                dot[i] = fmaf(qv.x, k0, dot[i]);
                dot[i] = fmaf(qv.y, k1, dot[i]);
            }
        }
        float p[kRowsPerWarp];
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; ++i) {
            const bool visible = row_ok[i] && cell >= first[i] && cell <= pos[i];
            const float capped =
                soft_cap != 0.0f ? attention_math::soft_cap(dot[i], soft_cap, inv_cap) : dot[i];
            const float s = visible ? capped * score_scale : -INFINITY;
            const float tile_max = warp_max(s); // the same in every lane
            p[i] = 0.0f;
            if (tile_max != -INFINITY) {
                const float m_new = fmaxf(m[i], tile_max);
                const float alpha = expf(m[i] - m_new); // 0 while m is -inf
                p[i] = visible ? expf(s - m_new) : 0.0f;
                sum[i] = sum[i] * alpha + warp_sum(p[i]);
#pragma unroll
                for (int k = 0; k < kWordsPerLane; ++k) {
                    o[i][k][0] *= alpha;
                    o[i][k][1] *= alpha;
                }
                m[i] = m_new;
            }
        }

        __syncthreads(); // every warp is done with the K tile
        load_tile(kv_s, v_base, v_width, dv, t0, kv_last);
        __syncthreads();

        // Accumulation: o += p_c V_c over the tile's cells.
        const int n_cells = min(kCells, kv_last - t0 + 1);
        for (int c = 0; c < n_cells; ++c) {
            float pc[kRowsPerWarp];
            bool use[kRowsPerWarp];
#pragma unroll
            for (int i = 0; i < kRowsPerWarp; ++i) {
                pc[i] = __shfl_sync(kFullMask, p[i], c);
                use[i] = row_ok[i] && t0 + c >= first[i] && t0 + c <= pos[i];
            }
#pragma unroll
            for (int k = 0; k < kWordsPerLane; ++k) {
                const int w = lane + 32 * k;
                if (w < dv_words) {
                    const uint32_t pair = kv_s[c][w];
                    const float v0 = f16_to_f32(pair & 0xffffu);
                    const float v1 = f16_to_f32(pair >> 16);
#pragma unroll
                    for (int i = 0; i < kRowsPerWarp; ++i) {
                        if (use[i]) {
                            o[i][k][0] = fmaf(pc[i], v0, o[i][k][0]);
                            o[i][k][1] = fmaf(pc[i], v1, o[i][k][1]);
                        }
                    }
                }
            }
        }
    }

#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
        if (!row_ok[i]) {
            continue;
        }
        if (sinks != nullptr) { // m is finite: the row's own cell is visible
            const float m_sink = fmaxf(m[i], sinks[h]);
            const float alpha = expf(m[i] - m_sink);
            sum[i] = sum[i] * alpha + expf(sinks[h] - m_sink);
#pragma unroll
            for (int k = 0; k < kWordsPerLane; ++k) {
                o[i][k][0] *= alpha;
                o[i][k][1] *= alpha;
            }
        }
        // sum >= 1: the largest logit (a visible cell or the sink) contributes exp(0).
        const float inv = 1.0f / sum[i];
        float* dst = out + static_cast<int64_t>(row0 + warp * kRowsPerWarp + i) * out_stride +
                     static_cast<int64_t>(h) * dv;
#pragma unroll
        for (int k = 0; k < kWordsPerLane; ++k) {
            const int d = 2 * (lane + 32 * k);
            if (d < dv) {
                dst[d] = o[i][k][0] * inv;
            }
            if (d + 1 < dv) {
                dst[d + 1] = o[i][k][1] * inv;
            }
        }
    }
}

bool valid_layout(const KvLayout& l) {
    return l.n_head > 0 && l.n_head_kv > 0 && l.n_head % l.n_head_kv == 0 && l.head_dim_k > 0 &&
           l.head_dim_v > 0 && l.head_dim_k <= kAttentionMaxHeadDim &&
           l.head_dim_v <= kAttentionMaxHeadDim && l.n_ctx > 0 && l.n_slots > 0 &&
           l.n_head <= 65535;
}

} // namespace

cudaError_t launch_prompt_attention(const float* q, int64_t q_stride, const uint16_t* k_cache,
                                    const uint16_t* v_cache, const KvLayout& layout, int slot,
                                    int p0, int n_rows, int window, float q_scale,
                                    float score_scale, float* out, int64_t out_stride,
                                    cudaStream_t stream, float soft_cap, const float* sinks) {
    if (!valid_layout(layout) || n_rows < 0 || window < 0 || slot < 0 || slot >= layout.n_slots ||
        !(soft_cap >= 0.0f && soft_cap < INFINITY) || p0 < 0 ||
        static_cast<int64_t>(p0) + n_rows > layout.n_ctx || q == nullptr || k_cache == nullptr ||
        v_cache == nullptr || out == nullptr) {
        return cudaErrorInvalidValue;
    }
    if (n_rows == 0) {
        return cudaSuccess;
    }
    const dim3 grid(static_cast<unsigned>((n_rows + kRows - 1) / kRows),
                    static_cast<unsigned>(layout.n_head));
    prompt_attention_kernel<<<grid, kThreads, 0, stream>>>(
        q, q_stride, k_cache, v_cache, layout, slot, p0, n_rows, window, q_scale, score_scale,
        soft_cap, sinks, out, out_stride);
    return cudaGetLastError();
}

} // namespace hearth::kernels
