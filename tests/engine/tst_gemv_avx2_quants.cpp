// The AVX2 single-token kernels for Q4_1, Q5_K and the other 32-value formats
// (gemv_q4_1_avx2.cpp, gemv_q5_k_avx2.cpp, gemv_block32_avx2.cpp) against the per-row AVX2 kernel
// (vec_dot_avx2), bit for bit: through matmul() at the avx2 level with the AVX-512 kernels off, on
// ragged row counts 1..70 (not multiples of the 2- and 4-row passes), one block per row up to many,
// one and two threads (chunk boundaries), random weight bytes (every nibble and fifth bit) with
// plain and edge scales (d zero, m negative); and the kernels called directly on row ranges that
// split a run at odd places, with extreme data matmul's quantizer cannot make (nibbles and fifth
// bits all set, 6-bit scales and mins at 63, activations at -128 and 127, large scales). The
// per-row kernel is held to ggml's bits by tst_matmul and the architecture references, so equal
// bits here mean ggml's bits.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "extreme_weights.h"
#include "gemv_bits.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;
using hearth::test::same_bits;
using hearth::test::ScaleDraw;

namespace {

using TypeCase = hearth::test::WeightTypeCase;

const TypeCase kCases[] = {
    {TensorType::Q4_1, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m)},
    {TensorType::Q5_K, offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)},
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1},
    {TensorType::Q5_0, offsetof(quant::BlockQ5_0, d), -1},
    {TensorType::Q5_1, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m)},
    {TensorType::Q8_0, offsetof(quant::BlockQ8_0, d), -1},
    {TensorType::IQ4_NL, offsetof(quant::BlockIQ4_NL, d), -1},
};

QString type_name(TensorType type) {
    const std::string_view name = hearth::tensor_type_name(type);
    return QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size()));
}

size_t row_bytes_of(TensorType type, int64_t n_cols) {
    const auto traits = hearth::tensor_type_traits(type);
    return static_cast<size_t>(n_cols / traits.block_size) * traits.type_size;
}

// Row r of w against the activation row `act` with the per-row AVX2 kernel.
float per_row(const WeightMatrix& w, int64_t r, const void* act) {
    float y = 0.0f;
    vec_dot_avx2(w.type)(w.n_cols, static_cast<const uint8_t*>(w.data) + r * w.row_bytes, act, 0,
                         &y, 0, 1);
    return y;
}

QString mismatch(const WeightMatrix& w, const char* what, int64_t r, float got, float want) {
    return hearth::test::gemv_mismatch(
        QString("%1 %2×%3 %4").arg(type_name(w.type)).arg(w.n_rows).arg(w.n_cols).arg(what), r, got,
        want);
}

// matmul() for one token against the per-row kernel on every row.
void check_matmul(const TypeCase& c, ScaleDraw draw) {
    const int64_t block = hearth::tensor_type_traits(c.type).block_size;
    std::mt19937 rng(41 + static_cast<unsigned>(c.type) + 7 * static_cast<unsigned>(draw));
    ThreadPool one(1), two(2);
    for (const int64_t n_cols : {block, 3 * block, 2304 / block * block + 2 * block}) {
        for (int64_t n_rows = 1; n_rows <= 70; ++n_rows) {
            const std::vector<uint8_t> bytes =
                hearth::test::random_weight_rows(c, n_rows, n_cols, rng, draw);
            const WeightMatrix w{c.type, bytes.data(), n_cols, n_rows,
                                 row_bytes_of(c.type, n_cols)};
            std::vector<float> x(static_cast<size_t>(n_cols));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            x.at(static_cast<size_t>(n_rows % n_cols)) = 11.0f; // an outlier
            std::vector<uint8_t> act(activation_row_bytes(c.type, n_cols));
            quantize_activation_row(c.type, x.data(), act.data(), n_cols);
            for (ThreadPool* pool : {&one, &two}) {
                std::vector<uint8_t> scratch(act.size());
                std::vector<float> y(static_cast<size_t>(n_rows), -1.0f);
                matmul(w, x.data(), 1, n_cols, y.data(), n_rows, scratch.data(), *pool);
                for (int64_t r = 0; r < n_rows; ++r) {
                    const float want = per_row(w, r, act.data());
                    const float got = y[static_cast<size_t>(r)];
                    QVERIFY2(same_bits(got, want),
                             qPrintable(mismatch(w, pool == &one ? "1 thread" : "2 threads", r, got,
                                                 want)));
                }
            }
        }
    }
}

