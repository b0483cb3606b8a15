// The AVX2 single-token path over 8-row packed Q4_0 and Q4_K groups (repack_avx2.cpp's
// gemm_q4_0_x8 / gemm_q4_k_x8 with one token, which prefetch their group's weights ahead: the
// decode kernels at the avx2 level) through matmul() with the AVX-512 kernels off, bit for bit:
// every packed row against llama.cpp's repacked float order (packed_reference.h), the rows past
// the last group against matmul() over the plain rows. Ragged row counts 8..70 (every tail of
// the 8-row groups, lone groups in a chunk), one block per row up to many, one and two threads
// (chunk boundaries), random weight bytes with plain and edge scales (d zero, negative), and
// extremes: every nibble 15 (Q4_K: every 6-bit scale and min 63) with large scales in the odd
// rows, activations with zero, f16-subnormal and large blocks (quants at -127 and 127, in runs
// whose sums are not zero, for Q4_K's min terms).
#include "cpu/cpu_features.h"
#include "cpu/matmul.h"
#include "cpu/repack.h"
#include "cpu/thread_pool.h"
#include "extreme_weights.h"
#include "gemv_bits.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_activations.h"
#include "kernel_levels.h"
#include "packed_reference.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;
using hearth::test::ScaleDraw;

namespace {

const hearth::test::WeightTypeCase kCases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1},
    {TensorType::Q4_K, offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)},
};

// One token through matmul() on the packed copy of n_rows × n_cols weights, every row checked.
void check_shape(const hearth::test::WeightTypeCase& c, int64_t n_rows, int64_t n_cols,
                 bool extreme, ScaleDraw draw, ThreadPool& pool, std::mt19937& rng) {
    const size_t row_bytes =
        static_cast<size_t>(n_cols / hearth::tensor_type_traits(c.type).block_size *
                            static_cast<int64_t>(hearth::tensor_type_traits(c.type).type_size));
    const std::vector<uint8_t> bytes =
        extreme ? hearth::test::extreme_weight_rows(c, n_rows, n_cols, rng)
                : hearth::test::random_weight_rows(c, n_rows, n_cols, rng, draw);
    const WeightMatrix plain{c.type, bytes.data(), n_cols, n_rows, row_bytes};
    std::vector<uint8_t> packed(repacked_bytes(c.type, n_rows, n_cols));
    QVERIFY(!packed.empty());
    repack_rows(plain, packed.data());
    WeightMatrix matrix = plain;
    matrix.packed = packed.data();
    std::vector<float> x = hearth::test::kernel_activations(1, n_cols, extreme, rng);
    if (extreme) {
        // Its large values alternate in sign, so every 16-value sum (Q8_K's bsums) would be 0
        // and Q4_K's min terms untested: runs of 8 of one sign, one run in 3 negative.
        for (size_t i = 0; i < x.size(); ++i) {
            if (std::fabs(x[i]) == 3e4f) {
                x[i] = i / 8 % 3 == 0 ? -3e4f : 3e4f;
            }
        }
    }
    std::vector<uint8_t> act(activation_row_bytes(c.type, n_cols));
    std::vector<float> y(static_cast<size_t>(n_rows) + 1, -1.0f), y_plain = y;
    matmul(matrix, x.data(), 1, n_cols, y.data(), n_rows, act.data(), pool);
    QCOMPARE(y.back(), -1.0f); // nothing past the rows
    std::vector<uint8_t> act_plain(act.size());
    matmul(plain, x.data(), 1, n_cols, y_plain.data(), n_rows, act_plain.data(), pool);
    QVERIFY(act == act_plain);
    std::vector<float> want(static_cast<size_t>(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
        want[static_cast<size_t>(r)] =
            r < n_rows / 8 * 8
                ? hearth::test::packed_reference(
                      c.type, bytes.data() + static_cast<size_t>(r) * row_bytes, act.data(), n_cols)
                : y_plain[static_cast<size_t>(r)];
    }
    y.pop_back();
    const std::string_view name = hearth::tensor_type_name(c.type);
    hearth::test::expect_same_bits(
        y, want,
        QString("%1 %2×%3%4, %5 thread(s)")
            .arg(QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size())))
            .arg(n_rows)
            .arg(n_cols)
            .arg(extreme                    ? " extreme"
                 : draw == ScaleDraw::edges ? " edge scales"
                                            : "")
            .arg(pool.size()));
}

void check_type(const hearth::test::WeightTypeCase& c, bool extreme) {
    std::mt19937 rng(77 + static_cast<unsigned>(c.type) + (extreme ? 1000u : 0u));
    ThreadPool one(1), two(2);
    const int64_t block = hearth::tensor_type_traits(c.type).block_size;
    for (const int64_t n_cols : {block, 3 * block, 2048 + 2 * block}) {
        for (int64_t n_rows = 8; n_rows <= 70; ++n_rows) {
            for (ThreadPool* pool : {&one, &two}) {
                const ScaleDraw draw = n_rows % 2 ? ScaleDraw::edges : ScaleDraw::plain;
                check_shape(c, n_rows, n_cols, extreme, draw, *pool, rng);
                if (QTest::currentTestFailed()) {
                    return;
                }
            }
        }
    }
}

void add_cases() {
    QTest::addColumn<int>("index");
    for (size_t i = 0; i < std::size(kCases); ++i) {
        const std::string_view name = hearth::tensor_type_name(kCases[i].type);
        QTest::newRow(std::string(name).c_str()) << static_cast<int>(i);
    }
}

} // namespace

class TestGemvPackedAvx2 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the AVX2 packed kernels")) {
            QSKIP(why);
        }
        set_kernel_level(KernelLevel::avx2);
        set_avx512_kernels(false);
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // The packed copy is taken: without it the comparisons below would check the plain rows.
    void packs_data() { add_cases(); }
    void packs() {
        QFETCH(int, index);
        QVERIFY(repack_supported(kCases[static_cast<size_t>(index)].type));
    }

    void random_bits_data() { add_cases(); }
    void random_bits() {
        QFETCH(int, index);
        check_type(kCases[static_cast<size_t>(index)], false);
    }

    void extremes_data() { add_cases(); }
    void extremes() {
        QFETCH(int, index);
        check_type(kCases[static_cast<size_t>(index)], true);
    }
};

QTEST_APPLESS_MAIN(TestGemvPackedAvx2)
#include "tst_gemv_packed_avx2.moc"
