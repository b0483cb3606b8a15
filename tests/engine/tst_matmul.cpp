// Unit tests of the CPU matrix kernels and thread pool: every weight type on every kernel
// family this CPU runs, against a float64 reference, and each SIMD family against the portable
// one; the pool's coverage, its hand-off under load, and its shutdown.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "packed_reference.h"
#include "quant/blocks.h"
#include "test_support.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

constexpr TensorType kTypes[] = {
    TensorType::F32,    TensorType::F16,    TensorType::BF16,    TensorType::Q4_0,
    TensorType::Q4_1,   TensorType::Q5_0,   TensorType::Q5_1,    TensorType::Q8_0,
    TensorType::Q2_K,   TensorType::Q3_K,   TensorType::Q4_K,    TensorType::Q5_K,
    TensorType::Q6_K,   TensorType::IQ4_NL, TensorType::IQ4_XS,  TensorType::MXFP4,
    TensorType::NVFP4,  TensorType::TQ1_0,  TensorType::TQ2_0,   TensorType::IQ2_XXS,
    TensorType::IQ2_XS, TensorType::IQ2_S,  TensorType::IQ3_XXS, TensorType::IQ3_S,
    TensorType::IQ1_S,  TensorType::IQ1_M};

// Offsets of a block's f16 scale (d) and, where the format has one, its min scale (m/dmin).
struct ScaleFields {
    int d = -1;
    int min = -1;
};

ScaleFields scale_fields(TensorType type) {
    using namespace quant;
    switch (type) {
    case TensorType::Q4_0:
        return {offsetof(BlockQ4_0, d), -1};
    case TensorType::Q4_1:
        return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case TensorType::Q5_0:
        return {offsetof(BlockQ5_0, d), -1};
    case TensorType::Q5_1:
        return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case TensorType::Q8_0:
        return {offsetof(BlockQ8_0, d), -1};
    case TensorType::Q2_K:
        return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case TensorType::Q3_K:
        return {offsetof(BlockQ3_K, d), -1};
    case TensorType::Q4_K:
        return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case TensorType::Q5_K:
        return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case TensorType::Q6_K:
        return {offsetof(BlockQ6_K, d), -1};
    case TensorType::IQ4_NL:
        return {offsetof(BlockIQ4_NL, d), -1};
    case TensorType::IQ4_XS:
        return {offsetof(BlockIQ4_XS, d), -1};
    case TensorType::TQ1_0:
        return {offsetof(BlockTQ1_0, d), -1};
    case TensorType::TQ2_0:
        return {offsetof(BlockTQ2_0, d), -1};
    case TensorType::IQ2_XXS:
        return {offsetof(BlockIQ2_XXS, d), -1};
    case TensorType::IQ2_XS:
        return {offsetof(BlockIQ2_XS, d), -1};
    case TensorType::IQ2_S:
        return {offsetof(BlockIQ2_S, d), -1};
    case TensorType::IQ3_XXS:
        return {offsetof(BlockIQ3_XXS, d), -1};
    case TensorType::IQ3_S:
        return {offsetof(BlockIQ3_S, d), -1};
    case TensorType::IQ1_S:
        return {offsetof(BlockIQ1_S, d), -1};
    default:
        return {};
    }
}

void put_u16(std::vector<uint8_t>& bytes, size_t at, uint16_t v) {
    bytes[at] = static_cast<uint8_t>(v & 0xff);
    bytes[at + 1] = static_cast<uint8_t>(v >> 8);
}

// Random weights: float rows for F32/F16/BF16; for block formats random bytes (every bit
// pattern of the quants is valid) with finite random f16 scales of either sign.
std::vector<uint8_t> random_weights(TensorType type, int64_t n_rows, int64_t n_cols,
                                    std::mt19937& rng) {
    const auto traits = hearth::tensor_type_traits(type);
    const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_size) * traits.type_size;
    std::vector<uint8_t> bytes(row_bytes * static_cast<size_t>(n_rows));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> scale(0.002f, 0.02f);
    const size_t n = static_cast<size_t>(n_rows * n_cols);
    if (type == TensorType::F32) {
        for (size_t i = 0; i < n; ++i) {
            const float v = normal(rng);
            std::memcpy(bytes.data() + 4 * i, &v, 4);
        }
        return bytes;
    }
    if (type == TensorType::F16 || type == TensorType::BF16) {
        for (size_t i = 0; i < n; ++i) {
            const float v = normal(rng);
            uint32_t bits = 0;
            std::memcpy(&bits, &v, 4);
            put_u16(bytes, 2 * i,
                    type == TensorType::F16 ? hearth::fp32_to_fp16(v)
                                            : static_cast<uint16_t>(bits >> 16));
        }
        return bytes;
    }
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint8_t& b : bytes) {
        b = static_cast<uint8_t>(byte(rng));
    }
    const ScaleFields fields = scale_fields(type);
    for (size_t at = 0; at < bytes.size(); at += traits.type_size) {
        const float sign = byte(rng) & 1 ? -1.0f : 1.0f;
        if (type == TensorType::MXFP4) {
            // An e8m0 exponent: 2^(e - 128) from 2^-9 to 2^-4 keeps the products in range.
            bytes[at + offsetof(quant::BlockMXFP4, e)] = static_cast<uint8_t>(119 + byte(rng) % 6);
            continue;
        }
        if (type == TensorType::IQ1_M) {
            // Its f16 scale is the top nibble of each of the four scale words.
            const uint16_t d = hearth::fp32_to_fp16(sign * scale(rng));
            uint8_t* scales = bytes.data() + at + offsetof(quant::BlockIQ1_M, scales);
            for (int i = 0; i < 4; ++i) {
                scales[2 * i + 1] = static_cast<uint8_t>((scales[2 * i + 1] & 0x0f) |
                                                         (((d >> (4 * i)) & 0x0f) << 4));
            }
            continue;
        }
        if (fields.d < 0) {
            continue; // NVFP4: every e4m3 byte is a modest scale
        }
        put_u16(bytes, at + static_cast<size_t>(fields.d), hearth::fp32_to_fp16(sign * scale(rng)));
        if (fields.min >= 0) {
            put_u16(bytes, at + static_cast<size_t>(fields.min), hearth::fp32_to_fp16(scale(rng)));
        }
    }
    return bytes;
}

