// Dequantization of GGML block formats on the GPU, bit-exact with the CPU dequantizer
// (engine/src/quant/dequantize.cpp, itself bit-exact with gguf.quants.dequantize).
//
// Math. Each format stores QK values x[0..QK) per block of `type_size` bytes (layouts in
// common.cuh, formulas in engine/src/quant/blocks.h). With d, m, dmin f16 scales converted
// exactly to float32, q the stored integer and f() the exact int -> float32 conversion:
//   Q4_0  x = d * f(q - 8)                 Q4_1  x = d * f(q) + m
//   Q5_0  x = d * f(q - 16)                Q5_1  x = d * f(q) + m
//   Q8_0  x = f(q) * d                     IQ4_NL x = d * f(kvalues_iq4nl[q])
//   Q2_K  x = (d * f(sc)) * f(q) - (dmin * f(mn))          (16 sub-blocks of 16)
//   Q3_K  x = (d * f(sc - 32)) * f(q - 4 * !hbit)          (16 sub-blocks of 16)
//   Q4_K, Q5_K  x = (d * f(sc)) * f(q) - (dmin * f(mn))    (8 sub-blocks of 32)
//   Q6_K  x = (d * f(sc)) * f(q - 32)                      (16 sub-blocks of 16)
//   IQ4_XS x = (d * f(sc - 32)) * f(kvalues_iq4nl[q])      (8 sub-blocks of 32)
//   TQ1_0 x = d * f(trit - 1)   TQ2_0 x = d * f(q - 1)
//   IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S: grid code book entries times their
//   scales, as engine/src/quant/dequantize_grid.cpp (decoders in grid_formats.cuh)
//   MXFP4 x = 2^(e - 128) * f(kvalues_mxfp4[q])   NVFP4 x = ue4m3(d_j) / 2 * f(kvalues_mxfp4[q])
//   F32 x = bits, F16 / BF16 x = exact widening of the stored bits (NaN payloads kept).
// Every product and sum is rounded on its own, in the CPU's order, with __fmul_rn / __fadd_rn
// / __fsub_rn: nvcc contracts a * b + c into an FMA by default, which would change the last
// bit (the file is also built with --fmad=false, belt and braces). No fast-math.
//
// Work decomposition. Block formats: one thread block (256 threads) per tile of 4096 output
// values, i.e. 4096 / QK consecutive quant blocks (128 of Q4_0, 16 of Q4_K). The tile's bytes
// (at most 4352) are contiguous in `src` and a multiple of 16 long, so the CTA first copies
// them into shared memory with coalesced 16-byte loads (byte loads when `src` is not 16-byte
// aligned, and for the tail of a partial last tile), then each thread decodes 8 consecutive
// values (always within one sub-block, so scales are decoded once per 8) and writes them
// with 16-byte stores. The last tile may hold fewer blocks: sizes need not be a multiple of
// the tile. F32 / F16 / BF16: each thread converts 8 consecutive elements read with 16-byte
// loads; the array tail (< 8 elements) is done element by element.
//
// The dequantize kernel serves the tensor-core prefill path (dequantize a weight tile to
// f16, then cuBLAS) and tests; decode uses the fused dequantize + matrix-vector kernels.
#include "block_formats.cuh"
#include "common.cuh"
#include "dequantize.cuh"

#include <climits>

