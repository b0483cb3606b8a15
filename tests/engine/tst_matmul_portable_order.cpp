// The portable kernels (vec_dot_portable.cpp) in the float order of the x86 kernels llama.cpp
// runs, bit for bit, through matmul() on every (row, token): the 32-value formats, the K-quants
// but Q4_K, IQ4_XS and the float formats against the avx2 level (ggml's AVX2 order, with the
// AVX-512 kernels off and, where the CPU has them, on); Q4_K against llama.cpp's repacked
// q4_K_8x8 order (packed_reference.h; Q4_0's is tst_matmul_q4_0_order). Before they followed
// it, a portable build's logits drifted from llama.cpp's (tst_generation at
// HEARTH_CPU_FEATURES=portable: 5 of 24 default-model prompts matched for 64 tokens). Ragged
// shapes (1..70 rows and tokens, one to eight blocks per row, F32/F16 widths that are and are not
// multiples of 8 and 32), random and extreme data, 1 and 2 threads. Without the avx2 level
// (another CPU, or HEARTH_CPU_FEATURES) only Q4_K's check runs.
#include "block32_cases.h"
#include "cpu/cpu_features.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_activations.h"
#include "kernel_levels.h"
#include "packed_reference.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;
using hearth::test::WeightTypeCase;

namespace {

// The 32-value formats but Q4_0 (tst_matmul_q4_0_order: the repacked order), then the K-quants
// but Q4_K (below) and IQ4_XS.
std::vector<WeightTypeCase> quant_cases() {
    std::vector<WeightTypeCase> cases;
    for (const WeightTypeCase& c : hearth::test::kBlock32Cases) {
        if (c.type != TensorType::Q4_0) {
            cases.push_back(c);
        }
    }
    cases.insert(
        cases.end(),
        {
            {TensorType::Q2_K, offsetof(quant::BlockQ2_K, d), offsetof(quant::BlockQ2_K, dmin)},
            {TensorType::Q3_K, offsetof(quant::BlockQ3_K, d), -1},
            {TensorType::Q5_K, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)},
            {TensorType::Q6_K, offsetof(quant::BlockQ6_K, d), -1},
            {TensorType::IQ4_XS, offsetof(quant::BlockIQ4_XS, d), -1},
        });
    return cases;
}

const WeightTypeCase kQ4_K{TensorType::Q4_K, offsetof(quant::BlockQ4_K, d),
                           offsetof(quant::BlockQ4_K, dmin)};

struct Shape {
    int64_t n_rows, n_blocks, n_tokens;
};

// Rows and tokens past the kernels' tiles (4, 8, 16 rows; 4, 64 tokens), one to eight blocks.
constexpr Shape kShapes[] = {{1, 1, 1},  {7, 3, 2},  {37, 1, 5}, {70, 8, 33},
                             {8, 3, 70}, {70, 1, 1}, {3, 8, 4}};

// Float widths: ggml_vec_dot's 32-value steps with 0..31 left over, and multiples of 8 (the
// avx2 level's tinyBLAS order, for matrices of 4k rows: only those are paired with them).
struct FloatShape {
    int64_t n_rows, n_cols, n_tokens;
};
constexpr FloatShape kFloatShapes[] = {{1, 37, 1}, {7, 47, 2},  {37, 70, 5},  {70, 100, 33},
                                       {3, 31, 4}, {4, 8, 1},   {36, 64, 70}, {68, 2048, 3},
                                       {8, 40, 2}, {5, 2049, 1}};

// F32 / BF16 rows (random bytes would be NaNs): normal values, spread 0.05, a large one per row.
std::vector<uint8_t> float_rows(TensorType type, int64_t n_rows, int64_t n_cols,
                                std::mt19937& rng) {
    const size_t n = static_cast<size_t>(n_rows * n_cols);
    std::normal_distribution<float> value(0.0f, 0.05f);
    std::vector<uint8_t> bytes(n * (type == TensorType::F32 ? 4 : 2));
    for (size_t i = 0; i < n; ++i) {
        const float v = i % static_cast<size_t>(n_cols) == 1 ? 40.0f : value(rng);
        if (type == TensorType::F32) {
            std::memcpy(bytes.data() + 4 * i, &v, 4);
        } else {
            const auto top = static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
            std::memcpy(bytes.data() + 2 * i, &top, 2);
        }
    }
    return bytes;
}

