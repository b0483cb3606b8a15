// The per-row AVX2 Q4_K and Q5_K kernels against ggml's float order written out in scalar code
// (ggml_vec_dot_q4_K_q8_K / ggml_vec_dot_q5_K_q8_K on AVX2), bit for bit: 8 lanes of
// d * (scaled integer sums), and the min term in 4 float lanes (Q4_K) or one float (Q5_K).
// Q4_K matrices run packed at the avx2 level; these kernels serve the rows past the last group
// of 8 and matrices without a packed copy, where llama.cpp uses its per-row kernel.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "hearth/quant.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "quant/k4_scales.h"

#include <QObject>
#include <QtTest>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;
namespace quant = hearth::quant;

namespace {

// ggml's AVX2 order for one row. Quant l of sub-block 2c + h sits in byte l of chunk c (low
// nibble for h = 0, high for h = 1), bit 2c + h of qh[l] on top for Q5_K; its product with the
// activation goes to lane l / 4. Per super-block: acc[k] = fma(d_x * d, float(lane k), acc[k]);
// the min term lane c = mn[2c] * s[2c] + mn[2c + 1] * s[2c + 1] (s the 32-value sums), as 4
// float lanes fma(-d_x * dmin, ...) for Q4_K, as one float of the 4 lanes' integer sum for Q5_K.
template <class Block, bool kFifthBit>
float ggml_order_dot(const Block* w, const BlockQ8_K* x, int64_t n_blocks) {
    float acc[8] = {}, acc_min[4] = {}, summs = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const float d = x[b].d * hearth::fp16_to_fp32(w[b].d);
        const float dmin = -x[b].d * hearth::fp16_to_fp32(w[b].dmin);
        int sc[8], mn[8];
        for (int j = 0; j < 8; ++j) {
            quant::k4_scale_min(w[b].scales, j, sc[j], mn[j]);
        }
        int min_total = 0;
        for (int c = 0; c < 4; ++c) {
            const int lane = mn[2 * c] * (x[b].bsums[4 * c] + x[b].bsums[4 * c + 1]) +
                             mn[2 * c + 1] * (x[b].bsums[4 * c + 2] + x[b].bsums[4 * c + 3]);
            acc_min[c] = std::fma(dmin, static_cast<float>(lane), acc_min[c]);
            min_total += lane;
        }
        summs = std::fma(dmin, static_cast<float>(min_total), summs);
        int lanes[8] = {};
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t byte = w[b].qs[32 * c + l];
                int lo = byte & 15, hi = byte >> 4;
                if constexpr (kFifthBit) {
                    lo |= ((w[b].qh[l] >> (2 * c)) & 1) << 4;
                    hi |= ((w[b].qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                lanes[l / 4] += sc[2 * c] * lo * x[b].qs[64 * c + l] +
                                sc[2 * c + 1] * hi * x[b].qs[64 * c + 32 + l];
            }
        }
        for (int k = 0; k < 8; ++k) {
            acc[k] = std::fma(d, static_cast<float>(lanes[k]), acc[k]);
        }
    }
    const float main_part =
        ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    if constexpr (kFifthBit) {
        return main_part + summs;
    } else {
        return main_part + ((acc_min[0] + acc_min[2]) + (acc_min[1] + acc_min[3]));
    }
}

template <class Block, bool kFifthBit>
void check_type(TensorType type) {
    const VecDotFn kernel = vec_dot_avx2(type);
    QVERIFY(kernel != nullptr);
    std::mt19937 rng(31 + static_cast<unsigned>(type));
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(0.002f, 0.02f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const int64_t n_blocks : {1, 2, 16}) {
        const int64_t n = n_blocks * quant::QK_K;
        for (int trial = 0; trial < 300; ++trial) {
            std::vector<Block> w(static_cast<size_t>(n_blocks));
            std::vector<uint8_t> bytes(w.size() * sizeof(Block));
            for (uint8_t& v : bytes) {
                v = static_cast<uint8_t>(byte(rng));
            }
            std::memcpy(w.data(), bytes.data(), bytes.size());
            for (Block& b : w) {
                b.d = hearth::fp32_to_fp16(scale(rng));
                b.dmin = hearth::fp32_to_fp16(scale(rng));
            }
            std::vector<float> xf(static_cast<size_t>(n));
            for (float& v : xf) {
                v = normal(rng);
            }
            std::vector<BlockQ8_K> x(static_cast<size_t>(n_blocks));
            quantize_row_q8_K(xf.data(), x.data(), n);
            float got = 0.0f;
            kernel(n, w.data(), x.data(), 0, &got, 1, 1);
            const float want = ggml_order_dot<Block, kFifthBit>(w.data(), x.data(), n_blocks);
            QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                     qPrintable(QString("%1, %2 super-blocks, trial %3: %4, ggml order %5")
                                    .arg(QString::fromLatin1(hearth::tensor_type_name(type)))
                                    .arg(n_blocks)
                                    .arg(trial)
                                    .arg(static_cast<double>(got), 0, 'g', 9)
                                    .arg(static_cast<double>(want), 0, 'g', 9)));
        }
    }
}

} // namespace

class TestKQuantOrder : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable()) {
            QSKIP(why);
        }
    }

    void q4_k_matches_ggml_order() { check_type<quant::BlockQ4_K, false>(TensorType::Q4_K); }
    void q5_k_matches_ggml_order() { check_type<quant::BlockQ5_K, true>(TensorType::Q5_K); }
};

QTEST_APPLESS_MAIN(TestKQuantOrder)
#include "tst_matmul_k_quant_order.moc"
