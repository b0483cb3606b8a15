// Which weight types the forward pass computes with, for callers outside the engine (the
// catalog's check that every file it offers runs): the CPU matmul's own answer.
#include "cpu/matmul.h"
#include "hearth/model.h"

namespace hearth {

bool weight_type_supported(TensorType type) {
    return cpu::matmul_supports(type);
}

} // namespace hearth
