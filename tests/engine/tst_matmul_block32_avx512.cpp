// The AVX-512 register tiles of the 32-value formats (gemm_block32_avx512) against the AVX2 ones
// (gemm_block32_avx2, themselves checked against ggml's per-row kernels in tst_matmul_block32):
// bit for bit, for every format, on ragged shapes (rows and tokens not multiples of the 4 × 8
// tile, odd token counts, block counts not multiples of the 8-block scale run), with random and
// extreme data (-128 weights, ±127 activations: the largest 16-bit pair sums of ggml's
// vpmaddubsw; activations holding -128, which vpsignb cannot negate), directly and through
// matmul() on 1 and 2 threads.
#include "block32_cases.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm_block32.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;
using hearth::quant::BlockQ8_0;
using namespace hearth::cpu;

namespace {

using Block32Case = hearth::test::WeightTypeCase;

size_t row_bytes_of(TensorType type, int64_t n_cols) {
    const auto traits = hearth::tensor_type_traits(type);
    return static_cast<size_t>(n_cols) / traits.block_size * traits.type_size;
}

// How the activations are drawn: normal floats; floats of a few magnitudes, a third of them at
// ±the block maximum, so that many quantize to ±127; or (Q8_0 data only) those with every
// 9th byte forced to -128, which the quantizer never makes.
enum class Acts { normal, extreme, minus128 };

std::vector<uint8_t> activations(TensorType type, int64_t n_tok, int64_t n_cols, Acts kind,
                                 std::mt19937& rng) {
    const size_t act_bytes = activation_row_bytes(type, n_cols);
    std::vector<uint8_t> x(act_bytes * static_cast<size_t>(n_tok));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> pick(0, 2);
    std::vector<float> xf(static_cast<size_t>(n_cols));
    for (int64_t t = 0; t < n_tok; ++t) {
        for (float& v : xf) {
            v = kind == Acts::normal ? normal(rng) : (pick(rng) == 0 ? 1e4f : normal(rng));
            v = pick(rng) == 1 ? -v : v;
        }
        uint8_t* row = x.data() + t * act_bytes;
        quantize_activation_row(type, xf.data(), row, n_cols);
        if (kind == Acts::minus128 && dot_type(type) == TensorType::Q8_0) {
            auto* blocks = reinterpret_cast<BlockQ8_0*>(row);
            for (int64_t b = 0; b < n_cols / 32; ++b) {
                for (int i = (b + t) % 9; i < 32; i += 9) {
                    blocks[b].qs[i] = -128;
                }
            }
        }
    }
    return x;
}

// Random rows; with `extreme`, Q8_0's quant bytes drawn from {-128, -127, 127} only.
std::vector<uint8_t> weights(const Block32Case& c, int64_t n_rows, int64_t n_cols, bool extreme,
                             std::mt19937& rng) {
    auto w =
        hearth::test::random_weight_rows(c, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
    if (extreme && c.type == TensorType::Q8_0) {
        const int8_t values[3] = {-128, -127, 127};
        std::uniform_int_distribution<int> pick(0, 2);
        auto* blocks = reinterpret_cast<BlockQ8_0*>(w.data());
        for (int64_t b = 0; b < n_rows * n_cols / 32; ++b) {
            for (int8_t& q : blocks[b].qs) {
                q = values[pick(rng)];
            }
        }
    }
    return w;
}

QString where(TensorType type, int64_t n_rows, int64_t n_cols, int64_t n_tok, size_t at) {
    return QString("%1: rows %2 cols %3 tokens %4, first difference at %5")
        .arg(QString::fromLatin1(hearth::tensor_type_name(type).data()))
        .arg(n_rows)
        .arg(n_cols)
        .arg(n_tok)
        .arg(at);
}

size_t first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t k = 0; k < a.size(); ++k) {
        if (std::memcmp(&a[k], &b[k], sizeof(float)) != 0) {
            return k;
        }
    }
    return a.size();
}

} // namespace

