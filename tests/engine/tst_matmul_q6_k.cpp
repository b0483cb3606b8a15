// The Q6_K tile kernels (cpu/gemm_q6_k.h, AVX2 and AVX-512) against the per-row AVX2 kernel
// (vec_dot_q6_k_avx2.cpp, ggml's ggml_vec_dot_q6_K_q8_K order, held to llama.cpp's bits by
// tst_matmul_k_quant_order and the architecture references), bit for bit: called directly on
// raw activation bytes (-128 included, the case where vpmaddubsw would come closest to
// saturating), and through matmul() on ragged shapes (row counts that are not multiples of the
// 2- and 4-row tiles nor of the thread chunks, token counts that are not multiples of the 2- or
// 4-token tiles nor of matmul's 32-token tiles, one to eleven super-blocks per row), one and two
// threads, with and without the AVX-512 kernels.
#include "cpu/cpu_features.h"
#include "cpu/gemm_q6_k.h"
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
using hearth::quant::BlockQ6_K;
using hearth::quant::BlockQ8_K;
using namespace hearth::cpu;

namespace {

constexpr int64_t kQK = 256;

const hearth::test::WeightTypeCase kQ6K{TensorType::Q6_K, offsetof(BlockQ6_K, d), -1};

size_t row_bytes(int64_t n_cols) {
    return static_cast<size_t>(n_cols / kQK) * sizeof(BlockQ6_K);
}

// Q8_K rows of raw random bytes (every value, -128 included; a few blocks all -128, the
// extreme of the products) with their 16-value sums and scales of either sign.
std::vector<BlockQ8_K> raw_activations(int64_t n_tok, int64_t n_cols, std::mt19937& rng) {
    std::vector<BlockQ8_K> blocks(static_cast<size_t>(n_tok * n_cols / kQK));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (BlockQ8_K& b : blocks) {
        const bool extreme = byte(rng) < -112;
        for (int8_t& q : b.qs) {
            q = static_cast<int8_t>(extreme ? -128 : byte(rng));
        }
        for (int i = 0; i < 16; ++i) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) {
                sum += b.qs[16 * i + j];
            }
            b.bsums[i] = static_cast<int16_t>(sum);
        }
        b.d = scale(rng);
    }
    return blocks;
}

// Random Q6_K rows; a few blocks get the extreme quants (all 63, or all 0) and scales (-128).
std::vector<uint8_t> weight_rows(int64_t n_rows, int64_t n_cols, std::mt19937& rng) {
    std::vector<uint8_t> bytes =
        hearth::test::random_weight_rows(kQ6K, n_rows, n_cols, rng, hearth::test::ScaleDraw::edges);
    auto* blocks = reinterpret_cast<BlockQ6_K*>(bytes.data());
    std::uniform_int_distribution<int> pick(0, 15);
    for (int64_t b = 0; b < n_rows * n_cols / kQK; ++b) {
        const int p = pick(rng);
        if (p <= 1) {
            std::memset(blocks[b].ql, p == 0 ? 0xff : 0, sizeof(blocks[b].ql));
            std::memset(blocks[b].qh, p == 0 ? 0xff : 0, sizeof(blocks[b].qh));
        }
        if (p == 2) {
            std::memset(blocks[b].scales, 0x80, sizeof(blocks[b].scales));
        }
    }
    return bytes;
}

QString describe(const char* what, int64_t n_rows, int64_t n_cols, int64_t n_tok, int64_t t,
                 int64_t r, float got, float want) {
    return QString::asprintf("%s: rows %lld cols %lld tokens %lld: y[%lld][%lld] = %.9g, want %.9g",
                             what, static_cast<long long>(n_rows), static_cast<long long>(n_cols),
                             static_cast<long long>(n_tok), static_cast<long long>(t),
                             static_cast<long long>(r), static_cast<double>(got),
                             static_cast<double>(want));
}

// y[t][r] of the per-row kernel, one token at a time.
std::vector<float> per_row_reference(const uint8_t* w, int64_t n_rows, int64_t n_cols,
                                     const uint8_t* x, size_t x_stride, int64_t n_tok,
                                     int64_t y_stride) {
    const VecDotFn per_row = vec_dot_avx2(TensorType::Q6_K);
    std::vector<float> y(static_cast<size_t>(n_tok * y_stride), -12345.0f);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t r = 0; r < n_rows; ++r) {
            per_row(n_cols, w + static_cast<size_t>(r) * row_bytes(n_cols),
                    x + static_cast<size_t>(t) * x_stride, x_stride,
                    &y[static_cast<size_t>(t * y_stride + r)], 1, 1);
        }
    }
    return y;
}

// got == want bit for bit, the padding columns (r >= n_rows) untouched.
bool same_bits(const char* what, const std::vector<float>& got, const std::vector<float>& want,
               int64_t n_rows, int64_t n_cols, int64_t n_tok, int64_t y_stride) {
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t r = 0; r < y_stride; ++r) {
            const auto k = static_cast<size_t>(t * y_stride + r);
            if (std::bit_cast<uint32_t>(got[k]) != std::bit_cast<uint32_t>(want[k])) {
                qWarning("%s",
                         qPrintable(describe(what, n_rows, n_cols, n_tok, t, r, got[k], want[k])));
                return false;
            }
        }
    }
    return true;
}

} // namespace

