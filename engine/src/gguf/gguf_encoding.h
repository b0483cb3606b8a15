// How GGUF encodes a value's type on disk, shared by the header parser and GgufArray. Private
// to engine/src/gguf.
#pragma once

#include "hearth/gguf.h"

#include <cstddef>

namespace hearth {

// Bytes one number or boolean of `type` takes in a file; 0 for strings and arrays, whose size
// depends on their contents.
constexpr size_t gguf_fixed_size(GgufType type) {
    switch (type) {
    case GgufType::uint8:
    case GgufType::int8:
    case GgufType::boolean:
        return 1;
    case GgufType::uint16:
    case GgufType::int16:
        return 2;
    case GgufType::uint32:
    case GgufType::int32:
    case GgufType::float32:
        return 4;
    case GgufType::uint64:
    case GgufType::int64:
    case GgufType::float64:
        return 8;
    case GgufType::string:
    case GgufType::array:
        return 0;
    }
    return 0;
}

} // namespace hearth
