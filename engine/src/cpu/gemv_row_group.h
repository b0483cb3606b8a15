// The rows a single-token kernel takes in one call: a group of kRows consecutive weight rows,
// the group at the end of a run padded with repeats of its last row (computed, not stored);
// and the software prefetch of the rows ahead of them.
#pragma once

#include "cpu/gemv_prefetch.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace hearth::cpu {

// Rows r .. r + kRows - 1 of the n_rows rows at w (row_bytes apart) into `rows`, those past the
// last one repeating it; returns how many are real (1 .. kRows; r < n_rows).
template <int kRows, class Row>
int row_group(const void* w, size_t row_bytes, int64_t r, int64_t n_rows,
              const Row* (&rows)[kRows]) {
    const int real = static_cast<int>(std::min<int64_t>(kRows, n_rows - r));
    for (int i = 0; i < kRows; ++i) {
        const int64_t at = r + std::min(i, real - 1);
        rows[i] = reinterpret_cast<const Row*>(static_cast<const uint8_t*>(w) +
                                               static_cast<size_t>(at) * row_bytes);
    }
    return real;
}

// pass(rows, r, real) for each group of kRows rows of the run, r its first row's index.
template <int kRows, class Row, class Pass>
void for_each_row_group(const void* w, size_t row_bytes, int64_t n_rows, Pass&& pass) {
    for (int64_t r = 0; r < n_rows; r += kRows) {
        const Row* rows[kRows];
        const int real = row_group(w, row_bytes, r, n_rows, rows);
        pass(static_cast<const Row* const*>(rows), r, real);
    }
}

// How far ahead of the block it reads a single-token kernel asks for the weights: the same
// block kPrefetchRows rows later in the run. The hardware prefetchers alone left the Q6_K
// kernels waiting on memory (DRAM-resident rows: 1.5-1.7x GB/s per CPU second with this
// prefetch, docs/PERFORMANCE.md); a prefetch past the run's end reads a few lines in vain, it
// cannot fault.
inline constexpr int kPrefetchRows = 4;

// Prefetches the kBlockBytes of the block at `block` kPrefetchRows rows (row_bytes apart) later
// (gemv_prefetch.h's span prefetch).
template <size_t kBlockBytes>
inline void prefetch_rows_ahead(const void* block, size_t row_bytes) {
    prefetch_span_ahead(block, kPrefetchRows * row_bytes, kBlockBytes);
}

} // namespace hearth::cpu
