// Page-level memory: anonymous mappings where the system has them (calloc elsewhere), and
// prefaulting through madvise.
#include "cpu/memory_pages.h"

#include <cstdlib>
#include <new>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define HEARTH_ANONYMOUS_MMAP 1
#endif

#if defined(__linux__) && !defined(MADV_POPULATE_READ)
#define MADV_POPULATE_READ 22 // Linux 5.14; older C libraries' headers lack the name
#endif

namespace hearth::cpu {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

#if defined(HEARTH_ANONYMOUS_MMAP)
// `size` zeroed bytes; with huge pages, the mapping starts on a 2 MiB boundary (the kernel
// backs only aligned 2 MiB ranges with huge pages) and the slack around it is unmapped.
void* map_zeroed(size_t size, ZeroedBuffer::Pages pages) {
    const bool huge = pages == ZeroedBuffer::Pages::huge && size >= kHugePage;
    const size_t reserve = huge ? size + kHugePage : size;
    void* mapping =
        ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        throw std::bad_alloc();
    }
    if (!huge) {
        return mapping;
    }
    const auto start = reinterpret_cast<uintptr_t>(mapping);
    const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > start) {
        ::munmap(mapping, aligned - start);
    }
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t end = aligned + (size + page - 1) / page * page;
    const uintptr_t reserved_end = start + reserve;
    if (reserved_end > end) {
        ::munmap(reinterpret_cast<void*>(end), reserved_end - end);
    }
#if defined(MADV_HUGEPAGE)
    ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE); // advice: may be refused
#endif
    return reinterpret_cast<void*>(aligned);
}
#endif

} // namespace

ZeroedBuffer::ZeroedBuffer(size_t size, Pages pages) : size_(size) {
    if (size == 0) {
        return;
    }
#if defined(HEARTH_ANONYMOUS_MMAP)
    data_ = static_cast<uint8_t*>(map_zeroed(size, pages));
#else
    (void)pages;
    data_ = static_cast<uint8_t*>(std::calloc(size, 1));
    if (!data_) {
        throw std::bad_alloc();
    }
#endif
}

ZeroedBuffer::ZeroedBuffer(ZeroedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ZeroedBuffer& ZeroedBuffer::operator=(ZeroedBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

ZeroedBuffer::~ZeroedBuffer() {
    release();
}

void ZeroedBuffer::release() noexcept {
    if (!data_) {
        return;
    }
#if defined(HEARTH_ANONYMOUS_MMAP)
    ::munmap(data_, size_);
#else
    std::free(data_);
#endif
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