class TestMatmulBlock32Avx512 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::enable_avx512_kernels("the AVX-512 tiles")) {
            QSKIP(why);
        }
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // Every tile shape as edges of larger calls, each kind of data, every format: the bits of
    // the AVX2 tiles, nothing written past n_rows.
    void tiles_match_avx2_tiles() {
        std::mt19937 rng(512);
        for (const Block32Case& c : hearth::test::kBlock32Cases) {
            for (const int64_t n_cols : {32, 288, 1056}) {
                const size_t row_bytes = row_bytes_of(c.type, n_cols);
                const size_t act_bytes = activation_row_bytes(c.type, n_cols);
                for (const int64_t n_rows : {1, 2, 3, 4, 5, 7, 9, 70}) {
                    for (const Acts kind : {Acts::normal, Acts::extreme, Acts::minus128}) {
                        const auto w = weights(c, n_rows, n_cols, kind != Acts::normal, rng);
                        for (const int64_t n_tok : {1, 2, 3, 7, 8, 9, 17, 33, 70}) {
                            const auto x = activations(c.type, n_tok, n_cols, kind, rng);
                            const int64_t y_stride = n_rows + 1;
                            const auto size = static_cast<size_t>(n_tok * y_stride);
                            std::vector<float> want(size, -12345.0f), got(size, -12345.0f);
                            gemm_block32_avx2(c.type, n_cols, w.data(), row_bytes, n_rows, x.data(),
                                              act_bytes, n_tok, want.data(), y_stride);
                            gemm_block32_avx512(c.type, n_cols, w.data(), row_bytes, n_rows,
                                                x.data(), act_bytes, n_tok, got.data(), y_stride);
                            const size_t at = first_difference(got, want);
                            QVERIFY2(at == size,
                                     qPrintable(where(c.type, n_rows, n_cols, n_tok, at)));
                        }
                    }
                }
            }
        }
    }

    // The case the AVX-512 tiles hand to the AVX2 ones: -128 activations against negative
    // weights give ggml's wrapped vpsignb products, not the true ones. Checks that the data
    // does reach that case (the AVX2 tiles' result differs from the true dot product).
    void minus128_activations_keep_ggml_wrap() {
        std::mt19937 rng(128);
        const int64_t n_cols = 64, n_rows = 5, n_tok = 6;
        std::vector<BlockQ8_0> w(static_cast<size_t>(n_rows * n_cols / 32));
        std::vector<BlockQ8_0> x(static_cast<size_t>(n_tok * n_cols / 32));
        for (BlockQ8_0& b : w) {
            b.d = hearth::fp32_to_fp16(0.01f);
            for (int8_t& q : b.qs) {
                q = -100;
            }
        }
        for (BlockQ8_0& b : x) {
            b.d = hearth::fp32_to_fp16(0.02f);
            for (int8_t& q : b.qs) {
                q = -128;
            }
        }
        const size_t row_bytes = n_cols / 32 * sizeof(BlockQ8_0);
        std::vector<float> want(n_rows * n_tok), got(want.size());
        gemm_block32_avx2(TensorType::Q8_0, n_cols, w.data(), row_bytes, n_rows, x.data(),
                          row_bytes, n_tok, want.data(), n_rows);
        gemm_block32_avx512(TensorType::Q8_0, n_cols, w.data(), row_bytes, n_rows, x.data(),
                            row_bytes, n_tok, got.data(), n_rows);
        QCOMPARE(first_difference(got, want), want.size());
        // ggml: |w| * sign(-128, w) = 100 * -128 per product (vpsignb wraps), so the dot is
        // negative where the true one, 64 * 12800 * 0.01 * 0.02, is positive.
        QVERIFY(want[0] < 0.0f);
    }

    // Through matmul (row chunks over 1 and 2 threads, token tiles of 32): the AVX-512 tiles
    // give the bits of the AVX2 ones for every format and ragged shape.
    void matmul_matches_avx2_tiles() {
        std::mt19937 rng(2);
        ThreadPool one(1), two(2);
        for (const Block32Case& c : hearth::test::kBlock32Cases) {
            for (const int64_t n_rows : {1, 17, 37, 70}) {
                const int64_t n_cols = c.type == TensorType::Q8_0 ? 1056 : 256;
                const auto w = weights(c, n_rows, n_cols, true, rng);
                const WeightMatrix matrix{c.type, w.data(), n_cols, n_rows,
                                          row_bytes_of(c.type, n_cols)};
                for (const int64_t n_tok : {2, 3, 31, 33, 70}) {
                    std::normal_distribution<float> normal(0.0f, 1.0f);
                    std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                    for (float& v : x) {
                        v = normal(rng);
                    }
                    const int64_t y_stride = n_rows + 3;
                    std::vector<uint8_t> scratch(activation_row_bytes(c.type, n_cols) *
                                                 static_cast<size_t>(n_tok));
                    const auto size = static_cast<size_t>(n_tok * y_stride);
                    for (ThreadPool* pool : {&one, &two}) {
                        std::vector<float> want(size, -12345.0f), got(size, -12345.0f);
                        QVERIFY(set_avx512_kernels(false));
                        matmul(matrix, x.data(), n_tok, n_cols, want.data(), y_stride,
                               scratch.data(), *pool);
                        QVERIFY(set_avx512_kernels(true));
                        matmul(matrix, x.data(), n_tok, n_cols, got.data(), y_stride,
                               scratch.data(), *pool);
                        const size_t at = first_difference(got, want);
                        QVERIFY2(at == size, qPrintable(where(c.type, n_rows, n_cols, n_tok, at) +
                                                        QString(", %1 threads").arg(pool->size())));
                    }
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestMatmulBlock32Avx512)
#include "tst_matmul_block32_avx512.moc"
