// hearth-kernel-bench: the CPU matrix kernels alone, old and new in the same process, so a
// loaded machine's drift hits both alike. For each weight type and TinyLlama-1.1B matrix shape
// (2048 -> 5632 and 5632 -> 2048), the exact prefill path (matmul() with exact numerics, the
// packed copy where the type has one) and each int8 kernel (matmul_int8) run on random weights
// and a batch of prompt tokens; it prints GOP/s (2 × rows × cols × tokens per CPU second of the
// calling thread, 1 thread) and the int8 / exact ratio.
//
// With --decode: one token (the decode case) for each weight type of the common files, the AVX2
// kernels and the AVX-512 ones (where the CPU has them) alternating, in GB/s of weights read per
// CPU second of the calling thread (1 thread). The matrices fit the last-level cache (the
// TinyLlama shapes) or L2 (2048→256), so this is the kernels' compute rate, not the memory's: a
// type whose rate per core is below the memory bandwidth per core leaves decode compute-bound.
//
// With --decode-memory: the same one-token calls, but over copies of the 2048→5632 matrix that
// together (768 MiB) are far larger than the last-level cache, each read once per pass, so the
// weights come from memory as in a real decode: GB/s per CPU second of the calling thread (1
// thread). Above the memory's rate per core it reads as decode's ceiling; well below the cached
// rate of --decode it shows a kernel that does not keep enough of the memory's reads in flight
// (prefetch).
//
// usage: hearth-kernel-bench [TOKENS (default 128)] [REPETITIONS (default 3)] [TYPE...]
//        (TYPE: only these weight types, as GGML spells them: F16 Q8_0 ...; default every one)
//        hearth-kernel-bench --decode [REPETITIONS (default 5)] [TYPE...]
//        hearth-kernel-bench --decode-memory [REPETITIONS (default 3)] [TYPE...]
#include "cpu/cpu_features.h"
#include "cpu/int8_gemm.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/prefill_numerics.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace hearth;
using namespace hearth::cpu;

double thread_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Best of `reps` runs (the least disturbed by other processes), in GOP/s.
double gops(const std::function<void()>& run, double ops, int reps) {
    run(); // warm-up
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const double t0 = thread_seconds();
        run();
        best = std::min(best, thread_seconds() - t0);
    }
    return ops / best * 1e-9;
}

// Float weights as real ones look: normal, spread 0.02.
std::vector<uint8_t> random_float_weights(TensorType type, int64_t n) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    const size_t width = type == TensorType::F32 ? 4 : 2;
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * width);
    for (int64_t i = 0; i < n; ++i) {
        const float v = normal(rng);
        uint32_t bits = 0;
        if (type == TensorType::F32) {
            std::memcpy(&bits, &v, 4);
        } else if (type == TensorType::F16) {
            bits = fp32_to_fp16(v);
        } else {
            std::memcpy(&bits, &v, 4);
            bits >>= 16; // truncation is as good as rounding for timing
        }
        std::memcpy(bytes.data() + static_cast<size_t>(i) * width, &bits, width);
    }
    return bytes;
}

// Random blocks whose f16 fields (at the type's first 2 or 4 bytes, Q6_K's last 2, IQ1_M's
// scale nibbles) hold a small scale, so no value is inf or NaN.
std::vector<uint8_t> random_weights(TensorType type, int64_t n_rows, int64_t n_cols) {
    if (type == TensorType::F16 || type == TensorType::BF16 || type == TensorType::F32) {
        return random_float_weights(type, n_rows * n_cols);
    }
    const auto traits = tensor_type_traits(type);
    const size_t n_blocks = static_cast<size_t>(n_rows * n_cols / traits.block_size);
    std::vector<uint8_t> bytes(n_blocks * traits.type_size);
    std::mt19937 rng(1);
    for (uint8_t& b : bytes) {
        b = static_cast<uint8_t>(rng());
    }
    const uint16_t d = fp32_to_fp16(0.01f);
    for (size_t b = 0; b < n_blocks; ++b) {
        uint8_t* blk = bytes.data() + b * traits.type_size;
        if (type == TensorType::Q6_K) {
            std::memcpy(blk + traits.type_size - 2, &d, 2);
        } else if (type == TensorType::IQ1_M) {
            // No f16 field: d is the top nibble of each word of the last 8 bytes (the scales).
            uint8_t* scales = blk + traits.type_size - 8;
            for (int i = 0; i < 4; ++i) {
                scales[2 * i + 1] =
                    static_cast<uint8_t>((scales[2 * i + 1] & 0x0f) | ((d >> (4 * i)) & 0x0f) << 4);
            }
        } else {
            std::memcpy(blk, &d, 2);
            std::memcpy(blk + 2, &d, 2);
        }
    }
    return bytes;
}

