// The int8 prefill path (cpu/int8_gemm.h; fast numerics only — the exact path is the other
// kernels, tst_matmul*): the conversion of every supported type, the grid i-quants included,
// against hearth::dequantize (exactly: the layout's scale * q - min is the same real number), the
// AVX2 kernel against the portable one bit for bit, the whole product against a double-precision
// reference within the bound derived from the activations' int8 rounding, and matmul()'s
// dispatch (fast numerics, ≥ kInt8MinTokens tokens, the avx2 level). Ragged shapes: 37 rows (a
// partial group of 8), 37 tokens (a partial tile), widths that are not multiples of 256 where
// the type allows, and every row count from 1 to 70 (kernel calls of 16 rows and shorter ones).
#include "cpu/cpu_features.h"
#include "cpu/int8_convert_float.h"
#include "cpu/int8_gemm.h"
#include "cpu/int8_ksuper.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/prefill_numerics.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QSet>
#include <QStringList>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

using TypeCase = hearth::test::WeightTypeCase;

const TypeCase kCases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1, 1056},
    {TensorType::Q4_1, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m), 800},
    {TensorType::Q5_0, offsetof(quant::BlockQ5_0, d), -1, 1056},
    {TensorType::Q5_1, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m), 800},
    {TensorType::Q4_K, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin), 768},
    {TensorType::Q5_K, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin), 512},
    {TensorType::Q6_K, offsetof(quant::BlockQ6_K, d), -1, 768},
    {TensorType::Q8_0, offsetof(quant::BlockQ8_0, d), -1, 1056},
    // The grid i-quants (fast numerics only: the exact path keeps grid_dot, ggml's order).
    {TensorType::IQ2_XXS, offsetof(quant::BlockIQ2_XXS, d), -1, 768},
    {TensorType::IQ2_XS, offsetof(quant::BlockIQ2_XS, d), -1, 512},
    {TensorType::IQ2_S, offsetof(quant::BlockIQ2_S, d), -1, 768},
    {TensorType::IQ3_XXS, offsetof(quant::BlockIQ3_XXS, d), -1, 512},
    {TensorType::IQ3_S, offsetof(quant::BlockIQ3_S, d), -1, 768},
    {TensorType::IQ1_S, offsetof(quant::BlockIQ1_S, d), -1, 512},
    {TensorType::IQ1_M, -1, -1, 768},
};

// Float weights (rounded to 8 bits by the conversion): width 800 (25 blocks).
const TensorType kFloatTypes[] = {TensorType::F16, TensorType::BF16, TensorType::F32};
constexpr int64_t kFloatCols = 800;

constexpr int64_t kRows = 37;
constexpr int64_t kTokens = 37;

QString type_name(TensorType type) {
    const std::string_view name = hearth::tensor_type_name(type);
    return QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size()));
}

std::vector<uint8_t> random_rows(const TypeCase& c, std::mt19937& rng) {
    return hearth::test::random_weight_rows(c, kRows, c.n_cols, rng);
}

// Weights as real ones look (normal, spread 0.02) with blocks that test the edges: constant
// (range 0), one outlier, all negative, all positive, and a wide one, then stored as `type`.
std::vector<uint8_t> random_float_rows(TensorType type, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> v(static_cast<size_t>(kRows * kFloatCols));
    for (size_t i = 0; i < v.size(); ++i) {
        const size_t block = i / 32;
        switch (block % 7) {
        case 1:
            v[i] = 0.0125f;
            break;
        case 2:
            v[i] = i % 32 == 5 ? 0.75f : normal(rng);
            break;
        case 3:
            v[i] = -1.0f + normal(rng);
            break;
        case 4:
            v[i] = 3.0f + 10 * normal(rng);
            break;
        case 5:
            v[i] = 100.0f * normal(rng);
            break;
        default:
            v[i] = normal(rng);
        }
    }
    const auto as_bytes = [](const auto& values) {
        const auto* first = reinterpret_cast<const uint8_t*>(values.data());
        return std::vector<uint8_t>(first, first + values.size() * sizeof(values[0]));
    };
    if (type == TensorType::F32) {
        return as_bytes(v);
    }
    std::vector<uint16_t> halves(v.size());
    if (type == TensorType::F16) {
        for (size_t i = 0; i < v.size(); ++i) {
            halves[i] = hearth::fp32_to_fp16(v[i]);
        }
    } else {
        convert_f32_to_bf16(v.data(), halves.data(), static_cast<int64_t>(v.size()));
    }
    return as_bytes(halves);
}

