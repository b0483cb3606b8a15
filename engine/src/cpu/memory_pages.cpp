// Page-level memory: anonymous and file mappings, and prefaulting through madvise.
#include "cpu/memory_pages.h"

#include <cstring>
#include <new>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

#if defined(__linux__) && !defined(MADV_POPULATE_READ)
#define MADV_POPULATE_READ 22 // Linux 5.14; older C libraries' headers lack the name
#endif

namespace hearth::cpu {

PageBuffer PageBuffer::zeroed(size_t size) {
    PageBuffer buffer;
    if (size == 0) {
        return buffer;
    }
    void* mapping =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        throw std::bad_alloc();
    }
    buffer.data_ = static_cast<uint8_t*>(mapping);
    buffer.size_ = size;
    return buffer;
}

PageBuffer PageBuffer::map_file(int fd, uint64_t offset, size_t size) {
    PageBuffer buffer;
    if (size == 0) {
        return buffer;
    }
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(offset));
    if (mapping == MAP_FAILED) {
        return buffer;
    }
    buffer.data_ = static_cast<uint8_t*>(mapping);
    buffer.size_ = size;
    return buffer;
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

PageBuffer::PageBuffer(const PageBuffer& other) : PageBuffer(zeroed(other.size_)) {
    if (size_ > 0) {
        std::memcpy(data_, other.data_, size_);
    }
}

PageBuffer& PageBuffer::operator=(const PageBuffer& other) {
    if (this != &other) {
        *this = PageBuffer(other);
    }
    return *this;
}

PageBuffer::~PageBuffer() {
    release();
}

void PageBuffer::release() noexcept {
    if (data_) {
        ::munmap(data_, size_);
    }
    data_ = nullptr;
    size_ = 0;
}

void prefault(std::span<const uint8_t> bytes) {
    if (bytes.empty()) {
        return;
    }
#if defined(__linux__)
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(bytes.data()) / page * page;
    const auto end = reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size();
    if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ) == 0) {
        return;
    }
#endif
    // Without the advice (an older kernel): a read from each page faults it in.
    volatile uint8_t sink = 0;
    for (size_t at = 0; at < bytes.size(); at += 4096) {
        sink = sink + bytes[at];
    }
    sink = sink + bytes.back();
}

} // namespace hearth::cpu
