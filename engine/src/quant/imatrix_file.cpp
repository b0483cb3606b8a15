// Reading and writing importance-matrix files (hearth/imatrix.h): llama.cpp's GGUF format
// (common/imatrix-loader.cpp, tools/imatrix's save_imatrix) and its legacy .dat, every size
// checked against the file and the limits before anything is sized from it.
#include "hearth/gguf.h"
#include "hearth/imatrix.h"
#include "quant/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace hearth {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSumsSuffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";

Error malformed(const fs::path& path, const std::string& what) {
    return Error{ErrorCode::bad_format, fmt::format("{}: {}", path.string(), what)};
}

// The checks both formats share: finite, non-negative sums and counts within the limits.
Result<void> check_entry(const fs::path& path, const std::string& name, const ImatrixEntry& e) {
    if (e.counts.empty() || e.counts.size() > kMaxImatrixExperts) {
        return std::unexpected(malformed(
            path, fmt::format("imatrix entry {}: {} counts (1 to {} allowed)", gguf_printable(name),
                              e.counts.size(), kMaxImatrixExperts)));
    }
    if (e.sums.empty() || e.sums.size() % e.counts.size() != 0) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {}: {} sums do not divide into {} blocks",
                                        gguf_printable(name), e.sums.size(), e.counts.size())));
    }
    for (size_t i = 0; i < e.sums.size(); ++i) {
        if (!std::isfinite(e.sums[i]) || e.sums[i] < 0) {
            return std::unexpected(malformed(
                path, fmt::format("imatrix entry {}: value {} is {} (a sum of squares must be "
                                  "finite and not negative)",
                                  gguf_printable(name), i, e.sums[i])));
        }
    }
    for (const int64_t count : e.counts) {
        if (count < 0) {
            return std::unexpected(
                malformed(path, fmt::format("imatrix entry {}: negative count {}",
                                            gguf_printable(name), count)));
        }
    }
    return {};
}

class ByteReader {
public:
    explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    template <class T>
    bool read(T& value) {
        if (bytes_.size() - pos_ < sizeof(T))
            return false;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    bool read_bytes(void* out, uint64_t n) {
        if (bytes_.size() - pos_ < n)
            return false;
        std::memcpy(out, bytes_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    bool at_end() const { return pos_ == bytes_.size(); }
    size_t remaining() const { return bytes_.size() - pos_; }
    size_t position() const { return pos_; }

private:
    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
};

// One entry of the legacy format: i32 name length, name, i32 ncall, i32 nval, nval floats.
Result<void> read_legacy_entry(const fs::path& path, ByteReader& in, int index,
                               ImportanceMatrix& matrix) {
    const auto truncated = [&](std::string_view what) {
        return std::unexpected(malformed(
            path, fmt::format("imatrix entry {}: file truncated at byte {} reading its {}", index,
                              in.position(), what)));
    };
    int32_t length = 0;
    if (!in.read(length))
        return truncated("name length");
    if (length < 1 || static_cast<size_t>(length) > kMaxImatrixNameBytes) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {}: name length {} (1 to {} allowed)", index,
                                        length, kMaxImatrixNameBytes)));
    }
    std::string name(static_cast<size_t>(length), '\0');
    if (!in.read_bytes(name.data(), name.size()))
        return truncated("name");
    if (name.find('\0') != std::string::npos) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {}: name {} holds a NUL byte", index,
                                        gguf_printable(name))));
    }
    int32_t ncall = 0;
    int32_t nval = 0;
    if (!in.read(ncall) || !in.read(nval))
        return truncated("counts");
    if (nval < 1 || static_cast<uint64_t>(nval) > kMaxImatrixValues) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {}: {} values (1 to {} allowed)",
                                        gguf_printable(name), nval, kMaxImatrixValues)));
    }
    // Checked against the bytes left before anything is sized from the count.
    if (in.remaining() < static_cast<size_t>(nval) * sizeof(float))
        return truncated("values");
    ImatrixEntry entry;
    entry.sums.resize(static_cast<size_t>(nval));
    if (!in.read_bytes(entry.sums.data(), entry.sums.size() * sizeof(float)))
        return truncated("values");
    entry.counts = {ncall};
    if (auto ok = check_entry(path, name, entry); !ok)
        return ok;
    if (!matrix.entries.emplace(name, std::move(entry)).second) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {} appears twice", gguf_printable(name))));
    }
    return {};
}