class TestMatmulQ6K : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (const char* why = hearth::test::avx2_level_unavailable("the Q6_K tiles")) {
            QSKIP(why);
        }
        QVERIFY(vec_dot_avx2(TensorType::Q6_K) != nullptr);
        QVERIFY(gemm_q6_k_avx2() != nullptr);
    }

    void cleanup() {
        set_kernel_level(max_kernel_level());
        set_avx512_kernels(true);
    }

    // Each kernel called directly: every tile shape and edge, raw activation bytes.
    void tiles_match_per_row_kernel() {
        std::vector<std::pair<const char*, GemmQ6KFn>> kernels{{"avx2", gemm_q6_k_avx2()}};
        if (set_avx512_kernels(true)) {
            QVERIFY(gemm_q6_k_avx512() != nullptr);
            kernels.emplace_back("avx512", gemm_q6_k_avx512());
        } else {
            qInfo("%s", hearth::test::kernels_unavailable("the AVX-512 Q6_K tiles",
                                                          "AVX512F/BW/VL + VNNI"));
        }
        std::mt19937 rng(606);
        for (const int64_t n_cols : {256, 768, 2816}) {
            const size_t x_stride = static_cast<size_t>(n_cols / kQK) * sizeof(BlockQ8_K);
            for (const int64_t n_rows : {1, 2, 3, 5, 8}) {
                const auto w = weight_rows(n_rows, n_cols, rng);
                for (const int64_t n_tok : {1, 2, 3, 4, 5, 6, 7, 9, 33}) {
                    const auto x = raw_activations(n_tok, n_cols, rng);
                    const auto* xb = reinterpret_cast<const uint8_t*>(x.data());
                    const int64_t y_stride = n_rows + 2;
                    const auto want =
                        per_row_reference(w.data(), n_rows, n_cols, xb, x_stride, n_tok, y_stride);
                    for (const auto& [name, kernel] : kernels) {
                        std::vector<float> y(want.size(), -12345.0f);
                        kernel(n_cols, w.data(), row_bytes(n_cols), n_rows, xb, x_stride, n_tok,
                               y.data(), y_stride);
                        QVERIFY(same_bits(name, y, want, n_rows, n_cols, n_tok, y_stride));
                    }
                }
            }
        }
    }

    // Through matmul(): ragged shapes, 1 and 2 threads, the AVX2 and AVX-512 levels, normal
    // activations with outliers (as the model's hidden states have them), quantized by matmul.
    void matmul_matches_per_row_kernel() {
        const bool has_avx512 = set_avx512_kernels(true);
        std::mt19937 rng(6006);
        ThreadPool one(1), two(2);
        for (const int64_t n_cols : {256, 1280}) {
            const size_t act_bytes = activation_row_bytes(TensorType::Q6_K, n_cols);
            for (const int64_t n_rows : {1, 2, 3, 17, 37, 70}) {
                const auto w = weight_rows(n_rows, n_cols, rng);
                const WeightMatrix matrix{TensorType::Q6_K, w.data(), n_cols, n_rows,
                                          row_bytes(n_cols)};
                for (const int64_t n_tok : {2, 3, 5, 31, 33, 70}) {
                    std::normal_distribution<float> normal(0.0f, 1.0f);
                    std::vector<float> x(static_cast<size_t>(n_tok * n_cols));
                    for (size_t i = 0; i < x.size(); ++i) {
                        const float v = normal(rng);
                        x[i] = i == x.size() / 2 ? 3.0e4f : i == 7 ? -1.0e-30f : v;
                    }
                    std::vector<uint8_t> act(act_bytes * static_cast<size_t>(n_tok));
                    for (int64_t t = 0; t < n_tok; ++t) {
                        quantize_activation_row(TensorType::Q6_K, x.data() + t * n_cols,
                                                act.data() + t * act_bytes, n_cols);
                    }
                    const int64_t y_stride = n_rows + 3;
                    const auto want = per_row_reference(w.data(), n_rows, n_cols, act.data(),
                                                        act_bytes, n_tok, y_stride);
                    std::vector<uint8_t> scratch(act.size());
                    for (const bool avx512 : {false, true}) {
                        if (avx512 && !has_avx512) {
                            continue;
                        }
                        set_avx512_kernels(avx512);
                        for (const int threads : {1, 2}) {
                            std::vector<float> y(want.size(), -12345.0f);
                            matmul(matrix, x.data(), n_tok, n_cols, y.data(), y_stride,
                                   scratch.data(), threads == 1 ? one : two);
                            QVERIFY(same_bits(avx512 ? "matmul avx512" : "matmul avx2", y, want,
                                              n_rows, n_cols, n_tok, y_stride));
                        }
                    }
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestMatmulQ6K)
#include "tst_matmul_q6_k.moc"
