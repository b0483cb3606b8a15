// The register-tiled attention products (cpu/attention_tiles.h) against their one-at-a-time
// forms in ggml_numerics.h, bit for bit: both orders (tinyBLAS for prompt batches,
// ggml_vec_dot_f16 for single tokens), the query heads of GQA groups of 1, 3 and 8 (tiles of up
// to four, as attention_ggml takes them), head sizes that are and are not multiples of the
// tiles, and visible cell ranges that start and end off the tiles' and lanes' boundaries. The
// one-at-a-time forms are held to llama.cpp's bits by tst_architectures and tst_generation.
#include "cpu/attention_tiles.h"
#include "cpu/cpu_features.h"
#include "cpu/ggml_numerics.h"
#include "hearth/quant.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using namespace hearth::cpu;
using ggml::DotOrder;
using hearth::fp16_to_fp32;
using hearth::fp32_to_fp16;

namespace {

std::vector<uint16_t> random_f16(size_t n, std::mt19937& rng, float range) {
    std::uniform_real_distribution<float> value(-range, range);
    std::vector<uint16_t> out(n);
    for (auto& x : out) {
        x = fp32_to_fp16(value(rng));
    }
    return out;
}

// A cell range [first, last] of a cache of n_kv (padded) cells, as one token sees it.
struct CellRange {
    int64_t first, last, n_kv;
};

const CellRange kRanges[] = {
    {0, 0, 32},   {0, 6, 32},    {0, 31, 32},  {0, 32, 64},  {3, 40, 64},
    {13, 77, 96}, {0, 100, 128}, {29, 95, 96}, {64, 64, 96}, {5, 287, 288},
};

const int kGroups[] = {1, 3, 8};

} // namespace

