// The Q5_K batch kernel (cpu/gemm_q5_k.h) against the per-row AVX2 kernel (vec_dot_avx2's
// Q5_K, ggml's ggml_vec_dot_q5_K_q8_K order), bit for bit: called directly on every tile edge
// (rows and tokens not multiples of the tile, several super-blocks, activation bytes -128..127),
// and through matmul() at the avx2 level with the AVX-512 kernels on and off, on 1 and 2
// threads, where a batch must also give each token what it gets alone (decode).
#include "cpu/cpu_features.h"
#include "cpu/gemm_q5_k.h"
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
using hearth::quant::BlockQ5_K;
using hearth::quant::BlockQ8_K;
using hearth::quant::QK_K;
using namespace hearth::cpu;

namespace {

using GemmFn = decltype(&gemm_q5_k_avx2);

const hearth::test::WeightTypeCase kQ5K{TensorType::Q5_K, offsetof(BlockQ5_K, d),
                                        offsetof(BlockQ5_K, dmin)};

// Random Q5_K rows: every byte random (all 5-bit values, all 6-bit scales and mins), d zero in
// a few super-blocks, d and dmin of either sign; with `large`, scales up to ~1000.
std::vector<uint8_t> random_rows(int64_t n_rows, int64_t n_cols, std::mt19937& rng, bool large) {
    auto rows =
        hearth::test::random_weight_rows(kQ5K, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
    if (large) {
        std::uniform_real_distribution<float> scale(1.0f, 1000.0f);
        for (size_t at = 0; at < rows.size(); at += sizeof(BlockQ5_K)) {
            const uint16_t d = hearth::fp32_to_fp16(scale(rng));
            const uint16_t dmin = hearth::fp32_to_fp16(-scale(rng));
            std::memcpy(rows.data() + at + offsetof(BlockQ5_K, d), &d, sizeof(d));
            std::memcpy(rows.data() + at + offsetof(BlockQ5_K, dmin), &dmin, sizeof(dmin));
        }
    }
    return rows;
}

// Random Q8_K activations: every byte -128..127 and bsums that match them, d of either sign.
std::vector<BlockQ8_K> random_activations(int64_t n_tok, int64_t n_cols, std::mt19937& rng) {
    std::vector<BlockQ8_K> blocks(static_cast<size_t>(n_tok * n_cols / QK_K));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<float> scale(0.001f, 0.1f);
    for (BlockQ8_K& b : blocks) {
        for (int8_t& q : b.qs) {
            q = static_cast<int8_t>(byte(rng));
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int i = 16 * j; i < 16 * j + 16; ++i) {
                sum += b.qs[i];
            }
            b.bsums[j] = static_cast<int16_t>(sum);
        }
        b.d = (byte(rng) & 1 ? -1.0f : 1.0f) * scale(rng);
    }
    return blocks;
}

// Float activations: normal values, one outlier per row, and an all-zero row.
std::vector<float> random_floats(int64_t n_tok, int64_t n_cols, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
    for (float& v : x) {
        v = normal(rng);
    }
    for (int64_t t = 0; t < n_tok; ++t) {
        x[static_cast<size_t>(t * n_cols + (t * 37) % n_cols)] = t % 2 ? 3.0e4f : -250.0f;
    }
    if (n_tok > 2) {
        std::fill_n(x.begin() + n_cols, n_cols, 0.0f);
    }
    return x;
}

QString where(const char* what, int64_t n_rows, int64_t n_cols, int64_t n_tok, int64_t t, int64_t r,
              float got, float want) {
    return QString::asprintf("%s: rows %lld cols %lld tokens %lld: y[%lld][%lld] = %.9g, want %.9g",
                             what, static_cast<long long>(n_rows), static_cast<long long>(n_cols),
                             static_cast<long long>(n_tok), static_cast<long long>(t),
                             static_cast<long long>(r), static_cast<double>(got),
                             static_cast<double>(want));
}

bool same_bits(float a, float b) {
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

} // namespace

class TestMatmulQ5K : public QObject {
    Q_OBJECT

