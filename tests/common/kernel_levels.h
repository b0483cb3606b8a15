// For the kernel tests: whether the avx2 level and the AVX-512 kernels can be tested here, and
// if not, why (the CPU, or HEARTH_CPU_FEATURES asking for a lower level: the test then skips
// rather than raise the process above what its user asked for).
#pragma once

#include "cpu/cpu_features.h"

#include <cstdlib>
#include <string>

namespace hearth::test {

// Why `kernels` cannot run: the user's HEARTH_CPU_FEATURES where set, else the CPU.
inline const char* kernels_unavailable(const char* kernels, const char* cpu_needs) {
    static std::string why;
    const char* env = std::getenv("HEARTH_CPU_FEATURES");
    why = env != nullptr && *env != '\0'
              ? std::string("HEARTH_CPU_FEATURES=") + env + " rules out " + kernels +
                    " (or this CPU lacks " + cpu_needs + "): not tested"
              : std::string("this CPU lacks ") + cpu_needs + " for " + kernels + ": not tested";
    return why.c_str();
}

// nullptr where the avx2 level can run, else why not (the test then skips).
inline const char* avx2_level_unavailable(const char* kernels = "the AVX2 kernels") {
    return cpu::max_kernel_level() < cpu::KernelLevel::avx2
               ? kernels_unavailable(kernels, "AVX2 + FMA + F16C")
               : nullptr;
}

// Selects the avx2 kernel level with the AVX-512 kernels on; nullptr, or why it cannot.
inline const char* enable_avx512_kernels(const char* kernels = "the AVX-512 kernels") {
    if (cpu::max_kernel_level() < cpu::KernelLevel::avx2 || !cpu::set_avx512_kernels(true)) {
        return kernels_unavailable(kernels, "AVX512F/BW/VL + VNNI");
    }
    cpu::set_kernel_level(cpu::KernelLevel::avx2);
    return nullptr;
}

} // namespace hearth::test
