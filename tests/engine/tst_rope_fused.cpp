// apply_rope's fused rotation (the avx2 level: ggml's FMA build contracts the rotation, so the
// rotated q and k keep its bits) against the rotation written out here with std::fma, bit for
// bit: both layouts, whole and partial rotations (n_rot below head_dim leaves the rest alone),
// one and several heads, angles of early and late positions, ordinary and extreme values. The
// rotation runs in ggml_numerics.cpp's FMA build (one vfmadd per std::fma); this file is built
// without FMA, so its std::fma is libm's, which rounds once too: the bits must agree.
#include "cpu/rope.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace hearth;
using namespace hearth::cpu;

namespace {

// The rotation of pair (x0, x1) by (cos, sin) as ggml's FMA build computes it.
void rotate_reference(float* x, int n_heads, int head_dim, int n_rot, RopeLayout layout,
                      const float* cos_t, const float* sin_t) {
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (int i = 0; i < n_rot / 2; ++i) {
            const int a = layout == RopeLayout::neox ? i : 2 * i;
            const int b = layout == RopeLayout::neox ? i + n_rot / 2 : 2 * i + 1;
            const float x0 = v[a];
            const float x1 = v[b];
            v[a] = std::fma(x0, cos_t[i], -(x1 * sin_t[i]));
            v[b] = std::fma(x0, sin_t[i], x1 * cos_t[i]);
        }
    }
}

// Head values: normal ones, with a few extremes (large, tiny, negative zero) among them.
std::vector<float> random_heads(int n_heads, int head_dim, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> x(static_cast<size_t>(n_heads) * head_dim);
    for (float& v : x) {
        v = normal(rng);
    }
    const float extremes[] = {6.5e4f, -3.0e38f, 1.0e-30f, -0.0f, 123456.75f};
    for (size_t i = 0; i < std::size(extremes) && i < x.size(); ++i) {
        x[(i * 7 + 3) % x.size()] = extremes[i];
    }
    return x;
}

} // namespace

class TestRopeFused : public QObject {
    Q_OBJECT

private slots:
    void fused_rotation_has_the_fma_bits_data() {
        QTest::addColumn<int>("layout");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_rot");
        QTest::addColumn<int>("n_heads");
        for (const RopeLayout layout : {RopeLayout::normal, RopeLayout::neox}) {
            const char* name = layout == RopeLayout::neox ? "neox" : "normal";
            for (const auto& [head_dim, n_rot, n_heads] :
                 {std::tuple{64, 64, 9}, std::tuple{64, 64, 1}, std::tuple{128, 128, 4},
                  std::tuple{128, 64, 3}, std::tuple{80, 32, 5}, std::tuple{2, 2, 7}}) {
                QTest::newRow(qPrintable(QString("%1 head_dim %2 n_rot %3 heads %4")
                                             .arg(name)
                                             .arg(head_dim)
                                             .arg(n_rot)
                                             .arg(n_heads)))
                    << static_cast<int>(layout) << head_dim << n_rot << n_heads;
            }
        }
    }

    void fused_rotation_has_the_fma_bits() {
        QFETCH(int, layout);
        QFETCH(int, head_dim);
        QFETCH(int, n_rot);
        QFETCH(int, n_heads);
        if (const char* why = test::avx2_level_unavailable("the fused RoPE (FMA)")) {
            QSKIP(why);
        }
        const auto rope_layout = static_cast<RopeLayout>(layout);
        std::mt19937 rng(static_cast<unsigned>(head_dim * 31 + n_rot * 7 + n_heads + layout));
        RopeParams params;
        params.n_rot = n_rot;
        params.freq_base = 10000.0f;
        std::vector<float> cos_t(static_cast<size_t>(n_rot / 2)), sin_t(cos_t.size());
        for (const uint32_t pos : {0u, 1u, 30u, 4095u, 131071u}) {
            rope_angles(params, pos, cos_t.data(), sin_t.data());
            const std::vector<float> x = random_heads(n_heads, head_dim, rng);
            std::vector<float> want = x, got = x;
            rotate_reference(want.data(), n_heads, head_dim, n_rot, rope_layout, cos_t.data(),
                             sin_t.data());
            apply_rope(got.data(), n_heads, head_dim, n_rot, rope_layout, cos_t.data(),
                       sin_t.data(), true);
            for (size_t i = 0; i < x.size(); ++i) {
                QVERIFY2(std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i]),
                         qPrintable(QString("position %1, value %2 (head %3, index %4): %5, the "
                                            "fma rotation gives %6")
                                        .arg(pos)
                                        .arg(i)
                                        .arg(i / static_cast<size_t>(head_dim))
                                        .arg(i % static_cast<size_t>(head_dim))
                                        .arg(static_cast<double>(got[i]), 0, 'g', 9)
                                        .arg(static_cast<double>(want[i]), 0, 'g', 9)));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestRopeFused)
#include "tst_rope_fused.moc"
