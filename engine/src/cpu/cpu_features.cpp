// CPU feature detection (cpuid through __builtin_cpu_supports) and the kernel level in use.
#include "cpu/cpu_features.h"

#include "cpu/matmul.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

namespace hearth::cpu {
namespace {

struct Features {
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512vnni = false;
    bool avxvnni = false;
};

Features detect() {
    Features f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.f16c = __builtin_cpu_supports("f16c");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
#endif
    return f;
}

const Features& features() {
    static const Features f = detect();
    return f;
}

KernelLevel best_level() {
    const Features& f = features();
    return f.avx2 && f.fma && f.f16c ? KernelLevel::avx2 : KernelLevel::portable;
}

// The level HEARTH_CPU_FEATURES asks for, capped by what the CPU runs.
KernelLevel allowed_level() {
    const KernelLevel best = best_level();
    const char* env = std::getenv("HEARTH_CPU_FEATURES");
    if (env == nullptr) {
        return best;
    }
    const std::string_view wanted(env);
    if (wanted == "portable") {
        return KernelLevel::portable;
    }
    // "avx2", "avx512" (no AVX-512 kernels yet: the AVX2 ones) and anything else: the best.
    return best;
}

std::atomic<KernelLevel>& current_level() {
    static std::atomic<KernelLevel> level{max_kernel_level()};
    return level;
}

} // namespace

KernelLevel max_kernel_level() {
    static const KernelLevel level = allowed_level();
    return level;
}

KernelLevel kernel_level() {
    return current_level().load(std::memory_order_relaxed);
}

namespace {

// HEARTH_CPU_FEATURES=avx2 or portable rules out the VNNI kernels.
bool vnni_allowed() {
    static const bool allowed = [] {
        const char* env = std::getenv("HEARTH_CPU_FEATURES");
        const std::string_view wanted = env != nullptr ? env : "";
        return wanted != "avx2" && wanted != "portable";
    }();
    return allowed;
}

} // namespace

bool cpu_has_avx_vnni() {
    return vnni_allowed() && features().avxvnni;
}

bool cpu_has_avx512_vnni() {
    const Features& f = features();
    return vnni_allowed() && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}

namespace {

bool avx512_kernels_supported() {
    const Features& f = features();
    return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}

std::atomic<bool>& avx512_kernels_on() {
    static std::atomic<bool> on{vnni_allowed() && avx512_kernels_supported()};
    return on;
}

} // namespace

bool avx512_kernels_enabled() {
    return avx512_kernels_on().load(std::memory_order_relaxed);
}

bool set_avx512_kernels(bool enabled) {
    if (enabled && !(vnni_allowed() && avx512_kernels_supported())) {
        return false;
    }
    avx512_kernels_on().store(enabled, std::memory_order_relaxed);
    return true;
}

bool set_kernel_level(KernelLevel level) {
    if (static_cast<int>(level) > static_cast<int>(max_kernel_level())) {
        return false;
    }
    current_level().store(level, std::memory_order_relaxed);
    return true;
}

const char* kernel_level_name(KernelLevel level) {
    switch (level) {
    case KernelLevel::avx2:
        return "avx2";
    case KernelLevel::portable:
        break;
    }
    return "portable";
}

const char* cpu_feature_string() {
    static const std::string text = [] {
        const Features& f = features();
        std::string s;
        const auto add = [&s](bool present, const char* name) {
            if (present) {
                s += s.empty() ? "" : " ";
                s += name;
            }
        };
        add(f.avx512f, "avx512f");
        add(f.avx512bw, "avx512bw");
        add(f.avx512vl, "avx512vl");
        add(f.avx512vnni, "avx512vnni");
        add(f.avx2, "avx2");
        add(f.fma, "fma");
        add(f.f16c, "f16c");
        s += s.empty() ? "" : " ";
        s += "(kernels: ";
        s += kernel_level_name(kernel_level());
        s += kernel_level() == KernelLevel::avx2 && avx512_kernels_enabled() ? " + avx512 decode"
                                                                             : "";
        s += ")";
        return s;
    }();
    return text.c_str();
}

} // namespace hearth::cpu