WeightMatrix float_matrix(TensorType type, const std::vector<uint8_t>& bytes) {
    const size_t width = type == TensorType::F32 ? 4 : 2;
    return WeightMatrix{type, bytes.data(), kFloatCols, kRows,
                        static_cast<size_t>(kFloatCols) * width};
}

// int8_gemm.h's definition of the float conversion, written out again here.
struct FloatBlock {
    uint8_t q[32];
    float scale;
    float min;
};

FloatBlock define_block(const float* v) {
    FloatBlock out{};
    float lo = INFINITY;
    float hi = -INFINITY;
    for (int i = 0; i < 32; ++i) {
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
    }
    const float range = hi - lo;
    out.scale = range > 0.0f ? range / 255.0f : 0.0f;
    out.min = 0.0f - lo;
    const float inv = range > 0.0f ? 255.0f / range : 0.0f;
    for (int i = 0; i < 32; ++i) {
        const float scaled = (v[i] - lo) * inv;
        out.q[i] = static_cast<uint8_t>(std::nearbyint(std::clamp(scaled, 0.0f, 255.0f)));
    }
    return out;
}

std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (size_t i = 0; i < x.size(); ++i) {
        // Every 100th value an outlier, as real activations have: it sets its block's scale.
        x[i] = i % 100 == 3 ? 40.0f : normal(rng);
    }
    return x;
}

WeightMatrix matrix(const TypeCase& c, const std::vector<uint8_t>& bytes) {
    const auto traits = hearth::tensor_type_traits(c.type);
    return WeightMatrix{c.type, bytes.data(), c.n_cols, kRows,
                        static_cast<size_t>(c.n_cols / traits.block_size) * traits.type_size};
}

} // namespace

