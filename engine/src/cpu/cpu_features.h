// Run-time choice of the CPU kernel family, from the features the CPU reports.
#pragma once

namespace hearth::cpu {

// Kernel families, from the most portable up. A level is usable when the CPU has every
// feature its kernels are compiled for; `avx2` means AVX2 + FMA + F16C.
enum class KernelLevel { portable = 0, avx2 = 1 };

// The best level this process may use: the best the CPU runs, lowered by
// HEARTH_CPU_FEATURES=portable (read once; "avx2", "avx512" and other values leave it). A user
// who asks for a lower level gets it everywhere: set_kernel_level() refuses anything above it,
// so tests that compare the levels skip the ones the user ruled out.
KernelLevel max_kernel_level();

// The level in use: max_kernel_level() unless set_kernel_level() lowered it. The AVX-512
// kernels are extensions of the avx2 level, chosen per kernel where the CPU has the features
// (below); "avx512" asks for all of them, "avx2" for the AVX2 ones only.
KernelLevel kernel_level();

// Forces a level (tests compare every family against the portable one). Returns false and
// changes nothing above max_kernel_level(): when this CPU cannot run it or HEARTH_CPU_FEATURES
// asked for a lower one. Not thread-safe against running matmuls.
bool set_kernel_level(KernelLevel level);

const char* kernel_level_name(KernelLevel level);

// Dot-product instructions the int8 prefill kernels may use at the avx2 level: AVX-VNNI, and
// AVX512-VNNI with AVX512F, BW and VL (its 256- and 512-bit forms). False when HEARTH_CPU_FEATURES
// asks for "avx2" or "portable", so the plain AVX2 kernels can be measured and tested on any CPU.
bool cpu_has_avx_vnni();
bool cpu_has_avx512_vnni();

// The AVX-512 single-token kernels (vec_dot_avx512.cpp: AVX512F/BW/VL + VNNI), used at the avx2
// level when the CPU has them: the same bits as the AVX2 kernels, twice the vector width. False
// when HEARTH_CPU_FEATURES asks for "avx2" or "portable", or after set_avx512_kernels(false).
bool avx512_kernels_enabled();
// Turns them off or back on (tests and hearth-kernel-bench compare both in one process).
// Returns false and changes nothing when turning on is asked and the CPU lacks the features or
// HEARTH_CPU_FEATURES asks for "avx2" or "portable". Not thread-safe against running matmuls.
bool set_avx512_kernels(bool enabled);

} // namespace hearth::cpu