namespace hearth::kernels {
namespace {

using namespace formats;

constexpr int kThreads = 256;
constexpr int kTileElements = 4096; // output values per CTA for the block formats

// ---- output ---------------------------------------------------------------------------------

template <class Out>
__device__ __forceinline__ Out convert(float value) {
    if constexpr (sizeof(Out) == sizeof(float)) {
        return value;
    } else {
        return fp32_to_fp16_bits(value);
    }
}

// Stores 8 consecutive values: two 16-byte stores of float or one of binary16 when `aligned`
// (dst is 16-byte aligned), element stores otherwise.
template <class Out>
__device__ __forceinline__ void store8(Out* dst, const float (&v)[kPerThread], bool aligned) {
    if (aligned) {
        if constexpr (sizeof(Out) == sizeof(float)) {
            reinterpret_cast<float4*>(dst)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4*>(dst)[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            uint32_t w[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                w[k] = static_cast<uint32_t>(fp32_to_fp16_bits(v[2 * k])) |
                       static_cast<uint32_t>(fp32_to_fp16_bits(v[2 * k + 1])) << 16;
            }
            *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
        }
    } else {
#pragma unroll
        for (int k = 0; k < kPerThread; ++k) {
            dst[k] = convert<Out>(v[k]);
        }
    }
}

// ---- kernels --------------------------------------------------------------------------------

// One CTA per tile of kTileElements values (kTileElements / QK blocks); see the top.
// src: [n_blocks] blocks of Format; dst: [n_blocks * QK] values.
template <class Format, class Out>
__global__ void __launch_bounds__(kThreads)
    dequantize_blocks_kernel(const uint8_t* __restrict__ src, Out* __restrict__ dst,
                             int64_t n_blocks, bool aligned_src, bool aligned_dst) {
    using Block = typename Format::Block;
    constexpr int qk = Format::qk;
    constexpr int tile_blocks = kTileElements / qk;
    constexpr int tile_bytes = tile_blocks * static_cast<int>(sizeof(Block));
    static_assert(kTileElements % qk == 0 && tile_bytes % 16 == 0, "tile of whole 16-byte words");
    static_assert(qk % kPerThread == 0, "8 values per thread stay within a block");
    __shared__ __align__(16) uint8_t tile[tile_bytes];

    const int64_t first_block = static_cast<int64_t>(blockIdx.x) * tile_blocks;
    const int n_tile_blocks =
        static_cast<int>(min(static_cast<int64_t>(tile_blocks), n_blocks - first_block));
    const int n_bytes = n_tile_blocks * static_cast<int>(sizeof(Block));
    const uint8_t* tile_src = src + first_block * static_cast<int64_t>(sizeof(Block));

    int copied = 0;
    if (aligned_src) {
        const int n_words = n_bytes / 16;
        const auto* src16 = reinterpret_cast<const uint4*>(tile_src);
        auto* tile16 = reinterpret_cast<uint4*>(tile);
        for (int w = threadIdx.x; w < n_words; w += kThreads) {
            tile16[w] = src16[w];
        }
        copied = n_words * 16;
    }
    for (int i = copied + static_cast<int>(threadIdx.x); i < n_bytes; i += kThreads) {
        tile[i] = tile_src[i];
    }
    __syncthreads();

    Out* tile_dst = dst + first_block * qk;
    const int n_values = n_tile_blocks * qk;
    for (int i0 = static_cast<int>(threadIdx.x) * kPerThread; i0 < n_values;
         i0 += kThreads * kPerThread) {
        const auto& block =
            *reinterpret_cast<const Block*>(tile + (i0 / qk) * static_cast<int>(sizeof(Block)));
        float v[kPerThread];
        Format::values(block, i0 % qk, v);
        store8(tile_dst + i0, v, aligned_dst);
    }
}

// Each thread converts 8 consecutive elements. src: [n] elements of Plain::size bytes.
template <class Plain, class Out>
__global__ void __launch_bounds__(kThreads)
    dequantize_plain_kernel(const uint8_t* __restrict__ src, Out* __restrict__ dst, int64_t n,
                            bool aligned_src, bool aligned_dst) {
    constexpr int size = Plain::size;
    const int64_t i0 = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * kPerThread;
    if (i0 >= n) {
        return;
    }
    const uint8_t* p = src + i0 * size;
    if (i0 + kPerThread <= n) {
        float v[kPerThread];
        if (aligned_src) {
            plain_aligned_values<Plain>(p, v);
        } else {
#pragma unroll
            for (int k = 0; k < kPerThread; ++k) {
                uint32_t raw = 0;
#pragma unroll
                for (int byte = 0; byte < size; ++byte) {
                    raw |= static_cast<uint32_t>(p[k * size + byte]) << (8 * byte);
                }
                v[k] = Plain::decode(raw);
            }
        }
        store8(dst + i0, v, aligned_dst);
        return;
    }
    for (int64_t i = i0; i < n; ++i) { // the last, partial group of 8
        uint32_t raw = 0;
        for (int byte = 0; byte < size; ++byte) {
            raw |= static_cast<uint32_t>(src[i * size + byte]) << (8 * byte);
        }
        dst[i] = convert<Out>(Plain::decode(raw));
    }
}

bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <class Format, class Out>
cudaError_t launch_blocks(const void* src, Out* dst, int64_t n, cudaStream_t stream) {
    constexpr int qk = Format::qk;
    if (n < 0 || n % qk != 0) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    if (src == nullptr || dst == nullptr) {
        return cudaErrorInvalidValue;
    }
    const int64_t n_blocks = n / qk;
    constexpr int64_t tile_blocks = kTileElements / qk;
    const int64_t grid = (n_blocks + tile_blocks - 1) / tile_blocks;
    if (grid > INT_MAX) {
        return cudaErrorInvalidValue;
    }
    dequantize_blocks_kernel<Format, Out><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
        static_cast<const uint8_t*>(src), dst, n_blocks, aligned16(src), aligned16(dst));
    return cudaGetLastError();
}

template <class Plain, class Out>
cudaError_t launch_plain(const void* src, Out* dst, int64_t n, cudaStream_t stream) {
    if (n < 0) {
        return cudaErrorInvalidValue;
    }
    if (n == 0) {
        return cudaSuccess;
    }
    if (src == nullptr || dst == nullptr) {
        return cudaErrorInvalidValue;
    }
    constexpr int64_t per_cta = static_cast<int64_t>(kThreads) * kPerThread;
    const int64_t grid = (n + per_cta - 1) / per_cta;
    if (grid > INT_MAX) {
        return cudaErrorInvalidValue;
    }
    dequantize_plain_kernel<Plain, Out><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
        static_cast<const uint8_t*>(src), dst, n, aligned16(src), aligned16(dst));
    return cudaGetLastError();
}

// The launch for one format: dispatch_format (block_formats.cuh) picks it from the type id.
template <class Out>
struct DequantizeArgs {
    const void* src;
    Out* dst;
    int64_t n;
    cudaStream_t stream;

    template <class Format>
    cudaError_t operator()() const {
        return launch_blocks<Format>(src, dst, n, stream);
    }
    template <class Plain>
    cudaError_t plain() const {
        return launch_plain<Plain>(src, dst, n, stream);
    }
};

struct Probe {
    template <class Format>
    cudaError_t operator()() const {
        return cudaSuccess;
    }
    template <class Plain>
    cudaError_t plain() const {
        return cudaSuccess;
    }
};

} // namespace

bool can_launch_dequantize(int type_id) {
    return dispatch_format(type_id, Probe{}) == cudaSuccess;
}

cudaError_t launch_dequantize(int type_id, const void* src, float* dst, int64_t n_elements,
                              cudaStream_t stream) {
    return dispatch_format(type_id, DequantizeArgs<float>{src, dst, n_elements, stream});
}

cudaError_t launch_dequantize_f16(int type_id, const void* src, uint16_t* dst, int64_t n_elements,
                                  cudaStream_t stream) {
    return dispatch_format(type_id, DequantizeArgs<uint16_t>{src, dst, n_elements, stream});
}

} // namespace hearth::kernels
