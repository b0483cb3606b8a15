// The low-bit weight types' and Q6_K's products against llama.cpp's own kernels, bit for bit: the
// activations Hearth quantizes equal ggml's bytes, and the AVX2 kernels give the bits of ggml's
// x86 kernels. The portable kernels follow ggml's portable (`_generic`) ones but are held to a
// float bound only: the reference library is compiled for this CPU, so its portable C fuses
// multiply-adds (FMA) that a CPU without AVX2 would not have. The reference
// (tests/data/quant/dot/) is written by scripts/gen-dot-reference.py, which calls ggml's
// functions in the AVX2 build of llama-cpp-python's libggml-cpu (LLAMA_CPP_LIB_PATH).
#include "cpu/cpu_features.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "test_support.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using hearth::TensorType;
using namespace hearth::cpu;

namespace {

std::filesystem::path dot_dir() {
    return hearth::test::data_dir() / "quant" / "dot";
}

std::vector<uint8_t> read_file(const std::string& name) {
    return hearth::test::read_bytes(dot_dir() / name);
}

std::vector<float> read_floats(const std::string& name) {
    const std::vector<uint8_t> bytes = read_file(name);
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
}

QJsonObject read_index() {
    const std::vector<uint8_t> text = read_file("index.json");
    return QJsonDocument::fromJson(
               QByteArray(reinterpret_cast<const char*>(text.data()), qsizetype(text.size())))
        .object();
}

const char* dot_type_name(TensorType type) {
    switch (dot_type(type)) {
    case TensorType::Q8_0:
        return "Q8_0";
    case TensorType::Q8_K:
        return "Q8_K";
    case TensorType::BF16:
        return "BF16";
    default:
        return "?";
    }
}

} // namespace

class TestMatmulLowbitGgml : public QObject {
    Q_OBJECT

private slots:
    void matches_ggml_data() {
        QTest::addColumn<QJsonObject>("entry");
        const QJsonArray cases = read_index().value("cases").toArray();
        QVERIFY2(!cases.isEmpty(), "tests/data/quant/dot/index.json missing or empty");
        for (const QJsonValue& value : cases) {
            QTest::newRow(qPrintable(value.toObject().value("type").toString()))
                << value.toObject();
        }
    }

    void matches_ggml() {
        QFETCH(QJsonObject, entry);
        const QJsonObject index = read_index();
        const int64_t n_rows = index.value("n_rows").toInt();
        const int64_t n_cols = index.value("n_cols").toInt();
        const int64_t n_tokens = index.value("n_tokens").toInt();
        const auto type = static_cast<TensorType>(entry.value("type_id").toInt());
        QCOMPARE(QString(dot_type_name(type)), entry.value("dot_type").toString());

        const std::vector<float> x = read_floats(index.value("x").toString().toStdString());
        QCOMPARE(int64_t(x.size()), n_tokens * n_cols);
        const size_t act_bytes = activation_row_bytes(type, n_cols);
        const std::vector<uint8_t> ggml_act =
            read_file(std::string("act.") + dot_type_name(type) + ".bin");
        QCOMPARE(ggml_act.size(), size_t(n_tokens) * act_bytes);
        const std::vector<uint8_t> w = read_file(entry.value("weights").toString().toStdString());
        const auto traits = hearth::tensor_type_traits(type);
        const size_t row_bytes = size_t(n_cols) / traits.block_size * traits.type_size;
        QCOMPARE(w.size(), size_t(n_rows) * row_bytes);

        // Activations: ggml's bytes at every kernel level (one quantizer serves them all).
        std::vector<uint8_t> act(ggml_act.size());
        for (int64_t t = 0; t < n_tokens; ++t) {
            quantize_activation_row(type, x.data() + t * n_cols, act.data() + t * act_bytes,
                                    n_cols);
        }
        QVERIFY2(act == ggml_act, "the quantized activations differ from ggml's");

        const std::vector<float> x86 = read_floats(entry.value("x86").toString().toStdString());
        // sum_i |w_i x_i| per (token, row), from the dequantized weights and activations: the
        // scale of the float bound.
        std::vector<float> wf(static_cast<size_t>(n_rows * n_cols));
        std::vector<float> xf(static_cast<size_t>(n_cols));
        QVERIFY(hearth::dequantize(type, w.data(), wf.data(), n_rows * n_cols));
        std::vector<double> magnitude(size_t(n_tokens * n_rows));
        for (int64_t t = 0; t < n_tokens; ++t) {
            dequantize_activation_row(type, ggml_act.data() + t * act_bytes, xf.data(), n_cols);
            for (int64_t r = 0; r < n_rows; ++r) {
                double sum = 0.0;
                for (int64_t c = 0; c < n_cols; ++c) {
                    sum += std::fabs(double(wf[size_t(r * n_cols + c)]) * xf[size_t(c)]);
                }
                magnitude[size_t(t * n_rows + r)] = sum;
            }
        }
        const KernelLevel saved = kernel_level();
        for (int level = 0; level <= int(max_kernel_level()); ++level) {
            set_kernel_level(static_cast<KernelLevel>(level));
            const bool simd = level > 0 && vec_dot_avx2(type) != nullptr;
            // Bits where Hearth has the AVX2 twin of ggml's x86 kernel (the reference comes from
            // llama.cpp's AVX2 build, so BF16 too).
            const bool bits = simd;
            const VecDotFn kernel = simd ? vec_dot_avx2(type) : vec_dot_portable(type);
            const auto check = [&](int64_t t, int64_t r, float got, int n_tok) {
                const float ref = x86[size_t(t * n_rows + r)];
                const QString where =
                    QString("%1 level %2 token %3 row %4 (%5 at once): %6, ggml %7")
                        .arg(entry.value("type").toString())
                        .arg(kernel_level_name(KernelLevel(level)))
                        .arg(t)
                        .arg(r)
                        .arg(n_tok)
                        .arg(double(got), 0, 'g', 9)
                        .arg(double(ref), 0, 'g', 9);
                if (bits) {
                    QVERIFY2(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(ref),
                             qPrintable(where));
                } else {
                    // Two float orders of one sum: at most n_cols / 8 + 8 roundings of
                    // 2^-24 of the sum of magnitudes each (as in tst_matmul).
                    const double bound = (double(n_cols) / 8 + 8) * std::ldexp(1.0, -24) *
                                         magnitude[size_t(t * n_rows + r)];
                    QVERIFY2(std::fabs(double(got) - ref) <= bound, qPrintable(where));
                }
            };
            // Each row against 1..kMaxTokens tokens in one call (prefill's shape; the grid
            // i-quants decode a weight block once for all of them): the same values per token.
            for (int n_tok = 1; n_tok <= std::min<int64_t>(kMaxTokens, n_tokens); ++n_tok) {
                for (int64_t t0 = 0; t0 + n_tok <= n_tokens; ++t0) {
                    for (int64_t r = 0; r < n_rows; ++r) {
                        std::vector<float> got(size_t(n_tok) * 3, NAN);
                        kernel(n_cols, w.data() + size_t(r) * row_bytes,
                               ggml_act.data() + size_t(t0) * act_bytes, act_bytes, got.data(), 3,
                               n_tok);
                        for (int t = 0; t < n_tok; ++t) {
                            check(t0 + t, r, got[size_t(t) * 3], n_tok);
                            if (QTest::currentTestFailed()) {
                                return;
                            }
                        }
                    }
                }
            }
        }
        set_kernel_level(saved);
    }
};

QTEST_APPLESS_MAIN(TestMatmulLowbitGgml)
#include "tst_matmul_lowbit_ggml.moc"
