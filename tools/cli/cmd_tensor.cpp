// `hearth-cli tensor MODEL NAME --out FILE.npy`: one tensor, dequantized to float32, as
// a NumPy file with the shape `gguf` presents (GGML dims reversed to row-major).
#include "cli_args.h"
#include "commands.h"
#include "hearth/gguf.h"

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

namespace hearth::cli {
namespace {

// NPY format 1.0: magic, version, u16 header length, a Python dict literal padded with
// spaces and a newline so that the data starts on a 64-byte boundary.
std::string npy_header(const std::vector<uint64_t>& ggml_dims) {
    std::string shape = "(";
    for (auto it = ggml_dims.rbegin(); it != ggml_dims.rend(); ++it) {
        shape += std::to_string(*it) + ", ";
    }
    if (ggml_dims.size() > 1) {
        shape.resize(shape.size() - 2);
    } else {
        shape.resize(shape.size() - 1); // "(n,)"
    }
    shape += ")";
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    const size_t prefix = 10; // magic (6) + version (2) + header length (2)
    size_t total = prefix + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::string header = "\x93NUMPY";
    header += '\x01';
    header += '\x00';
    header += static_cast<char>(dict.size() & 0xff);
    header += static_cast<char>(dict.size() >> 8);
    return header + dict;
}

} // namespace

int cmd_tensor(const Args& args) {
    auto out_path = args.get("--out");
    if (args.positionals.size() != 2 || !out_path) {
        return usage_error(*args.spec, "expects MODEL NAME --out FILE.npy");
    }
    auto file = GgufFile::open(args.positionals[0]);
    if (!file) {
        return report_error(file.error().message.c_str());
    }
    const std::string& name = args.positionals[1];
    const GgufTensorInfo* tensor = file->find_tensor(name);
    if (!tensor) {
        return report_error(fmt::format("{}: no tensor named '{}' ({} tensors; `hearth-cli info` "
                                        "lists the model)",
                                        file->path().string(), name, file->tensors().size())
                                .c_str());
    }
    auto values = file->read_tensor_f32(*tensor);
    if (!values) {
        return report_error(values.error().message.c_str());
    }
    // Write beside the target and rename, so a full disk never leaves a truncated .npy.
    const std::filesystem::path target = *out_path;
    std::filesystem::path temporary = target;
    temporary += ".part";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        const std::string header = npy_header(tensor->dims);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(reinterpret_cast<const char*>(values->data()),
                  static_cast<std::streamsize>(values->size() * sizeof(float)));
        out.flush();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
            return report_error(fmt::format("{}: cannot write the tensor (disk full or not "
                                            "writable)",
                                            target.string())
                                    .c_str());
        }
    }
    std::error_code error;
    std::filesystem::rename(temporary, target, error);
    if (error) {
        std::filesystem::remove(temporary, error);
        return report_error(
            fmt::format("{}: cannot rename into place: {}", target.string(), error.message())
                .c_str());
    }
    return 0;
}

} // namespace hearth::cli
