// Page-level memory: buffers that start zeroed without being written (the KV cache, the
// repacked weights), and reading a mapped file's pages in ahead of use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace hearth::cpu {

// A block of `size` bytes, all zero, page-aligned. It comes from anonymous pages, which the
// kernel zeroes when first touched: a cache sized for a 4096-token context costs neither time
// nor resident memory for the cells a sequence never reaches (a vector's zero fill wrote every
// byte at creation). Throws std::bad_alloc when the memory cannot be had, as a vector would.
class ZeroedBuffer {
public:
    enum class Pages { small, huge };

    ZeroedBuffer() = default;
    // Pages::huge asks for 2 MiB pages where the system gives them (Linux's transparent huge
    // pages): for a buffer written whole at once, 512 times fewer page faults. Not for one
    // touched sparsely, which would then take memory 2 MiB at a time.
    explicit ZeroedBuffer(size_t size, Pages pages = Pages::small);
    ZeroedBuffer(ZeroedBuffer&& other) noexcept;
    ZeroedBuffer& operator=(ZeroedBuffer&& other) noexcept;
    ZeroedBuffer(const ZeroedBuffer&) = delete;
    ZeroedBuffer& operator=(const ZeroedBuffer&) = delete;
    ~ZeroedBuffer();

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

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
