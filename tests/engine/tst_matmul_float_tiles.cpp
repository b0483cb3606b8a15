// The float-weight register tiles (gemm_float_avx2.cpp, gemm_float_avx512.cpp) against the
// per-row kernels they replace, bit for bit, through matmul(): F16 batches in tinyBLAS's order
// (vec_dot_tinyblas_avx2), BF16 batches and BF16 single tokens in ggml_vec_dot_bf16's
// (vec_dot_avx2), at the avx2 level with the AVX-512 kernels off and on. Ragged shapes (rows
// not a multiple of the tiles' 1, 2 or 4, token counts 1..70 past the 3-token, 4-pair and
// 32-token tiles, columns that are multiples of 8 but not of 16 or 32, and BF16 columns with a
// scalar tail), one and two threads (chunk boundaries), random values with extremes: inf, NaN,
// subnormals, the largest finite values, zeros of both signs in the weights, and activations
// that round to those in f16 / bf16. The per-row kernels are held to llama.cpp's bits by
// tst_matmul and the architecture references, so equal bits here mean llama.cpp's bits.
#include "cpu/cpu_features.h"
#include "cpu/gemm_float.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;

namespace {

// A 16-bit weight: a normal value, or with `extremes` 1 in 16 an extreme one.
uint16_t random_weight(TensorType type, bool extremes, std::mt19937& rng) {
    // f16 / bf16: +inf, -inf, quiet NaN, a subnormal, the largest finite, -0.
    static constexpr uint16_t kF16Extremes[] = {0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff, 0x8000};
    static constexpr uint16_t kBf16Extremes[] = {0x7f80, 0xff80, 0x7fc0, 0x0001, 0x7f7f, 0x8000};
    const bool bf16 = type == TensorType::BF16;
    if (extremes && rng() % 16 == 0) {
        return (bf16 ? kBf16Extremes : kF16Extremes)[rng() % 6];
    }
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const float v = normal(rng);
    if (bf16) {
        return static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
    }
    return hearth::fp32_to_fp16(v);
}

// An activation: a normal value, or with `extremes` 1 in 16 one that becomes an extreme in f16
// / bf16.
float random_activation(bool extremes, std::mt19937& rng) {
    static constexpr float kExtremes[] = {std::numeric_limits<float>::infinity(),
                                          -std::numeric_limits<float>::infinity(),
                                          std::numeric_limits<float>::quiet_NaN(),
                                          1e-7f,  // subnormal in f16
                                          1e-39f, // subnormal in f32 and bf16
                                          1e5f,   // inf in f16
                                          -3e38f,
                                          0.0f};
    if (extremes && rng() % 16 == 0) {
        return kExtremes[rng() % std::size(kExtremes)];
    }
    std::normal_distribution<float> normal(0.0f, 1.0f);
    return normal(rng);
}

// What the per-row kernel gives: each token's activation row in the dot type, then the
// kernel row by row, one token at a time.
std::vector<float> reference(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tok,
                             VecDotFn kernel) {
    const size_t act_bytes = activation_row_bytes(w.type, w.n_cols);
    std::vector<uint8_t> act(act_bytes * static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) {
        quantize_activation_row(w.type, x.data() + t * w.n_cols, act.data() + t * act_bytes,
                                w.n_cols);
    }
    std::vector<float> y(static_cast<size_t>(n_tok * w.n_rows));
    const auto* rows = static_cast<const uint8_t*>(w.data);
    for (int64_t r = 0; r < w.n_rows; ++r) {
        for (int64_t t = 0; t < n_tok; ++t) {
            kernel(w.n_cols, rows + static_cast<size_t>(r) * w.row_bytes,
                   act.data() + t * act_bytes, act_bytes, y.data() + t * w.n_rows + r, w.n_rows, 1);
        }
    }
    return y;
}

QString describe(TensorType type, bool avx512, int64_t rows, int64_t cols, int64_t tokens,
                 int threads) {
    return QString("%1 %2 %3×%4, %5 tokens, %6 threads")
        .arg(type == TensorType::F16 ? "F16" : "BF16")
        .arg(avx512 ? "avx512" : "avx2")
        .arg(rows)
        .arg(cols)
        .arg(tokens)
        .arg(threads);
}

// Equal bits, or both NaN: a NaN's sign and payload depend on which operand of a commutative
// add or FMA the compiler puts first (it may swap them, in llama.cpp's build too).
bool same(float a, float b) {
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) ||
           (std::isnan(a) && std::isnan(b));
}

