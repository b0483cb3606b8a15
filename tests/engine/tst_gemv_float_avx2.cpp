// The AVX2 single-token kernels for float weights (gemv_float_avx2.cpp: F16 in tinyBLAS's order,
// BF16 in ggml_vec_dot_bf16's) against the per-row kernels they replace, bit for bit, through
// matmul() and matmul_group() at the avx2 level with the AVX-512 kernels off: the per-row
// kernel matmul() would otherwise run (vec_dot_tinyblas_avx2 for F16 where n_cols % 8 == 0 and
// n_rows % 4 == 0, vec_dot_avx2's F16 kernel for other F16 shapes, its BF16 kernel) is called
// here row by row on the same converted activations. Ragged shapes (row counts that are not
// multiples of the 8-row (F16) and 3-row (BF16) groups, and chunks of 17..23 rows, so every
// tail size of a call), column counts that are not multiples of 32 or 64 (BF16: any count, so
// the double tail), one and two threads, and values at the edges: subnormals, large finite
// values, zeros of both signs, activations that round to f16 subnormals.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gemv_bits.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;

namespace {

// A normal float, or now and then a large one (1 in 50), a tiny one (a subnormal in the weight
// type, 1 in 25) or a zero of either sign (1 in 50). Rare enough that most rows' sums keep
// rounding in every addition (products of large values alone would add exactly, in any order);
// `large` keeps every product and every sum of a row finite: F16 ≤ 65504 and activations
// ≤ 60000; BF16 ≤ 1e16 for both.
float edge_value(std::mt19937& rng, bool bf16) {
    std::uniform_int_distribution<int> pick(0, 99);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> unit(0.5f, 1.0f);
    const float sign = rng() % 2 ? -1.0f : 1.0f;
    const int p = pick(rng);
    if (p < 2) {
        return sign * unit(rng) * (bf16 ? 1e16f : 60000.0f);
    }
    if (p < 6) { // f16 subnormals are below 6.1e-5; bf16 ones (float's) below 1.2e-38
        return sign * unit(rng) * (bf16 ? 1e-38f : 5e-5f);
    }
    if (p < 8) {
        return sign * 0.0f;
    }
    return normal(rng);
}

std::vector<uint16_t> random_row_values(TensorType type, int64_t n, std::mt19937& rng) {
    const bool bf16 = type == TensorType::BF16;
    std::vector<float> f(static_cast<size_t>(n));
    for (float& v : f) {
        v = edge_value(rng, bf16);
    }
    std::vector<uint16_t> h(f.size());
    if (bf16) {
        convert_f32_to_bf16(f.data(), h.data(), n);
    } else {
        for (size_t i = 0; i < f.size(); ++i) {
            h[i] = hearth::fp32_to_fp16(f[i]);
        }
    }
    return h;
}

// The per-row kernel matmul() takes for this shape at the avx2 level (see select_kernel).
VecDotFn per_row_kernel(TensorType type, int64_t n_rows, int64_t n_cols) {
    if (type == TensorType::F16 && n_cols % 8 == 0 && n_rows % 4 == 0) {
        return vec_dot_tinyblas_avx2(type);
    }
    return vec_dot_avx2(type);
}

// Row by row with the per-row kernel, on the activations matmul() converts x to.
std::vector<float> reference(const WeightMatrix& w, const std::vector<float>& x) {
    std::vector<uint8_t> act(activation_row_bytes(w.type, w.n_cols));
    quantize_activation_row(w.type, x.data(), act.data(), w.n_cols);
    const VecDotFn kernel = per_row_kernel(w.type, w.n_rows, w.n_cols);
    std::vector<float> y(static_cast<size_t>(w.n_rows));
    for (int64_t r = 0; r < w.n_rows; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * w.row_bytes;
        kernel(w.n_cols, row, act.data(), 0, &y[static_cast<size_t>(r)], 1, 1);
    }
    return y;
}

struct Matrix {
    std::vector<uint16_t> values;
    WeightMatrix w;
};

Matrix random_matrix(TensorType type, int64_t n_rows, int64_t n_cols, std::mt19937& rng) {
    Matrix m{random_row_values(type, n_rows * n_cols, rng), {}};
    m.w = WeightMatrix{type, m.values.data(), n_cols, n_rows, static_cast<size_t>(n_cols) * 2};
    return m;
}

std::vector<float> random_activations(TensorType type, int64_t n_cols, std::mt19937& rng) {
    std::vector<float> x(static_cast<size_t>(n_cols));
    for (float& v : x) {
        v = edge_value(rng, type == TensorType::BF16);
    }
    return x;
}

QString shape(TensorType type, int64_t n_rows, int64_t n_cols, int threads) {
    const std::string_view name = hearth::tensor_type_name(type);
    return QString("%1 %2×%3, %4 thread(s)")
        .arg(QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size())))
        .arg(n_rows)
        .arg(n_cols)
        .arg(threads);
}