// matmul() at the level now set: y[t * (n_rows + 1) + r].
std::vector<float> run(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens,
                       ThreadPool& pool) {
    const size_t act_bytes = activation_row_bytes(w.type, w.n_cols);
    std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tokens));
    const int64_t y_stride = w.n_rows + 1;
    std::vector<float> y(static_cast<size_t>(n_tokens * y_stride), -1.0f);
    matmul(w, x.data(), n_tokens, w.n_cols, y.data(), y_stride, scratch.data(), pool);
    return y;
}

// The kernel configurations to compare against: the avx2 level with the AVX-512 kernels off,
// and on where the CPU has them. Empty without the avx2 level.
std::vector<bool> reference_configs() {
    std::vector<bool> avx512;
    if (hearth::test::avx2_level_unavailable() == nullptr) {
        avx512.push_back(false);
        set_avx512_kernels(true);
        if (avx512_kernels_enabled()) {
            avx512.push_back(true);
        }
    }
    return avx512;
}

// Every (row, token) of `got` against `want`, bit for bit; describes the first difference.
void compare(const std::vector<float>& got, const std::vector<float>& want, const WeightMatrix& w,
             int64_t n_tokens, const QString& what) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < w.n_rows; ++r) {
            const size_t at = static_cast<size_t>(t * (w.n_rows + 1) + r);
            if (std::bit_cast<uint32_t>(got[at]) == std::bit_cast<uint32_t>(want[at])) {
                continue;
            }
            QFAIL(qPrintable(
                QString("%1 %2 rows x %3 cols, %4 tokens: row %5 token %6: portable %7, %8 %9")
                    .arg(QString::fromStdString(std::string(hearth::tensor_type_name(w.type))))
                    .arg(w.n_rows)
                    .arg(w.n_cols)
                    .arg(n_tokens)
                    .arg(r)
                    .arg(t)
                    .arg(static_cast<double>(got[at]), 0, 'g', 9)
                    .arg(what)
                    .arg(static_cast<double>(want[at]), 0, 'g', 9)));
        }
    }
}

// The portable level against the avx2 level (each of `configs`) on one matrix.
void check_against_avx2(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tokens,
                        const std::vector<bool>& configs, ThreadPool& pool) {
    QVERIFY(set_kernel_level(KernelLevel::portable));
    const std::vector<float> got = run(w, x, n_tokens, pool);
    for (const bool avx512 : configs) {
        QVERIFY(set_kernel_level(KernelLevel::avx2));
        set_avx512_kernels(avx512);
        const std::vector<float> want = run(w, x, n_tokens, pool);
        compare(got, want, w, n_tokens,
                QString("avx2 level (AVX-512 kernels %1, %2 threads)")
                    .arg(avx512 ? "on" : "off")
                    .arg(pool.size()));
        if (QTest::currentTestFailed()) {
            return;
        }
    }
}

// Restores the kernel level and the AVX-512 switch as the test found them.
struct LevelGuard {
    KernelLevel level = kernel_level();
    bool avx512 = avx512_kernels_enabled();
    ~LevelGuard() {
        set_kernel_level(level);
        set_avx512_kernels(avx512);
    }
};

} // namespace

class TestMatmulPortableOrder : public QObject {
    Q_OBJECT

private slots:
    void quantized_types_match_avx2_data() {
        QTest::addColumn<int>("index");
        const std::vector<WeightTypeCase> cases = quant_cases();
        for (size_t i = 0; i < cases.size(); ++i) {
            QTest::newRow(std::string(hearth::tensor_type_name(cases[i].type)).c_str())
                << static_cast<int>(i);
        }
    }