// One matrix's weights as matmul() reads them, the packed copy beside where the type has one.
struct TestMatrix {
    std::vector<uint8_t> bytes, packed;
    WeightMatrix w;
    size_t weight_bytes = 0; // what one token's pass reads
};

TestMatrix make_matrix(TensorType type, int64_t n_rows, int64_t n_cols) {
    TestMatrix m;
    const auto traits = tensor_type_traits(type);
    m.bytes = random_weights(type, n_rows, n_cols);
    if (type == TensorType::F16) {
        // Random bytes make NaNs and infinities: small finite halves instead.
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> value(-0.05f, 0.05f);
        for (size_t i = 0; i + 1 < m.bytes.size(); i += 2) {
            const uint16_t h = fp32_to_fp16(value(rng));
            std::memcpy(m.bytes.data() + i, &h, 2);
        }
    }
    const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_size) * traits.type_size;
    m.w = WeightMatrix{type, m.bytes.data(), n_cols, n_rows, row_bytes};
    m.weight_bytes = row_bytes * static_cast<size_t>(n_rows);
    if (repack_supported(type)) {
        m.packed.resize(repacked_bytes(type, n_rows, n_cols));
        repack_rows(m.w, m.packed.data());
        m.w.packed = m.packed.data();
    }
    return m;
}

// A decode row's last cells: rate(false) (the AVX2 kernels) and rate(true) (the AVX-512 ones),
// best of two each, alternating so that drift in the machine's load hits both alike.
void print_rate_cells(const std::function<double(bool avx512)>& rate, bool have_avx512) {
    double avx2 = 0.0, avx512 = 0.0;
    for (int pass = 0; pass < 2; ++pass) {
        avx2 = std::max(avx2, rate(false));
        avx512 = have_avx512 ? std::max(avx512, rate(true)) : 0.0;
    }
    if (have_avx512) {
        std::printf(" %.1f | %.1f | %.2f |\n", avx2, avx512, avx512 / avx2);
    } else {
        std::printf(" %.1f | — | — |\n", avx2);
    }
    std::fflush(stdout);
}

int decode_table(int reps, const std::vector<std::string>& only) {
    ThreadPool pool(1);
    const bool have_avx512 = set_avx512_kernels(true);
    std::printf(
        "features: %s; 1 token, best of %d × 50 calls, 1 thread, GB/s of weights per CPU "
        "second\n\n| type | shape | avx2 | avx512 | avx512 / avx2 |\n|---|---|---|---|---|\n",
        cpu_feature_string(), reps);
    const TensorType types[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K,
                                TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_0,
                                TensorType::F16,  TensorType::BF16};
    // The TinyLlama matrices (a few MB: the last-level cache's rate), and one that stays in
    // the L2 cache (the kernel's own rate).
    const int64_t shapes[][2] = {{2048, 5632}, {5632, 2048}, {2048, 256}};
    constexpr int kCalls = 50;
    for (TensorType type : types) {
        if (!only.empty() &&
            std::find(only.begin(), only.end(), tensor_type_name(type)) == only.end()) {
            continue;
        }
        for (const auto& shape : shapes) {
            TestMatrix m = make_matrix(type, shape[1], shape[0]);
            std::vector<float> x(static_cast<size_t>(shape[0]));
            std::mt19937 rng(2);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            std::vector<float> y(static_cast<size_t>(shape[1]));
            std::vector<uint8_t> scratch(activation_row_bytes(type, shape[0]));
            const auto rate = [&](bool avx512) {
                set_avx512_kernels(avx512);
                const double bytes = static_cast<double>(m.weight_bytes) * kCalls;
                return gops(
                    [&] {
                        for (int i = 0; i < kCalls; ++i) {
                            matmul(m.w, x.data(), 1, shape[0], y.data(), shape[1], scratch.data(),
                                   pool);
                        }
                    },
                    bytes, reps);
            };
            std::printf("| %s | %lld→%lld |", std::string(tensor_type_name(type)).c_str(),
                        static_cast<long long>(shape[0]), static_cast<long long>(shape[1]));
            print_rate_cells(rate, have_avx512);
        }
    }
    set_avx512_kernels(have_avx512);
    return 0;
}

