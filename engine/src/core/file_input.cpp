// Bounded, non-blocking reads of whole regular files (file_input.h).
#include "hearth/file_input.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace hearth {

namespace {

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO (named pipe)";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
        return "a device";
    }
    return "not a regular file";
}

} // namespace

RegularFile::RegularFile(RegularFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

RegularFile::~RegularFile() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

Result<RegularFile> open_regular_file(const std::filesystem::path& path, std::string_view what) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. The
    // kind is then checked on the open descriptor, so the file cannot be swapped in between.
    // (For a regular file the flag changes nothing.)
    RegularFile file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), 0);
    if (file.fd_ < 0) {
        return fail(ErrorCode::io, fmt::format("cannot open {} ({}): {}", what, path.string(),
                                               std::strerror(errno)));
    }
    struct stat info {};
    if (::fstat(file.fd_, &info) != 0) {
        return fail(ErrorCode::io, fmt::format("cannot read {} ({}): {}", what, path.string(),
                                               std::strerror(errno)));
    }
    if (!S_ISREG(info.st_mode)) {
        return fail(ErrorCode::bad_format, fmt::format("{} ({}) is {}, not a regular file", what,
                                                       path.string(), kind_of(info.st_mode)));
    }
    file.size_ = static_cast<uint64_t>(std::max<off_t>(info.st_size, 0));
    return file;
}

Result<std::string> read_file_input(const std::filesystem::path& path, std::string_view what,
                                    size_t max_bytes) {
    auto file = open_regular_file(path, what);
    if (!file) {
        return std::unexpected(file.error());
    }
    if (file->size() > max_bytes) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{} ({}) is {} bytes, over the limit of {} bytes", what,
                                path.string(), file->size(), max_bytes));
    }
    // The size may change while reading: read at most one byte past the limit to notice.
    std::string text;
    text.resize(size_t(file->size()));
    size_t filled = 0;
    while (true) {
        if (filled == text.size()) {
            if (text.size() > max_bytes) {
                return fail(ErrorCode::bad_format,
                            fmt::format("{} ({}) grew past the limit of {} bytes while it was read",
                                        what, path.string(), max_bytes));
            }
            text.resize(std::min(max_bytes + 1, std::max<size_t>(text.size() * 2, 4096)));
        }
        const ssize_t n = ::read(file->fd(), text.data() + filled, text.size() - filled);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(ErrorCode::io, fmt::format("cannot read {} ({}): {}", what, path.string(),
                                                   std::strerror(errno)));
        }
        if (n == 0) {
            break;
        }
        filled += size_t(n);
    }
    text.resize(filled);
    return text;
}

} // namespace hearth
