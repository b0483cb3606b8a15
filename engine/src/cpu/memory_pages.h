// Page-level memory: buffers of whole pages (zeroed anonymous ones for the KV cache and the
// repacked weights, or a read-only file mapping for repacked weights kept on disk), and
// reading a mapped file's pages in ahead of use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace hearth::cpu {

// Pages this object owns and unmaps: see zeroed() and map_file().
class PageBuffer {
public:
    PageBuffer() = default;
    // `size` bytes, all zero, page-aligned, from anonymous pages, which the kernel zeroes when
    // first touched: a cache sized for a 4096-token context costs neither time nor resident
    // memory for the cells a sequence never reaches (a vector's zero fill wrote every byte at
    // creation). Throws std::bad_alloc when the memory cannot be had, as a vector would.
    static PageBuffer zeroed(size_t size);
    // The bytes [offset, offset + size) of the open file `fd`, mapped read-only (writes to
    // data() are not allowed); `offset` a multiple of the page size. Empty when the file
    // cannot be mapped.
    static PageBuffer map_file(int fd, uint64_t offset, size_t size);

    PageBuffer(PageBuffer&& other) noexcept;
    PageBuffer& operator=(PageBuffer&& other) noexcept;
    // A copy is zeroed pages with every byte copied in (so all of it resident): for copies of
    // a KV cache, which the tests make.
    PageBuffer(const PageBuffer& other);
    PageBuffer& operator=(const PageBuffer& other);
    ~PageBuffer();

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return data_ == nullptr; }

private:
    void release() noexcept;

    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Maps the pages of `bytes` (part of a read-only file mapping) into the process, reading them
// from disk where the page cache does not hold them, so that later reads do not fault: one
// system call for the range where the kernel has MADV_POPULATE_READ (Linux 5.14), else one read
// per page.
void prefault(std::span<const uint8_t> bytes);

} // namespace hearth::cpu
