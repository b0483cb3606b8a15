// Models split by llama.cpp's gguf-split: every part is a complete GGUF file whose tensor
// offsets are relative to its own data section; the first part carries the model's
// metadata; every part has `split.no` (0-based), `split.count` and `split.tensors.count`
// (the tensors of all parts together). The parts lie side by side, named
// PREFIX-00001-of-00003.gguf, PREFIX-00002-of-00003.gguf, ...
#include "hearth/gguf.h"

#include <cstdint>
#include <fmt/format.h>
#include <system_error>
#include <unordered_map>

namespace hearth {
namespace {

constexpr std::string_view kSplitNo = "split.no";
constexpr std::string_view kSplitCount = "split.count";
constexpr std::string_view kSplitTensorsCount = "split.tensors.count";

// What ends the name of part `index` (0-based) of `count`: "-00002-of-00003.gguf".
std::string split_ending(uint32_t index, uint32_t count) {
    return fmt::format("-{:05}-of-{:05}.gguf", index + 1, count);
}

// `path` without the ending of part `index` of `count`, or nullopt when its name does not
// end that way (the other parts' names cannot be derived then).
std::optional<std::filesystem::path> split_prefix(const std::filesystem::path& path, uint32_t index,
                                                  uint32_t count) {
    const std::string name = path.filename().string();
    const std::string ending = split_ending(index, count);
    if (name.size() <= ending.size() || !name.ends_with(ending)) {
        return std::nullopt;
    }
    return path.parent_path() / name.substr(0, name.size() - ending.size());
}

// An integer split key (llama.cpp writes u16 / i32): nullopt when absent, an error when
// present but not a number from 0 to `max`.
Result<std::optional<uint32_t>> read_split_key(const GgufHeader& header, std::string_view key,
                                               uint32_t max) {
    const GgufValue* value = header.find(key);
    if (!value) {
        return std::optional<uint32_t>{};
    }
    auto number = value->as_int();
    if (!number || *number < 0 || *number > int64_t{max}) {
        return fail(ErrorCode::bad_format, fmt::format("{} is {}, not a count from 0 to {}", key,
                                                       value->to_display_string(), max));
    }
    return std::optional<uint32_t>{static_cast<uint32_t>(*number)};
}

// A later part must say it is part `index` of the same `count` as the first part, and of
// the same number of tensors when it says so.
Result<void> check_part_keys(const GgufHeader& part, uint32_t index, uint32_t count,
                             uint32_t n_tensors) {
    auto part_count = read_split_key(part, kSplitCount, UINT16_MAX);
    auto part_index = read_split_key(part, kSplitNo, UINT16_MAX);
    auto part_tensors = read_split_key(part, kSplitTensorsCount, INT32_MAX);
    for (const auto* key : {&part_count, &part_index, &part_tensors}) {
        if (!*key) {
            return std::unexpected(key->error());
        }
    }
    if (!*part_count || !*part_index) {
        return fail(ErrorCode::bad_format,
                    "it has no split.count / split.no: it is not a part of a split model");
    }
    if (**part_count != count || (*part_tensors && **part_tensors != n_tensors)) {
        return fail(ErrorCode::bad_format,
                    fmt::format("it says it is one of {} parts holding {} tensors, but the first "
                                "part says {} parts holding {}: it belongs to another split",
                                **part_count, *part_tensors ? std::to_string(**part_tensors) : "?",
                                count, n_tensors));
    }
    if (**part_index != index) {
        return fail(ErrorCode::bad_format,
                    fmt::format("it says it is part {} (split.no {}), not part {}",
                                **part_index + 1, **part_index, index + 1));
    }
    return {};
}

} // namespace

std::filesystem::path gguf_split_path(const std::filesystem::path& prefix, uint32_t index,
                                      uint32_t count) {
    std::filesystem::path path = prefix;
    path += split_ending(index, count);
    return path;
}

Result<void> GgufFile::open_other_parts(const GgufLimits& limits) {
    const std::string first = path_.string();
    auto in_first = [&](const Error& error) {
        return fail(error.code, first + ": " + error.message);
    };
    auto count = read_split_key(header_, kSplitCount, UINT16_MAX);
    if (!count) {
        return in_first(count.error());
    }
    if (!*count || **count <= 1) {
        return {}; // not split
    }
    const uint32_t n_parts = **count;
    auto index = read_split_key(header_, kSplitNo, UINT16_MAX);
    if (!index) {
        return in_first(index.error());
    }
    if (!*index || **index >= n_parts) {
        return in_first({ErrorCode::bad_format,
                         fmt::format("split.count says the model is split in {} files but "
                                     "split.no, which of them this is, is {}",
                                     n_parts, *index ? std::to_string(**index) : "missing")});
    }
    if (**index != 0) {
        const auto prefix = split_prefix(path_, **index, n_parts);
        return in_first(
            {ErrorCode::invalid_argument,
             fmt::format("this is part {} of {} of a split model: open its first "
                         "part{} instead",
                         **index + 1, n_parts,
                         prefix ? " (" + gguf_split_path(*prefix, 0, n_parts).string() + ")"
                                : std::string())});
    }
    auto n_tensors = read_split_key(header_, kSplitTensorsCount, INT32_MAX);
    if (!n_tensors) {
        return in_first(n_tensors.error());
    }
    if (!*n_tensors) {
        return in_first({ErrorCode::bad_format,
                         "split.tensors.count, the number of tensors over all the parts of this "
                         "split model, is missing"});
    }
    const auto prefix = split_prefix(path_, 0, n_parts);
    if (!prefix) {
        return in_first({ErrorCode::bad_format,
                         fmt::format("this is the first of {} parts of a split model, but its name "
                                     "does not end in {}, so the other parts cannot be found; "
                                     "keep the names gguf-split gave the parts",
                                     n_parts, split_ending(0, n_parts))});
    }

    std::unordered_map<std::string, uint32_t> part_of_tensor;
    for (const GgufTensorInfo& tensor : header_.tensors) {
        part_of_tensor.emplace(tensor.name, 0);
    }
    for (uint32_t part = 1; part < n_parts; ++part) {
        const std::filesystem::path part_path = gguf_split_path(*prefix, part, n_parts);
        const std::string which = fmt::format("model part {} of {}", part + 1, n_parts);
        std::error_code ignored;
        if (!std::filesystem::exists(part_path, ignored)) {
            return fail(ErrorCode::io, fmt::format("{} is missing: {}", which, part_path.string()));
        }
        auto in_part = [&](const Error& error) {
            return fail(error.code,
                        fmt::format("{}: {}: {}", which, part_path.string(), error.message));
        };
        auto header = map_part(part_path, limits);
        if (!header) {
            // The message already starts with the path.
            return fail(header.error().code, which + ": " + header.error().message);
        }
        if (auto keys = check_part_keys(*header, part, n_parts, **n_tensors); !keys) {
            return in_part(keys.error());
        }
        if (header_.tensors.size() + header->tensors.size() > limits.max_tensors) {
            return in_part(
                {ErrorCode::bad_format,
                 fmt::format("the parts hold more than {} tensors together", limits.max_tensors)});
        }
        for (GgufTensorInfo& tensor : header->tensors) {
            auto [seen, added] = part_of_tensor.emplace(tensor.name, part);
            if (!added) {
                return in_part({ErrorCode::bad_format,
                                fmt::format("tensor '{}' is also in part {}: a tensor must be in "
                                            "one part only",
                                            gguf_printable(tensor.name), seen->second + 1)});
            }
            header_.tensors.push_back(std::move(tensor));
        }
    }
    if (header_.tensors.size() != **n_tensors) {
        return in_first({ErrorCode::bad_format,
                         fmt::format("split.tensors.count says the model has {} tensors but its "
                                     "{} parts hold {}",
                                     **n_tensors, n_parts, header_.tensors.size())});
    }
    return {};
}

} // namespace hearth
