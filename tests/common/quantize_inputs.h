// The random-weight quantizer inputs of tests/data/quantize/ (scripts/gen-quantize-reference.py):
// each model rebuilt from its committed header and the script's counter-based generator, for
// tst_quantize and tst_imatrix.
#pragma once

#include "hearth/gguf.h"
#include "hearth/quant.h"
#include "test_support.h"

#include <QCryptographicHash>
#include <QtGlobal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace hearth::test {

namespace fs = std::filesystem;

inline fs::path quantize_dir() {
    return test::data_dir() / "quantize";
}

inline std::string sha256(std::span<const uint8_t> bytes) {
    return QCryptographicHash::hash(QByteArrayView(reinterpret_cast<const char*>(bytes.data()),
                                                   static_cast<qsizetype>(bytes.size())),
                                    QCryptographicHash::Sha256)
        .toHex()
        .toStdString();
}

// scripts/gen-quantize-reference.py's `values`: splitmix64 draws, two per value.
inline uint64_t splitmix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

inline std::vector<float> reference_values(uint64_t index, const GgufTensorInfo& tensor) {
    const uint64_t n = tensor.n_elements;
    const uint64_t seed = index << 32;
    std::vector<float> out(n);
    for (uint64_t e = 0; e < n; ++e) {
        const auto k1 =
            static_cast<int64_t>(splitmix(seed + (2 * e + 1) * 0x9E3779B97F4A7C15ull) >> 40);
        const auto k2 =
            static_cast<int64_t>(splitmix(seed + (2 * e + 2) * 0x9E3779B97F4A7C15ull) >> 40);
        const double t = static_cast<double>(k1 + k2 - (int64_t{1} << 24)) * 0x1p-24;
        double v = 0;
        if (tensor.dims.size() >= 2) {
            v = t * 0.08;
            if (e == 5)
                v = v * 10.0;
            const uint64_t row = tensor.dims[0];
            if (n >= 2 * row && e >= row && e < row + 32)
                v = 0.0;
        } else if (tensor.name.ends_with("norm.weight")) {
            v = 1.0 + t * 0.1;
        } else {
            v = t * 0.1;
        }
        out[e] = static_cast<float>(v);
    }
    return out;
}

inline void store(const std::vector<float>& values, TensorType type, uint8_t* dst) {
    for (size_t i = 0; i < values.size(); ++i) {
        if (type == TensorType::F32) {
            std::memcpy(dst + 4 * i, &values[i], 4);
            continue;
        }
        uint16_t half = 0;
        if (type == TensorType::F16) {
            half = fp32_to_fp16(values[i]);
        } else {
            uint32_t bits = 0;
            std::memcpy(&bits, &values[i], 4);
            half = static_cast<uint16_t>((uint64_t{bits} + 0x7fff + ((bits >> 16) & 1)) >> 16);
        }
        std::memcpy(dst + 2 * i, &half, 2);
    }
}

// An input model rebuilt from its committed header and the generator.
inline fs::path rebuild_input(const nlohmann::json& entry, const fs::path& dir,
                              const std::string& name) {
    const std::vector<uint8_t> header_bytes =
        read_bytes(quantize_dir() / entry["header"].get<std::string>());
    auto header = parse_gguf_header(header_bytes);
    if (!header)
        qFatal("%s", header.error().message.c_str());
    std::vector<uint8_t> file(entry["size"].get<size_t>(), 0);
    std::memcpy(file.data(), header_bytes.data(), header_bytes.size());
    for (size_t i = 0; i < header->tensors.size(); ++i) {
        const GgufTensorInfo& tensor = header->tensors[i];
        store(reference_values(i, tensor), tensor.type,
              file.data() + header->data_offset + tensor.offset);
    }
    if (sha256(file) != entry["sha256"].get<std::string>()) {
        qFatal("the rebuilt input %s differs from the generator's", name.c_str());
    }
    const fs::path path = dir / (name + ".gguf");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(file.data()),
               static_cast<std::streamsize>(file.size()));
    return path;
}

} // namespace hearth::test
