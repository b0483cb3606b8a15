// Shared by Hearth's CUDA kernels: GGML type ids, the on-disk block layouts and exact
// half-precision conversions (the engine's quant/block_layout.h), and device helpers.
//
// The kernels are compiled by nvcc as C++20 and cannot include the engine's other headers
// (C++23): block_layout.h is written for both compilers, the type ids are repeated here and
// engine/src/backend/cuda/cuda_device.cpp (g++, with hearth/tensor_type.h) checks them.
//
// The type ids and code book words are plain C++ so that host code can include this header;
// everything that needs the device compiler sits under __CUDACC__.
#pragma once

#include "quant/block_layout.h"

#include <cstdint>

#include <cuda_runtime.h>

namespace hearth::kernels {

// GGML's on-disk tensor type ids (hearth::TensorType has the same values).
enum TypeId : int {
    type_f32 = 0,
    type_f16 = 1,
    type_q4_0 = 2,
    type_q4_1 = 3,
    type_q5_0 = 6,
    type_q5_1 = 7,
    type_q8_0 = 8,
    type_q2_k = 10,
    type_q3_k = 11,
    type_q4_k = 12,
    type_q5_k = 13,
    type_q6_k = 14,
    type_iq2_xxs = 16,
    type_iq2_xs = 17,
    type_iq3_xxs = 18,
    type_iq1_s = 19,
    type_iq4_nl = 20,
    type_iq3_s = 21,
    type_iq2_s = 22,
    type_iq4_xs = 23,
    type_iq1_m = 29,
    type_bf16 = 30,
    type_tq1_0 = 34,
    type_tq2_0 = 35,
    type_mxfp4 = 39,
    type_nvfp4 = 40,
};

// The block layouts, code books and bit-exact conversions are the engine's own
// (quant/block_layout.h, compiled here by nvcc for host and device): device code names them
// unqualified, as if declared here.
using namespace ::hearth::quant;

// The IQ4 and MXFP4 code books packed little-endian four entries a word, for codebook16.
// (Scalars: device code may read a host constexpr scalar, not an array.)
inline constexpr uint32_t kIq4nlWord0 = 0xbfad9881u, kIq4nlWord1 = 0xf6eaddcfu,
                          kIq4nlWord2 = 0x26190d01u, kIq4nlWord3 = 0x71594535u;
inline constexpr uint32_t kMxfp4Word0 = 0x03020100u, kMxfp4Word1 = 0x0c080604u,
                          kMxfp4Word2 = 0xfdfeff00u, kMxfp4Word3 = 0xf4f8fafcu;

// True when the four words hold exactly the 16 entries of `book`.
constexpr bool packs_codebook(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
                              const int8_t (&book)[16]) {
    const uint32_t words[4] = {w0, w1, w2, w3};
    for (int q = 0; q < 16; ++q) {
        const auto byte = static_cast<uint8_t>(words[q / 4] >> (8 * (q % 4)));
        if (static_cast<int8_t>(byte) != book[q]) {
            return false;
        }
    }
    return true;
}
static_assert(packs_codebook(kIq4nlWord0, kIq4nlWord1, kIq4nlWord2, kIq4nlWord3, kvalues_iq4nl),
              "IQ4 code book words differ from kvalues_iq4nl");
static_assert(packs_codebook(kMxfp4Word0, kMxfp4Word1, kMxfp4Word2, kMxfp4Word3, kvalues_mxfp4),
              "MXFP4 code book words differ from kvalues_mxfp4");

#if defined(__CUDACC__)

// Entry q (0..15) of a 16-entry int8 code book packed little-endian into four words. Register
// selects rather than a table: each thread looks up a different entry, which a __constant__
// table would serialise and a local array would spill to local memory.
__device__ __forceinline__ int codebook16(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, int q) {
    const uint32_t word = (q & 8) ? ((q & 4) ? w3 : w2) : ((q & 4) ? w1 : w0);
    return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * (q & 3))));
}

// IQ4_NL / IQ4_XS code book entry q (kvalues_iq4nl[q]).
__device__ __forceinline__ int kvalue_iq4nl(int q) {
    return codebook16(kIq4nlWord0, kIq4nlWord1, kIq4nlWord2, kIq4nlWord3, q);
}

// MXFP4 / NVFP4 doubled e2m1 value of code q (kvalues_mxfp4[q]).
__device__ __forceinline__ int kvalue_mxfp4(int q) {
    return codebook16(kMxfp4Word0, kMxfp4Word1, kMxfp4Word2, kMxfp4Word3, q);
}

// Exact int -> float for the small integers of quantized codes.
__device__ __forceinline__ float to_float(int value) {
    return static_cast<float>(value);
}

#endif // __CUDACC__

} // namespace hearth::kernels
