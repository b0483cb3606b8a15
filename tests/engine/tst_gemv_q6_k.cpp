// The Q6_K single-token kernels (gemv_q6_k_avx2.cpp, gemv_q6_k_avx512.cpp) against the per-row
// AVX2 kernel (vec_dot_q6_k_avx2, ggml's ggml_vec_dot_q6_K_q8_K order), bit for bit: called
// directly on runs of 1..70 rows split at odd points (as matmul's chunks split them), with
// random and extreme data (every 6-bit value, rows of all 63 and all 0, scales at -128 and 127,
// activation blocks of all -128 and all 127, d of either sign and large), and through matmul()
// at the avx2 level with the AVX-512 kernels off and on, on 1, 2 and 3 threads.
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gemv_bits.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "kernel_levels.h"
#include "quant/blocks.h"
#include "random_weights.h"

#include <QObject>
#include <QtTest>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

using hearth::TensorType;
using hearth::quant::BlockQ6_K;
using hearth::quant::BlockQ8_K;
using hearth::quant::QK_K;
using namespace hearth::cpu;
using hearth::test::same_bits;

namespace {

const hearth::test::WeightTypeCase kQ6K{TensorType::Q6_K, offsetof(BlockQ6_K, d), -1};

// Random Q6_K rows (every byte random, d zero in a few super-blocks, either sign), and rows
// with extremes: row r % 6 == 1 all quants 63, 2 all 0, 3 scales -128, 4 scales 127 (with
// random quants), 5 d large (up to ~1000).
std::vector<uint8_t> q6_k_rows(int64_t n_rows, int64_t n_cols, std::mt19937& rng) {
    auto bytes =
        hearth::test::random_weight_rows(kQ6K, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
    const int64_t per_row = n_cols / QK_K;
    std::uniform_real_distribution<float> large(1.0f, 1000.0f);
    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t b = 0; b < per_row; ++b) {
            auto& w = reinterpret_cast<BlockQ6_K*>(bytes.data())[r * per_row + b];
            switch (r % 6) {
            case 1:
                std::memset(w.ql, 0xff, sizeof(w.ql));
                std::memset(w.qh, 0xff, sizeof(w.qh));
                break;
            case 2:
                std::memset(w.ql, 0, sizeof(w.ql));
                std::memset(w.qh, 0, sizeof(w.qh));
                break;
            case 3:
                std::memset(w.scales, 0x80, sizeof(w.scales));
                break;
            case 4:
                std::memset(w.scales, 0x7f, sizeof(w.scales));
                break;
            case 5:
                w.d = hearth::fp32_to_fp16((b % 2 ? -1.0f : 1.0f) * large(rng));
                break;
            default:
                break;
            }
        }
    }
    return bytes;
}

// Q8_K activations: random bytes -128..127 with matching bsums, d of either sign; block 1 all
// -128 and block 2 all 127 where there are such blocks.
std::vector<BlockQ8_K> q8_k_row(int64_t n_cols, std::mt19937& rng) {
    std::vector<BlockQ8_K> blocks(static_cast<size_t>(n_cols / QK_K));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<float> scale(0.001f, 0.1f);
    for (size_t i = 0; i < blocks.size(); ++i) {
        BlockQ8_K& b = blocks[i];
        for (int8_t& q : b.qs) {
            q = static_cast<int8_t>(i == 1 ? -128 : i == 2 ? 127 : byte(rng));
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int k = 16 * j; k < 16 * j + 16; ++k) {
                sum += b.qs[k];
            }
            b.bsums[j] = static_cast<int16_t>(sum);
        }
        b.d = (byte(rng) & 1 ? -1.0f : 1.0f) * scale(rng);
    }
    return blocks;
}

// The per-row kernel's result for each row.
std::vector<float> per_row(const std::vector<uint8_t>& w, int64_t n_rows, int64_t n_cols,
                           const void* act) {
    const VecDotFn dot = vec_dot_q6_k_avx2();
    const size_t row_bytes = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ6_K);
    std::vector<float> y(static_cast<size_t>(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
        dot(n_cols, w.data() + static_cast<size_t>(r) * row_bytes, act, 0,
            &y[static_cast<size_t>(r)], 1, 1);
    }
    return y;
}

QString where(const char* what, int64_t n_rows, int64_t n_cols, int64_t r, float got, float want) {
    return QString::asprintf("%s: rows %lld cols %lld: y[%lld] = %.9g, want %.9g", what,
                             static_cast<long long>(n_rows), static_cast<long long>(n_cols),
                             static_cast<long long>(r), static_cast<double>(got),
                             static_cast<double>(want));
}

} // namespace

class TestGemvQ6K : public QObject {
    Q_OBJECT