class TestAttentionTiles : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the tiled attention kernels")) {
            QSKIP(why);
        }
    }

    void key_dots_data() {
        QTest::addColumn<int>("order");
        QTest::addColumn<int>("k");
        for (int k : {8, 40, 64, 80, 128, 256}) {
            QTest::addRow("tinyblas k=%d", k) << int(DotOrder::tinyblas) << k;
        }
        for (int k : {32, 64, 72, 96, 128, 40}) { // 72, 40: leftovers summed in double
            QTest::addRow("vec_dot k=%d", k) << int(DotOrder::vec_dot) << k;
        }
    }

    // Every score has the bits of its one-at-a-time dot product; cells outside the range are
    // left alone.
    void key_dots() {
        QFETCH(int, order);
        QFETCH(int, k);
        const auto dot_order = static_cast<DotOrder>(order);
        std::mt19937 rng(static_cast<uint32_t>(k * 7 + order));
        constexpr float kUntouched = -12345.0f;
        for (int group : kGroups) {
            for (const CellRange& range : kRanges) {
                const int64_t n_kv_head = 2;
                const int64_t stride = n_kv_head * k;
                const auto keys = random_f16(size_t(range.n_kv * stride), rng, 2.0f);
                const auto queries = random_f16(size_t(group) * k, rng, 2.0f);
                const uint16_t* k_rows = keys.data() + k; // KV head 1 of 2
                std::vector<float> scores(size_t(group) * range.n_kv, kUntouched);
                for (int r0 = 0; r0 < group; r0 += ggml::kMaxTileQueries) {
                    const int n_q = std::min(ggml::kMaxTileQueries, group - r0);
                    const uint16_t* q[ggml::kMaxTileQueries];
                    float* out[ggml::kMaxTileQueries];
                    for (int r = 0; r < n_q; ++r) {
                        q[r] = queries.data() + size_t(r0 + r) * k;
                        out[r] = scores.data() + size_t(r0 + r) * range.n_kv;
                    }
                    ggml::key_dots_f16(dot_order, k, q, n_q, k_rows, stride, range.first,
                                       range.last, out);
                }
                for (int r = 0; r < group; ++r) {
                    for (int64_t j = 0; j < range.n_kv; ++j) {
                        const float got = scores[size_t(r) * range.n_kv + size_t(j)];
                        if (j < range.first || j > range.last) {
                            QCOMPARE(got, kUntouched);
                            continue;
                        }
                        const uint16_t* key = k_rows + j * stride;
                        const uint16_t* query = queries.data() + size_t(r) * k;
                        const float want = dot_order == DotOrder::tinyblas
                                               ? ggml::tinyblas_dot_f16(k, key, query)
                                               : ggml::vec_dot_f16(k, key, query);
                        if (std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want)) {
                            QFAIL(qPrintable(QStringLiteral("group %1, cells %2..%3: query %4, "
                                                            "cell %5: %6, expected %7")
                                                 .arg(group)
                                                 .arg(range.first)
                                                 .arg(range.last)
                                                 .arg(r)
                                                 .arg(j)
                                                 .arg(double(got), 0, 'g', 9)
                                                 .arg(double(want), 0, 'g', 9)));
                        }
                    }
                }
            }
        }
    }

    void weighted_rows_data() {
        QTest::addColumn<int>("order");
        QTest::addColumn<int>("dim");
        for (int dim : {8, 40, 64, 72, 128, 256}) {
            QTest::addRow("tinyblas dim=%d", dim) << int(DotOrder::tinyblas) << dim;
            QTest::addRow("vec_dot dim=%d", dim) << int(DotOrder::vec_dot) << dim;
        }
    }

    // Every output has the bits of weighted_rows_f16, and is close to the weighted sum in
    // double (so that a kernel summing nothing cannot pass by matching a broken original).
    void weighted_rows() {
        QFETCH(int, order);
        QFETCH(int, dim);
        const auto dot_order = static_cast<DotOrder>(order);
        std::mt19937 rng(static_cast<uint32_t>(dim * 13 + order));
        std::uniform_real_distribution<float> prob(0.0f, 0.05f);
        for (int group : kGroups) {
            for (const CellRange& range : kRanges) {
                const int64_t stride = 3 * dim; // KV head 2 of 3
                const auto values = random_f16(size_t(range.n_kv * stride), rng, 4.0f);
                const uint16_t* v = values.data() + 2 * dim;
                std::vector<std::vector<uint16_t>> p16(group);
                std::vector<std::vector<float>> w(group);
                for (int r = 0; r < group; ++r) {
                    p16[r].assign(size_t(range.n_kv), 0);
                    w[r].assign(size_t(range.n_kv), 0.0f);
                    for (int64_t j = range.first; j <= range.last; ++j) {
                        p16[r][j] = fp32_to_fp16(prob(rng));
                        w[r][j] = fp16_to_fp32(p16[r][j]);
                    }
                }
                std::vector<float> got(size_t(group) * dim, NAN);
                for (int r0 = 0; r0 < group; r0 += ggml::kMaxTileQueries) {
                    const int n_q = std::min(ggml::kMaxTileQueries, group - r0);
                    const float* weights[ggml::kMaxTileQueries];
                    float* out[ggml::kMaxTileQueries];
                    for (int r = 0; r < n_q; ++r) {
                        weights[r] = w[r0 + r].data();
                        out[r] = got.data() + size_t(r0 + r) * dim;
                    }
                    QVERIFY(ggml::weighted_rows_f16_tiled(dot_order, dim, v, stride, range.first,
                                                          range.last, range.n_kv, weights, n_q,
                                                          out));
                }
                std::vector<float> want(static_cast<size_t>(dim));
                for (int r = 0; r < group; ++r) {
                    ggml::weighted_rows_f16(dot_order == DotOrder::tinyblas, dim, v, stride,
                                            range.first, range.last, range.n_kv, p16[r].data(),
                                            want.data());
                    for (int d = 0; d < dim; ++d) {
                        const float g = got[size_t(r) * dim + size_t(d)];
                        double exact = 0.0, magnitude = 0.0;
                        for (int64_t j = range.first; j <= range.last; ++j) {
                            const double term = double(fp16_to_fp32(v[j * stride + d])) * w[r][j];
                            exact += term;
                            magnitude += std::abs(term);
                        }
                        QVERIFY2(std::abs(double(g) - exact) <= 1e-5 * magnitude + 1e-7,
                                 qPrintable(QStringLiteral("far from the exact sum: %1 vs %2")
                                                .arg(double(g))
                                                .arg(exact)));
                        if (std::bit_cast<uint32_t>(g) != std::bit_cast<uint32_t>(want[d])) {
                            QFAIL(qPrintable(QStringLiteral("group %1, cells %2..%3: query %4, "
                                                            "dim %5: %6, expected %7")
                                                 .arg(group)
                                                 .arg(range.first)
                                                 .arg(range.last)
                                                 .arg(r)
                                                 .arg(d)
                                                 .arg(double(g), 0, 'g', 9)
                                                 .arg(double(want[d]), 0, 'g', 9)));
                        }
                    }
                }
            }
        }
    }

    // The shapes without a tiled form are declined, not computed wrong.
    void weighted_rows_declines() {
        const std::vector<uint16_t> v(64 * 12, 0);
        const std::vector<float> w(64, 0.5f);
        std::vector<float> out(12, 0.0f);
        const float* weights[1] = {w.data()};
        float* outs[1] = {out.data()};
        QVERIFY(!ggml::weighted_rows_f16_tiled(DotOrder::tinyblas, 12, v.data(), 12, 0, 40, 64,
                                               weights, 1, outs));
        // vec_dot_f16's leftover cells (past the last multiple of 32) are summed in double.
        QVERIFY(!ggml::weighted_rows_f16_tiled(DotOrder::vec_dot, 8, v.data(), 8, 0, 40, 48,
                                               weights, 1, outs));
        QVERIFY(!ggml::weighted_rows_f16_tiled(DotOrder::vec_dot, 8, v.data(), 8, 0, 3, 32, weights,
                                               0, outs));
    }

    // The softmax's row preparation: the scaled, masked row and its max have the scalar
    // loop's bits, for ranges that start and end off the 8-wide steps (and empty tails).
    void scale_mask_max() {
        std::mt19937 rng(11);
        std::uniform_real_distribution<float> value(-30.0f, 30.0f);
        for (const CellRange& range : kRanges) {
            std::vector<float> row(static_cast<size_t>(range.n_kv));
            for (auto& x : row) {
                x = value(rng);
            }
            std::vector<float> want = row;
            float want_max = -INFINITY;
            for (int64_t j = 0; j < range.n_kv; ++j) {
                want[j] = j < range.first || j > range.last ? -INFINITY : want[j] * 0.125f;
                want_max = std::max(want_max, want[j]);
            }
            const float got_max =
                ggml::scale_mask_max(row.data(), range.n_kv, range.first, range.last, 0.125f);
            QCOMPARE(std::bit_cast<uint32_t>(got_max), std::bit_cast<uint32_t>(want_max));
            QVERIFY(std::memcmp(row.data(), want.data(), row.size() * sizeof(float)) == 0);
        }
    }

    // The weights rounded to F16 have fp32_to_fp16's bits (round to nearest even), F16
    // subnormals and values near rounding boundaries included, for lengths not multiples of 8.
    void round_weights() {
        std::mt19937 rng(12);
        std::uniform_real_distribution<float> exponent(-30.0f, 0.0f);
        for (int64_t n : {1, 7, 8, 33, 300}) {
            std::vector<float> probs(static_cast<size_t>(n));
            for (size_t j = 0; j < probs.size(); ++j) {
                // every third value an F16 nudged by about half a step
                probs[j] = j % 3 == 0 ? fp16_to_fp32(uint16_t(0x1000 + j)) * (1.0f + 0x1p-11f)
                                      : std::exp2(exponent(rng));
            }
            const float inv_sum = 0.75f;
            std::vector<uint16_t> p16(static_cast<size_t>(n));
            std::vector<float> weights(static_cast<size_t>(n));
            ggml::round_weights_f16(probs.data(), inv_sum, n, p16.data(), weights.data());
            for (size_t j = 0; j < probs.size(); ++j) {
                const uint16_t want = fp32_to_fp16(probs[j] * inv_sum);
                QCOMPARE(p16[j], want);
                QCOMPARE(std::bit_cast<uint32_t>(weights[j]),
                         std::bit_cast<uint32_t>(fp16_to_fp32(want)));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestAttentionTiles)
#include "tst_attention_tiles.moc"