    void quantized_types_match_avx2() {
        QFETCH(int, index);
        const WeightTypeCase c = quant_cases().at(static_cast<size_t>(index));
        const LevelGuard guard;
        const std::vector<bool> configs = reference_configs();
        if (configs.empty()) {
            QSKIP(hearth::test::avx2_level_unavailable("the avx2 level to compare with"));
        }
        const int64_t block = hearth::tensor_type_traits(c.type).block_size;
        std::mt19937 rng(22 + static_cast<unsigned>(index));
        ThreadPool one(1), two(2);
        for (const bool extreme : {false, true}) {
            for (const Shape& s : kShapes) {
                const int64_t n_cols = s.n_blocks * block;
                const auto draw =
                    extreme ? hearth::test::ScaleDraw::edges : hearth::test::ScaleDraw::plain;
                const std::vector<uint8_t> bytes =
                    hearth::test::random_weight_rows(c, s.n_rows, n_cols, rng, draw);
                const WeightMatrix w{c.type, bytes.data(), n_cols, s.n_rows,
                                     bytes.size() / static_cast<size_t>(s.n_rows)};
                const std::vector<float> x =
                    hearth::test::kernel_activations(s.n_tokens, n_cols, extreme, rng);
                check_against_avx2(w, x, s.n_tokens, configs, s.n_tokens % 2 ? one : two);
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }

    void float_types_match_avx2_data() {
        QTest::addColumn<int>("type_index");
        QTest::newRow("F32") << static_cast<int>(TensorType::F32);
        QTest::newRow("F16") << static_cast<int>(TensorType::F16);
        QTest::newRow("BF16") << static_cast<int>(TensorType::BF16);
    }

    void float_types_match_avx2() {
        QFETCH(int, type_index);
        const auto type = static_cast<TensorType>(type_index);
        const LevelGuard guard;
        const std::vector<bool> configs = reference_configs();
        if (configs.empty()) {
            QSKIP(hearth::test::avx2_level_unavailable("the avx2 level to compare with"));
        }
        std::mt19937 rng(7);
        ThreadPool one(1), two(2);
        for (const bool extreme : {false, true}) {
            for (const FloatShape& s : kFloatShapes) {
                const std::vector<uint8_t> bytes =
                    type == TensorType::F16
                        ? hearth::test::random_weight_rows({type, 0, -1}, s.n_rows, s.n_cols, rng)
                        : float_rows(type, s.n_rows, s.n_cols, rng);
                const WeightMatrix w{type, bytes.data(), s.n_cols, s.n_rows,
                                     bytes.size() / static_cast<size_t>(s.n_rows)};
                const std::vector<float> x =
                    hearth::test::kernel_activations(s.n_tokens, s.n_cols, extreme, rng);
                check_against_avx2(w, x, s.n_tokens, configs, s.n_tokens % 2 ? one : two);
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }

    // Q4_K: matmul() at the portable level against llama.cpp's repacked order on every row.
    void q4_k_follows_repacked_order() {
        const LevelGuard guard;
        QVERIFY(set_kernel_level(KernelLevel::portable));
        std::mt19937 rng(44);
        ThreadPool one(1), two(2);
        for (const bool extreme : {false, true}) {
            for (const Shape& s : kShapes) {
                const int64_t n_cols = s.n_blocks * quant::QK_K;
                const auto draw =
                    extreme ? hearth::test::ScaleDraw::edges : hearth::test::ScaleDraw::plain;
                const std::vector<uint8_t> bytes =
                    hearth::test::random_weight_rows(kQ4_K, s.n_rows, n_cols, rng, draw);
                const size_t row_bytes = bytes.size() / static_cast<size_t>(s.n_rows);
                const WeightMatrix w{TensorType::Q4_K, bytes.data(), n_cols, s.n_rows, row_bytes};
                const std::vector<float> x =
                    hearth::test::kernel_activations(s.n_tokens, n_cols, extreme, rng);
                const std::vector<float> got = run(w, x, s.n_tokens, s.n_tokens % 2 ? one : two);
                std::vector<float> want(got.size(), -1.0f);
                std::vector<uint8_t> act(activation_row_bytes(TensorType::Q4_K, n_cols));
                for (int64_t t = 0; t < s.n_tokens; ++t) {
                    quantize_activation_row(TensorType::Q4_K, x.data() + t * n_cols, act.data(),
                                            n_cols);
                    for (int64_t r = 0; r < s.n_rows; ++r) {
                        want[static_cast<size_t>(t * (s.n_rows + 1) + r)] =
                            hearth::test::packed_reference(
                                TensorType::Q4_K, bytes.data() + static_cast<size_t>(r) * row_bytes,
                                act.data(), n_cols);
                    }
                }
                compare(got, want, w, s.n_tokens, "llama.cpp's repacked order");
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestMatmulPortableOrder)
#include "tst_matmul_portable_order.moc"