Result<ImportanceMatrix> load_legacy(const fs::path& path, std::span<const uint8_t> bytes) {
    ImportanceMatrix matrix;
    matrix.legacy = true;
    ByteReader in(bytes);
    int32_t n_entries = 0;
    if (!in.read(n_entries) || n_entries < 1 ||
        static_cast<size_t>(n_entries) > kMaxImatrixEntries) {
        return std::unexpected(
            malformed(path, fmt::format("not an importance matrix: {} entries (1 to {} allowed)",
                                        n_entries, kMaxImatrixEntries)));
    }
    for (int i = 0; i < n_entries; ++i) {
        if (auto ok = read_legacy_entry(path, in, i, matrix); !ok)
            return std::unexpected(ok.error());
    }
    // Optional trailer: i32 chunk count, i32 dataset length, dataset.
    int32_t chunks = 0;
    if (!in.at_end() && in.read(chunks)) {
        matrix.chunk_count = chunks > 0 ? static_cast<uint32_t>(chunks) : 0;
        int32_t length = 0;
        if (in.read(length) && length > 0 && static_cast<size_t>(length) <= in.remaining()) {
            std::string dataset(static_cast<size_t>(length), '\0');
            if (in.read_bytes(dataset.data(), dataset.size()))
                matrix.datasets.push_back(dataset.substr(0, dataset.find('\0')));
        }
    }
    return matrix;
}

std::string_view strip_suffix(std::string_view name, std::string_view suffix) {
    if (name.size() > suffix.size() && name.ends_with(suffix))
        return name.substr(0, name.size() - suffix.size());
    return {};
}

Result<std::vector<float>> f32_values(const fs::path& path, const GgufFile& file,
                                      const GgufTensorInfo& tensor) {
    if (tensor.type != TensorType::F32) {
        return std::unexpected(malformed(path, fmt::format("imatrix tensor {} is {}, not F32",
                                                           gguf_printable(tensor.name),
                                                           tensor_type_name(tensor.type))));
    }
    if (tensor.n_elements == 0 || tensor.n_elements > kMaxImatrixValues) {
        return std::unexpected(malformed(
            path, fmt::format("imatrix tensor {}: {} values (1 to {} allowed)",
                              gguf_printable(tensor.name), tensor.n_elements, kMaxImatrixValues)));
    }
    const std::span<const uint8_t> data = file.tensor_data(tensor);
    std::vector<float> values(tensor.n_elements);
    std::memcpy(values.data(), data.data(), values.size() * sizeof(float));
    return values;
}

Result<ImatrixEntry> read_gguf_entry(const fs::path& path, const GgufFile& file,
                                     const std::string& name, const GgufTensorInfo* sums,
                                     const GgufTensorInfo* counts) {
    if (sums == nullptr || counts == nullptr) {
        return std::unexpected(
            malformed(path, fmt::format("imatrix entry {} has {} but no {} tensor",
                                        gguf_printable(name), sums ? kSumsSuffix : kCountsSuffix,
                                        sums ? kCountsSuffix : kSumsSuffix)));
    }
    ImatrixEntry entry;
    auto sum_values = f32_values(path, file, *sums);
    if (!sum_values)
        return std::unexpected(sum_values.error());
    auto count_values = f32_values(path, file, *counts);
    if (!count_values)
        return std::unexpected(count_values.error());
    entry.sums = std::move(*sum_values);
    for (const float c : *count_values) {
        if (!std::isfinite(c) || c < 0 || c > 9.0e15f || c != std::floor(c)) {
            return std::unexpected(
                malformed(path, fmt::format("imatrix tensor {}: count {} is not a whole number",
                                            gguf_printable(counts->name), c)));
        }
        entry.counts.push_back(std::lround(c));
    }
    if (auto ok = check_entry(path, name, entry); !ok)
        return std::unexpected(ok.error());
    return entry;
}