std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& bytes, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    const auto result = hearth::dequantize(type, bytes.data(), out.data(), n);
    if (!result) {
        qFatal("dequantize failed: %s", result.error().message.c_str());
    }
    return out;
}

// The weights with the min scales zeroed: the "scale * q" part a of w = a - b.
std::vector<float> scaled_part(TensorType type, std::vector<uint8_t> bytes, int64_t n) {
    const ScaleFields fields = scale_fields(type);
    if (fields.min >= 0) {
        const size_t block = hearth::tensor_type_traits(type).type_size;
        for (size_t at = 0; at < bytes.size(); at += block) {
            put_u16(bytes, at + static_cast<size_t>(fields.min), 0);
        }
    }
    return dequantized(type, bytes, n);
}

struct Case {
    TensorType type;
    int64_t n_rows, n_cols, n_tokens;
};

// Runs one matmul case on every kernel family; returns a description of the first miss, or "".
//
// Error bound against the float64 reference (same dequantized weights, same dequantized
// activations; only the order and precision of the arithmetic differ). With w = a - b (b the
// min term of Q4_1/Q5_1/K formats, else 0), S = sum |a_i x_i| + |b_i x_i| bounds every partial
// sum; each float operation adds at most u = 2^-24 relative to S. Per lane the kernels add at
// most n_cols / 32 block results (F32/F16/BF16: n_cols / 32 vectors, plus < 8 tail terms and a
// 3-step horizontal sum), and the block scale products, int-to-float conversions and the
// reference's own dequantization rounding add a handful more: |err| <= (n_cols / 8 + 8) u S.
// Q4_1/Q5_1 take the min term from Q8_1's s = f16(d * sum q), rounded to f16 (2^-11), as ggml
// does: plus 2^-11 * sum |b_i x_i|. SIMD against portable: both obey the same bound relative
// to the exact result, so they differ by at most twice it, without the f16 term (both read s).
std::string check_case(const Case& c, ThreadPool& pool, std::mt19937& rng) {
    const auto traits = hearth::tensor_type_traits(c.type);
    const size_t row_bytes = static_cast<size_t>(c.n_cols / traits.block_size) * traits.type_size;
    const std::vector<uint8_t> w_bytes = random_weights(c.type, c.n_rows, c.n_cols, rng);
    const std::vector<float> w = dequantized(c.type, w_bytes, c.n_rows * c.n_cols);
    const std::vector<float> a = scaled_part(c.type, w_bytes, c.n_rows * c.n_cols);

    // Activations with padding between rows, and a padded output, to exercise the strides.
    const int64_t x_stride = c.n_cols + 5, y_stride = c.n_rows + 3;
    std::vector<float> x(static_cast<size_t>(c.n_tokens * x_stride));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) {
        v = normal(rng);
    }
    x[0] = 9.0f; // an outlier, as real activations have

    // The activations as the kernels see them.
    const size_t act_bytes = activation_row_bytes(c.type, c.n_cols);
    std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(c.n_tokens));
    std::vector<float> xq(static_cast<size_t>(c.n_tokens * c.n_cols));
    for (int64_t t = 0; t < c.n_tokens; ++t) {
        quantize_activation_row(c.type, x.data() + t * x_stride, scratch.data(), c.n_cols);
        dequantize_activation_row(c.type, scratch.data(), xq.data() + t * c.n_cols, c.n_cols);
    }

    std::vector<double> ref(static_cast<size_t>(c.n_tokens * c.n_rows));
    std::vector<double> bound(ref.size()), bound_simd(ref.size());
    const double u = std::ldexp(1.0, -24);
    const bool f16_min = c.type == TensorType::Q4_1 || c.type == TensorType::Q5_1;
    for (int64_t t = 0; t < c.n_tokens; ++t) {
        for (int64_t r = 0; r < c.n_rows; ++r) {
            double sum = 0.0, s_abs = 0.0, s_min = 0.0;
            for (int64_t i = 0; i < c.n_cols; ++i) {
                const size_t wi = static_cast<size_t>(r * c.n_cols + i);
                const double xv = xq[static_cast<size_t>(t * c.n_cols + i)];
                sum += static_cast<double>(w[wi]) * xv;
                const double b = static_cast<double>(a[wi]) - static_cast<double>(w[wi]);
                s_abs += std::fabs(a[wi] * xv) + std::fabs(b * xv);
                s_min += std::fabs(b * xv);
            }
            const size_t k = static_cast<size_t>(t * c.n_rows + r);
            ref[k] = sum;
            const double rounding = (static_cast<double>(c.n_cols) / 8 + 8) * u * s_abs;
            bound[k] = rounding + (f16_min ? std::ldexp(s_min, -11) : 0.0) + 1e-30;
            bound_simd[k] = 2 * rounding + 1e-30;
        }
    }

    const WeightMatrix matrix{c.type, w_bytes.data(), c.n_cols, c.n_rows, row_bytes};
    const KernelLevel saved = kernel_level();
    std::vector<float> portable;
    std::string miss;
    for (int level = 0; level <= static_cast<int>(max_kernel_level()) && miss.empty(); ++level) {
        set_kernel_level(static_cast<KernelLevel>(level));
        std::vector<float> y(static_cast<size_t>(c.n_tokens * y_stride), -12345.0f);
        matmul(matrix, x.data(), c.n_tokens, x_stride, y.data(), y_stride, scratch.data(), pool);
        for (int64_t t = 0; t < c.n_tokens && miss.empty(); ++t) {
            for (int64_t r = 0; r < y_stride && miss.empty(); ++r) {
                const float got = y[static_cast<size_t>(t * y_stride + r)];
                if (r >= c.n_rows) {
                    if (got != -12345.0f) {
                        miss = "matmul wrote past n_rows";
                    }
                    continue;
                }
                const size_t k = static_cast<size_t>(t * c.n_rows + r);
                const double err = std::fabs(got - ref[k]);
                bool ok = std::isfinite(got) && err <= bound[k];
                if (ok && level > 0) {
                    ok = std::fabs(static_cast<double>(got) - portable[k]) <= bound_simd[k];
                }
                if (ok) {
                    continue;
                }
                miss = std::string(hearth::tensor_type_name(c.type)) + " " +
                       kernel_level_name(static_cast<KernelLevel>(level)) +
                       " rows=" + std::to_string(c.n_rows) + " cols=" + std::to_string(c.n_cols) +
                       " tokens=" + std::to_string(c.n_tokens) + " t=" + std::to_string(t) +
                       " r=" + std::to_string(r) + ": got " + std::to_string(got) + " want " +
                       std::to_string(ref[k]) + " bound " + std::to_string(bound[k]) +
                       (level > 0 ? " portable " + std::to_string(portable[k]) : "");
            }
        }
        if (level == 0) {
            portable.resize(ref.size());
            for (int64_t t = 0; t < c.n_tokens; ++t) {
                for (int64_t r = 0; r < c.n_rows; ++r) {
                    portable[static_cast<size_t>(t * c.n_rows + r)] =
                        y[static_cast<size_t>(t * y_stride + r)];
                }
            }
        }
    }
    set_kernel_level(saved);
    return miss;
}

