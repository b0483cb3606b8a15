// The two ways attention_ggml deals one layer's work to the threads (cpu/attention_ggml.h,
// AttentionSplit): by GQA group, and flash-decoding's split of each token's cache by cells and
// output values. Both must give the same bits, on one thread and on two, for GQA groups of 1,
// 3 and 8, head sizes that are and are not multiples of the split's 32 values, caches whose
// length is not a multiple of its 256-cell chunks, sliding windows (masked cells), soft caps
// and sinks, and batches of one token and of several sequences at different depths.
#include "cpu/attention_ggml.h"
#include "cpu/cpu_features.h"
#include "cpu/kv_cache.h"
#include "cpu/thread_pool.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <vector>

using namespace hearth::cpu;

namespace {

struct Shape {
    int n_head_kv, group, head_dim;
    uint32_t sliding_window; // 0: none
    float soft_cap;          // 0: none
    bool sinks;
};

// A batch of tokens, each in its own cache filled with random keys and values up to its
// position, with random queries.
struct Fixture {
    Shape shape;
    std::vector<std::unique_ptr<KvCache>> caches;
    std::vector<BatchToken> batch;
    std::vector<float> q, sinks;

    Fixture(const Shape& s, const std::vector<uint32_t>& positions, uint32_t seed) : shape(s) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> value(-1.0f, 1.0f);
        const uint32_t width = uint32_t(s.n_head_kv) * uint32_t(s.head_dim);
        std::vector<float> k(width), v(width);
        for (uint32_t pos : positions) {
            caches.push_back(std::make_unique<KvCache>(1, pos + 1, width, width));
            for (uint32_t cell = 0; cell <= pos; ++cell) {
                for (uint32_t i = 0; i < width; ++i) {
                    k[i] = 2.0f * value(rng); // wide enough that the softmax is not flat
                    v[i] = value(rng);
                }
                caches.back()->store(0, cell, k.data(), v.data());
            }
            batch.push_back({.pos = pos, .cache = caches.back().get()});
        }
        q.resize(positions.size() * size_t(n_head()) * size_t(s.head_dim));
        for (auto& x : q) {
            x = value(rng);
        }
        for (int h = 0; h < n_head(); ++h) {
            sinks.push_back(value(rng));
        }
    }

    int n_head() const { return shape.n_head_kv * shape.group; }

    // The layer's output for the tokens [first, first + count) (all: count 0) as one batch,
    // dealt to `threads` threads the `split` way.
    std::vector<float> run(AttentionSplit split, int threads, size_t first = 0,
                           size_t count = 0) const {
        const std::span<const BatchToken> tokens =
            std::span(batch).subspan(first, count == 0 ? batch.size() - first : count);
        uint32_t n_kv_max = 0;
        for (const auto& t : tokens) {
            n_kv_max = std::max(n_kv_max, (t.pos + 1 + 31) / 32 * 32);
        }
        const size_t q_width = size_t(n_head()) * size_t(shape.head_dim);
        std::vector<float> out(tokens.size() * q_width, NAN);
        const LayerAttention a{
            .layer = 0,
            .n_head = n_head(),
            .head_dim_k = shape.head_dim,
            .head_dim_v = shape.head_dim,
            .group = shape.group,
            .q_width = size_t(n_head()) * size_t(shape.head_dim),
            .o_width = size_t(n_head()) * size_t(shape.head_dim),
            .v_width = int64_t(shape.n_head_kv) * shape.head_dim,
            .sliding = shape.sliding_window > 0,
            .sliding_window = shape.sliding_window,
            .sinks = shape.sinks ? sinks.data() : nullptr,
            .q_scale = 1.0f,
            .score_scale = 1.0f / std::sqrt(float(shape.head_dim)),
            .soft_cap = ScoreSoftCap(shape.soft_cap),
            .n_kv_max = n_kv_max,
            .batch_tinyblas = tokens.size() >= 2,
            .q_all = q.data() + first * q_width,
            .attn_out = out.data(),
        };
        ThreadPool pool(threads);
        attention_ggml_layer(a, tokens, pool, split);
        return out;
    }
};