Result<ImportanceMatrix> load_gguf(const fs::path& path) {
    auto file = GgufFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    ImportanceMatrix matrix;
    const GgufValue* datasets = file->find("imatrix.datasets");
    const auto chunk_count = file->header().get_int("imatrix.chunk_count");
    const auto chunk_size = file->header().get_int("imatrix.chunk_size");
    if (datasets == nullptr || !chunk_count || !chunk_size) {
        // llama-quantize refuses these too ("missing imatrix metadata").
        return std::unexpected(
            malformed(path, "not an importance matrix: imatrix.datasets, imatrix.chunk_count or "
                            "imatrix.chunk_size is missing"));
    }
    if (const GgufArray* items = datasets->as_array()) {
        for (size_t i = 0; i < items->size(); ++i) {
            if (const auto s = items->string_at(i))
                matrix.datasets.emplace_back(*s);
        }
    }
    matrix.chunk_count = static_cast<uint32_t>(std::clamp<int64_t>(*chunk_count, 0, UINT32_MAX));
    matrix.chunk_size = static_cast<uint32_t>(std::clamp<int64_t>(*chunk_size, 0, UINT32_MAX));
    std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
    for (const GgufTensorInfo& tensor : file->tensors()) {
        if (auto base = strip_suffix(tensor.name, kSumsSuffix); !base.empty()) {
            pairs[std::string(base)].first = &tensor;
        } else if (auto base2 = strip_suffix(tensor.name, kCountsSuffix); !base2.empty()) {
            pairs[std::string(base2)].second = &tensor;
        }
    }
    if (pairs.empty() || pairs.size() > kMaxImatrixEntries) {
        return std::unexpected(
            malformed(path, fmt::format("not an importance matrix: {} entries (1 to {} allowed)",
                                        pairs.size(), kMaxImatrixEntries)));
    }
    for (const auto& [name, tensors] : pairs) {
        if (name.size() > kMaxImatrixNameBytes) {
            return std::unexpected(
                malformed(path, fmt::format("imatrix entry {}: name longer than {} bytes",
                                            gguf_printable(name), kMaxImatrixNameBytes)));
        }
        auto entry = read_gguf_entry(path, *file, name, tensors.first, tensors.second);
        if (!entry)
            return std::unexpected(entry.error());
        matrix.entries.emplace(name, std::move(*entry));
    }
    return matrix;
}

} // namespace

Result<ImportanceMatrix> load_imatrix(const fs::path& path) {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
        return fail(ErrorCode::io, fmt::format("{}: not a readable file", path.string()));
    }
    const uintmax_t size = fs::file_size(path, error);
    if (error || size > kMaxImatrixFileBytes) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}: {} bytes: an importance matrix file may hold at most {}",
                                path.string(), error ? 0 : size, kMaxImatrixFileBytes));
    }
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    if (!in.read(magic, 4)) {
        return fail(ErrorCode::bad_format,
                    fmt::format("{}: too short to be an importance matrix", path.string()));
    }
    if (std::memcmp(magic, "GGUF", 4) == 0)
        return load_gguf(path);
    std::vector<uint8_t> bytes(size);
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
        return fail(ErrorCode::io, fmt::format("{}: cannot read", path.string()));
    }
    return load_legacy(path, bytes);
}

std::map<std::string, std::vector<float>> imatrix_weights(const ImportanceMatrix& matrix) {
    std::map<std::string, std::vector<float>> weights;
    for (const auto& [name, entry] : matrix.entries) {
        std::vector<float>& w = weights[name];
        w.resize(entry.sums.size());
        const size_t columns = entry.columns();
        if (matrix.legacy) {
            // The sums hold (sum / count) * ncall: divided by ncall (as float, as llama.cpp).
            const int64_t ncall = entry.counts.front();
            for (size_t i = 0; i < w.size(); ++i) {
                w[i] = ncall > 0 ? entry.sums[i] / static_cast<float>(ncall) : entry.sums[i];
            }
            continue;
        }
        for (size_t block = 0; block < entry.counts.size(); ++block) {
            const auto count = static_cast<float>(entry.counts[block]);
            for (size_t i = 0; i < columns; ++i) {
                const size_t k = block * columns + i;
                w[k] = count > 0.0f ? entry.sums[k] / count : 1.0f;
            }
        }
    }
    return weights;
}