using hearth::test::packed_reference;

// A packed matrix against 1..64 tokens: packed rows exactly packed_reference, the others
// exactly the per-row kernel; at the portable level, exactly the unpacked result.
void check_packed(TensorType type, int64_t n_rows, int64_t n_cols, ThreadPool& pool,
                  std::mt19937& rng) {
    const auto traits = hearth::tensor_type_traits(type);
    const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_size) * traits.type_size;
    const auto w_bytes = random_weights(type, n_rows, n_cols, rng);
    std::vector<uint8_t> packed(repacked_bytes(type, n_rows, n_cols));
    const WeightMatrix plain{type, w_bytes.data(), n_cols, n_rows, row_bytes};
    WeightMatrix matrix = plain;
    repack_rows(plain, packed.data());
    matrix.packed = packed.data();
    for (const int64_t n_tokens : {1, 3, 4, 17, 64}) {
        const int64_t y_stride = n_rows + 3;
        std::vector<float> x(static_cast<size_t>(n_tokens * n_cols));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (float& v : x) {
            v = normal(rng);
        }
        const size_t act_bytes = activation_row_bytes(type, n_cols);
        std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tokens));
        std::vector<float> y(static_cast<size_t>(n_tokens * y_stride), -12345.0f);
        std::vector<float> y_rows = y;
        matmul(matrix, x.data(), n_tokens, n_cols, y.data(), y_stride, scratch.data(), pool);
        matmul(plain, x.data(), n_tokens, n_cols, y_rows.data(), y_stride, scratch.data(), pool);
        for (int64_t t = 0; t < n_tokens; ++t) {
            const uint8_t* act = scratch.data() + static_cast<size_t>(t) * act_bytes;
            for (int64_t r = 0; r < y_stride; ++r) {
                const size_t k = static_cast<size_t>(t * y_stride + r);
                // Tail rows and the padding past n_rows: as the per-row kernel left them.
                const float want =
                    r < n_rows / 8 * 8
                        ? packed_reference(type,
                                           w_bytes.data() + static_cast<size_t>(r) * row_bytes, act,
                                           n_cols)
                        : y_rows[k];
                QVERIFY2(y[k] == want,
                         qPrintable(QString("%1 rows %2 cols %3 tokens %4: y[%5][%6] = %7, want %8")
                                        .arg(QString::fromLatin1(hearth::tensor_type_name(type)))
                                        .arg(n_rows)
                                        .arg(n_cols)
                                        .arg(n_tokens)
                                        .arg(t)
                                        .arg(r)
                                        .arg(y[k], 0, 'g', 9)
                                        .arg(want, 0, 'g', 9)));
            }
        }
        const KernelLevel saved = kernel_level();
        set_kernel_level(KernelLevel::portable);
        std::vector<float> y_portable = y, y_portable_rows = y;
        matmul(matrix, x.data(), n_tokens, n_cols, y_portable.data(), y_stride, scratch.data(),
               pool);
        matmul(plain, x.data(), n_tokens, n_cols, y_portable_rows.data(), y_stride, scratch.data(),
               pool);
        set_kernel_level(saved);
        QVERIFY(y_portable == y_portable_rows);
    }
}