// An activation row at the int8 extremes: -128 and 127 in runs, large block scales.
std::vector<uint8_t> extreme_activations(TensorType type, int64_t n_cols) {
    std::vector<uint8_t> act(activation_row_bytes(type, n_cols));
    const auto value = [](int64_t i) { return static_cast<int8_t>((i / 5) % 2 ? -128 : 127); };
    if (type == TensorType::Q4_0 || type == TensorType::Q5_0 || type == TensorType::Q8_0 ||
        type == TensorType::IQ4_NL) {
        auto* blocks = reinterpret_cast<quant::BlockQ8_0*>(act.data());
        for (int64_t b = 0; b < n_cols / 32; ++b) {
            blocks[b].d = hearth::fp32_to_fp16(b % 2 ? 900.0f : -0.25f);
            for (int i = 0; i < 32; ++i) {
                blocks[b].qs[i] = value(32 * b + i);
            }
        }
    } else if (type == TensorType::Q4_1 || type == TensorType::Q5_1) {
        auto* blocks = reinterpret_cast<quant::BlockQ8_1*>(act.data());
        for (int64_t b = 0; b < n_cols / 32; ++b) {
            blocks[b].d = hearth::fp32_to_fp16(b % 2 ? 900.0f : -0.25f);
            blocks[b].s = hearth::fp32_to_fp16(b % 3 ? -5000.0f : 40.0f);
            for (int i = 0; i < 32; ++i) {
                blocks[b].qs[i] = value(32 * b + i);
            }
        }
    } else {
        auto* blocks = reinterpret_cast<quant::BlockQ8_K*>(act.data());
        for (int64_t b = 0; b < n_cols / quant::QK_K; ++b) {
            blocks[b].d = b % 2 ? 1.5e4f : -3.0f;
            for (int i = 0; i < quant::QK_K; ++i) {
                blocks[b].qs[i] = value(quant::QK_K * b + i);
            }
            for (int s = 0; s < quant::QK_K / 16; ++s) {
                int sum = 0;
                for (int i = 0; i < 16; ++i) {
                    sum += blocks[b].qs[16 * s + i];
                }
                blocks[b].bsums[s] = static_cast<int16_t>(sum);
            }
        }
    }
    return act;
}

// The kernel called directly on runs of rows r0 .. r1, as matmul's chunks call it.
void check_direct(const TypeCase& c, bool extreme) {
    const GemvFn gemv = gemv_avx2(c.type);
    QVERIFY(gemv != nullptr);
    const int64_t block = hearth::tensor_type_traits(c.type).block_size;
    std::mt19937 rng(4141 + static_cast<unsigned>(c.type));
    const int64_t n_rows = 70;
    for (const int64_t n_cols : {block, 5 * block}) {
        const std::vector<uint8_t> bytes =
            extreme ? hearth::test::extreme_weight_rows(c, n_rows, n_cols, rng)
                    : hearth::test::random_weight_rows(c, n_rows, n_cols, rng, ScaleDraw::edges);
        const WeightMatrix w{c.type, bytes.data(), n_cols, n_rows, row_bytes_of(c.type, n_cols)};
        std::vector<uint8_t> act = extreme_activations(c.type, n_cols);
        if (!extreme) {
            std::vector<float> x(static_cast<size_t>(n_cols));
            std::uniform_real_distribution<float> value(-3.0f, 3.0f);
            for (float& v : x) {
                v = value(rng);
            }
            quantize_activation_row(c.type, x.data(), act.data(), n_cols);
        }
        std::vector<float> scales(static_cast<size_t>(activation_scale_count(c.type, n_cols)));
        if (!scales.empty()) {
            activation_scales(c.type, act.data(), scales.data(), n_cols);
        }
        // Split points that leave every remainder of the 2- and 4-row passes.
        const int64_t cuts[] = {0, 1, 4, 7, 9, 14, 17, 18, 29, 31, 38, 43, 56, 61, 63, 70};
        for (size_t k = 0; k + 1 < std::size(cuts); ++k) {
            const int64_t r0 = cuts[k], r1 = cuts[k + 1];
            std::vector<float> y(static_cast<size_t>(r1 - r0) + 1, -1.0f);
            gemv(n_cols, bytes.data() + r0 * w.row_bytes, w.row_bytes, r1 - r0, act.data(),
                 scales.empty() ? nullptr : scales.data(), y.data());
            QVERIFY2(y.back() == -1.0f, "wrote past its rows");
            for (int64_t r = r0; r < r1; ++r) {
                const float want = per_row(w, r, act.data());
                const float got = y[static_cast<size_t>(r - r0)];
                QVERIFY2(same_bits(got, want),
                         qPrintable(mismatch(w, extreme ? "extreme" : "split", r, got, want)));
            }
        }
    }
}

void add_cases() {
    QTest::addColumn<int>("index");
    for (size_t i = 0; i < std::size(kCases); ++i) {
        QTest::newRow(qPrintable(type_name(kCases[i].type))) << static_cast<int>(i);
    }
}

} // namespace

class TestGemvAvx2Quants : public QObject {
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

    // The kernels are there: without them the comparisons below would hold trivially.
    void has_kernel_data() { add_cases(); }
    void has_kernel() {
        QFETCH(int, index);
        QVERIFY(gemv_avx2(kCases[static_cast<size_t>(index)].type) != nullptr);
    }

    void matmul_bits_data() { add_cases(); }
    void matmul_bits() {
        QFETCH(int, index);
        check_matmul(kCases[static_cast<size_t>(index)], ScaleDraw::plain);
        check_matmul(kCases[static_cast<size_t>(index)], ScaleDraw::edges);
    }

    void split_runs_data() { add_cases(); }
    void split_runs() {
        QFETCH(int, index);
        check_direct(kCases[static_cast<size_t>(index)], false);
    }

    void extremes_data() { add_cases(); }
    void extremes() {
        QFETCH(int, index);
        check_direct(kCases[static_cast<size_t>(index)], true);
    }
};

QTEST_APPLESS_MAIN(TestGemvAvx2Quants)
#include "tst_gemv_avx2_quants.moc"