// Another matrix with m's weights (and packed copy) in its own memory.
TestMatrix copy_of(const TestMatrix& m) {
    TestMatrix c;
    c.bytes = m.bytes;
    c.packed = m.packed;
    c.w = m.w;
    c.w.data = c.bytes.data();
    c.w.packed = c.packed.empty() ? nullptr : c.packed.data();
    c.weight_bytes = m.weight_bytes;
    return c;
}

int decode_memory_table(int reps, const std::vector<std::string>& only) {
    ThreadPool pool(1);
    const bool have_avx512 = set_avx512_kernels(true);
    constexpr size_t kTotalBytes = size_t{768} << 20;
    constexpr int64_t kCols = 2048, kRows = 5632;
    std::printf("features: %s; 1 token over %zu MiB of 2048→5632 matrices, best of %d passes, 1 "
                "thread, GB/s of weights per CPU second\n\n| type | avx2 | avx512 | avx512 / avx2 "
                "|\n|---|---|---|---|\n",
                cpu_feature_string(), kTotalBytes >> 20, reps);
    const TensorType types[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K,
                                TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_0,
                                TensorType::F16};
    for (TensorType type : types) {
        if (!only.empty() &&
            std::find(only.begin(), only.end(), tensor_type_name(type)) == only.end()) {
            continue;
        }
        std::vector<TestMatrix> copies;
        copies.push_back(make_matrix(type, kRows, kCols));
        const size_t n_copies = std::max<size_t>(1, kTotalBytes / copies[0].weight_bytes);
        while (copies.size() < n_copies) {
            copies.push_back(copy_of(copies[0]));
        }
        std::vector<float> x(static_cast<size_t>(kCols));
        std::mt19937 rng(2);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (float& v : x) {
            v = normal(rng);
        }
        std::vector<float> y(static_cast<size_t>(kRows));
        std::vector<uint8_t> scratch(activation_row_bytes(type, kCols));
        const auto rate = [&](bool avx512) {
            set_avx512_kernels(avx512);
            const double bytes = static_cast<double>(copies[0].weight_bytes) * n_copies;
            return gops(
                [&] {
                    for (const TestMatrix& m : copies) {
                        matmul(m.w, x.data(), 1, kCols, y.data(), kRows, scratch.data(), pool);
                    }
                },
                bytes, reps);
        };
        std::printf("| %s |", std::string(tensor_type_name(type)).c_str());
        print_rate_cells(rate, have_avx512);
    }
    set_avx512_kernels(have_avx512);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const bool decode = argc > 1 && std::strcmp(argv[1], "--decode") == 0;
    const bool decode_memory = argc > 1 && std::strcmp(argv[1], "--decode-memory") == 0;
    if (decode || decode_memory) {
        const int reps = argc > 2 ? std::atoi(argv[2]) : decode ? 5 : 3;
        if (reps < 1 || reps > 100) {
            std::fprintf(stderr, "usage: hearth-kernel-bench %s [REPETITIONS 1..100] [TYPE...]\n",
                         argv[1]);
            return 2;
        }
        const std::vector<std::string> only(argv + std::min(argc, 3), argv + argc);
        return decode ? decode_table(reps, only) : decode_memory_table(reps, only);
    }
    const int64_t n_tokens = argc > 1 ? std::atoi(argv[1]) : 128;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
    std::vector<std::string> only(argv + std::min(argc, 3), argv + argc);
    if (n_tokens < 1 || n_tokens > 4096 || reps < 1 || reps > 100) {
        std::fprintf(
            stderr, "usage: hearth-kernel-bench [TOKENS 1..4096] [REPETITIONS 1..100] [TYPE...]\n");
        return 2;
    }
    ThreadPool pool(1);
    std::printf("features: %s; %lld tokens, best of %d, 1 thread, GOP/s\n\n", cpu_feature_string(),
                static_cast<long long>(n_tokens), reps);
    std::printf("| type | shape | exact |");
    // The portable kernel is the scalar reference of the tests, far too slow to time here.
    auto kernels = int8_gemm_kernels();
    kernels.pop_back();
    for (const auto& k : kernels) {
        std::printf(" int8 %s |", k.name);
    }
    std::printf(" best / exact |\n|---|---|---|");
    for (size_t i = 0; i <= kernels.size(); ++i) {
        std::printf("---|");
    }
    std::printf("\n");
    const TensorType types[] = {TensorType::Q4_0,   TensorType::Q4_1,  TensorType::Q5_0,
                                TensorType::Q5_1,   TensorType::Q4_K,  TensorType::Q5_K,
                                TensorType::Q6_K,   TensorType::Q8_0,  TensorType::F16,
                                TensorType::BF16,   TensorType::F32,   TensorType::IQ2_XXS,
                                TensorType::IQ2_XS, TensorType::IQ2_S, TensorType::IQ3_XXS,
                                TensorType::IQ3_S,  TensorType::IQ1_S, TensorType::IQ1_M};
    const int64_t shapes[][2] = {{2048, 5632}, {5632, 2048}};
    for (TensorType type : types) {
        if (!only.empty() &&
            std::find(only.begin(), only.end(), tensor_type_name(type)) == only.end()) {
            continue;
        }
        for (const auto& shape : shapes) {
            const int64_t n_cols = shape[0];
            const int64_t n_rows = shape[1];
            const auto bytes = random_weights(type, n_rows, n_cols);
            const auto traits = tensor_type_traits(type);
            WeightMatrix w{type, bytes.data(), n_cols, n_rows,
                           static_cast<size_t>(n_cols / traits.block_size) * traits.type_size};
            std::vector<uint8_t> packed;
            if (repack_supported(type)) {
                packed.resize(repacked_bytes(type, n_rows, n_cols));
                repack_rows(w, packed.data());
                w.packed = packed.data();
            }
            std::vector<float> x(static_cast<size_t>(n_tokens * n_cols));
            std::mt19937 rng(2);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            std::vector<float> y(static_cast<size_t>(n_tokens * n_rows));
            std::vector<uint8_t> scratch(static_cast<size_t>(n_tokens) *
                                         activation_row_bytes(type, n_cols));
            const double ops = 2.0 * static_cast<double>(n_rows * n_cols * n_tokens);
            set_prefill_numerics(PrefillNumerics::exact);
            const double exact = gops(
                [&] {
                    matmul(w, x.data(), n_tokens, n_cols, y.data(), n_rows, scratch.data(), pool);
                },
                ops, reps);
            std::printf("| %s | %lld→%lld | %.1f |", std::string(tensor_type_name(type)).c_str(),
                        static_cast<long long>(n_cols), static_cast<long long>(n_rows), exact);
            double best = 0.0;
            for (const auto& k : kernels) {
                const double g = gops(
                    [&] {
                        matmul_int8(w, x.data(), n_tokens, n_cols, y.data(), n_rows, pool, k.fn);
                    },
                    ops, reps);
                best = std::max(best, g);
                std::printf(" %.1f |", g);
            }
            std::printf(" %.2f |\n", best / exact);
            std::fflush(stdout);
        }
    }
    return 0;
}
