// The activation quantizer's AVX2 block form (cpu/quantize_act_avx2.cpp) against the scalar
// form that defines the bits: every quant, d and the quant sum, on random blocks of many
// scales, rounding ties, zeros, signed zeros, subnormals, infinities and NaNs (Q8_K's 256-value
// block form too: quants, d and the sums per 16); and the row quantizers (Q8_0, Q8_1, Q8_K) at
// the avx2 level against the portable level, on rows of 1..70 blocks of 32.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "kernel_levels.h"
#include "quant/blocks.h"

#include <QObject>
#include <QtTest>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using hearth::quant::BlockQ8_0;
using namespace hearth::cpu;

namespace {

constexpr int kBlock = 32;

// A block of one of several kinds, chosen by `kind`.
void fill_block(float* x, int kind, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> pick(0, kBlock - 1);
    std::uniform_int_distribution<int> exponent(-140, 120);
    const float inf = std::numeric_limits<float>::infinity();
    for (int i = 0; i < kBlock; ++i) {
        x[i] = normal(rng);
    }
    switch (kind % 9) {
    case 0: // one scale per block, from subnormal to huge
        for (int i = 0; i < kBlock; ++i) {
            x[i] = std::ldexp(x[i], exponent(rng));
        }
        break;
    case 1: // ties: amax 127 makes id 1, so k + 0.5 rounds to even
        for (int i = 0; i < kBlock; ++i) {
            x[i] = static_cast<float>(pick(rng) * 8 - 124) + 0.5f;
        }
        x[pick(rng)] = 127.0f;
        break;
    case 2: // all zero, signed zeros among them
        for (int i = 0; i < kBlock; ++i) {
            x[i] = (i & 1) ? -0.0f : 0.0f;
        }
        break;
    case 3: // NaNs of both signs and several payloads
        for (int k = 0; k < 3; ++k) {
            uint32_t bits = 0x7fc00000u | static_cast<uint32_t>(rng() & 0x3fffffu);
            bits |= (rng() & 1u) << 31;
            std::memcpy(&x[pick(rng)], &bits, sizeof(bits));
        }
        break;
    case 4: // an infinity
        x[pick(rng)] = (rng() & 1u) ? inf : -inf;
        break;
    case 5: // subnormals only
        for (int i = 0; i < kBlock; ++i) {
            x[i] = std::ldexp(x[i], -135);
        }
        break;
    case 6: // the largest magnitude negative, at the block's edges
        x[(rng() & 1u) ? 0 : kBlock - 1] = -40.0f;
        break;
    case 7: // near the float limit
        for (int i = 0; i < kBlock; ++i) {
            x[i] = std::ldexp(x[i], 125);
        }
        break;
    default: // plain normal values
        break;
    }
}

bool same_float(float a, float b) {
    return std::memcmp(&a, &b, sizeof(a)) == 0;
}

} // namespace

class TestQuantizeAct : public QObject {
    Q_OBJECT

private slots:
    void init() {
        if (const char* why =
                hearth::test::avx2_level_unavailable("the AVX2 activation quantizer")) {
            QSKIP(why);
        }
    }
    void cleanup() { set_kernel_level(max_kernel_level()); }

    void avx2BlockHasTheScalarBits() {
        std::mt19937 rng(22);
        float x[kBlock];
        for (int n = 0; n < 20000; ++n) {
            fill_block(x, n, rng);
            int8_t q_scalar[kBlock], q_avx2[kBlock];
            float d_scalar = -1.0f, d_avx2 = -2.0f;
            const int sum_scalar = quantize_block_q8_scalar(x, q_scalar, d_scalar);
            const int sum_avx2 = quantize_block_q8_avx2(x, q_avx2, d_avx2);
            QVERIFY2(std::memcmp(q_scalar, q_avx2, kBlock) == 0, qPrintable(QString::number(n)));
            QVERIFY2(same_float(d_scalar, d_avx2), qPrintable(QString::number(n)));
            QCOMPARE(sum_avx2, sum_scalar);
        }
    }

    // Q8_K (256 values): 8 sub-blocks of fill_block's kinds, mixed, or all of one kind (so the
    // all-zero, subnormal-only and tie blocks are whole blocks too).
    void avx2Q8KBlockHasTheScalarBits() {
        std::mt19937 rng(23);
        std::vector<float> x(hearth::quant::QK_K);
        for (int n = 0; n < 4000; ++n) {
            for (int k = 0; k < hearth::quant::QK_K / kBlock; ++k) {
                fill_block(x.data() + k * kBlock, n % 2 == 0 ? n / 2 : n + k, rng);
            }
            BlockQ8_K scalar, avx2;
            std::memset(&scalar, 0x55, sizeof(scalar));
            std::memset(&avx2, 0xaa, sizeof(avx2));
            quantize_block_q8_k_scalar(x.data(), scalar);
            quantize_block_q8_k_avx2(x.data(), avx2);
            QVERIFY2(std::memcmp(scalar.qs, avx2.qs, sizeof(scalar.qs)) == 0,
                     qPrintable(QString::number(n)));
            QVERIFY2(std::memcmp(scalar.bsums, avx2.bsums, sizeof(scalar.bsums)) == 0,
                     qPrintable(QString::number(n)));
            QVERIFY2(same_float(scalar.d, avx2.d), qPrintable(QString::number(n)));
        }
    }

    void rowsAgreeAcrossLevels() {
        std::mt19937 rng(7);
        for (int n_blocks = 1; n_blocks <= 70; ++n_blocks) {
            const int64_t n = int64_t{n_blocks} * kBlock;
            std::vector<float> x(static_cast<size_t>(n));
            for (int b = 0; b < n_blocks; ++b) {
                fill_block(x.data() + b * kBlock, b + n_blocks, rng);
            }
            std::vector<BlockQ8_0> q0[2];
            std::vector<BlockQ8_1> q1[2];
            std::vector<BlockQ8_K> qk[2];
            const int64_t n_k = n / hearth::quant::QK_K * hearth::quant::QK_K;
            const KernelLevel levels[2] = {KernelLevel::portable, KernelLevel::avx2};
            for (int l = 0; l < 2; ++l) {
                QVERIFY(set_kernel_level(levels[l]));
                q0[l].resize(static_cast<size_t>(n_blocks));
                q1[l].resize(static_cast<size_t>(n_blocks));
                quantize_row_q8_0(x.data(), q0[l].data(), n);
                quantize_row_q8_1(x.data(), q1[l].data(), n);
                qk[l].resize(static_cast<size_t>(n_k / hearth::quant::QK_K));
                quantize_row_q8_K(x.data(), qk[l].data(), n_k);
            }
            QVERIFY2(std::memcmp(qk[0].data(), qk[1].data(), qk[0].size() * sizeof(BlockQ8_K)) == 0,
                     qPrintable(QString::number(n_blocks)));
            QVERIFY2(std::memcmp(q0[0].data(), q0[1].data(), q0[0].size() * sizeof(BlockQ8_0)) == 0,
                     qPrintable(QString::number(n_blocks)));
            QVERIFY2(std::memcmp(q1[0].data(), q1[1].data(), q1[0].size() * sizeof(BlockQ8_1)) == 0,
                     qPrintable(QString::number(n_blocks)));
        }
    }
};

QTEST_APPLESS_MAIN(TestQuantizeAct)
#include "tst_quantize_act.moc"