    // The kernels this CPU runs, with their names.
    std::vector<std::pair<const char*, GemmFn>> m_kernels;

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the Q5_K batch kernel")) {
            QSKIP(why);
        }
        set_kernel_level(KernelLevel::avx2);
        m_kernels.emplace_back("avx2", gemm_q5_k_avx2);
        if (set_avx512_kernels(true)) {
            m_kernels.emplace_back("avx512", gemm_q5_k_avx512);
        } else {
            qInfo("%s", hearth::test::kernels_unavailable("the AVX-512 Q5_K tiles",
                                                          "AVX512F/BW/VL + VNNI"));
        }
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // Every tile edge: 1..9 and 70 rows, 1..5, 63..65 and 130 tokens, 1 to 8 super-blocks.
    void kernel_matches_per_row_kernel() {
        std::mt19937 rng(5);
        const VecDotFn per_row = vec_dot_avx2(TensorType::Q5_K);
        QVERIFY(per_row != nullptr);
        for (const int64_t n_cols : {256, 768, 2048}) {
            const size_t row_bytes = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ5_K);
            const size_t x_stride = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ8_K);
            for (const int64_t n_rows : {1, 2, 3, 4, 5, 7, 9, 70}) {
                const auto w = random_rows(n_rows, n_cols, rng, n_rows == 7);
                for (const int64_t n_tok : {1, 2, 3, 5, 63, 64, 65, 130}) {
                    const auto x = random_activations(n_tok, n_cols, rng);
                    const int64_t y_stride = n_rows + 2;
                    for (const auto& [name, gemm] : m_kernels) {
                        std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -12345.0f);
                        gemm(n_cols, w.data(), row_bytes, n_rows, x.data(), x_stride, n_tok,
                             y.data(), y_stride);
                        for (int64_t t = 0; t < n_tok; ++t) {
                            for (int64_t r = 0; r < y_stride; ++r) {
                                const float got = y[static_cast<size_t>(t * y_stride + r)];
                                if (r >= n_rows) {
                                    QVERIFY2(got == -12345.0f, "wrote past n_rows");
                                    continue;
                                }
                                float want = 0.0f;
                                per_row(n_cols, w.data() + r * row_bytes,
                                        x.data() + t * n_cols / QK_K, x_stride, &want, 1, 1);
                                QVERIFY2(same_bits(got, want),
                                         qPrintable(
                                             where(name, n_rows, n_cols, n_tok, t, r, got, want)));
                            }
                        }
                    }
                }
            }
        }
    }

    // Through matmul (row chunks over 1 and 2 threads, token tiles of 64): each (row, token)
    // has the per-row kernel's bits on the activations matmul quantizes, and a batch gives each
    // token what it gets alone; with the AVX-512 kernels on and off.
    void matmul_matches_per_row_kernel() {
        std::mt19937 rng(55);
        const VecDotFn per_row = vec_dot_avx2(TensorType::Q5_K);
        ThreadPool one(1);
        ThreadPool two(2);
        const int64_t n_cols = 1024;
        const size_t row_bytes = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ5_K);
        const size_t act_bytes = activation_row_bytes(TensorType::Q5_K, n_cols);
        for (const int64_t n_rows : {1, 17, 37, 70}) {
            const auto w = random_rows(n_rows, n_cols, rng, false);
            const WeightMatrix matrix{TensorType::Q5_K, w.data(), n_cols, n_rows, row_bytes};
            for (const int64_t n_tok : {2, 3, 33, 70}) {
                const auto x = random_floats(n_tok, n_cols, rng);
                std::vector<uint8_t> act(act_bytes * static_cast<size_t>(n_tok));
                for (int64_t t = 0; t < n_tok; ++t) {
                    quantize_activation_row(TensorType::Q5_K, x.data() + t * n_cols,
                                            act.data() + t * act_bytes, n_cols);
                }
                const int64_t y_stride = n_rows + 3;
                std::vector<uint8_t> scratch(act_bytes * static_cast<size_t>(n_tok));
                for (const bool avx512 : {false, true}) {
                    if (avx512 && !set_avx512_kernels(true)) {
                        continue;
                    }
                    set_avx512_kernels(avx512);
                    for (ThreadPool* pool : {&one, &two}) {
                        std::vector<float> batch(static_cast<size_t>(n_tok * y_stride), -1.0f);
                        matmul(matrix, x.data(), n_tok, n_cols, batch.data(), y_stride,
                               scratch.data(), *pool);
                        std::vector<float> alone = batch;
                        for (int64_t t = 0; t < n_tok; ++t) {
                            matmul(matrix, x.data() + t * n_cols, 1, n_cols,
                                   alone.data() + t * y_stride, y_stride, scratch.data(), *pool);
                        }
                        const char* name = avx512 ? "matmul avx512" : "matmul avx2";
                        for (int64_t t = 0; t < n_tok; ++t) {
                            for (int64_t r = 0; r < n_rows; ++r) {
                                float want = 0.0f;
                                per_row(n_cols, w.data() + r * row_bytes,
                                        act.data() + t * act_bytes, act_bytes, &want, 1, 1);
                                const auto i = static_cast<size_t>(t * y_stride + r);
                                QVERIFY2(same_bits(batch[i], want),
                                         qPrintable(where(name, n_rows, n_cols, n_tok, t, r,
                                                          batch[i], want)));
                                QVERIFY2(same_bits(batch[i], alone[i]),
                                         qPrintable(where(name, n_rows, n_cols, n_tok, t, r,
                                                          batch[i], alone[i])));
                            }
                            QVERIFY2(batch[static_cast<size_t>(t * y_stride + n_rows)] == -1.0f,
                                     "wrote past n_rows");
                        }
                    }
                }
            }
        }
        set_avx512_kernels(true);
    }
};

QTEST_APPLESS_MAIN(TestMatmulQ5K)
#include "tst_matmul_q5_k.moc"