    // The single-token kernels this CPU runs, with their names.
    std::vector<std::pair<const char*, GemvFn>> m_kernels;
    bool m_avx512 = false;

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the Q6_K gemv kernels")) {
            QSKIP(why);
        }
        set_kernel_level(KernelLevel::avx2);
        m_kernels.emplace_back("avx2", gemv_q6_k_avx2());
        m_avx512 = set_avx512_kernels(true);
        if (m_avx512) {
            m_kernels.emplace_back("avx512", gemv_avx512(TensorType::Q6_K));
        } else {
            qInfo("%s", hearth::test::kernels_unavailable("the AVX-512 Q6_K gemv",
                                                          "AVX512F/BW/VL + VNNI"));
        }
    }

    void cleanupTestCase() { set_avx512_kernels(true); }

    // matmul's one-token dispatch returns these kernels for Q6_K, so the tests below through
    // matmul() exercise them rather than the per-row kernel.
    void kernels_are_chosen() {
        QVERIFY(gemv_q6_k_avx2() != nullptr);
        QVERIFY(gemv_avx2(TensorType::Q6_K) == gemv_q6_k_avx2());
        if (m_avx512) {
            QVERIFY(gemv_avx512(TensorType::Q6_K) != nullptr);
        }
    }

    // Every row count 1..70, 1 to 9 super-blocks, each run also split in two at an odd row.
    void kernel_matches_per_row_kernel() {
        std::mt19937 rng(6);
        for (const int64_t n_cols : {256, 768, 2304}) {
            const size_t row_bytes = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ6_K);
            for (int64_t n_rows = 1; n_rows <= 70; ++n_rows) {
                const auto w = q6_k_rows(n_rows, n_cols, rng);
                const auto x = q8_k_row(n_cols, rng);
                const std::vector<float> want = per_row(w, n_rows, n_cols, x.data());
                const int64_t split = std::min<int64_t>(n_rows, 2 * (n_rows / 5) + 1);
                for (const auto& [name, gemv] : m_kernels) {
                    std::vector<float> got(static_cast<size_t>(n_rows), -1.0f);
                    gemv(n_cols, w.data(), row_bytes, split, x.data(), nullptr, got.data());
                    gemv(n_cols, w.data() + static_cast<size_t>(split) * row_bytes, row_bytes,
                         n_rows - split, x.data(), nullptr, got.data() + split);
                    for (int64_t r = 0; r < n_rows; ++r) {
                        const float g = got[static_cast<size_t>(r)];
                        const float e = want[static_cast<size_t>(r)];
                        QVERIFY2(same_bits(g, e), qPrintable(where(name, n_rows, n_cols, r, g, e)));
                    }
                }
            }
        }
    }

    // Through matmul() (its chunking over 1, 2 and 3 threads), AVX-512 kernels off and on.
    void matmul_matches_per_row_kernel() {
        std::mt19937 rng(16);
        ThreadPool one(1), two(2), three(3);
        ThreadPool* pools[] = {&one, &two, &three};
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const int64_t n_cols : {256, 1280}) {
            const size_t row_bytes = static_cast<size_t>(n_cols / QK_K) * sizeof(BlockQ6_K);
            for (int64_t n_rows = 1; n_rows <= 70; ++n_rows) {
                const auto bytes = q6_k_rows(n_rows, n_cols, rng);
                const WeightMatrix w{TensorType::Q6_K, bytes.data(), n_cols, n_rows, row_bytes};
                std::vector<float> x(static_cast<size_t>(n_cols));
                for (float& v : x) {
                    v = normal(rng);
                }
                x[static_cast<size_t>(n_rows % n_cols)] = n_rows % 2 ? 3.0e4f : -250.0f;
                std::vector<uint8_t> act(activation_row_bytes(TensorType::Q6_K, n_cols));
                quantize_activation_row(TensorType::Q6_K, x.data(), act.data(), n_cols);
                const std::vector<float> want = per_row(bytes, n_rows, n_cols, act.data());
                for (const bool avx512 : {false, true}) {
                    if (avx512 && !m_avx512) {
                        continue;
                    }
                    set_avx512_kernels(avx512);
                    ThreadPool& pool = *pools[n_rows % 3];
                    std::vector<float> got(static_cast<size_t>(n_rows), -1.0f);
                    std::vector<uint8_t> scratch(act.size());
                    matmul(w, x.data(), 1, n_cols, got.data(), n_rows, scratch.data(), pool);
                    for (int64_t r = 0; r < n_rows; ++r) {
                        const float g = got[static_cast<size_t>(r)];
                        const float e = want[static_cast<size_t>(r)];
                        QVERIFY2(same_bits(g, e),
                                 qPrintable(where(avx512 ? "matmul avx512" : "matmul avx2", n_rows,
                                                  n_cols, r, g, e)));
                    }
                }
                set_avx512_kernels(m_avx512);
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestGemvQ6K)
#include "tst_gemv_q6_k.moc"