bool identical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

class TestAttentionSplit : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("attention_ggml's kernels")) {
            QSKIP(why);
        }
    }

    void same_bits_data() {
        QTest::addColumn<int>("n_head_kv");
        QTest::addColumn<int>("group");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("sliding_window");
        QTest::addColumn<float>("soft_cap");
        QTest::addColumn<bool>("sinks");
        QTest::addColumn<std::vector<uint32_t>>("positions");
        const std::vector<uint32_t> decode_depths[] = {{0}, {36}, {255}, {256}, {700}, {1030}};
        for (int group : {1, 3, 8}) {
            for (int head_dim : {64, 40, 128}) {
                for (const auto& positions : decode_depths) {
                    QTest::addRow("gqa%d d%d pos%u", group, head_dim, positions[0])
                        << 2 << group << head_dim << 0 << 0.0f << false << positions;
                }
            }
        }
        QTest::addRow("sliding window 100")
            << 3 << 3 << 64 << 100 << 0.0f << false << std::vector<uint32_t>{600};
        QTest::addRow("sliding window 300")
            << 1 << 8 << 64 << 300 << 0.0f << false << std::vector<uint32_t>{299};
        QTest::addRow("soft cap and sinks")
            << 2 << 4 << 64 << 0 << 30.0f << true << std::vector<uint32_t>{517};
        QTest::addRow("three sequences")
            << 3 << 3 << 64 << 0 << 0.0f << false << std::vector<uint32_t>{5, 800, 300};
        QTest::addRow("two sequences, window")
            << 2 << 8 << 128 << 64 << 0.0f << false << std::vector<uint32_t>{70, 1000};
    }

    // Every output value has the same bits whichever way the work is split, on 1 or 2 threads
    // (the by-group path on one thread is the reference: attention_ggml's path before the
    // split, held to llama.cpp's bits by tst_architectures).
    void same_bits() {
        QFETCH(int, n_head_kv);
        QFETCH(int, group);
        QFETCH(int, head_dim);
        QFETCH(int, sliding_window);
        QFETCH(float, soft_cap);
        QFETCH(bool, sinks);
        QFETCH(std::vector<uint32_t>, positions);
        const Fixture f({n_head_kv, group, head_dim, uint32_t(sliding_window), soft_cap, sinks},
                        positions, uint32_t(n_head_kv * 1000 + group * 100 + head_dim));
        const std::vector<float> reference = f.run(AttentionSplit::by_group, 1);
        for (float x : reference) {
            QVERIFY(std::isfinite(x)); // every value written
        }
        QVERIFY(identical(reference, f.run(AttentionSplit::by_group, 2)));
        QVERIFY(identical(reference, f.run(AttentionSplit::by_cells, 1)));
        QVERIFY(identical(reference, f.run(AttentionSplit::by_cells, 2)));
        QVERIFY(identical(reference, f.run(AttentionSplit::automatic, 2)));
    }

    // A token's result does not depend on the batch it rides in: alone (decode, split by
    // cells) and beside other sequences (split by group) give the same bits where the
    // kernels are the same.
    void independent_of_batch() {
        Fixture pair({3, 3, 64, 0, 0.0f, false}, {900, 40}, 7);
        for (auto& t : pair.batch) {
            t.kernels = AttentionKernels::single_token;
        }
        const std::vector<float> together = pair.run(AttentionSplit::automatic, 2);
        const size_t width = size_t(pair.n_head()) * 64;
        for (size_t t = 0; t < 2; ++t) {
            const std::vector<float> alone = pair.run(AttentionSplit::automatic, 2, t, 1);
            QVERIFY(identical(alone, std::vector<float>(together.begin() + long(t * width),
                                                        together.begin() + long((t + 1) * width))));
        }
    }
};

QTEST_GUILESS_MAIN(TestAttentionSplit)
#include "tst_attention_split.moc"
