// The K-quants' values as unsigned integers, one byte per value in order: shared by the int8
// path's per-32 layout (int8_convert.cpp) and its super-block layout (int8_ksuper_convert.cpp).
#pragma once

#include "quant/blocks.h"

#include <cstdint>

namespace hearth::cpu {

// Q4_K / Q5_K: values 64c + l and 64c + 32 + l are the low and high nibble of qs[32c + l]
// (Q5_K: with bits 2c and 2c + 1 of qh[l] as their fifth bit). q[256].
template <typename Block, bool kFiveBit>
void int8_unpack_k4(const Block& blk, uint8_t* q) {
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            int lo = blk.qs[32 * c + l] & 0x0f;
            int hi = blk.qs[32 * c + l] >> 4;
            if constexpr (kFiveBit) {
                lo |= ((blk.qh[l] >> (2 * c)) & 1) << 4;
                hi |= ((blk.qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            q[64 * c + l] = static_cast<uint8_t>(lo);
            q[64 * c + 32 + l] = static_cast<uint8_t>(hi);
        }
    }
}

// Q6_K: the unsigned 6-bit q (the value is d · scale · (q − 32)). q[256].
inline void int8_unpack_q6_k(const quant::BlockQ6_K& blk, uint8_t* q) {
    for (int n = 0; n < 2; ++n) {
        const uint8_t* ql = blk.ql + 64 * n;
        const uint8_t* qh = blk.qh + 32 * n;
        uint8_t* y = q + 128 * n;
        for (int l = 0; l < 32; ++l) {
            y[l] = static_cast<uint8_t>((ql[l] & 0x0f) | ((qh[l] & 3) << 4));
            y[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
            y[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            y[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
    }
}

} // namespace hearth::cpu
