// Files whose contents come from outside Hearth (a template file named on the command line, a
// saved conversation, a compare session): read whole, opened without blocking and only when
// they are regular files (a FIFO or a device never freezes the reader), and bounded in size
// so that a huge file is refused before it is read. Never throws.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace hearth {

// A regular file open for reading: the descriptor (closed when the object is destroyed) and
// the file's size when it was opened.
class RegularFile {
public:
    RegularFile(RegularFile&& other) noexcept;
    RegularFile& operator=(RegularFile&&) = delete;
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;
    ~RegularFile();

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }

private:
    friend Result<RegularFile> open_regular_file(const std::filesystem::path&, std::string_view);
    RegularFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
    int fd_ = -1;
    uint64_t size_ = 0;
};

// Opens the regular file at `path` (symbolic links followed) without blocking: a FIFO or a
// device is refused, never waited on. `what` names the file in messages. Fails with `io` when
// it cannot be opened, and with `bad_format` when it is not a regular file (a directory, a
// FIFO, a socket, a device: said which). What read_file_input and the GGUF reader open.
Result<RegularFile> open_regular_file(const std::filesystem::path& path, std::string_view what);

// The bytes of the regular file at `path` (symbolic links followed). `what` names the file in
// messages ("the template file", "conversation abc.json"). Fails with `io` when it cannot be
// opened or read, and with `bad_format` when it is not a regular file (a directory, a FIFO, a
// socket, a device: said which) or is larger than `max_bytes` (both sizes said).
Result<std::string> read_file_input(const std::filesystem::path& path, std::string_view what,
                                    size_t max_bytes);

} // namespace hearth
