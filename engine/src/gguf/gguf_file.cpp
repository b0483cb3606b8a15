// GgufFile: read-only memory mappings of a model's GGUF file(s) and the validated header.
#include "hearth/file_input.h"
#include "hearth/gguf.h"
#include "hearth/quant.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <utility>

namespace hearth {

Result<GgufFile> GgufFile::open(const std::filesystem::path& path, const GgufLimits& limits) {
    GgufFile file;
    file.path_ = path;
    auto header = file.map_part(path, limits);
    if (!header) {
        return std::unexpected(header.error());
    }
    file.header_ = std::move(*header);
    if (auto others = file.open_other_parts(limits); !others) {
        return std::unexpected(others.error());
    }
    return file;
}

Result<GgufHeader> GgufFile::map_part(const std::filesystem::path& path, const GgufLimits& limits) {
    const std::string where = path.string();
    // Never blocks on a FIFO or a device (a symbolic link to one named *.gguf included).
    auto file = open_regular_file(path, "the GGUF file");
    if (!file) {
        return std::unexpected(file.error());
    }
    const uint64_t size = file->size();
    if (size == 0) {
        return fail(ErrorCode::bad_format, where + ": the file is empty");
    }
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file->fd(), 0);
    const int map_errno = errno;
    if (mapping == MAP_FAILED) {
        return fail(ErrorCode::io, fmt::format("{}: cannot map {} bytes: {}", where, size,
                                               std::strerror(map_errno)));
    }
    const auto index = static_cast<uint32_t>(parts_.size());
    parts_.push_back(
        {.path = path, .bytes = {static_cast<const uint8_t*>(mapping), size}, .data_offset = 0});
    total_size_ += size;
    auto header = parse_gguf_header(parts_.back().bytes, size, limits);
    if (!header) {
        Error error = header.error();
        error.message = where + ": " + error.message;
        return std::unexpected(error);
    }
    parts_.back().data_offset = header->data_offset;
    for (GgufTensorInfo& tensor : header->tensors) {
        tensor.part = index;
    }
    return header;
}

void GgufFile::unmap_all() {
    for (const GgufPart& part : parts_) {
        ::munmap(const_cast<uint8_t*>(part.bytes.data()), part.bytes.size());
    }
    parts_.clear();
}

GgufFile::GgufFile(GgufFile&& other) noexcept
    : path_(std::move(other.path_)), parts_(std::exchange(other.parts_, {})),
      total_size_(std::exchange(other.total_size_, 0)), header_(std::move(other.header_)) {}

GgufFile& GgufFile::operator=(GgufFile&& other) noexcept {
    if (this != &other) {
        unmap_all();
        path_ = std::move(other.path_);
        parts_ = std::exchange(other.parts_, {});
        total_size_ = std::exchange(other.total_size_, 0);
        header_ = std::move(other.header_);
    }
    return *this;
}

GgufFile::~GgufFile() {
    unmap_all();
}

std::span<const uint8_t> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
    // Extents were validated against the part's size when its header was parsed.
    return parts_[tensor.part].bytes.subspan(tensor.file_offset, tensor.n_bytes);
}

Result<std::vector<float>> GgufFile::read_tensor_f32(const GgufTensorInfo& tensor) const {
    if (!can_dequantize(tensor.type)) {
        return fail(ErrorCode::unsupported,
                    fmt::format("tensor '{}' has type {}, which Hearth cannot dequantize yet",
                                gguf_printable(tensor.name), tensor_type_name(tensor.type)));
    }
    std::vector<float> values(tensor.n_elements);
    auto done = dequantize(tensor.type, tensor_data(tensor).data(), values.data(),
                           static_cast<int64_t>(tensor.n_elements));
    if (!done) {
        return std::unexpected(done.error());
    }
    return values;
}

} // namespace hearth
