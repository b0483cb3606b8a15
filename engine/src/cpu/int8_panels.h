// How the int8 prefill path walks a matrix (both layouts: int8_gemm.cpp's BlockInt8x8 and
// int8_ksuper.cpp's BlockKSuper8): threads take whole kernel calls (pairs of 8-row groups, so
// only the matrix's last call is short); each converts kPanelGroups groups into a panel just
// before running them against the batch's tokens kTokenChunk at a time, so a converted weight
// serves every token while both stay in L2 (4 groups of a 5632-wide row: 264 KiB of
// BlockInt8x8, 248 KiB of BlockKSuper8; 64 tokens × 5632 bytes). The panel lives for one
// matmul: nothing is kept per thread across calls.
#pragma once

#include "cpu/int8_gemm.h"
#include "cpu/thread_pool.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace hearth::cpu {

inline constexpr int64_t kInt8PanelGroups = 4;
inline constexpr int64_t kInt8TokenChunk = 64;

// Part `part` of `n_parts` of the bytes [begin, end), prefetched into the cache: the weights
// of a thread's next panel, spread over the current panel's token chunks, so their conversion
// reads the cache instead of waiting on memory (it did: 70% of the F16 conversion's samples
// sat on its loads, each 4 KiB row a fresh page for the hardware prefetcher; docs/PERFORMANCE.md,
// "Float fast prefill on AVX2").
inline void int8_prefetch_part(const uint8_t* begin, const uint8_t* end, int64_t part,
                               int64_t n_parts) {
    constexpr int64_t kLine = 64;
    const int64_t size = end - begin;
    for (int64_t i = size * part / n_parts / kLine * kLine; i < size * (part + 1) / n_parts;
         i += kLine) {
        __builtin_prefetch(begin + i, 0, 2);
    }
}

// For a matrix of w.n_rows rows whose groups are `group_blocks` Blocks long:
// convert(row0, Block* out) converts the group of rows [row0, row0 + 8);
// run(const Block* groups, int64_t t0, int64_t n_tok, int64_t row0, int n_rows) runs one kernel
// call (n_rows ≤ kInt8CallRows from row0; its second group, if any, at groups + group_blocks)
// against tokens [t0, t0 + n_tok).
template <typename Block, typename Convert, typename Run>
void int8_for_each_call(const WeightMatrix& w, int64_t group_blocks, int64_t n_tokens,
                        ThreadPool& pool, const Convert& convert, const Run& run) {
    const int64_t n_calls = (w.n_rows + kInt8CallRows - 1) / kInt8CallRows;
    constexpr int64_t kGroupsPerCall = kInt8CallRows / kInt8Rows;
    constexpr int64_t kPanelCalls = kInt8PanelGroups / kGroupsPerCall;
    static_assert(kInt8PanelGroups % kGroupsPerCall == 0);
    const int64_t n_groups = (w.n_rows + kInt8Rows - 1) / kInt8Rows;
    const auto* rows = static_cast<const uint8_t*>(w.data);
    const auto row_bytes = static_cast<int64_t>(w.row_bytes);
    pool.parallel_for(n_calls, 1, [&](int64_t c0, int64_t c1) {
        std::vector<Block> panel(static_cast<size_t>(kInt8PanelGroups * group_blocks));
        for (int64_t pc = c0; pc < c1; pc += kPanelCalls) {
            // Groups [p0, p1) of the matrix: those with a row below w.n_rows.
            const int64_t p0 = pc * kGroupsPerCall;
            const int64_t p1 = std::min(std::min(c1, pc + kPanelCalls) * kGroupsPerCall, n_groups);
            for (int64_t g = p0; g < p1; ++g) {
                convert(g * kInt8Rows, panel.data() + (g - p0) * group_blocks);
            }
            // The rows of this thread's next panel (none after its last).
            const int64_t next_row0 = std::min(p1 * kInt8Rows, w.n_rows);
            const int64_t next_row1 = std::min(
                (std::min(c1, pc + 2 * kPanelCalls) * kGroupsPerCall) * kInt8Rows, w.n_rows);
            const int64_t n_chunks = (n_tokens + kInt8TokenChunk - 1) / kInt8TokenChunk;
            for (int64_t t0 = 0; t0 < n_tokens; t0 += kInt8TokenChunk) {
                const int64_t n_tok = std::min(kInt8TokenChunk, n_tokens - t0);
                int8_prefetch_part(rows + next_row0 * row_bytes,
                                   rows + std::max(next_row0, next_row1) * row_bytes,
                                   t0 / kInt8TokenChunk, n_chunks);
                for (int64_t g = p0; g < p1; g += kGroupsPerCall) {
                    const int64_t row0 = g * kInt8Rows;
                    const auto n_rows = static_cast<int>(std::min(kInt8CallRows, w.n_rows - row0));
                    run(panel.data() + (g - p0) * group_blocks, t0, n_tok, row0, n_rows);
                }
            }
        }
    });
}

} // namespace hearth::cpu
