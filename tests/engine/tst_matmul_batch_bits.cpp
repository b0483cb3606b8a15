// Prompt batches against single tokens through matmul(), bit for bit, for the per-row kernels
// whose batched forms take shortcuts: the 32-value formats with their activation scales
// converted once per matrix (VecDotScaledFn, checked against the per-row kernels below) and
// Q6_K unpacking a super-block once for up to 4 tokens. A token's products must not depend on the
// batch it rides in (the scheduler mixes prompts with other requests' next tokens, and a cached
// prefix must equal a fresh prompt); the single-token kernels are held to ggml's bits by
// tst_matmul_lowbit_ggml (Q6_K) and the architecture references. Ragged shapes: 37 rows, token
// counts that are not multiples of the 4-token groups or the 32-token tiles, one and two threads,
// every kernel level.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
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

namespace {

using TypeCase = hearth::test::WeightTypeCase;

const TypeCase kCases[] = {
    {TensorType::Q4_0, offsetof(quant::BlockQ4_0, d), -1, 1024},
    {TensorType::Q4_1, offsetof(quant::BlockQ4_1, d), offsetof(quant::BlockQ4_1, m), 1024},
    {TensorType::Q5_0, offsetof(quant::BlockQ5_0, d), -1, 1056},
    {TensorType::Q5_1, offsetof(quant::BlockQ5_1, d), offsetof(quant::BlockQ5_1, m), 800},
    {TensorType::Q8_0, offsetof(quant::BlockQ8_0, d), -1, 1056},
    {TensorType::IQ4_NL, offsetof(quant::BlockIQ4_NL, d), -1, 544},
    {TensorType::Q6_K, offsetof(quant::BlockQ6_K, d), -1, 2304},
};

QString type_name(TensorType type) {
    const std::string_view name = hearth::tensor_type_name(type);
    return QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size()));
}

void check_type(const TypeCase& c) {
    constexpr int64_t kRows = 37;
    std::mt19937 rng(77 + static_cast<unsigned>(c.type));
    const auto traits = hearth::tensor_type_traits(c.type);
    const size_t row_bytes = static_cast<size_t>(c.n_cols / traits.block_size) * traits.type_size;
    const std::vector<uint8_t> w = hearth::test::random_weight_rows(c, kRows, c.n_cols, rng);
    const WeightMatrix matrix{c.type, w.data(), c.n_cols, kRows, row_bytes};
    const size_t act_bytes = activation_row_bytes(c.type, c.n_cols);
    ThreadPool one(1), two(2);
    const KernelLevel saved = kernel_level();
    for (int level = 0; level <= static_cast<int>(max_kernel_level()); ++level) {
        set_kernel_level(static_cast<KernelLevel>(level));
        for (const int64_t n_tokens : {2, 3, 5, 17, 38}) {
            ThreadPool& pool = n_tokens % 2 ? one : two;
            const int64_t x_stride = c.n_cols + 3, y_stride = kRows + 2;
            std::vector<float> x(static_cast<size_t>(n_tokens * x_stride));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (float& v : x) {
                v = normal(rng);
            }
            x.at(1) = 11.0f; // an outlier, as real activations have
            std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tokens));
            std::vector<float> batch(static_cast<size_t>(n_tokens * y_stride), -1.0f);
            matmul(matrix, x.data(), n_tokens, x_stride, batch.data(), y_stride, scratch.data(),
                   pool);
            std::vector<float> alone(static_cast<size_t>(kRows));
            for (int64_t t = 0; t < n_tokens; ++t) {
                matmul(matrix, x.data() + t * x_stride, 1, x_stride, alone.data(), kRows,
                       scratch.data(), pool);
                for (int64_t r = 0; r < kRows; ++r) {
                    const float got = batch[static_cast<size_t>(t * y_stride + r)];
                    const float want = alone[static_cast<size_t>(r)];
                    QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                             qPrintable(QString("%1 level %2, %3 tokens: token %4 row %5 batched "
                                                "%6, alone %7")
                                            .arg(type_name(c.type))
                                            .arg(kernel_level_name(KernelLevel(level)))
                                            .arg(n_tokens)
                                            .arg(t)
                                            .arg(r)
                                            .arg(static_cast<double>(got), 0, 'g', 9)
                                            .arg(static_cast<double>(want), 0, 'g', 9)));
                }
            }
        }
    }
    set_kernel_level(saved);
}

} // namespace