// matmul() against reference() on every shape: each row 5r and token 7t + 3 carry extremes, so
// most outputs stay finite (checked) and the others meet inf, NaN and subnormals.
void check(TensorType type, bool avx512, const std::vector<int64_t>& col_counts,
           const std::vector<int64_t>& row_counts) {
    QVERIFY(set_kernel_level(KernelLevel::avx2));
    const bool avx512_on = set_avx512_kernels(avx512);
    if (avx512 && !avx512_on) {
        QSKIP(hearth::test::kernels_unavailable("the AVX-512 float tiles", "AVX512F/BW/VL + VNNI"));
    }
    std::mt19937 rng(7 + static_cast<unsigned>(type) + (avx512 ? 100u : 0u));
    ThreadPool one(1), two(2);
    int64_t finite = 0, total = 0;
    const int64_t token_counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 17, 31, 33, 70};
    for (const int64_t n_cols : col_counts) {
        for (const int64_t n_rows : row_counts) {
            WeightMatrix w{type, nullptr, n_cols, n_rows, static_cast<size_t>(n_cols) * 2};
            std::vector<uint16_t> weights(static_cast<size_t>(n_rows * n_cols));
            for (size_t i = 0; i < weights.size(); ++i) {
                weights[i] = random_weight(type, i / static_cast<size_t>(n_cols) % 5 == 0, rng);
            }
            w.data = weights.data();
            // The kernel matmul() took before the tiles: tinyBLAS's for F16 (these shapes),
            // ggml_vec_dot_bf16's for BF16.
            const VecDotFn kernel =
                type == TensorType::F16 ? vec_dot_tinyblas_avx2(type) : vec_dot_avx2(type);
            // ... and that matmul() now hands these batches (and BF16 single tokens with
            // AVX-512) to the tiles, so the comparison is not of the kernel with itself.
            QVERIFY(gemm_float_takes(type, kernel));
            QVERIFY(gemm_float_avx2(type) != nullptr);
            QVERIFY(!avx512 || gemm_float_avx512(type) != nullptr);
            QVERIFY(!avx512 || type == TensorType::F16 || gemv_float_avx512(type) != nullptr);
            for (const int64_t n_tok : token_counts) {
                std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                for (size_t i = 0; i < x.size(); ++i) {
                    x[i] = random_activation(i / static_cast<size_t>(n_cols) % 7 == 3, rng);
                }
                const std::vector<float> want = reference(w, x, n_tok, kernel);
                const int threads = (n_rows + n_tok) % 2 ? 1 : 2;
                ThreadPool& pool = threads == 1 ? one : two;
                std::vector<uint8_t> scratch(activation_row_bytes(type, n_cols) *
                                             static_cast<size_t>(n_tok));
                std::vector<float> got(want.size(), -1.0f);
                matmul(w, x.data(), n_tok, n_cols, got.data(), n_rows, scratch.data(), pool);
                for (size_t i = 0; i < want.size(); ++i) {
                    finite += std::isfinite(want[i]) ? 1 : 0;
                    ++total;
                    if (!same(got[i], want[i])) {
                        QFAIL(qPrintable(describe(type, avx512, n_rows, n_cols, n_tok, threads) +
                                         QString(": row %1 token %2: %3, per-row kernel %4")
                                             .arg(static_cast<qint64>(i) % n_rows)
                                             .arg(static_cast<qint64>(i) / n_rows)
                                             .arg(static_cast<double>(got[i]), 0, 'g', 9)
                                             .arg(static_cast<double>(want[i]), 0, 'g', 9)));
                    }
                }
            }
        }
    }
    QVERIFY2(finite * 3 > total * 2, qPrintable(QString("%1 of %2 finite").arg(finite).arg(total)));
    QVERIFY2(finite < total, "no output met an inf or NaN");
}

} // namespace

class TestMatmulFloatTiles : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the float tiles")) {
            QSKIP(why);
        }
    }

    void cleanupTestCase() {
        set_avx512_kernels(true);
        set_kernel_level(max_kernel_level());
    }

    // F16 takes tinyBLAS's order only where the rows are a multiple of 4 (else vec_dot's,
    // untouched): rows 4..68 against the 4-row and 1..4-pair tiles.
    void f16_bits_data() {
        QTest::addColumn<bool>("avx512");
        QTest::newRow("avx2") << false;
        QTest::newRow("avx512") << true;
    }
    void f16_bits() {
        QFETCH(bool, avx512);
        check(TensorType::F16, avx512, {8, 24, 40, 136, 584}, {4, 8, 12, 20, 36, 68});
    }

    // BF16 on any shape: columns with and without a tail past the last 32, rows 1..70.
    void bf16_bits_data() { f16_bits_data(); }
    void bf16_bits() {
        QFETCH(bool, avx512);
        check(TensorType::BF16, avx512, {1, 7, 8, 24, 33, 40, 136, 583},
              {1, 2, 3, 5, 7, 13, 23, 70});
    }
};

QTEST_APPLESS_MAIN(TestMatmulFloatTiles)
#include "tst_matmul_float_tiles.moc"