void check_matmul(TensorType type, std::span<const int64_t> col_counts,
                  std::span<const int64_t> row_counts) {
    std::mt19937 rng(7 + static_cast<unsigned>(type));
    ThreadPool one(1), two(2);
    for (const int64_t n_cols : col_counts) {
        for (const int64_t n_rows : row_counts) {
            const Matrix m = random_matrix(type, n_rows, n_cols, rng);
            const std::vector<float> x = random_activations(type, n_cols, rng);
            const std::vector<float> want = reference(m.w, x);
            for (ThreadPool* pool : {&one, &two}) {
                std::vector<uint8_t> scratch(activation_row_bytes(type, n_cols));
                std::vector<float> y(static_cast<size_t>(n_rows), -1.0f);
                matmul(m.w, x.data(), 1, n_cols, y.data(), n_rows, scratch.data(), *pool);
                hearth::test::expect_same_bits(y, want, shape(type, n_rows, n_cols, pool->size()));
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }
}

// Row counts: every tail of the F16 kernel's 8-row and 4-row groups and the BF16 kernel's
// 3-row groups within one call (one thread: the whole matrix is one chunk), and chunks of 17..23
// rows on two threads (parallel_for deals n / 8 rows per chunk from 128 rows up), so a call
// starts mid-group. F16's counts are multiples of 4 (tinyBLAS's shape condition).
constexpr int64_t kF16Rows[] = {4,  8,  12,  16,  20,  24,  28,  36,  44, 52,
                                60, 68, 132, 140, 148, 156, 164, 172, 180};
constexpr int64_t kBf16Rows[] = {1,  2,  3,  4,  5,  6,   7,   8,   9,   10,  11,  13, 16,
                                 23, 31, 37, 64, 70, 132, 140, 148, 156, 164, 172, 180};
// Columns: under one cache line of 32 values (no prefetched pass), not multiples of 32 or 64,
// and a row of about 2304 (many lines).
constexpr int64_t kF16Cols[] = {8, 24, 40, 72, 200, 2312};
constexpr int64_t kBf16Cols[] = {1, 7, 31, 32, 33, 72, 101, 2304, 2335};

} // namespace

class TestGemvFloatAvx2 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable()) {
            QSKIP(why);
        }
        set_kernel_level(KernelLevel::avx2);
        set_avx512_kernels(false);
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // Both types have their kernel, so a type dropping out of the dispatch shows here rather
    // than as the bit checks below comparing the per-row kernel with itself.
    void kernels_are_dispatched() {
        QVERIFY(gemv_tinyblas_avx2(TensorType::F16) != nullptr);
        QVERIFY(gemv_avx2(TensorType::BF16) != nullptr);
        QVERIFY(gemv_avx2(TensorType::F16) == nullptr); // vec_dot_f16's order: per-row kernel
    }

    void f16_tinyblas_bits() { check_matmul(TensorType::F16, kF16Cols, kF16Rows); }

    // F16 shapes outside tinyBLAS's conditions keep vec_dot_f16's per-row kernel.
    void f16_other_shapes_keep_vec_dot() {
        constexpr int64_t rows[] = {1, 2, 3, 5, 7, 9, 13, 70};
        constexpr int64_t cols[] = {8, 72, 2312};
        check_matmul(TensorType::F16, cols, rows);
        constexpr int64_t odd_cols[] = {3, 36, 2305}; // not multiples of 8, rows multiples of 4
        constexpr int64_t four_rows[] = {4, 36};
        check_matmul(TensorType::F16, odd_cols, four_rows);
    }

    void bf16_bits() { check_matmul(TensorType::BF16, kBf16Cols, kBf16Rows); }

    // matmul_group deals every part's rows in one parallel region, so a call's rows can start
    // and end anywhere in a part: the same bits as matmul() of each part.
    void group_bits() {
        std::mt19937 rng(29);
        ThreadPool two(2);
        for (const TensorType type : {TensorType::F16, TensorType::BF16}) {
            const int64_t n_cols = 136;
            const int64_t row_counts[] = {36, 140, 20};
            std::vector<Matrix> parts;
            for (const int64_t n : row_counts) {
                parts.push_back(random_matrix(type, n, n_cols, rng));
            }
            const std::vector<float> x = random_activations(type, n_cols, rng);
            std::vector<std::vector<float>> ys;
            std::vector<MatmulTarget> targets;
            for (const Matrix& m : parts) {
                ys.emplace_back(static_cast<size_t>(m.w.n_rows), -1.0f);
                targets.push_back(MatmulTarget{&m.w, ys.back().data(), m.w.n_rows});
            }
            matmul_group(targets, x.data(), 1, n_cols, nullptr, two);
            for (size_t i = 0; i < parts.size(); ++i) {
                hearth::test::expect_same_bits(ys[i], reference(parts[i].w, x),
                                               "group " +
                                                   shape(type, parts[i].w.n_rows, n_cols, 2));
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestGemvFloatAvx2)
#include "tst_gemv_float_avx2.moc"