class TestInt8Gemm : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { hearth::set_prefill_numerics(hearth::PrefillNumerics::exact); }

    // Every converted value equals the dequantized one exactly; padding rows are zero.
    void conversionIsExact() {
        for (const TypeCase& c : kCases) {
            std::mt19937 rng(11 + static_cast<unsigned>(c.type));
            const auto bytes = random_rows(c, rng);
            const WeightMatrix w = matrix(c, bytes);
            std::vector<float> ref(static_cast<size_t>(c.n_cols));
            std::vector<BlockInt8x8> group(static_cast<size_t>(c.n_cols / kInt8Block));
            for (int64_t row0 = 0; row0 < kRows; row0 += kInt8Rows) {
                int8_convert_group(w, row0, group.data());
                for (int r = 0; r < kInt8Rows; ++r) {
                    const bool real = row0 + r < kRows;
                    if (real) {
                        QVERIFY(hearth::dequantize(c.type, bytes.data() + (row0 + r) * w.row_bytes,
                                                   ref.data(), c.n_cols));
                    }
                    for (int64_t k = 0; k < c.n_cols; ++k) {
                        const BlockInt8x8& blk = group[static_cast<size_t>(k / 32)];
                        const int i = static_cast<int>(k % 32);
                        const uint8_t q = blk.qs[32 * (i / 4) + 4 * r + i % 4];
                        QVERIFY2(q <= int8_format_max_q(int8_gemm_format(c.type)),
                                 qPrintable(type_name(c.type)));
                        const float v =
                            blk.scale[i / 16][r] * static_cast<float>(q) - blk.min[i / 16][r];
                        const float want = real ? ref[static_cast<size_t>(k)] : 0.0f;
                        QVERIFY2(v == want, qPrintable(QStringLiteral("%1 row %2 col %3: %4 vs %5")
                                                           .arg(type_name(c.type))
                                                           .arg(row0 + r)
                                                           .arg(k)
                                                           .arg(v)
                                                           .arg(want)));
                    }
                }
            }
        }
    }

    // F16, BF16, F32: every block equals the definition (int8_gemm.h) bit for bit, through
    // int8_convert_group (the AVX2 group version where the CPU has it; tst_int8_convert_float
    // compares the two versions on extreme values) and the portable row version; each value is
    // within half a step.
    void floatConversionMatchesDefinition() {
        for (TensorType type : kFloatTypes) {
            std::mt19937 rng(41 + static_cast<unsigned>(type));
            const auto bytes = random_float_rows(type, rng);
            const WeightMatrix w = float_matrix(type, bytes);
            std::vector<float> row(static_cast<size_t>(kFloatCols));
            std::vector<BlockInt8x8> group(static_cast<size_t>(kFloatCols / kInt8Block));
            std::vector<uint8_t> q_portable(kFloatCols);
            std::vector<float> sc_portable(kFloatCols / 32), mn_portable(kFloatCols / 32);
            double worst_steps = 0.0;
            for (int64_t row0 = 0; row0 < kRows; row0 += kInt8Rows) {
                int8_convert_group(w, row0, group.data());
                for (int r = 0; r < kInt8Rows && row0 + r < kRows; ++r) {
                    const uint8_t* src = bytes.data() + (row0 + r) * w.row_bytes;
                    QVERIFY(hearth::dequantize(type, src, row.data(), kFloatCols));
                    int8_convert_float_row_portable(type, src, kFloatCols, q_portable.data(),
                                                    sc_portable.data(), mn_portable.data());
                    for (int64_t b = 0; b < kFloatCols / 32; ++b) {
                        const FloatBlock want = define_block(row.data() + 32 * b);
                        const BlockInt8x8& blk = group[static_cast<size_t>(b)];
                        for (int h = 0; h < 2; ++h) {
                            QVERIFY(std::memcmp(&blk.scale[h][r], &want.scale, 4) == 0);
                            QVERIFY(std::memcmp(&blk.min[h][r], &want.min, 4) == 0);
                        }
                        QCOMPARE(sc_portable[static_cast<size_t>(b)], want.scale);
                        QVERIFY(std::memcmp(&mn_portable[static_cast<size_t>(b)], &want.min, 4) ==
                                0);
                        for (int i = 0; i < 32; ++i) {
                            const uint8_t q = blk.qs[32 * (i / 4) + 4 * r + i % 4];
                            QCOMPARE(q, want.q[i]);
                            QCOMPARE(q_portable[static_cast<size_t>(32 * b + i)], want.q[i]);
                            // The per-weight bound stated in int8_gemm.h and docs/LIMITS.md.
                            const double v = row[static_cast<size_t>(32 * b + i)];
                            const double err = std::fabs(double(want.scale) * q - want.min - v);
                            QVERIFY2(
                                err <= 0.5001 * want.scale + 1e-7 * std::fabs(want.min),
                                qPrintable(QStringLiteral("%1 row %2 col %3: error %4, step %5")
                                               .arg(type_name(type))
                                               .arg(row0 + r)
                                               .arg(32 * b + i)
                                               .arg(err)
                                               .arg(want.scale)));
                            if (want.scale > 0) {
                                worst_steps = std::max(worst_steps, err / want.scale);
                            }
                        }
                    }
                }
            }
            qInfo("%s: worst rounding %.4f of a step", qPrintable(type_name(type)), worst_steps);
        }
    }

    // Float weights through every kernel: the portable kernel's bits, within the bound of the
    // weights' and the activations' rounding.
    void floatKernelsAgreeAndStayWithinBound() {
        ThreadPool one(1), two(2);
        const KernelLevel saved = kernel_level();
        for (TensorType type : kFloatTypes) {
            std::mt19937 rng(53 + static_cast<unsigned>(type));
            const auto bytes = random_float_rows(type, rng);
            const WeightMatrix w = float_matrix(type, bytes);
            const auto x = random_activations(kTokens * kFloatCols, rng);
            std::vector<float> portable(static_cast<size_t>(kTokens * kRows));
            QVERIFY(set_kernel_level(KernelLevel::portable));
            matmul_int8(w, x.data(), kTokens, kFloatCols, portable.data(), kRows, one);
            if (set_kernel_level(KernelLevel::avx2)) {
                for (const Int8Kernel& kernel : int8_gemm_kernels()) {
                    std::vector<float> y(portable.size());
                    matmul_int8(w, x.data(), kTokens, kFloatCols, y.data(), kRows, two, kernel.fn);
                    QVERIFY2(std::memcmp(y.data(), portable.data(), y.size() * 4) == 0,
                             qPrintable(type_name(type) + QLatin1Char(' ') +
                                        QLatin1String(kernel.name)));
                }
            }
            const TypeCase c{type, -1, -1, kFloatCols};
            check_bound(c, bytes, w, x, portable);
        }
        set_kernel_level(saved);
    }

    // The AVX2 kernel gives the portable kernel's bits; the product is within the bound of the
    // activations' rounding of the exact one.
    void kernelsAgreeAndStayWithinBound() {
        ThreadPool one(1), two(2);
        const KernelLevel saved = kernel_level();
        QSet<QString> tested;
        for (const TypeCase& c : kCases) {
            std::mt19937 rng(29 + static_cast<unsigned>(c.type));
            const auto bytes = random_rows(c, rng);
            const WeightMatrix w = matrix(c, bytes);
            const auto x = random_activations(kTokens * c.n_cols, rng);
            std::vector<float> portable(static_cast<size_t>(kTokens * kRows));
            QVERIFY(set_kernel_level(KernelLevel::portable));
            matmul_int8(w, x.data(), kTokens, c.n_cols, portable.data(), kRows, one);
            if (set_kernel_level(KernelLevel::avx2)) {
                for (const Int8Kernel& kernel : int8_gemm_kernels()) {
                    std::vector<float> y(portable.size());
                    matmul_int8(w, x.data(), kTokens, c.n_cols, y.data(), kRows, two, kernel.fn);
                    QVERIFY2(std::memcmp(y.data(), portable.data(), y.size() * 4) == 0,
                             qPrintable(type_name(c.type) + QLatin1Char(' ') +
                                        QLatin1String(kernel.name)));
                    tested.insert(QLatin1String(kernel.name));
                }
            }
            check_bound(c, bytes, w, x, portable);
        }
        set_kernel_level(saved);
        // Which builds ran: the VNNI ones only where this CPU has them.
        qInfo("kernels compared with the portable one: %s",
              qPrintable(QStringList(tested.values()).join(QLatin1Char(' '))));
        if (!cpu_has_avx_vnni() && !cpu_has_avx512_vnni()) {
            qInfo("no VNNI on this CPU (or HEARTH_CPU_FEATURES=avx2): VNNI kernels not run");
        }
    }

    // Every row count from 1 to 70 (kernel calls of 16 rows, two groups, the last one short:
    // 1..15 rows, one group or two), token counts that leave ragged tiles, 1 and 2 threads: every
    // kernel gives the portable kernel's bits, one type of each format (the grid i-quants: a
    // 7-bit one of each scale width). The edges draw puts zero and negative scales in.
    void raggedCallsAgree() {
        const KernelLevel saved = kernel_level();
        if (!set_kernel_level(KernelLevel::avx2)) {
            QSKIP("the avx2 level is off (the CPU or HEARTH_CPU_FEATURES)");
        }
        set_kernel_level(saved);
        constexpr int64_t kMaxRows = 70;
        ThreadPool one(1), two(2);
        QSet<QString> tested;
        for (const TypeCase& c : kCases) {
            if (c.type != TensorType::Q4_1 && c.type != TensorType::Q4_K &&
                c.type != TensorType::Q5_K && c.type != TensorType::Q6_K &&
                c.type != TensorType::Q8_0 && c.type != TensorType::IQ2_XXS &&
                c.type != TensorType::IQ2_XS) {
                continue;
            }
            std::mt19937 rng(71 + static_cast<unsigned>(c.type));
            const auto bytes = hearth::test::random_weight_rows(c, kMaxRows, c.n_cols, rng,
                                                                hearth::test::ScaleDraw::edges);
            const auto traits = hearth::tensor_type_traits(c.type);
            const size_t row_bytes =
                static_cast<size_t>(c.n_cols / traits.block_size) * traits.type_size;
            for (const int64_t n_tok : {int64_t{1}, int64_t{9}, int64_t{38}}) {
                const auto x = random_activations(n_tok * c.n_cols, rng);
                // A row's result does not depend on how many rows the matrix has: the portable
                // kernel runs once on all 70, and each shorter matrix's output (same stride)
                // must match its first rows and leave the others alone.
                std::vector<float> portable(static_cast<size_t>(n_tok * kMaxRows));
                QVERIFY(set_kernel_level(KernelLevel::portable));
                const WeightMatrix all{c.type, bytes.data(), c.n_cols, kMaxRows, row_bytes};
                matmul_int8(all, x.data(), n_tok, c.n_cols, portable.data(), kMaxRows, one);
                QVERIFY(set_kernel_level(KernelLevel::avx2));
                for (int64_t n_rows = 1; n_rows <= kMaxRows; ++n_rows) {
                    const WeightMatrix w{c.type, bytes.data(), c.n_cols, n_rows, row_bytes};
                    for (const Int8Kernel& kernel : int8_gemm_kernels()) {
                        ThreadPool& pool = n_rows % 2 == 0 ? one : two;
                        std::vector<float> y(portable.size(), -1.0f);
                        matmul_int8(w, x.data(), n_tok, c.n_cols, y.data(), kMaxRows, pool,
                                    kernel.fn);
                        int64_t first_bad = -1;
                        for (int64_t i = 0; i < static_cast<int64_t>(y.size()) && first_bad < 0;
                             ++i) {
                            const float want =
                                i % kMaxRows < n_rows ? portable[static_cast<size_t>(i)] : -1.0f;
                            if (std::memcmp(&y[static_cast<size_t>(i)], &want, 4) != 0) {
                                first_bad = i;
                            }
                        }
                        if (first_bad >= 0) {
                            QFAIL(qPrintable(QStringLiteral("%1 %2: %3 rows, %4 tokens, at %5")
                                                 .arg(type_name(c.type))
                                                 .arg(QLatin1String(kernel.name))
                                                 .arg(n_rows)
                                                 .arg(n_tok)
                                                 .arg(first_bad)));
                        }
                        tested.insert(QLatin1String(kernel.name));
                    }
                }
            }
        }
        set_kernel_level(saved);
        qInfo("kernels compared with the portable one: %s",
              qPrintable(QStringList(tested.values()).join(QLatin1Char(' '))));
    }

    // Every kernel at each format's largest q against activations of ±127 (all of one sign,
    // so each 16-bit vpmaddubsw pair and the 32-bit sums are at their extremes): the portable
    // kernel's bits, and the integers are exact (the result is the known sum). Random weights
    // seldom reach these corners.
    void extremesDoNotSaturate() {
        constexpr int64_t kBlocks = 8;
        std::vector<int8_t> qs(kBlocks * 32);
        std::vector<float> d(kBlocks, 1.0f), neg_dsum32(kBlocks), neg_dsum16(2 * kBlocks);
        std::vector<int32_t> sum32(kBlocks);
        for (const Int8Format format : {Int8Format::nibbles, Int8Format::nibbles16,
                                        Int8Format::wide, Int8Format::wide16, Int8Format::bytes}) {
            const int max_q = int8_format_max_q(format);
            for (const int x : {127, -127}) {
                std::fill(qs.begin(), qs.end(), static_cast<int8_t>(x));
                std::fill(neg_dsum32.begin(), neg_dsum32.end(), -32.0f * x);
                std::fill(neg_dsum16.begin(), neg_dsum16.end(), -16.0f * x);
                std::fill(sum32.begin(), sum32.end(), 32 * x);
                std::vector<BlockInt8x8> group(2 * kBlocks); // two groups
                for (BlockInt8x8& blk : group) {
                    std::fill(std::begin(blk.qs), std::end(blk.qs), static_cast<uint8_t>(max_q));
                    for (int h = 0; h < 2; ++h) {
                        std::fill(std::begin(blk.scale[h]), std::end(blk.scale[h]), 1.0f);
                        std::fill(std::begin(blk.min[h]), std::end(blk.min[h]), 0.0f);
                    }
                }
                const Int8Activations acts{
                    qs.data(),         32 * kBlocks, d.data(), neg_dsum32.data(),
                    neg_dsum16.data(), sum32.data(), kBlocks};
                const float want = static_cast<float>(kBlocks * 32 * max_q * x);
                for (const Int8Kernel& kernel : int8_gemm_kernels()) {
                    // One group, and two (a 512-bit kernel's 16 rows, and a short 13).
                    for (const int n_rows :
                         {static_cast<int>(kInt8Rows), 13, static_cast<int>(kInt8CallRows)}) {
                        float y[kInt8CallRows + 1] = {};
                        kernel.fn(kBlocks, group.data(), acts, 1, format, y, kInt8CallRows, n_rows);
                        for (int r = 0; r <= kInt8CallRows; ++r) {
                            const float v = y[r];
                            const float expect = r < n_rows ? want : 0.0f;
                            QVERIFY2(v == expect,
                                     qPrintable(QStringLiteral("%1 q %2 x %3 row %4/%5: %6 vs %7")
                                                    .arg(QLatin1String(kernel.name))
                                                    .arg(max_q)
                                                    .arg(x)
                                                    .arg(r)
                                                    .arg(n_rows)
                                                    .arg(v)
                                                    .arg(expect)));
                        }
                    }
                }
            }
        }
    }

    // matmul() takes the int8 path only with fast numerics, at least kInt8MinTokens tokens and the
    // avx2 level.
    void dispatch() {
        if (kernel_level() != KernelLevel::avx2) {
            QSKIP("the int8 path runs at the avx2 level only");
        }
        ThreadPool pool(2);
        const TypeCase& c = kCases[4]; // Q4_K
        std::mt19937 rng(5);
        const auto bytes = random_rows(c, rng);
        const WeightMatrix w = matrix(c, bytes);
        const auto x = random_activations(kTokens * c.n_cols, rng);
        std::vector<uint8_t> scratch(static_cast<size_t>(kTokens) *
                                     activation_row_bytes(c.type, c.n_cols));
        const auto run = [&](int64_t n_tok, bool through_int8) {
            std::vector<float> y(static_cast<size_t>(n_tok * kRows));
            if (through_int8) {
                matmul_int8(w, x.data(), n_tok, c.n_cols, y.data(), kRows, pool);
            } else {
                matmul(w, x.data(), n_tok, c.n_cols, y.data(), kRows, scratch.data(), pool);
            }
            return y;
        };
        const auto exact = run(kTokens, false);
        const auto int8 = run(kTokens, true);
        QVERIFY(exact != int8); // else the checks below could not tell the paths apart
        QCOMPARE(run(kTokens, false), exact);
        hearth::set_prefill_numerics(hearth::PrefillNumerics::fast);
        QCOMPARE(run(kTokens, false), int8);
        const auto short_exact = [&] {
            hearth::set_prefill_numerics(hearth::PrefillNumerics::exact);
            auto y = run(kInt8MinTokens - 1, false);
            hearth::set_prefill_numerics(hearth::PrefillNumerics::fast);
            return y;
        }();
        QCOMPARE(run(kInt8MinTokens - 1, false), short_exact);
        QVERIFY(!use_int8_gemm(w, kTokens, MatmulOp::mul_mat_id));
        // A packed Q4_K (or Q4_0) copy keeps the exact kernel where the AVX-512 batch kernels
        // run (they are faster than this path), and takes this path where they do not.
        WeightMatrix packed = w;
        packed.packed = bytes.data();
        QCOMPARE(use_int8_gemm(packed, kTokens, MatmulOp::mul_mat), !avx512_kernels_enabled());
        QVERIFY(use_int8_gemm(w, kTokens, MatmulOp::mul_mat));
        // Q6_K takes this path everywhere (its 512-bit int8 tile beats the AVX-512 exact tiles,
        // gemm_q6_k.h).
        const auto q6k_row = static_cast<size_t>(2048 / 256 * sizeof(quant::BlockQ6_K));
        WeightMatrix q6k{TensorType::Q6_K, nullptr, 2048, 64, q6k_row};
        QVERIFY(use_int8_gemm(q6k, kTokens, MatmulOp::mul_mat));
        // Float weights and Q8_0 take the path on every AVX2 CPU.
        WeightMatrix f16{TensorType::F16, nullptr, 2048, 64, 4096};
        QVERIFY(use_int8_gemm(f16, kTokens, MatmulOp::mul_mat));
        // F32 matrices (MoE routers) stay exact: a rounded router could pick another expert.
        WeightMatrix f32{TensorType::F32, nullptr, 2048, 64, 8192};
        QVERIFY(!use_int8_gemm(f32, kTokens, MatmulOp::mul_mat));
        WeightMatrix q8{TensorType::Q8_0, nullptr, 2048, 64, 2048 / 32 * 34};
        QVERIFY(use_int8_gemm(q8, kTokens, MatmulOp::mul_mat));
        // The grid i-quants take it with fast numerics only: ggml's tiled kernel (Q8_K
        // activations, integer sums over 256 values) is not this path's float order, so exact
        // numerics keep grid_dot, which follows ggml's vec_dot bit for bit.
        for (TensorType type :
             {TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ2_S, TensorType::IQ3_XXS,
              TensorType::IQ3_S, TensorType::IQ1_S, TensorType::IQ1_M}) {
            const auto traits = hearth::tensor_type_traits(type);
            const WeightMatrix grid{type, nullptr, 2048, 64,
                                    static_cast<size_t>(2048 / traits.block_size) *
                                        traits.type_size};
            hearth::set_prefill_numerics(hearth::PrefillNumerics::fast);
            QVERIFY(use_int8_gemm(grid, kInt8MinTokens, MatmulOp::mul_mat));
            QVERIFY(!use_int8_gemm(grid, kInt8MinTokens - 1, MatmulOp::mul_mat));
            hearth::set_prefill_numerics(hearth::PrefillNumerics::exact);
            QVERIFY(!use_int8_gemm(grid, kTokens, MatmulOp::mul_mat));
        }
    }

