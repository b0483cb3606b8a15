// The repacked-weights cache: its header (what it was made from), reading it back through a
// mapping, and writing it atomically.
#include "model/repack_cache.h"

#include "cpu/cpu_features.h"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace hearth {

namespace {

constexpr char kMagic[8] = {'H', 'R', 'T', 'H', 'P', 'A', 'C', 'K'};
// Bumped whenever a packed layout (cpu/repack_layout.h) or this header changes.
constexpr uint32_t kLayoutVersion = 1;
// The packed bytes start here: a multiple of any page size, so they can be mapped.
constexpr uint64_t kDataOffset = 65536;

std::atomic<size_t> g_min_cached_bytes{kMinCachedRepackBytes};
std::atomic<uint64_t> g_free_space_reserve{kRepackCacheFreeSpaceReserve};

// Whether the file system holding `folder` has room for `bytes` and the reserve after them.
bool room_for(const std::filesystem::path& folder, uint64_t bytes) {
    struct statvfs fs {};
    if (::statvfs(folder.c_str(), &fs) != 0) {
        return false;
    }
    const uint64_t available = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
    const uint64_t reserve = g_free_space_reserve.load(std::memory_order_relaxed);
    return available >= bytes && available - bytes >= reserve;
}

struct CacheHeader {
    char magic[8];
    uint32_t version;
    uint32_t kernel_level;
    uint64_t model_size;
    int64_t model_mtime_ns;
    uint64_t header_hash; // of the model's GGUF header: its metadata and tensor table
    uint64_t layout_hash; // of the packed matrices' types, shapes and offsets
    uint64_t data_bytes;
};

uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t hash = 0xcbf29ce484222325ull) {
    for (const uint8_t b : bytes) {
        hash = (hash ^ b) * 0x100000001b3ull;
    }
    return hash;
}

template <class T>
uint64_t fnv1a_value(const T& value, uint64_t hash) {
    return fnv1a({reinterpret_cast<const uint8_t*>(&value), sizeof(value)}, hash);
}

uint64_t layout_hash(std::span<const PackedMatrixShape> layout) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const PackedMatrixShape& m : layout) {
        hash = fnv1a_value(static_cast<uint32_t>(m.type), hash);
        hash = fnv1a_value(m.n_rows, hash);
        hash = fnv1a_value(m.n_cols, hash);
        hash = fnv1a_value(static_cast<uint64_t>(m.offset), hash);
    }
    return hash;
}

// The header the cache of `file` and `layout` must carry; false when the model file cannot
// be examined.
bool expected_header(const GgufFile& file, std::span<const PackedMatrixShape> layout, size_t total,
                     CacheHeader& header) {
    struct stat info {};
    if (::stat(file.path().c_str(), &info) != 0) {
        return false;
    }
    const GgufPart& part = file.parts().front();
    header = {};
    std::memcpy(header.magic, kMagic, sizeof(kMagic));
    header.version = kLayoutVersion;
    header.kernel_level = static_cast<uint32_t>(cpu::kernel_level());
    header.model_size = static_cast<uint64_t>(info.st_size);
    header.model_mtime_ns =
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    header.header_hash =
        fnv1a(part.bytes.first(std::min<uint64_t>(part.data_offset, part.bytes.size())));
    header.layout_hash = layout_hash(layout);
    header.data_bytes = total;
    return true;
}

bool write_all(int fd, const uint8_t* bytes, size_t n) {
    while (n > 0) {
        const ssize_t written = ::write(fd, bytes, n);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            return false;
        }
        bytes += written;
        n -= static_cast<size_t>(written);
    }
    return true;
}

// Where a writer's temporary file goes: the cache's name with ".tmp-PID" appended.
constexpr std::string_view kTemporarySuffix = ".tmp-";

// The writer's PID in a temporary file's name, when `name` is `prefix` and a positive number.
std::optional<pid_t> writer_pid(std::string_view name, std::string_view prefix) {
    if (!name.starts_with(prefix) || name.size() == prefix.size()) {
        return std::nullopt;
    }
    const std::string_view digits = name.substr(prefix.size());
    pid_t pid = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (error != std::errc() || end != digits.data() + digits.size() || pid <= 0) {
        return std::nullopt;
    }
    return pid;
}

} // namespace

