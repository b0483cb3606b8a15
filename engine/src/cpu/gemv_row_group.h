// The rows a single-token kernel takes in one call: a group of kRows consecutive weight rows,
// the group at the end of a run padded with repeats of its last row (computed, not stored); the
// driver that walks a run in such groups (one for every rows kernel); and the software prefetch
// of the rows ahead of them.
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

// What every rows kernel of a single-token driver gets besides its rows: the row length n (in
// values), the activation row x (Act blocks), its block scales (those kernels that take them;
// else nullptr) and the bytes from one weight row to the next.
template <class Act>
struct GemvRun {
    int64_t n;
    const Act* x;
    const float* scales;
    size_t row_bytes;
};

// A rows kernel: one group of kRows rows (Row blocks) against the activation row (Act
// blocks), the results of its first n_out rows (the real ones) stored at y; Constants holds its
// constant vectors, built once a call.
template <class Act, class Constants, class Row>
using RowsKernel = void (*)(const GemvRun<Act>& run, const Constants& constants,
                            const Row* const* rows, float* y, int n_out);

// The single-token driver (a kernels.h GemvFn) of the rows kernel `dot`: the run of n_rows rows
// at w in groups of kRows (row_group), each through dot.
template <int kRows, class Act, class Constants, class Row>
void drive_rows(RowsKernel<Act, Constants, Row> dot, int64_t n, const void* w, size_t row_bytes,
                int64_t n_rows, const void* x, const float* scales, float* y) {
    const GemvRun<Act> run{n, static_cast<const Act*>(x), scales, row_bytes};
    const Constants constants;
    for_each_row_group<kRows, Row>(w, row_bytes, n_rows,
                                   [&](const Row* const* rows, int64_t r, int real) {
                                       dot(run, constants, rows, y + r, real);
                                   });
}

// drive_rows of the rows kernel Dot, as a GemvFn: gemv_driver<kRows, dot_rows>.
template <int kRows, auto Dot>
void gemv_driver(int64_t n, const void* w, size_t row_bytes, int64_t n_rows, const void* x,
                 const float* scales, float* y) {
    drive_rows<kRows>(Dot, n, w, row_bytes, n_rows, x, scales, y);
}

// How far ahead of the block it reads a single-token kernel asks for the weights: the same
// block kPrefetchRows rows later in the run. The hardware prefetchers alone left the Q6_K
// kernels waiting on memory (DRAM-resident rows: 1.5-1.7x GB/s per CPU second with this
// prefetch, docs/PERFORMANCE.md); the AVX2 Q4_1 and Q5_K kernels, which asked for their own
// row a few hundred bytes ahead, read from memory at 7.2 and 7.4 GB/s per CPU second, and at
// 10.7-10.8 and 11.0-11.2 with this one (a whole pass of rows or more ahead gives the reads
// time to arrive; 2..16 rows ahead measured alike). A prefetch past the run's end reads a few
// lines in vain, it cannot fault.
inline constexpr int kPrefetchRows = 4;

// Prefetches the kBlockBytes of the block at `block` kRowsAhead rows (row_bytes apart) later
// (gemv_prefetch.h's span prefetch). kRowsAhead: at least the rows of a pass, so that the rows
// asked for are not those being read.
template <size_t kBlockBytes, int kRowsAhead = kPrefetchRows>
inline void prefetch_rows_ahead(const void* block, size_t row_bytes) {
    prefetch_span_ahead(block, kRowsAhead * row_bytes, kBlockBytes);
}

} // namespace hearth::cpu