private:
    // |y - exact| ≤ sum_k |w_k| * 0.6 * d_b(k) + 1e-5 * sum_k |w_k x_k| (float weights: plus
    // their rounding, half a step times the rounded activation): ggml's Q8_0 rounding
    // moves x_k by at most d/2 (d = amax / 127) plus the f16 rounding of d times |q| ≤ 127
    // (≤ 127 * d * 2^-11 < 0.07 d); the K-quants' Q8_K (int8_ksuper.h) the same with the
    // amax of 256 values and a float d; the float accumulation adds a relative 1e-5 at most
    // for these lengths (a few hundred FMAs of float32).
    void check_bound(const TypeCase& c, const std::vector<uint8_t>& bytes, const WeightMatrix& w,
                     const std::vector<float>& x, const std::vector<float>& y) {
        std::vector<float> row(static_cast<size_t>(c.n_cols));
        double worst_ratio = 0.0;
        for (int64_t r = 0; r < kRows; ++r) {
            QVERIFY(
                hearth::dequantize(c.type, bytes.data() + r * w.row_bytes, row.data(), c.n_cols));
            for (int64_t t = 0; t < kTokens; ++t) {
                const float* xt = x.data() + t * c.n_cols;
                double exact = 0.0;
                double bound = 0.0;
                double magnitude = 0.0;
                for (int64_t b = 0; b < c.n_cols / 32; ++b) {
                    // The activations' block: 32 values (Q8_0), 256 for the K-quants (Q8_K).
                    const int64_t act_block = int8_ksuper_supported(c.type) ? kKSuper : 32;
                    const int64_t first = 32 * b / act_block * act_block;
                    double amax = 0.0;
                    for (int64_t i = first; i < first + act_block; ++i) {
                        amax = std::max(amax, std::fabs(static_cast<double>(xt[i])));
                    }
                    // Float weights move by up to half their block's step (the conversion's
                    // bound), times the rounded activation (≤ |x| + 0.6 d).
                    const double step = int8_gemm_full_bytes(c.type) && c.d_offset < 0
                                            ? 0.5001 * define_block(row.data() + 32 * b).scale
                                            : 0.0;
                    for (int i = 0; i < 32; ++i) {
                        const double wk = row[static_cast<size_t>(32 * b + i)];
                        const double xk = xt[32 * b + i];
                        exact += wk * xk;
                        bound += std::fabs(wk) * 0.6 * amax / 127.0;
                        bound += step * (std::fabs(xk) + 0.6 * amax / 127.0);
                        magnitude += std::fabs(wk * xk) + step * std::fabs(xk);
                    }
                }
                bound += 1e-5 * magnitude;
                const double err = std::fabs(y[static_cast<size_t>(t * kRows + r)] - exact);
                QVERIFY2(err <= bound, qPrintable(QStringLiteral("%1 row %2 token %3: %4 > %5")
                                                      .arg(type_name(c.type))
                                                      .arg(r)
                                                      .arg(t)
                                                      .arg(err)
                                                      .arg(bound)));
                worst_ratio = std::max(worst_ratio, err / bound);
            }
        }
        qInfo("%s: worst error / bound %.3f", qPrintable(type_name(c.type)), worst_ratio);
    }
};

QTEST_GUILESS_MAIN(TestInt8Gemm)
#include "tst_int8_gemm.moc"
