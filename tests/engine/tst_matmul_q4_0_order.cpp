// The portable Q4_0 kernel against llama.cpp's repacked q4_0_8x8 float order (packed_reference.h),
// bit for bit, through matmul() on every row: llama.cpp runs Q4_0 matrices repacked on x86, and
// Hearth's avx2 level does too (tst_matmul's packed_matches_ggml_order holds those kernels to
// the same order), so the portable level must sum in it as well; a plain multiply and add there
// moved the Q4_0 architecture model's logits by 4% of their spread (tst_architectures). Runs at
// the portable level whatever HEARTH_CPU_FEATURES asks for: every CPU has it. Ragged shapes
// (1..70 rows and tokens, one to 64 blocks per row), random and extreme data, 1 and 2 threads.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/tensor_type.h"
#include "kernel_activations.h"
#include "packed_reference.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

const hearth::test::WeightTypeCase kQ4_0{TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1};

// One shape: matmul() at the portable level against packed_reference on every (row, token).
void check_shape(int64_t n_rows, int64_t n_cols, int64_t n_tokens, bool extreme, ThreadPool& pool,
                 std::mt19937& rng) {
    const auto draw = extreme ? hearth::test::ScaleDraw::edges : hearth::test::ScaleDraw::plain;
    const std::vector<uint8_t> w =
        hearth::test::random_weight_rows(kQ4_0, n_rows, n_cols, rng, draw);
    const size_t row_bytes = static_cast<size_t>(n_cols / 32) * sizeof(quant::BlockQ4_0);
    const WeightMatrix matrix{TensorType::Q4_0, w.data(), n_cols, n_rows, row_bytes};
    const std::vector<float> x = hearth::test::kernel_activations(n_tokens, n_cols, extreme, rng);
    const size_t act_bytes = activation_row_bytes(TensorType::Q4_0, n_cols);
    std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tokens));
    const int64_t y_stride = n_rows + 1;
    std::vector<float> y(static_cast<size_t>(n_tokens * y_stride), -1.0f);
    matmul(matrix, x.data(), n_tokens, n_cols, y.data(), y_stride, scratch.data(), pool);
    std::vector<uint8_t> act(act_bytes);
    for (int64_t t = 0; t < n_tokens; ++t) {
        quantize_activation_row(TensorType::Q4_0, x.data() + t * n_cols, act.data(), n_cols);
        for (int64_t r = 0; r < n_rows; ++r) {
            const float want = hearth::test::packed_reference(
                TensorType::Q4_0, w.data() + static_cast<size_t>(r) * row_bytes, act.data(),
                n_cols);
            const float got = y[static_cast<size_t>(t * y_stride + r)];
            QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                     qPrintable(QString("%1 rows %2 cols %3 tokens %4 (%5 threads): row %6 token "
                                        "%7: %8, llama.cpp's repacked order %9")
                                    .arg(extreme ? "extreme" : "random")
                                    .arg(n_rows)
                                    .arg(n_cols)
                                    .arg(n_tokens)
                                    .arg(pool.size())
                                    .arg(r)
                                    .arg(t)
                                    .arg(static_cast<double>(got), 0, 'g', 9)
                                    .arg(static_cast<double>(want), 0, 'g', 9)));
        }
    }
}

} // namespace

class TestMatmulQ4_0Order : public QObject {
    Q_OBJECT

private slots:
    void portable_follows_repacked_order() {
        const KernelLevel saved = kernel_level();
        QVERIFY(set_kernel_level(KernelLevel::portable));
        std::mt19937 rng(40);
        ThreadPool one(1), two(2);
        for (const bool extreme : {false, true}) {
            for (const int64_t n_rows : {1, 7, 8, 37, 70}) {
                for (const int64_t n_cols : {32, 96, 2048}) {
                    for (const int64_t n_tokens : {1, 2, 5, 33, 70}) {
                        check_shape(n_rows, n_cols, n_tokens, extreme, n_tokens % 2 ? one : two,
                                    rng);
                        if (QTest::currentTestFailed()) {
                            set_kernel_level(saved);
                            return;
                        }
                    }
                }
            }
        }
        set_kernel_level(saved);
    }
};

QTEST_APPLESS_MAIN(TestMatmulQ4_0Order)
#include "tst_matmul_q4_0_order.moc"