void remove_stale_repack_temporaries(const std::filesystem::path& model) {
    const std::filesystem::path cache = repack_cache_path(model);
    const std::string prefix = cache.filename().string() + std::string(kTemporarySuffix);
    const std::filesystem::path folder = cache.has_parent_path() ? cache.parent_path() : ".";
    std::error_code error;
    std::filesystem::directory_iterator entry(folder, error);
    for (; !error && entry != std::filesystem::directory_iterator(); entry.increment(error)) {
        const auto pid = writer_pid(entry->path().filename().string(), prefix);
        // kill(pid, 0) fails with ESRCH only when no such process exists; EPERM means it does.
        if (pid && *pid != ::getpid() && ::kill(*pid, 0) != 0 && errno == ESRCH) {
            std::error_code ignored;
            std::filesystem::remove(entry->path(), ignored);
        }
    }
}

std::filesystem::path repack_cache_path(const std::filesystem::path& model) {
    std::filesystem::path path = model;
    path += ".hearth-packed";
    return path;
}

size_t min_cached_repack_bytes() {
    return g_min_cached_bytes.load(std::memory_order_relaxed);
}

void set_min_cached_repack_bytes(size_t bytes) {
    g_min_cached_bytes.store(bytes, std::memory_order_relaxed);
}

uint64_t repack_cache_free_space_reserve() {
    return g_free_space_reserve.load(std::memory_order_relaxed);
}

void set_repack_cache_free_space_reserve(uint64_t bytes) {
    g_free_space_reserve.store(bytes, std::memory_order_relaxed);
}

bool repack_cache_wanted(const GgufFile& file, size_t total) {
    const char* env = std::getenv("HEARTH_REPACK_CACHE");
    return file.parts().size() == 1 && total >= min_cached_repack_bytes() &&
           (env == nullptr || std::string_view(env) != "off");
}

cpu::PageBuffer open_repack_cache(const GgufFile& file, std::span<const PackedMatrixShape> layout,
                                  size_t total) {
    CacheHeader expected{};
    if (!expected_header(file, layout, total, expected)) {
        return {};
    }
    remove_stale_repack_temporaries(file.path());
    const int fd =
        ::open(repack_cache_path(file.path()).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return {};
    }
    cpu::PageBuffer mapped;
    struct stat info {};
    CacheHeader found{};
    if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
        static_cast<uint64_t>(info.st_size) == kDataOffset + total &&
        ::pread(fd, &found, sizeof(found), 0) == static_cast<ssize_t>(sizeof(found)) &&
        std::memcmp(&found, &expected, sizeof(found)) == 0) {
        mapped = cpu::PageBuffer::map_file(fd, kDataOffset, total);
    }
    ::close(fd);
    return mapped;
}

bool store_repack_cache(const GgufFile& file, std::span<const PackedMatrixShape> layout,
                        std::span<const uint8_t> packed) {
    CacheHeader header{};
    if (!expected_header(file, layout, packed.size(), header)) {
        return false;
    }
    const std::filesystem::path path = repack_cache_path(file.path());
    remove_stale_repack_temporaries(file.path()); // before the free space is measured
    if (!room_for(path.parent_path(), kDataOffset + packed.size())) {
        return false;
    }
    std::filesystem::path temporary = path;
    temporary += std::string(kTemporarySuffix) + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return false;
    }
    std::string head(kDataOffset, '\0');
    std::memcpy(head.data(), &header, sizeof(header));
    bool ok = write_all(fd, reinterpret_cast<const uint8_t*>(head.data()), head.size()) &&
              write_all(fd, packed.data(), packed.size());
    ok = ::close(fd) == 0 && ok;
    std::error_code error;
    if (ok) {
        std::filesystem::rename(temporary, path, error);
    }
    if (!ok || error) {
        std::filesystem::remove(temporary, error);
        return false;
    }
    return true;
}

} // namespace hearth
