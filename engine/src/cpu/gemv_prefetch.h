// Software prefetch for the single-token (decode) kernels: each weight stream a kernel
// reads asks for its bytes a fixed distance ahead of the block it is working on.
//
// Why: decode reads every weight once per token from memory, and one core reads from memory
// only as fast as it keeps reads in flight. The hardware's L2 stream prefetcher keeps many in
// flight for one stream per 4 KiB page, but the unpacked kernels walk several rows side by side
// (Q4_1 8 rows of 1280 bytes, Q8_0 4 of 2176 on TinyLlama's 2048 columns: two or three streams
// in a page) and the packed Q4_K kernel two groups with their scales apart from their quants,
// and there it falls behind: `hearth-kernel-bench --decode-memory` had Q4_1 read from memory at
// 64%, Q8_0 at 71% and Q4_K at 84% of the rate of Q4_0's packed kernel (and F16's, one row per
// page), which decode matched (80%, 81%, 84% of the read bandwidth against ~100%). Asking for
// the line a few hundred bytes ahead in each stream starts each read early enough to overlap the
// others (the distances, measured, beside each kernel). A prefetch changes no result: it only
// moves bytes into the cache, and one past a mapping (the last rows' lookahead) is dropped
// without a fault (the address is formed as an integer, not as a pointer past the array).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

constexpr size_t kCacheLine = 64;

// Asks for the cache line `ahead` bytes past p into L1.
inline void prefetch_ahead(const void* p, size_t ahead) {
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + ahead), 0, 3);
}

// Asks for every cache line of the `bytes` bytes that start `ahead` bytes past p.
inline void prefetch_span_ahead(const void* p, size_t ahead, size_t bytes) {
    for (size_t at = 0; at < bytes; at += kCacheLine) {
        prefetch_ahead(p, ahead + at);
    }
}

} // namespace hearth::cpu