class TestMatmulBatchBits : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { qInfo("kernel level: %s", kernel_level_name(max_kernel_level())); }

    void batch_equals_single_tokens_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < std::size(kCases); ++i) {
            QTest::newRow(qPrintable(type_name(kCases[i].type))) << static_cast<int>(i);
        }
    }

    void batch_equals_single_tokens() {
        QFETCH(int, index);
        check_type(kCases[static_cast<size_t>(index)]);
    }

    // The scaled kernels (which matmul() takes for these types at the avx2 level, one token or
    // many) give the bits of the per-row kernels, which read the f16 scales themselves and are
    // held to ggml's bits elsewhere: 1..4 tokens per call, every token offset.
    void scaled_kernels_equal_per_row_kernels() {
        if (const char* why = hearth::test::avx2_level_unavailable("the scaled AVX2 kernels")) {
            QSKIP(why);
        }
        for (const TypeCase& c : kCases) {
            if (c.type == TensorType::Q6_K) {
                continue;
            }
            const VecDotScaledFn scaled = vec_dot_scaled_avx2(c.type);
            const VecDotFn plain = vec_dot_avx2(c.type);
            QVERIFY2(scaled && plain, qPrintable(type_name(c.type)));
            std::mt19937 rng(5 + static_cast<unsigned>(c.type));
            constexpr int64_t kRows = 5, kTokens = 7;
            const auto traits = hearth::tensor_type_traits(c.type);
            const size_t row_bytes =
                static_cast<size_t>(c.n_cols / traits.block_size) * traits.type_size;
            const std::vector<uint8_t> w =
                hearth::test::random_weight_rows(c, kRows, c.n_cols, rng);
            const size_t act_bytes = activation_row_bytes(c.type, c.n_cols);
            const int64_t n_scales = activation_scale_count(c.type, c.n_cols);
            std::vector<uint8_t> act(act_bytes * kTokens);
            std::vector<float> scales(static_cast<size_t>(n_scales * kTokens));
            std::vector<float> x(static_cast<size_t>(c.n_cols));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            for (int64_t t = 0; t < kTokens; ++t) {
                for (float& v : x) {
                    v = normal(rng);
                }
                quantize_activation_row(c.type, x.data(), act.data() + t * act_bytes, c.n_cols);
                activation_scales(c.type, act.data() + t * act_bytes, scales.data() + t * n_scales,
                                  c.n_cols);
            }
            for (int64_t r = 0; r < kRows; ++r) {
                const uint8_t* row = w.data() + r * row_bytes;
                for (int n_tok = 1; n_tok <= kMaxTokens; ++n_tok) {
                    for (int64_t t0 = 0; t0 + n_tok <= kTokens; ++t0) {
                        float got[kMaxTokens], want[kMaxTokens];
                        scaled(c.n_cols, row, act.data() + t0 * act_bytes, act_bytes,
                               scales.data() + t0 * n_scales, static_cast<size_t>(n_scales), got, 1,
                               n_tok);
                        plain(c.n_cols, row, act.data() + t0 * act_bytes, act_bytes, want, 1,
                              n_tok);
                        for (int t = 0; t < n_tok; ++t) {
                            QVERIFY2(std::bit_cast<uint32_t>(got[t]) ==
                                         std::bit_cast<uint32_t>(want[t]),
                                     qPrintable(QString("%1 row %2 token %3 (%4 at once): %5, "
                                                        "per-row kernel %6")
                                                    .arg(type_name(c.type))
                                                    .arg(r)
                                                    .arg(t0 + t)
                                                    .arg(n_tok)
                                                    .arg(static_cast<double>(got[t]), 0, 'g', 9)
                                                    .arg(static_cast<double>(want[t]), 0, 'g', 9)));
                        }
                    }
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestMatmulBatchBits)
#include "tst_matmul_batch_bits.moc"
