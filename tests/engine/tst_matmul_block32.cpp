// The register-tiled kernel of the 32-value formats (cpu/gemm_block32.h) against the per-row
// kernel of each type, and for Q8_0 also against ggml's float order written out in scalar code:
// bit for bit, on every tile shape and edge (rows not multiples of the 3-row tile, tokens not
// multiples of 4, block counts not multiples of the 8-block scale run), and through matmul(): each
// (row, token) the per-row kernel's bits, and a batch gives each token exactly what the token
// gets alone (decode).
#include "block32_cases.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm_block32.h"
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
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using hearth::TensorType;
using hearth::quant::BlockQ8_0;
using namespace hearth::cpu;

namespace {

// Random Q8_0 rows: every quant byte (-128 included) and finite f16 scales of either sign, a
// few of them zero.
std::vector<BlockQ8_0> random_rows(int64_t n_rows, int64_t n_cols, std::mt19937& rng) {
    std::vector<BlockQ8_0> blocks(static_cast<size_t>(n_rows * n_cols / 32));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<float> scale(0.002f, 0.02f);
    for (BlockQ8_0& b : blocks) {
        for (int8_t& q : b.qs) {
            q = static_cast<int8_t>(byte(rng));
        }
        const int pick = byte(rng);
        const float d = pick < -120 ? 0.0f : (pick & 1 ? -1.0f : 1.0f) * scale(rng);
        b.d = hearth::fp32_to_fp16(d);
    }
    return blocks;
}

// Activations as matmul makes them: normal floats through the Q8_0 quantizer (|q| <= 127).
std::vector<BlockQ8_0> random_activations(int64_t n_tok, int64_t n_cols, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n_cols));
    std::vector<BlockQ8_0> blocks(static_cast<size_t>(n_tok * n_cols / 32));
    for (int64_t t = 0; t < n_tok; ++t) {
        for (float& v : x) {
            v = normal(rng);
        }
        quantize_row_q8_0(x.data(), blocks.data() + t * n_cols / 32, n_cols);
    }
    return blocks;
}

