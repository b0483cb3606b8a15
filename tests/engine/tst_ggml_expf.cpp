// ggml_v_expf's vector form in cpu/ggml_numerics.cpp (through soft_max_f32 and swiglu_f32)
// against the same operations written out one lane at a time, bit for bit: every 509th float
// bit pattern (so every exponent, both signs, the subnormals, infinities and NaNs), a dense
// sweep of the arguments whose results are subnormal or zero (the lanes ggml takes through its
// slower branches), and softmax rows with masked -INF cells. The scalar form is ggml's
// (ggml/src/ggml-cpu/simd-mappings.h, ggml_v_expf for AVX2) operation by operation: each FMA
// an explicit std::fma, each product rounded on its own.
#include "cpu/cpu_features.h"
#include "cpu/ggml_numerics.h"
#include "kernel_levels.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace hearth::cpu;

namespace {

float expf_lane(float x) {
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const uint32_t e = std::bit_cast<uint32_t>(z) << 23;
    const float k = std::bit_cast<float>(e + std::bit_cast<uint32_t>(1.0f));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, 0x1.ffffecp-1f * b);
    if (!(std::fabs(n) > 126.0f)) {
        return std::fma(k, j, k);
    }
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = std::bit_cast<float>(g + 0x7f000000u);
    const float s2 = std::bit_cast<float>(e - g);
    if (std::fabs(n) > 192.0f) {
        return s1 * s1;
    }
    return std::fma(s2, j, s2) * s1;
}

// soft_max_f32's sum of one 8-lane chunk: high half + low half, then movehl, then movehdup.
float chunk_sum(const float* v) {
    float t[4];
    for (int i = 0; i < 4; ++i) {
        t[i] = v[4 + i] + v[i];
    }
    const float a0 = t[0] + t[2], a1 = t[1] + t[3];
    return a0 + a1;
}

// The same bits, or both NaN: which NaN an FMA passes on depends on which operand the compiler
// puts first (and the scalar form negates n where the vector FNMADD negates the product), so
// a NaN's sign and payload are not part of ggml's numerics.
bool same(float a, float b) {
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) ||
           (std::isnan(a) && std::isnan(b));
}

QString describe(const char* what, size_t i, float x, float got, float want) {
    return QStringLiteral("%1 [%2]: x %3 (0x%4) gave 0x%5, want 0x%6")
        .arg(what)
        .arg(i)
        .arg(double(x))
        .arg(std::bit_cast<uint32_t>(x), 8, 16, QLatin1Char('0'))
        .arg(std::bit_cast<uint32_t>(got), 8, 16, QLatin1Char('0'))
        .arg(std::bit_cast<uint32_t>(want), 8, 16, QLatin1Char('0'));
}

// The arguments: the bit-pattern sweep, the dense sweep over [-200, 200] (past both of ggml's
// thresholds, |n| > 126 and > 192), and the special values; shuffled so that chunks mix lanes
// of every branch.
std::vector<float> arguments() {
    std::vector<float> x;
    for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 509) {
        x.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    }
    for (float v = -200.0f; v <= 200.0f; v += 0.00390625f) {
        x.push_back(v);
    }
    const float inf = std::numeric_limits<float>::infinity();
    for (float v : {inf, -inf, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                    std::numeric_limits<float>::lowest()}) {
        x.push_back(v);
    }
    std::shuffle(x.begin(), x.end(), std::mt19937(5));
    return x;
}

} // namespace

class TestGgmlExpf : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("ggml's AVX2 exp")) {
            QSKIP(why);
        }
    }

    // soft_max_f32 with max 0: y = exp(x) lane by lane, the sum chunk by chunk.
    void softmaxExpHasGgmlBits() {
        const std::vector<float> x = arguments();
        const auto n = static_cast<int64_t>(x.size() / 8 * 8);
        std::vector<float> y(x.size());
        const double sum = ggml::soft_max_f32(n, y.data(), x.data(), 0.0f);
        double want_sum = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const float want = expf_lane(x[size_t(i)] - 0.0f);
            if (!same(y[size_t(i)], want)) {
                QFAIL(qPrintable(describe("exp", size_t(i), x[size_t(i)], y[size_t(i)], want)));
            }
        }
        for (int64_t i = 0; i < n; i += 8) {
            want_sum += static_cast<double>(chunk_sum(y.data() + i));
        }
        QVERIFY(std::isnan(want_sum)); // the sweep holds NaNs
        QVERIFY(std::isnan(sum));
    }

    // Softmax rows as attention hands them over: scores, a max, and masked -INF cells at the
    // end; rows of 1..70 cells (the scalar tail of a row not a multiple of 8 included).
    void softmaxRowsWithMaskedCells() {
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(0.0f, 40.0f);
        for (int n = 1; n <= 70; ++n) {
            std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
            float max = -std::numeric_limits<float>::infinity();
            const int used = 1 + int(rng() % unsigned(n));
            for (int i = 0; i < n; ++i) {
                x[size_t(i)] = i < used ? normal(rng) : -std::numeric_limits<float>::infinity();
                max = std::max(max, x[size_t(i)]);
            }
            const double sum = ggml::soft_max_f32(n, y.data(), x.data(), max);
            double want_sum = 0.0;
            const int whole = n / 8 * 8;
            for (int i = 0; i < n; ++i) {
                const float want =
                    i < whole ? expf_lane(x[size_t(i)] - max) : std::exp(x[size_t(i)] - max);
                QVERIFY2(same(y[size_t(i)], want),
                         qPrintable(describe("row", size_t(i), x[size_t(i)], y[size_t(i)], want)));
            }
            for (int i = 0; i < whole; i += 8) {
                want_sum += static_cast<double>(chunk_sum(y.data() + i));
            }
            for (int i = whole; i < n; ++i) {
                want_sum += static_cast<double>(y[size_t(i)]);
            }
            QVERIFY(std::bit_cast<uint64_t>(sum) == std::bit_cast<uint64_t>(want_sum));
        }
    }

    // swiglu_f32: x / (1 + exp(0 - x)) * g, with g = 1 and g random.
    void swigluHasGgmlBits() {
        const std::vector<float> x = arguments();
        const auto n = static_cast<int64_t>(x.size() / 8 * 8);
        std::vector<float> g(x.size()), y(x.size());
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> gate(-3.0f, 3.0f);
        for (float& v : g) {
            v = gate(rng);
        }
        ggml::swiglu_f32(n, y.data(), x.data(), g.data());
        for (int64_t i = 0; i < n; ++i) {
            const float xi = x[size_t(i)];
            const float want = (xi / (1.0f + expf_lane(0.0f - xi))) * g[size_t(i)];
            if (!same(y[size_t(i)], want)) {
                QFAIL(qPrintable(describe("swiglu", size_t(i), xi, y[size_t(i)], want)));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestGgmlExpf)
#include "tst_ggml_expf.moc"
