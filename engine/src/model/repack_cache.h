// The repacked weights kept on disk beside the model (MODEL.gguf.hearth-packed), so that a load
// maps them instead of rebuilding them: the repacking of a 1.1B Q4_0 file took a second of a
// 1.3 s load (docs/PERFORMANCE.md, "Load time").
#pragma once

#include "cpu/memory_pages.h"
#include "hearth/gguf.h"
#include "hearth/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace hearth {

// One matrix of a packed layout: what a cache must agree on besides the model file.
struct PackedMatrixShape {
    TensorType type;
    int64_t n_rows;
    int64_t n_cols;
    size_t offset; // of its packed rows in the layout
};

// Layouts smaller than this are rebuilt at every load (milliseconds), not cached: no file
// beside small models (the tests' among them) for no gain (docs/LIMITS.md).
inline constexpr size_t kMinCachedRepackBytes = size_t{64} << 20;

// The smallest layout cached: kMinCachedRepackBytes unless a test lowered it to exercise the
// cache on its tiny models (tst_repack_cache). Safe from any thread.
size_t min_cached_repack_bytes();
void set_min_cached_repack_bytes(size_t bytes);

// A cache is written only when the disk keeps at least this much free beside it afterwards:
// a cache is as large as the model's packed matrices (3.4 GiB for a 7B Q4_0), and filling
// the disk for it would make the next conversation save or download fail (docs/LIMITS.md).
inline constexpr uint64_t kRepackCacheFreeSpaceReserve = uint64_t{2} << 30;

// The free space a cache must leave: kRepackCacheFreeSpaceReserve unless a test raised it to
// check that a full disk gets no cache (tst_repack_cache). Safe from any thread.
uint64_t repack_cache_free_space_reserve();
void set_repack_cache_free_space_reserve(uint64_t bytes);

// Where the cache of `model` lives: beside it, its name with ".hearth-packed" appended.
std::filesystem::path repack_cache_path(const std::filesystem::path& model);

// Whether a layout of `total` bytes for `file` is cached: a model in one file (not split), a
// layout of min_cached_repack_bytes() or more, and HEARTH_REPACK_CACHE not "off".
bool repack_cache_wanted(const GgufFile& file, size_t total);

// The cached layout of `file`, mapped read-only, when the cache exists and was written for
// this very file (its size, modification time and a hash of its header), this layout version
// and kernel level, and `layout` of `total` bytes; empty otherwise (absent, stale, truncated
// or unreadable: the caller repacks).
cpu::PageBuffer open_repack_cache(const GgufFile& file, std::span<const PackedMatrixShape> layout,
                                  size_t total);

// Removes the temporary files that writers of the cache of `model` left when they died before
// renaming them into place (a process killed mid-write): MODEL.hearth-packed.tmp-PID whose
// process PID no longer exists. A live process's file, this process's own and any other name
// are kept. Best effort: an unreadable folder removes nothing. open_repack_cache and
// store_repack_cache call it, so a killed write costs disk only until the next load.
void remove_stale_repack_temporaries(const std::filesystem::path& model);

// Writes `packed` as the cache of `file` for `layout`: to a temporary file renamed into place,
// so that a reader never sees half a cache. Best effort: false, and no file left, when the
// folder is not writable, the disk is full or would keep less than
// repack_cache_free_space_reserve() free.
bool store_repack_cache(const GgufFile& file, std::span<const PackedMatrixShape> layout,
                        std::span<const uint8_t> packed);

} // namespace hearth