// ggml_vec_dot_q8_0_q8_0 on AVX2, in scalar code: lane k of 8 adds, block by block, the integer
// sum of products k*4..k*4+3 as a float times d_w * d_x (one rounding, FMA), then the lanes are
// summed as hsum_float_8 does: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
float ggml_order_dot(const BlockQ8_0* w, const BlockQ8_0* x, int64_t n_blocks) {
    float lane[8] = {};
    for (int64_t b = 0; b < n_blocks; ++b) {
        const float d = hearth::fp16_to_fp32(w[b].d) * hearth::fp16_to_fp32(x[b].d);
        for (int k = 0; k < 8; ++k) {
            int sum = 0;
            for (int i = 4 * k; i < 4 * k + 4; ++i) {
                sum += w[b].qs[i] * x[b].qs[i];
            }
            lane[k] = std::fma(d, static_cast<float>(sum), lane[k]);
        }
    }
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
           ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

using Block32Case = hearth::test::WeightTypeCase;
using hearth::test::kBlock32Cases;

QString describe(int64_t n_rows, int64_t n_cols, int64_t n_tok, int64_t t, int64_t r, float got,
                 float want);

QString describe(int64_t n_rows, int64_t n_cols, int64_t n_tok, int64_t t, int64_t r, float got,
                 float want) {
    return QString("rows %1 cols %2 tokens %3: y[%4][%5] = %6, want %7")
        .arg(n_rows)
        .arg(n_cols)
        .arg(n_tok)
        .arg(t)
        .arg(r)
        .arg(static_cast<double>(got), 0, 'g', 9)
        .arg(static_cast<double>(want), 0, 'g', 9);
}

// Weight rows for the extreme cases: every quant byte `fill` (0xff: every nibble 15 and every
// Q5 high bit set; for Q8_0 -1, and 0x80: -128) and every f16 scale field `scale` (m the same).
std::vector<uint8_t> filled_rows(const Block32Case& c, int64_t n_rows, int64_t n_cols, uint8_t fill,
                                 float scale) {
    const auto traits = hearth::tensor_type_traits(c.type);
    const auto n_blocks = static_cast<size_t>(n_rows * n_cols / traits.block_size);
    std::vector<uint8_t> bytes(n_blocks * traits.type_size, fill);
    const uint16_t h = hearth::fp32_to_fp16(scale);
    for (size_t b = 0; b < n_blocks; ++b) {
        std::memcpy(bytes.data() + b * traits.type_size + c.d_offset, &h, sizeof(h));
        if (c.m_offset >= 0) {
            std::memcpy(bytes.data() + b * traits.type_size + c.m_offset, &h, sizeof(h));
        }
    }
    return bytes;
}

// One matmul() of n_tok tokens over `w` against the per-row AVX2 kernel on the same quantized
// activations, bit for bit; "" or the first difference.
QString check_matmul_against_per_row(const Block32Case& c, const std::vector<uint8_t>& w,
                                     int64_t n_rows, int64_t n_cols, const std::vector<float>& x,
                                     int64_t n_tok, ThreadPool& pool) {
    const auto traits = hearth::tensor_type_traits(c.type);
    const size_t row_bytes = static_cast<size_t>(n_cols) / traits.block_size * traits.type_size;
    const WeightMatrix matrix{c.type, w.data(), n_cols, n_rows, row_bytes};
    const size_t act_bytes = activation_row_bytes(c.type, n_cols);
    std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tok));
    const int64_t y_stride = n_rows + 1;
    std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -12345.0f);
    matmul(matrix, x.data(), n_tok, n_cols, y.data(), y_stride, scratch.data(), pool);
    std::vector<uint8_t> act(act_bytes);
    const VecDotFn per_row = vec_dot_avx2(c.type);
    for (int64_t t = 0; t < n_tok; ++t) {
        quantize_activation_row(c.type, x.data() + t * n_cols, act.data(), n_cols);
        if (y[static_cast<size_t>(t * y_stride + n_rows)] != -12345.0f) {
            return "wrote past n_rows";
        }
        for (int64_t r = 0; r < n_rows; ++r) {
            float want = 0.0f;
            per_row(n_cols, w.data() + r * row_bytes, act.data(), act_bytes, &want, 1, 1);
            const float got = y[static_cast<size_t>(t * y_stride + r)];
            if (std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want)) {
                return QString::fromLatin1(hearth::tensor_type_name(c.type).data()) + ": " +
                       describe(n_rows, n_cols, n_tok, t, r, got, want);
            }
        }
    }
    return {};
}

} // namespace

