// Files whose contents come from outside Hearth (a template file named on the command line, a
// saved conversation, a compare session): read whole, opened without blocking and only when
// they are regular files (a FIFO or a device never freezes the reader), and bounded in size
// so that a huge file is refused before it is read. Never throws.
#pragma once

#include "hearth/error.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace hearth {

// The bytes of the regular file at `path` (symbolic links followed). `what` names the file in
// messages ("the template file", "conversation abc.json"). Fails with `io` when it cannot be
// opened or read, and with `bad_format` when it is not a regular file (a directory, a FIFO, a
// socket, a device: said which) or is larger than `max_bytes` (both sizes said).
Result<std::string> read_file_input(const std::filesystem::path& path, std::string_view what,
                                    size_t max_bytes);

} // namespace hearth
