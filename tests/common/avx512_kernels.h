// For the tests that hold the AVX-512 kernels to the AVX2 ones (tst_matmul_avx512,
// tst_matmul_packed_avx512): the kernel level and switch they run under.
#pragma once

#include "cpu/cpu_features.h"

namespace hearth::test {

// Selects the avx2 kernel level with the AVX-512 kernels on; nullptr, or why this machine
// cannot (the test then skips).
inline const char* enable_avx512_kernels() {
    using namespace hearth::cpu;
    if (detected_kernel_level() < KernelLevel::avx2 || !set_avx512_kernels(true)) {
        return "this CPU lacks AVX512F/BW/VL + VNNI (or HEARTH_CPU_FEATURES turned them off)";
    }
    set_kernel_level(KernelLevel::avx2);
    return nullptr;
}

} // namespace hearth::test