class TestMatmulBlock32 : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the tiled kernel")) {
            QSKIP(why);
        }
    }

    // Every tile shape (1..3 rows × 1..4 tokens, as edges of larger calls), 1 to 64 blocks.
    void tiles_match_per_row_kernel() {
        std::mt19937 rng(2024);
        const VecDotFn per_row = vec_dot_avx2(TensorType::Q8_0);
        QVERIFY(per_row != nullptr);
        for (const int64_t n_cols : {32, 96, 288, 2048}) {
            const int64_t n_blocks = n_cols / 32;
            const size_t row_bytes = static_cast<size_t>(n_blocks) * sizeof(BlockQ8_0);
            for (const int64_t n_rows : {1, 3, 4, 5, 8, 13}) {
                const auto w = random_rows(n_rows, n_cols, rng);
                for (const int64_t n_tok : {1, 2, 3, 4, 5, 7, 8, 33}) {
                    const auto x = random_activations(n_tok, n_cols, rng);
                    const int64_t y_stride = n_rows + 2;
                    std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -12345.0f);
                    gemm_block32_avx2(TensorType::Q8_0, n_cols, w.data(), row_bytes, n_rows,
                                      x.data(), row_bytes, n_tok, y.data(), y_stride);
                    for (int64_t t = 0; t < n_tok; ++t) {
                        const BlockQ8_0* xt = x.data() + t * n_blocks;
                        for (int64_t r = 0; r < y_stride; ++r) {
                            const float got = y[static_cast<size_t>(t * y_stride + r)];
                            if (r >= n_rows) {
                                QVERIFY2(got == -12345.0f, "wrote past n_rows");
                                continue;
                            }
                            const BlockQ8_0* wr = w.data() + r * n_blocks;
                            float want = 0.0f;
                            per_row(n_cols, wr, xt, row_bytes, &want, 1, 1);
                            const float ggml = ggml_order_dot(wr, xt, n_blocks);
                            QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                                     qPrintable(describe(n_rows, n_cols, n_tok, t, r, got, want)));
                            QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(ggml),
                                     qPrintable("ggml order: " +
                                                describe(n_rows, n_cols, n_tok, t, r, got, ggml)));
                        }
                    }
                }
            }
        }
    }

    // The other formats (and Q8_0 again, through the generic path): every tile shape, block
    // counts that are not multiples of the scale run, against each type's per-row kernel.
    void tiles_match_per_row_kernel_every_type() {
        std::mt19937 rng(4242);
        for (const Block32Case& c : kBlock32Cases) {
            const VecDotFn per_row = vec_dot_avx2(c.type);
            QVERIFY(per_row != nullptr);
            for (const int64_t n_cols : {32, 288, 1056}) {
                const auto traits = hearth::tensor_type_traits(c.type);
                const size_t row_bytes =
                    static_cast<size_t>(n_cols) / traits.block_size * traits.type_size;
                const size_t act_bytes = activation_row_bytes(c.type, n_cols);
                for (const int64_t n_rows : {1, 2, 3, 4, 5, 11}) {
                    const auto w = hearth::test::random_weight_rows(c, n_rows, n_cols, rng,
                                                                    hearth::test::ScaleDraw::edges);
                    for (const int64_t n_tok : {2, 3, 4, 6, 9}) {
                        std::normal_distribution<float> normal(0.0f, 1.0f);
                        std::vector<float> xf(static_cast<size_t>(n_cols));
                        std::vector<uint8_t> x(act_bytes * static_cast<size_t>(n_tok));
                        for (int64_t t = 0; t < n_tok; ++t) {
                            for (float& v : xf) {
                                v = normal(rng);
                            }
                            quantize_activation_row(c.type, xf.data(), x.data() + t * act_bytes,
                                                    n_cols);
                        }
                        const int64_t y_stride = n_rows + 1;
                        std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -12345.0f);
                        gemm_block32_avx2(c.type, n_cols, w.data(), row_bytes, n_rows, x.data(),
                                          act_bytes, n_tok, y.data(), y_stride);
                        for (int64_t t = 0; t < n_tok; ++t) {
                            QVERIFY2(y[static_cast<size_t>(t * y_stride + n_rows)] == -12345.0f,
                                     "wrote past n_rows");
                            for (int64_t r = 0; r < n_rows; ++r) {
                                float want = 0.0f;
                                per_row(n_cols, w.data() + r * row_bytes, x.data() + t * act_bytes,
                                        act_bytes, &want, 1, 1);
                                const float got = y[static_cast<size_t>(t * y_stride + r)];
                                QVERIFY2(
                                    std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want),
                                    qPrintable(QString::fromLatin1(
                                                   hearth::tensor_type_name(c.type).data()) +
                                               ": " +
                                               describe(n_rows, n_cols, n_tok, t, r, got, want)));
                            }
                        }
                    }
                }
            }
        }
    }

    // Through matmul() at the avx2 level with the AVX-512 kernels off (the AVX2 tiles an
    // AVX2-only CPU runs): every type, ragged rows (not multiples of the 3-row tile, several
    // row chunks on two threads) and 1..40 tokens (every 4-token tail, past the 32-token tile),
    // 3 and 9 blocks a row, random data and extremes (nibbles at 15, activations at ±127 with
    // large sums, large and negative scales, Q8_0's -128), 1 and 2 threads, each (row, token)
    // the per-row kernel's bits.
    void matmul_tiles_match_per_row_kernel() {
        const bool had_avx512 = avx512_kernels_enabled();
        set_avx512_kernels(false);
        std::mt19937 rng(31);
        ThreadPool one(1), two(2);
        struct Fill {
            int fill; // -1: random rows
            float scale;
            float act; // 0: normal activations, else ±act
        };
        const Fill fills[] = {{-1, 0.0f, 0.0f},
                              {0xff, 0.02f, 0.0f},
                              {0xff, 30000.0f, 1e4f},
                              {0x80, -0.5f, 3.0f},
                              {0x0f, -65504.0f, 1e-3f}};
        const auto first_failure = [&]() -> QString {
            for (const Block32Case& c : kBlock32Cases) {
                for (const int64_t n_cols : {96, 288}) {
                    for (const int64_t n_rows : {1, 2, 3, 4, 5, 7, 37, 70}) {
                        for (const Fill& f : fills) {
                            const auto w =
                                f.fill < 0
                                    ? hearth::test::random_weight_rows(
                                          c, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges)
                                    : filled_rows(c, n_rows, n_cols, static_cast<uint8_t>(f.fill),
                                                  f.scale);
                            for (int64_t n_tok = 1; n_tok <= 40; ++n_tok) {
                                std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                                std::normal_distribution<float> normal(0.0f, 1.0f);
                                for (size_t i = 0; i < x.size(); ++i) {
                                    x[i] = f.act == 0.0f ? normal(rng) : (i % 3 ? f.act : -f.act);
                                }
                                QString failure = check_matmul_against_per_row(
                                    c, w, n_rows, n_cols, x, n_tok, n_tok % 2 ? one : two);
                                if (!failure.isEmpty()) {
                                    return failure;
                                }
                            }
                        }
                    }
                }
            }
            return {};
        };
        const QString failure = first_failure();
        set_avx512_kernels(had_avx512);
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
    }

    // Through matmul (row chunks over two threads, token tiles of 32): a batch of n tokens
    // gives each token the bits it gets alone, as decode computes it; the portable level stays
    // on its own kernel and agrees within float rounding.
    void batch_matches_single_tokens() {
        std::mt19937 rng(77);
        ThreadPool two(2);
        for (const int64_t n_rows : {37, 300}) {
            const int64_t n_cols = 1024;
            const auto w = random_rows(n_rows, n_cols, rng);
            const size_t row_bytes = static_cast<size_t>(n_cols / 32) * sizeof(BlockQ8_0);
            const WeightMatrix matrix{TensorType::Q8_0, w.data(), n_cols, n_rows, row_bytes};
            for (const int64_t n_tok : {2, 5, 64, 70}) {
                std::normal_distribution<float> normal(0.0f, 1.0f);
                std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                for (float& v : x) {
                    v = normal(rng);
                }
                const int64_t y_stride = n_rows + 3;
                std::vector<uint8_t> scratch(activation_row_bytes(TensorType::Q8_0, n_cols) *
                                             static_cast<size_t>(n_tok));
                std::vector<float> batch(static_cast<size_t>(n_tok * y_stride), -12345.0f);
                matmul(matrix, x.data(), n_tok, n_cols, batch.data(), y_stride, scratch.data(),
                       two);
                std::vector<float> alone = batch;
                for (int64_t t = 0; t < n_tok; ++t) {
                    matmul(matrix, x.data() + t * n_cols, 1, n_cols, alone.data() + t * y_stride,
                           y_stride, scratch.data(), two);
                }
                QVERIFY2(std::memcmp(batch.data(), alone.data(), batch.size() * sizeof(float)) == 0,
                         qPrintable(QString("rows %1 tokens %2").arg(n_rows).arg(n_tok)));

                const KernelLevel saved = kernel_level();
                set_kernel_level(KernelLevel::portable);
                std::vector<float> portable(batch.size(), -12345.0f);
                matmul(matrix, x.data(), n_tok, n_cols, portable.data(), y_stride, scratch.data(),
                       two);
                set_kernel_level(saved);
                for (size_t k = 0; k < batch.size(); ++k) {
                    // 32 blocks: a few float roundings of sums below 2^15 * 0.02 * |d_x|.
                    QVERIFY2(std::fabs(batch[k] - portable[k]) <= 1e-3f * (1 + std::fabs(batch[k])),
                             qPrintable(QString("portable differs at %1: %2 vs %3")
                                            .arg(k)
                                            .arg(static_cast<double>(batch[k]))
                                            .arg(static_cast<double>(portable[k]))));
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestMatmulBlock32)
#include "tst_matmul_block32.moc"
