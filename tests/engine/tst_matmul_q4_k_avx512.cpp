// The AVX-512 prompt-batch kernel over packed Q4_K groups (repack_q4_k_avx512.cpp) against
// the AVX2 one (repack_avx2.cpp's gemm_q4_k_x8), bit for bit, through matmul(): ragged shapes
// (row counts that are not multiples of the 8-row groups or of the kernel's 2-group pairs, so
// lone groups and per-row tails; token counts around and past its 32-token batches; one to
// eleven super-blocks per row), one and two threads (chunk boundaries), random weight bytes
// (every nibble, scale and min) with zero and negative block scales, and the extreme case
// where every nibble is 15, every scale and min 63 and every activation quant -127 or 127
// (the largest sums the kernel's 16-bit steps must hold). The AVX2 kernel is held to
// llama.cpp's bits by tst_matmul_batch_bits and the architecture references.
#include "cpu/cpu_features.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/tensor_type.h"
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

const hearth::test::WeightTypeCase kQ4K{TensorType::Q4_K, offsetof(quant::BlockQ4_K, d),
                                        offsetof(quant::BlockQ4_K, dmin)};

// Y (n_tok × n_rows) with the AVX-512 kernels on or off.
std::vector<float> run(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tok,
                       ThreadPool& pool, bool avx512) {
    set_avx512_kernels(avx512);
    std::vector<uint8_t> scratch(static_cast<size_t>(n_tok) *
                                 activation_row_bytes(w.type, w.n_cols));
    std::vector<float> y(static_cast<size_t>(n_tok * w.n_rows), -1.0f);
    matmul(w, x.data(), n_tok, w.n_cols, y.data(), w.n_rows, scratch.data(), pool);
    return y;
}

// Both kernels on `bytes` (n_rows × n_cols Q4_K) and x (n_tok × n_cols), one and two threads.
void check(const std::vector<uint8_t>& bytes, int64_t n_rows, int64_t n_cols,
           const std::vector<float>& x, int64_t n_tok, const char* what) {
    const size_t row_bytes = static_cast<size_t>(n_cols / quant::QK_K) * sizeof(quant::BlockQ4_K);
    WeightMatrix w{TensorType::Q4_K, bytes.data(), n_cols, n_rows, row_bytes};
    std::vector<uint8_t> packed(repacked_bytes(TensorType::Q4_K, n_rows, n_cols));
    repack_rows(w, packed.data());
    w.packed = packed.data();
    ThreadPool one(1), two(2);
    for (ThreadPool* pool : {&one, &two}) {
        const std::vector<float> want = run(w, x, n_tok, *pool, false);
        const std::vector<float> got = run(w, x, n_tok, *pool, true);
        for (size_t i = 0; i < want.size(); ++i) {
            QVERIFY2(std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i]),
                     qPrintable(QString("%1 %2×%3, %4 tokens, %5 thread(s): token %6 row %7: "
                                        "avx512 %8, avx2 %9")
                                    .arg(what)
                                    .arg(n_rows)
                                    .arg(n_cols)
                                    .arg(n_tok)
                                    .arg(pool == &one ? 1 : 2)
                                    .arg(static_cast<qint64>(i) / n_rows)
                                    .arg(static_cast<qint64>(i) % n_rows)
                                    .arg(static_cast<double>(got[i]), 0, 'g', 9)
                                    .arg(static_cast<double>(want[i]), 0, 'g', 9)));
        }
    }
}

} // namespace

class TestMatmulQ4KAvx512 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (detected_kernel_level() < KernelLevel::avx2 || !set_avx512_kernels(true)) {
            QSKIP("this CPU lacks AVX512F/BW/VL + VNNI (or HEARTH_CPU_FEATURES turned them off)");
        }
        set_kernel_level(KernelLevel::avx2);
        QVERIFY(repack_supported(TensorType::Q4_K));
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    void random_bits_data() {
        QTest::addColumn<qint64>("n_cols");
        for (const qint64 n_cols : {256, 768, 2816}) {
            QTest::newRow(qPrintable(QString::number(n_cols))) << n_cols;
        }
    }

    void random_bits() {
        QFETCH(qint64, n_cols);
        std::mt19937 rng(7 + static_cast<unsigned>(n_cols));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const int64_t n_rows : {1, 7, 8, 13, 16, 24, 37, 70}) {
            const std::vector<uint8_t> bytes = hearth::test::random_weight_rows(
                kQ4K, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
            for (const int64_t n_tok : {1, 2, 3, 5, 17, 32, 33, 70}) {
                std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                for (float& v : x) {
                    v = normal(rng);
                }
                // An outlier per token, so most of its quants are small.
                for (int64_t t = 0; t < n_tok; ++t) {
                    x.at(static_cast<size_t>(t * n_cols + (t * 37 + n_rows) % n_cols)) = 11.0f;
                }
                check(bytes, n_rows, n_cols, x, n_tok, "random");
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }

    // Nibbles 15, scales and mins 63 (every scale byte 0xff), d and dmin positive; activations
    // of one sign per sub-block, so each quant is ±127 and every 16-product sum is ±28575.
    void extreme_sums() {
        const int64_t n_rows = 24, n_cols = 512, n_tok = 9;
        std::vector<uint8_t> bytes(static_cast<size_t>(n_rows * n_cols / quant::QK_K) *
                                   sizeof(quant::BlockQ4_K));
        auto* blocks = reinterpret_cast<quant::BlockQ4_K*>(bytes.data());
        for (size_t b = 0; b < bytes.size() / sizeof(quant::BlockQ4_K); ++b) {
            blocks[b].d = hearth::fp32_to_fp16(0.01f + 0.001f * static_cast<float>(b % 7));
            blocks[b].dmin = hearth::fp32_to_fp16(0.02f);
            std::fill(std::begin(blocks[b].scales), std::end(blocks[b].scales), uint8_t{0xff});
            std::fill(std::begin(blocks[b].qs), std::end(blocks[b].qs), uint8_t{0xff});
        }
        std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
        for (size_t i = 0; i < x.size(); ++i) {
            const size_t t = i / static_cast<size_t>(n_cols);
            const size_t sub = i % static_cast<size_t>(n_cols) / 32;
            x[i] = (t + sub) % 3 == 0 ? 1.0f : -1.0f;
        }
        check(bytes, n_rows, n_cols, x, n_tok, "extreme");
    }
};

QTEST_APPLESS_MAIN(TestMatmulQ4KAvx512)
#include "tst_matmul_q4_k_avx512.moc"
