// The AVX-512 prompt-batch kernels over packed Q4_0 and Q4_K groups (repack_batch_avx512.cpp)
// against the AVX2 ones (repack_avx2.cpp's gemm_q4_0_x8, gemm_q4_k_x8), bit for bit, through
// matmul(): ragged shapes (row counts that are not multiples of the 8-row groups or of the
// kernels' 2-group pairs, so lone groups and per-row tails; token counts around and past their
// 32-token batches; one block per row up to many), one and two threads (chunk boundaries),
// random weight bytes (every nibble, Q4_K scale and min) with zero and negative block scales,
// and the extreme case where every nibble is 15 (Q4_K: every scale and min 63) and every
// activation quant -127 or 127 (the largest sums the Q4_K kernels' 16-bit steps must hold;
// with one token, that case checks the single-token kernels of repack_avx512.cpp too).
// The packed kernels are held to the float operations of llama.cpp's repacked kernels by
// tst_matmul (check_packed: whichever kernel this CPU takes) and the architecture references.
#include "cpu/cpu_features.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

const hearth::test::WeightTypeCase kCases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1},
    {TensorType::Q4_K, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)},
};

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

// Both kernels on `bytes` (n_rows × n_cols of `type`) and x (n_tok × n_cols), one and two
// threads.
void check(TensorType type, const std::vector<uint8_t>& bytes, int64_t n_rows, int64_t n_cols,
           const std::vector<float>& x, int64_t n_tok, const char* what) {
    const auto traits = hearth::tensor_type_traits(type);
    const size_t row_bytes = static_cast<size_t>(n_cols / traits.block_size) * traits.type_size;
    WeightMatrix w{type, bytes.data(), n_cols, n_rows, row_bytes};
    std::vector<uint8_t> packed(repacked_bytes(type, n_rows, n_cols));
    repack_rows(w, packed.data());
    w.packed = packed.data();
    ThreadPool one(1), two(2);
    for (ThreadPool* pool : {&one, &two}) {
        const std::vector<float> want = run(w, x, n_tok, *pool, false);
        const std::vector<float> got = run(w, x, n_tok, *pool, true);
        for (size_t i = 0; i < want.size(); ++i) {
            QVERIFY2(std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i]),
                     qPrintable(QString("%1 %2 %3×%4, %5 tokens, %6 thread(s): token %7 row %8: "
                                        "avx512 %9, avx2 %10")
                                    .arg(type == TensorType::Q4_0 ? "Q4_0" : "Q4_K")
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

class TestMatmulPackedAvx512 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::enable_avx512_kernels()) {
            QSKIP(why);
        }
        QVERIFY(repack_supported(TensorType::Q4_0) && repack_supported(TensorType::Q4_K));
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    void random_bits_data() {
        QTest::addColumn<int>("index");
        QTest::addColumn<qint64>("n_cols");
        for (int i = 0; i < static_cast<int>(std::size(kCases)); ++i) {
            const char* name = kCases[i].type == TensorType::Q4_0 ? "Q4_0" : "Q4_K";
            // Q4_0: 1, 3 and 88 blocks; Q4_K: 1, 3 and 11 super-blocks.
            const qint64 unit = kCases[i].type == TensorType::Q4_0 ? 32 : 256;
            for (const qint64 n_cols : {unit, 3 * unit, qint64{2816}}) {
                QTest::newRow(qPrintable(QString("%1 %2").arg(name).arg(n_cols))) << i << n_cols;
            }
        }
    }

    void random_bits() {
        QFETCH(int, index);
        QFETCH(qint64, n_cols);
        const TensorType type = kCases[index].type;
        std::mt19937 rng(7 + static_cast<unsigned>(n_cols) + static_cast<unsigned>(type));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const int64_t n_rows : {1, 7, 8, 13, 16, 24, 37, 70}) {
            const std::vector<uint8_t> bytes = hearth::test::random_weight_rows(
                kCases[index], n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
            for (const int64_t n_tok : {1, 2, 3, 5, 17, 32, 33, 70}) {
                std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                for (float& v : x) {
                    v = normal(rng);
                }
                // An outlier per token, so most of its quants are small.
                for (int64_t t = 0; t < n_tok; ++t) {
                    x.at(static_cast<size_t>(t * n_cols + (t * 37 + n_rows) % n_cols)) = 11.0f;
                }
                check(type, bytes, n_rows, n_cols, x, n_tok, "random");
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }

    // The kernels called directly with more tokens than one of their batches (matmul() hands
    // them 32 at a time): 70 tokens against 3 groups, each result the AVX2 kernel's.
    void direct_calls_past_one_batch() {
        const int n_tok = 70;
        const int64_t n_rows = 24, n_groups = n_rows / kPackRows, n_cols = 512;
        std::mt19937 rng(5);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const auto& c : kCases) {
            const auto traits = hearth::tensor_type_traits(c.type);
            const std::vector<uint8_t> bytes =
                hearth::test::random_weight_rows(c, n_rows, n_cols, rng);
            const WeightMatrix w{c.type, bytes.data(), n_cols, n_rows,
                                 static_cast<size_t>(n_cols / traits.block_size) *
                                     traits.type_size};
            std::vector<uint8_t> packed(repacked_bytes(c.type, n_rows, n_cols));
            repack_rows(w, packed.data());
            const size_t act_bytes = activation_row_bytes(c.type, n_cols);
            const int64_t n_blocks = n_cols / quant::QK8_0;
            std::vector<uint8_t> act(act_bytes * n_tok);
            std::vector<int32_t> sums(static_cast<size_t>(n_tok * n_blocks));
            std::vector<float> x(static_cast<size_t>(n_cols));
            for (int t = 0; t < n_tok; ++t) {
                for (float& v : x) {
                    v = normal(rng);
                }
                quantize_activation_row(c.type, x.data(), act.data() + t * act_bytes, n_cols);
                if (c.type == TensorType::Q4_0) {
                    q8_0_block_sums_x8(act.data() + t * act_bytes, sums.data() + t * n_blocks,
                                       n_blocks);
                }
            }
            const size_t group_bytes = repacked_bytes(c.type, kPackRows, n_cols);
            std::vector<float> want(static_cast<size_t>(n_tok * n_rows), -1.0f);
            std::vector<float> got(want.size(), -2.0f);
            for (int64_t g = 0; g < n_groups; ++g) {
                const uint8_t* group = packed.data() + g * group_bytes;
                if (c.type == TensorType::Q4_0) {
                    gemm_q4_0_x8(n_cols, group, act.data(), act_bytes, sums.data(), n_blocks,
                                 want.data() + g * kPackRows, n_rows, n_tok);
                } else {
                    gemm_q4_k_x8(n_cols, group, act.data(), act_bytes, want.data() + g * kPackRows,
                                 n_rows, n_tok);
                }
            }
            if (c.type == TensorType::Q4_0) {
                gemm_q4_0_x8_avx512(n_cols, packed.data(), n_groups, act.data(), act_bytes,
                                    sums.data(), n_blocks, n_tok, got.data(), n_rows);
            } else {
                gemm_q4_k_x8_avx512(n_cols, packed.data(), n_groups, act.data(), act_bytes, n_tok,
                                    got.data(), n_rows);
            }
            for (size_t i = 0; i < want.size(); ++i) {
                QVERIFY2(std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i]),
                         qPrintable(QString("%1: token %2 row %3: avx512 %4, avx2 %5")
                                        .arg(c.type == TensorType::Q4_0 ? "Q4_0" : "Q4_K")
                                        .arg(static_cast<qint64>(i) / n_rows)
                                        .arg(static_cast<qint64>(i) % n_rows)
                                        .arg(static_cast<double>(got[i]), 0, 'g', 9)
                                        .arg(static_cast<double>(want[i]), 0, 'g', 9)));
            }
        }
    }

    // Nibbles 15 (Q4_K: scales and mins 63, every scale byte 0xff), positive block scales;
    // activations of one sign per 32 values, so each quant is ±127 and every Q4_K 16-product
    // sum ±28575.
    void extreme_sums_data() {
        QTest::addColumn<qint64>("n_tok");
        QTest::newRow("1 token (the single-token kernels)") << qint64{1};
        QTest::newRow("9 tokens") << qint64{9};
    }

    void extreme_sums() {
        QFETCH(qint64, n_tok);
        const int64_t n_rows = 24, n_cols = 512;
        std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
        for (size_t i = 0; i < x.size(); ++i) {
            const size_t t = i / static_cast<size_t>(n_cols);
            const size_t sub = i % static_cast<size_t>(n_cols) / 32;
            x[i] = (t + sub) % 3 == 0 ? 1.0f : -1.0f;
        }
        const size_t n_k = static_cast<size_t>(n_rows * n_cols / quant::QK_K);
        std::vector<uint8_t> k_bytes(n_k * sizeof(quant::BlockQ4_K));
        auto* k_blocks = reinterpret_cast<quant::BlockQ4_K*>(k_bytes.data());
        for (size_t b = 0; b < n_k; ++b) {
            k_blocks[b].d = hearth::fp32_to_fp16(0.01f + 0.001f * static_cast<float>(b % 7));
            k_blocks[b].dmin = hearth::fp32_to_fp16(0.02f);
            std::fill(std::begin(k_blocks[b].scales), std::end(k_blocks[b].scales), uint8_t{0xff});
            std::fill(std::begin(k_blocks[b].qs), std::end(k_blocks[b].qs), uint8_t{0xff});
        }
        check(TensorType::Q4_K, k_bytes, n_rows, n_cols, x, n_tok, "extreme");
        const size_t n_0 = static_cast<size_t>(n_rows * n_cols / quant::QK4_0);
        std::vector<uint8_t> bytes_0(n_0 * sizeof(quant::BlockQ4_0));
        auto* blocks_0 = reinterpret_cast<quant::BlockQ4_0*>(bytes_0.data());
        for (size_t b = 0; b < n_0; ++b) {
            blocks_0[b].d = hearth::fp32_to_fp16(0.01f + 0.001f * static_cast<float>(b % 7));
            std::fill(std::begin(blocks_0[b].qs), std::end(blocks_0[b].qs), uint8_t{0xff});
        }
        check(TensorType::Q4_0, bytes_0, n_rows, n_cols, x, n_tok, "extreme");
    }
};

QTEST_APPLESS_MAIN(TestMatmulPackedAvx512)
#include "tst_matmul_packed_avx512.moc"