namespace {

void put_tensor_info(quant::GgufWriter& w, const std::string& name, uint64_t ne0, uint64_t ne1,
                     uint64_t offset) {
    w.put_string(name);
    // ggml_n_dims: a trailing dimension of 1 is not written.
    if (ne1 == 1) {
        w.put<uint32_t>(1);
        w.put<int64_t>(static_cast<int64_t>(ne0));
    } else {
        w.put<uint32_t>(2);
        w.put<int64_t>(static_cast<int64_t>(ne0));
        w.put<int64_t>(static_cast<int64_t>(ne1));
    }
    w.put<uint32_t>(0); // GGML_TYPE_F32
    w.put<uint64_t>(offset);
}

} // namespace

Result<void> save_imatrix(const fs::path& path, const ImportanceMatrix& matrix) {
    constexpr uint64_t kAlignment = 32;
    const auto pad = [](uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; };
    GgufArray datasets(GgufType::string);
    for (const std::string& d : matrix.datasets)
        datasets.append_string(d);
    const std::vector<GgufKeyValue> metadata = {
        {"general.type", GgufValue{GgufType::string, std::string("imatrix")}},
        {"imatrix.datasets", GgufValue{GgufType::array, std::move(datasets)}},
        {"imatrix.chunk_count", GgufValue{GgufType::uint32, uint64_t{matrix.chunk_count}}},
        {"imatrix.chunk_size", GgufValue{GgufType::uint32, uint64_t{matrix.chunk_size}}},
    };
    quant::GgufWriter w;
    w.put<uint32_t>(0x46554747); // "GGUF"
    w.put<uint32_t>(quant::kGgufWriteVersion);
    w.put<int64_t>(static_cast<int64_t>(matrix.entries.size() * 2));
    w.put<int64_t>(static_cast<int64_t>(metadata.size()));
    for (const GgufKeyValue& kv : metadata) {
        w.put_string(kv.key);
        w.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
        w.put_value(kv.value);
    }
    // std::map iterates in byte order of the names, as llama-imatrix sorts them.
    uint64_t offset = 0;
    for (const auto& [name, entry] : matrix.entries) {
        const uint64_t blocks = entry.counts.size();
        put_tensor_info(w, name + std::string(kSumsSuffix), entry.columns(), blocks, offset);
        offset += pad(entry.sums.size() * sizeof(float));
        put_tensor_info(w, name + std::string(kCountsSuffix), 1, blocks, offset);
        offset += pad(blocks * sizeof(float));
    }
    std::vector<uint8_t>& bytes = w.bytes();
    bytes.resize(pad(bytes.size()), 0);
    for (const auto& [name, entry] : matrix.entries) {
        const auto append = [&](const float* values, size_t n) {
            const auto* p = reinterpret_cast<const uint8_t*>(values);
            bytes.insert(bytes.end(), p, p + n * sizeof(float));
            bytes.resize(pad(bytes.size()), 0);
        };
        append(entry.sums.data(), entry.sums.size());
        std::vector<float> counts(entry.counts.begin(), entry.counts.end());
        append(counts.data(), counts.size());
    }
    const fs::path temp = fs::path(path).concat(fmt::format(".partial-{}", ::getpid()));
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) {
            std::error_code ignored;
            fs::remove(temp, ignored);
            return fail(ErrorCode::io, fmt::format("{}: cannot write", temp.string()));
        }
    }
    std::error_code error;
    fs::rename(temp, path, error);
    if (error) {
        fs::remove(temp, error);
        return fail(ErrorCode::io,
                    fmt::format("cannot write {}: {}", path.string(), error.message()));
    }
    return {};
}

} // namespace hearth