// ggml's float orders, emulated lane by lane (FMA as std::fma): llamafile's tinyBLAS (one 8-lane
// accumulator, then hsum_float_8) and ggml_vec_dot_f32/f16 (four accumulators over 32-value
// steps, GGML_F32x8_REDUCE, the leftovers added in float with FMA / in double).
float emulate_tinyblas(const std::vector<float>& w, const std::vector<float>& x) {
    std::array<float, 8> acc{};
    for (size_t l = 0; l < w.size(); l += 8) {
        for (size_t k = 0; k < 8; ++k) {
            acc[k] = std::fma(w[l + k], x[l + k], acc[k]);
        }
    }
    const float r0 = acc[4] + acc[0], r1 = acc[5] + acc[1], r2 = acc[6] + acc[2],
                r3 = acc[7] + acc[3];
    return (r0 + r2) + (r1 + r3);
}

float emulate_vec_dot(const std::vector<float>& w, const std::vector<float>& x, bool f16) {
    const size_t np = w.size() & ~size_t{31};
    std::array<std::array<float, 8>, 4> acc{};
    for (size_t i = 0; i < np; i += 32) {
        for (size_t j = 0; j < 4; ++j) {
            for (size_t k = 0; k < 8; ++k) {
                acc[j][k] = std::fma(w[i + 8 * j + k], x[i + 8 * j + k], acc[j][k]);
            }
        }
    }
    std::array<float, 8> a{};
    for (size_t k = 0; k < 8; ++k) {
        a[k] = (acc[0][k] + acc[2][k]) + (acc[1][k] + acc[3][k]);
    }
    const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
    const float sum = (t0 + t1) + (t2 + t3);
    if (f16) {
        double wide = sum;
        for (size_t i = np; i < w.size(); ++i) {
            wide += static_cast<double>(w[i] * x[i]);
        }
        return static_cast<float>(wide);
    }
    // The leftovers as GCC built ggml's `sumf += x[i]*y[i]` loop in the reference build: groups
    // of 8, then one of 4, with the products rounded before the in-order adds (volatile: no
    // contraction here either); the last 0-3 in its scalar epilogue, fused.
    float narrow = sum;
    size_t i = np;
    const size_t grouped = np + ((w.size() - np) & ~size_t{3});
    for (; i < grouped; ++i) {
        const volatile float product = w[i] * x[i];
        narrow += product;
    }
    for (; i < w.size(); ++i) {
        narrow = std::fma(w[i], x[i], narrow);
    }
    return narrow;
}

} // namespace

class TestMatmul : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { qInfo("CPU features: %s", cpu_feature_string()); }

    void every_type_matches_reference_data() {
        QTest::addColumn<int>("type");
        for (TensorType type : kTypes) {
            QTest::newRow(std::string(hearth::tensor_type_name(type)).c_str())
                << static_cast<int>(type);
        }
    }

    // Every type x every kernel family x shapes: 1 block, a few blocks, many; rows not a
    // multiple of any tile; 1, 3, 17 and 64 tokens; one and two threads.
    void every_type_matches_reference() {
        QFETCH(int, type);
        const auto t = static_cast<TensorType>(type);
        QVERIFY(matmul_supports(t));
        const int64_t block = hearth::tensor_type_traits(t).block_size;
        std::vector<int64_t> cols = {block, 3 * block, (block == 1 ? 1000 : 4096 / block * block)};
        if (block == 1) {
            cols = {1, 7, 40, 100, 1000}; // vector tails of the float kernels
        } else if (block == 32) {
            cols = {32, 96, 1024};
        }
        std::mt19937 rng(1234 + static_cast<unsigned>(type));
        ThreadPool one(1), two(2);
        for (const int64_t n_cols : cols) {
            for (const int64_t n_tokens : {1, 3, 17, 64}) {
                ThreadPool& pool = n_tokens == 17 ? one : two;
                const std::string miss = check_case({t, 37, n_cols, n_tokens}, pool, rng);
                QVERIFY2(miss.empty(), miss.c_str());
            }
        }
        const std::string miss = check_case({t, 1, cols.front(), 5}, two, rng);
        QVERIFY2(miss.empty(), miss.c_str());
    }

    // Activation quantizers: each value within half a step of its input, and the side sums.
    void activation_quantization() {
        std::mt19937 rng(7);
        std::normal_distribution<float> normal(0.0f, 3.0f);
        std::vector<float> x(512);
        for (float& v : x) {
            v = normal(rng);
        }
        x[3] = -40.0f;
        std::fill(x.begin() + 256, x.begin() + 288, 0.0f); // an all-zero block
        for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K}) {
            std::vector<uint8_t> q(activation_row_bytes(type, 512));
            std::vector<float> back(512);
            quantize_activation_row(type, x.data(), q.data(), 512);
            dequantize_activation_row(type, q.data(), back.data(), 512);
            const int block = dot_type(type) == TensorType::Q8_K ? 256 : 32;
            for (int b = 0; b < 512 / block; ++b) {
                float amax = 0.0f;
                for (int i = 0; i < block; ++i) {
                    amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * block + i)]));
                }
                // Half a step of amax / 127, plus the f16 rounding of Q8_0's d (2^-11 of 127).
                const float tol = amax / 127.0f * (0.5f + 127.0f / 2048.0f) + 1e-7f;
                for (int i = 0; i < block; ++i) {
                    const size_t k = static_cast<size_t>(b * block + i);
                    QVERIFY2(
                        std::fabs(back[k] - x[k]) <= tol,
                        qPrintable(QString("%1 value %2: %3 -> %4")
                                       .arg(QString::fromLatin1(hearth::tensor_type_name(type)))
                                       .arg(k)
                                       .arg(x[k])
                                       .arg(back[k])));
                }
            }
            if (type == TensorType::Q4_1) {
                const auto* blocks = reinterpret_cast<const BlockQ8_1*>(q.data());
                for (int b = 0; b < 16; ++b) {
                    int sum = 0;
                    for (int i = 0; i < 32; ++i) {
                        sum += blocks[b].qs[i];
                    }
                    const float d = hearth::fp16_to_fp32(blocks[b].d);
                    QVERIFY(std::fabs(hearth::fp16_to_fp32(blocks[b].s) - d * sum) <=
                            std::fabs(d * sum) / 1024 + 1e-6f);
                }
            }
            if (type == TensorType::Q4_K) {
                const auto* blocks = reinterpret_cast<const BlockQ8_K*>(q.data());
                for (int b = 0; b < 2; ++b) {
                    for (int j = 0; j < 16; ++j) {
                        int sum = 0;
                        for (int i = 0; i < 16; ++i) {
                            sum += blocks[b].qs[16 * j + i];
                        }
                        QCOMPARE(static_cast<int>(blocks[b].bsums[j]), sum);
                    }
                }
                // ggml's convention: the largest magnitude maps to -127 (here x[3] = -40, so d >
                // 0).
                QCOMPARE(blocks[0].qs[3], int8_t{-127});
                QCOMPARE(blocks[0].d, 40.0f / 127.0f);
            }
        }
    }

    void f16_row_helpers() {
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const int64_t n : {1, 8, 13, 64, 203}) {
            std::vector<float> x(static_cast<size_t>(n)), b(static_cast<size_t>(n));
            for (size_t i = 0; i < x.size(); ++i) {
                x[i] = normal(rng);
                b[i] = normal(rng);
            }
            x[0] = 1e-6f; // a subnormal f16
            std::vector<uint16_t> h_portable(x.size()), h(x.size());
            convert_f32_to_f16_portable(x.data(), h_portable.data(), n);
            for (int level = 0; level <= static_cast<int>(max_kernel_level()); ++level) {
                const KernelLevel saved = kernel_level();
                set_kernel_level(static_cast<KernelLevel>(level));
                convert_f32_to_f16(x.data(), h.data(), n);
                QVERIFY(h == h_portable);
                double ref = 0.0, s_abs = 0.0;
                for (size_t i = 0; i < x.size(); ++i) {
                    ref += static_cast<double>(hearth::fp16_to_fp32(h[i])) * b[i];
                    s_abs += std::fabs(static_cast<double>(hearth::fp16_to_fp32(h[i])) * b[i]);
                }
                // Float accumulation: n / 32 + 8 roundings of at most 2^-24 S each (see above).
                const double tol = (static_cast<double>(n) / 8 + 8) * std::ldexp(s_abs, -24);
                QVERIFY(std::fabs(dot_f16_f32(h.data(), b.data(), n) - ref) <= tol);
                std::vector<float> y = b;
                axpy_f16_f32(h.data(), 0.5f, y.data(), n);
                for (size_t i = 0; i < y.size(); ++i) {
                    const double want = b[i] + 0.5 * hearth::fp16_to_fp32(h[i]);
                    QVERIFY(std::fabs(y[i] - want) <= std::ldexp(std::fabs(want), -23) + 1e-30);
                }
                set_kernel_level(saved);
            }
        }
    }

    // Q4_0 and Q4_K interleaved by 8 rows (cpu/repack.h): each full group gives exactly the
    // float arithmetic of llama.cpp's repacked 8x8 kernels (packed_reference above), the rows
    // past the last group (37 = 4 × 8 + 5) exactly the per-row kernel's; 1..64 tokens; the
    // portable level ignores the packed copy.
    void packed_matches_ggml_order() {
        std::mt19937 rng(99);
        ThreadPool two(2);
        for (const TensorType type : {TensorType::Q4_0, TensorType::Q4_K}) {
            if (!repack_supported(type)) {
                QSKIP("no packed kernels at this CPU's kernel level");
            }
            const int64_t block = hearth::tensor_type_traits(type).block_size;
            for (const int64_t n_rows : {8, 37, 64}) {
                for (const int64_t n_cols : {block, 3 * block, int64_t{2048}}) {
                    check_packed(type, n_rows, n_cols, two, rng);
                    if (QTest::currentTestFailed()) {
                        return;
                    }
                }
            }
        }
        // A matrix of fewer than 8 rows has nothing to pack; types without a layout neither.
        QCOMPARE(repacked_bytes(TensorType::Q4_0, 7, 64), size_t{0});
        QCOMPARE(repacked_bytes(TensorType::Q8_0, 64, 64), size_t{0});
    }

    // F32 and F16 matrices at the avx2 level sum as ggml's batches do (k % 8, m % 4): in
    // tinyBLAS's order, whatever the kernel's token grouping (7 = 4 + 3 tokens) and for a lone
    // token too (ggml's vec_dot there: a token's products must not depend on its batch); the
    // experts' mul_mat_id and other shapes in vec_dot's. n_cols 72 has a leftover past
    // vec_dot's 32-value steps.
    void f32_f16_follow_ggml_orders() {
        if (const char* why = hearth::test::avx2_level_unavailable("ggml's orders (avx2 level)")) {
            QSKIP(why);
        }
        const KernelLevel saved = kernel_level();
        set_kernel_level(KernelLevel::avx2);
        std::mt19937 rng(5);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        ThreadPool two(2);
        const int64_t n_cols = 72;
        const int64_t n_tokens = 7;
        for (const TensorType type : {TensorType::F32, TensorType::F16}) {
            const bool f16 = type == TensorType::F16;
            for (const int64_t n_rows : {8, 6}) {
                // Weights and activations as the kernels see them (F16 rounded for F16).
                std::vector<float> w(size_t(n_rows * n_cols)), x(size_t(n_tokens * n_cols));
                std::vector<uint16_t> w16(w.size());
                for (size_t i = 0; i < w.size(); ++i) {
                    w16[i] = hearth::fp32_to_fp16(normal(rng));
                    w[i] = f16 ? hearth::fp16_to_fp32(w16[i]) : normal(rng);
                }
                for (float& v : x) {
                    v = normal(rng);
                }
                WeightMatrix m;
                m.type = type;
                m.data = f16 ? static_cast<const void*>(w16.data()) : w.data();
                m.n_cols = n_cols;
                m.n_rows = n_rows;
                m.row_bytes = size_t(n_cols) * (f16 ? 2 : 4);
                std::vector<uint8_t> scratch(size_t(n_tokens) * activation_row_bytes(type, n_cols));
                const auto expect = [&](int64_t r, int64_t t, bool tinyblas) {
                    std::vector<float> wr(w.begin() + r * n_cols, w.begin() + (r + 1) * n_cols);
                    std::vector<float> xt(x.begin() + t * n_cols, x.begin() + (t + 1) * n_cols);
                    if (f16) {
                        for (float& v : xt) {
                            v = hearth::fp16_to_fp32(hearth::fp32_to_fp16(v));
                        }
                    }
                    return tinyblas ? emulate_tinyblas(wr, xt) : emulate_vec_dot(wr, xt, f16);
                };
                for (const MatmulOp op : {MatmulOp::mul_mat, MatmulOp::mul_mat_id}) {
                    for (const int64_t tokens : {n_tokens, int64_t{1}}) {
                        std::vector<float> y(size_t(tokens * n_rows), NAN);
                        matmul(m, x.data(), tokens, n_cols, y.data(), n_rows, scratch.data(), two,
                               op);
                        // tinyBLAS's order for mul_mat at any token count (a token's products
                        // must not depend on its batch), vec_dot's for the experts.
                        const bool tinyblas = op == MatmulOp::mul_mat && n_rows % 4 == 0;
                        for (int64_t t = 0; t < tokens; ++t) {
                            for (int64_t r = 0; r < n_rows; ++r) {
                                const float got = y[size_t(t * n_rows + r)];
                                const float want = expect(r, t, tinyblas);
                                QVERIFY2(
                                    std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                                    qPrintable(
                                        QString("%1 rows %2 tokens %3 %4: row %5 token %6: %7, "
                                                "expected %8 (%9 order)")
                                            .arg(f16 ? "F16" : "F32")
                                            .arg(n_rows)
                                            .arg(tokens)
                                            .arg(op == MatmulOp::mul_mat ? "mul_mat" : "mul_mat_id")
                                            .arg(r)
                                            .arg(t)
                                            .arg(double(got), 0, 'g', 9)
                                            .arg(double(want), 0, 'g', 9)
                                            .arg(tinyblas ? "tinyBLAS" : "vec_dot")));
                            }
                        }
                    }
                }
            }
        }
        set_kernel_level(saved);
    }

    void kernel_level_override() {
        const KernelLevel saved = kernel_level();
        QVERIFY(set_kernel_level(KernelLevel::portable));
        QCOMPARE(kernel_level(), KernelLevel::portable);
        QVERIFY(set_kernel_level(max_kernel_level()));
        set_kernel_level(saved);
        QVERIFY(std::string(cpu_feature_string()).find("kernels:") != std::string::npos);
    }

    // parallel_for calls fn on disjoint ranges that cover [0, n) exactly once.
    void parallel_for_covers_each_index_once() {
        for (const int threads : {1, 2, 3, 5}) {
            ThreadPool pool(threads);
            QCOMPARE(pool.size(), threads);
            for (const int64_t n : {0, 1, 2, 7, 16, 100, 1001}) {
                for (const int64_t grain : {0, 1, 3, 16, 2000}) {
                    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                    std::atomic<bool> bad_range{false};
                    pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
                        if (begin < 0 || end > n || begin >= end) {
                            bad_range = true;
                            return;
                        }
                        for (int64_t i = begin; i < end; ++i) {
                            hits[static_cast<size_t>(i)].fetch_add(1);
                        }
                    });
                    QVERIFY(!bad_range);
                    for (int64_t i = 0; i < n; ++i) {
                        QVERIFY2(hits[static_cast<size_t>(i)] == 1,
                                 qPrintable(QString("threads %1 n %2 grain %3 index %4: %5 calls")
                                                .arg(threads)
                                                .arg(n)
                                                .arg(grain)
                                                .arg(i)
                                                .arg(hits[static_cast<size_t>(i)].load())));
                    }
                }
            }
        }
    }

    // parallel_for_tapered covers [0, n) exactly once, in chunks that are multiples of the
    // grain (but the last), never grow, and start at n / (2 threads) rounded up to the grain:
    // a quarter of the rows first at two threads, then a quarter of the rest.
    void parallel_for_tapered_chunks() {
        for (const int threads : {1, 2, 3, 5}) {
            ThreadPool pool(threads);
            for (const int64_t n : {0, 1, 2, 7, 16, 100, 576, 1001, 49152}) {
                for (const int64_t grain : {0, 1, 3, 16, 2000}) {
                    std::mutex mutex;
                    std::vector<std::pair<int64_t, int64_t>> chunks;
                    pool.parallel_for_tapered(n, grain, [&](int64_t begin, int64_t end) {
                        std::lock_guard lock(mutex);
                        chunks.emplace_back(begin, end);
                    });
                    std::sort(chunks.begin(), chunks.end());
                    const QString where =
                        QString("threads %1 n %2 grain %3: ").arg(threads).arg(n).arg(grain);
                    const int64_t g = std::max<int64_t>(grain, 1);
                    int64_t covered = 0;
                    for (size_t i = 0; i < chunks.size(); ++i) {
                        const auto [begin, end] = chunks[i];
                        QVERIFY2(begin == covered && end > begin,
                                 qPrintable(where + QString("chunk [%1, %2) after %3")
                                                        .arg(begin)
                                                        .arg(end)
                                                        .arg(covered)));
                        QVERIFY2((end - begin) % g == 0 || end == n,
                                 qPrintable(where + QString("chunk of %1").arg(end - begin)));
                        if (i > 0) {
                            QVERIFY(end - begin <= chunks[i - 1].second - chunks[i - 1].first);
                        }
                        covered = end;
                    }
                    QCOMPARE(covered, n);
                    if (threads > 1 && n > g) {
                        const int64_t first =
                            ((n + 2 * threads - 1) / (2 * threads) + g - 1) / g * g;
                        QCOMPARE(chunks.front().second, std::min(n, first));
                    }
                }
            }
        }
    }

    // run() calls fn once per thread with its index, 10000 times in a row, quickly.
    void run_many_times_quickly() {
        ThreadPool pool(2);
        std::atomic<int64_t> calls{0};
        std::atomic<int> index_sum{0};
        std::atomic<bool> wrong_size{false};
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 10000; ++i) {
            pool.run([&](int index, int n) {
                calls.fetch_add(1);
                index_sum.fetch_add(index);
                if (n != 2) {
                    wrong_size = true;
                }
            });
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        QVERIFY(!wrong_size);
        QCOMPARE(calls.load(), int64_t{20000});
        QCOMPARE(index_sum.load(), 10000);
        qInfo("10000 run() hand-offs on 2 threads: %.1f us each", seconds * 1e6 / 10000);
        // About 1-5 us each on an idle machine. Printed, not bounded: tests do not time (the
        // machines are shared); a pool that hangs is caught by the counts above never being
        // reached and ctest's timeout.

        const auto loop_start = std::chrono::steady_clock::now();
        std::atomic<int64_t> total{0};
        for (int i = 0; i < 10000; ++i) {
            pool.parallel_for(64, 1, [&](int64_t begin, int64_t end) {
                int64_t sum = 0;
                for (int64_t k = begin; k < end; ++k) {
                    sum += k;
                }
                total.fetch_add(sum);
            });
        }
        const double loop_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
        QCOMPARE(total.load(), int64_t{10000} * (63 * 64 / 2));
        qInfo("10000 parallel_for(64) on 2 threads: %.1f us each", loop_seconds * 1e6 / 10000);
    }

    // A worker late for a parallel_for (the caller took every chunk and closed it) must not
    // slip into the next job before it is announced and then run it again once it is: that
    // ran run()'s job twice on one thread, and run() then waited forever for a count below
    // zero (the app's end-to-end test hung in attention once). Alternating the two kinds of
    // job hit it within about 30,000 rounds on two threads; the test runs up to 200,000, for
    // at most 20 s. The loop runs on its own thread, watched by this one: a round that does
    // not end within 30 s is the hang. On a machine busy with other processes each round
    // waits for the worker to be scheduled, so the watchdog looks at progress, not at the
    // time the whole loop takes.
    void late_worker_never_runs_a_job_twice() {
        static constexpr int kThreads = 2;
        static constexpr int kMaxRounds = 200'000;
        static constexpr auto kMaxLoopTime = std::chrono::seconds(20);
        static constexpr auto kStuckRound = std::chrono::seconds(30);
        struct Shared {
            std::atomic<int> rounds{0};
            std::atomic<bool> finished{false};
            std::string failure; // written before `finished`
        };
        auto shared = std::make_shared<Shared>();
        std::thread loop([shared] {
            ThreadPool pool(kThreads);
            std::array<std::atomic<int>, kThreads> runs{};
            const auto end = std::chrono::steady_clock::now() + kMaxLoopTime;
            for (int i = 0; i < kMaxRounds && std::chrono::steady_clock::now() < end; ++i) {
                pool.parallel_for(2, 1, [](int64_t, int64_t) {});
                for (auto& count : runs) {
                    count.store(0);
                }
                pool.run(
                    [&runs](int index, int) { runs[static_cast<size_t>(index)].fetch_add(1); });
                for (int t = 0; t < kThreads; ++t) {
                    const int count = runs[static_cast<size_t>(t)].load();
                    if (count != 1 && shared->failure.empty()) {
                        shared->failure = "round " + std::to_string(i) + ": thread " +
                                          std::to_string(t) + " ran the job " +
                                          std::to_string(count) + " times";
                    }
                }
                if (!shared->failure.empty()) {
                    break;
                }
                shared->rounds.fetch_add(1);
            }
            shared->finished.store(true);
        });
        int last_rounds = -1;
        auto last_progress = std::chrono::steady_clock::now();
        while (!shared->finished.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const int rounds = shared->rounds.load();
            const auto now = std::chrono::steady_clock::now();
            if (rounds != last_rounds) {
                last_rounds = rounds;
                last_progress = now;
            } else if (now - last_progress > kStuckRound) {
                loop.detach(); // stuck in run(): the process ends with it
                QFAIL(qPrintable(QString("run() never returned after %1 rounds: a worker ran a "
                                         "job twice")
                                     .arg(rounds)));
            }
        }
        loop.join();
        qInfo("%d rounds", shared->rounds.load());
        QVERIFY2(shared->failure.empty(), shared->failure.c_str());
    }

    // A job after the workers have fallen asleep still runs everywhere (the wake-up path).
    void run_after_workers_sleep() {
        ThreadPool pool(3);
        for (int i = 0; i < 3; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            std::atomic<int> calls{0};
            pool.run([&](int, int) { calls.fetch_add(1); });
            QCOMPARE(calls.load(), 3);
        }
    }

    // Destroying a pool whose workers are spinning, or asleep, returns promptly.
    void destruction_with_idle_workers() {
        for (const int sleep_ms : {0, 30}) {
            const auto start = std::chrono::steady_clock::now();
            {
                ThreadPool pool(4);
                pool.run([](int, int) {});
                std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
            }
            { ThreadPool never_used(3); }
            QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
        }
        QVERIFY(default_thread_count() >= 1);
    }
};

QTEST_APPLESS_MAIN(TestMatmul)
#include "tst_matmul.moc"
