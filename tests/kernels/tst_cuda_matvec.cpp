// Kernel tests of the fused dequantize + matrix-vector products and the embedding lookup
// (kernels/matvec.cu) against the CPU: every weight type, batches of 1..8 vectors, shapes that
// are and are not multiples of the warp's 256-value span, padded row pitches and strides.
// Without a CUDA device the suite reports "skipped: no CUDA device" (HEARTH_REQUIRE_CUDA=1
// makes that a failure).
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "cuda_kernel_test.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "matvec.cuh"
#include "random_weights.h"

using hearth::TensorType;
using namespace cuda_test;

namespace {

int64_t cols_for(TensorType type, int variant) {
    const int qk = hearth::tensor_type_traits(type).block_size;
    if (qk == 1) {
        const int64_t cols[] = {5, 100, 1001, 4096};
        return cols[variant];
    }
    // one block; a few; a span that leaves lanes idle in the last step; a wide row
    const int64_t blocks_32[] = {1, 3, 17, 160};
    const int64_t blocks_256[] = {1, 2, 3, 18};
    return qk * (qk == 256  ? blocks_256[variant]
                 : qk == 64 ? blocks_32[variant] / 2 + 1
                            : blocks_32[variant]);
}

} // namespace

class TstCudaMatvec : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void matches_cpu_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("n_rows");
        QTest::addColumn<int>("variant");
        QTest::addColumn<int>("n_batch");
        QTest::addColumn<bool>("padded");
        struct Shape {
            int rows, variant, batch;
            bool padded;
        };
        const Shape shapes[] = {{1, 0, 1, false},  {7, 1, 3, true},  {33, 2, 8, false},
                                {130, 3, 5, true}, {9, 3, 1, false}, {64, 2, 2, true}};
        for (const TypeCase& c : type_cases()) {
            for (const Shape& s : shapes) {
                const QString name = QStringLiteral("%1 %2x%3 b%4%5")
                                         .arg(QString::fromUtf8(hearth::tensor_type_name(c.type)))
                                         .arg(s.rows)
                                         .arg(cols_for(c.type, s.variant))
                                         .arg(s.batch)
                                         .arg(s.padded ? " padded" : "");
                QTest::newRow(qPrintable(name))
                    << int(c.type) << s.rows << s.variant << s.batch << s.padded;
            }
        }
    }

    // y = W x against (1) the exact product of the CPU-dequantized weights, in double, and
    // (2) the CPU engine's matmul where it supports the type.
    void matches_cpu() {
        QFETCH(int, type_id);
        QFETCH(int, n_rows);
        QFETCH(int, variant);
        QFETCH(int, n_batch);
        QFETCH(bool, padded);
        const auto type = TensorType(type_id);
        const auto traits = hearth::tensor_type_traits(type);
        const int64_t n_cols = cols_for(type, variant);
        const size_t packed = size_t(n_cols / traits.block_size) * traits.type_size;
        const size_t pitch = padded ? (packed + 16 + 15) / 16 * 16 : packed;
        const int64_t x_stride = padded ? n_cols + 3 : n_cols;
        const int64_t y_stride = padded ? n_rows + 1 : n_rows;
        const uint64_t seed =
            0x51ed270b + uint64_t(type_id) * 1000 + uint64_t(n_rows) * 10 + variant;
        const auto w = random_matrix(type, n_rows, n_cols, pitch, seed);
        const auto x = random_floats(size_t(x_stride * n_batch), seed + 1);
        const auto wf = cpu_rows(type, w, n_rows, n_cols, pitch);

        DeviceArray<uint8_t> d_w(w);
        DeviceArray<float> d_x(x), d_y(size_t(y_stride * n_batch));
        QVERIFY(d_w.ok() && d_x.ok() && d_y.ok());
        CUDA_VERIFY(d_y.poison());
        CUDA_VERIFY(hearth::kernels::launch_matvec(type_id, d_w.get(), pitch, n_rows, n_cols,
                                                   d_x.get(), x_stride, d_y.get(), y_stride,
                                                   n_batch, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y_all;
        CUDA_VERIFY(d_y.download(y_all));

        // Bound: float32 FMA accumulation of at most n/256 + 8 terms per lane, then 5 butterfly
        // additions; each step adds at most 2^-24 relative of the running magnitude, so
        // |y - exact| <= (n/256 + 13) 2^-24 sum|w x| (< 4e-6 sum|w x| at the widest row here).
        // 1e-5 keeps a margin; a wrong block scale or misplaced value is orders above it.
        std::vector<float> got;
        std::vector<double> want, scale;
        for (int b = 0; b < n_batch; ++b) {
            for (int r = 0; r < n_rows; ++r) {
                double exact = 0.0, magnitude = 0.0;
                for (int64_t c = 0; c < n_cols; ++c) {
                    const double p =
                        double(wf[size_t(r * n_cols + c)]) * double(x[size_t(b * x_stride + c)]);
                    exact += p;
                    magnitude += std::abs(p);
                }
                got.push_back(y_all[size_t(b * y_stride + r)]);
                want.push_back(exact);
                scale.push_back(magnitude);
            }
            // Padding between output rows is not written: still the poison (NaN).
            if (y_stride > n_rows) {
                QVERIFY(std::isnan(y_all[size_t(b * y_stride + n_rows)]));
            }
        }
        const QString bad =
            first_mismatch(got, want, [&](size_t i) { return 1e-5 * scale[i] + 1e-30; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));

        if (!hearth::cpu::matmul_supports(type)) {
            return;
        }
        // The CPU quantizes x to 8 bits per block (F16 weights: x to F16): each activation is
        // off by at most half a step, amax / 254, plus the F16 rounding of the block scale
        // (2^-11 relative, and of Q8_1's block sum): |y_cpu - exact| < sum|w| max|x| / 200.
        hearth::cpu::ThreadPool pool(1);
        const hearth::cpu::WeightMatrix matrix{type, w.data(), n_cols, n_rows, pitch};
        std::vector<uint8_t> scratch(
            size_t(n_batch) * hearth::cpu::activation_row_bytes(type, n_cols) + 64);
        std::vector<float> y_cpu(static_cast<size_t>(n_batch * n_rows));
        hearth::cpu::matmul(matrix, x.data(), n_batch, x_stride, y_cpu.data(), n_rows,
                            scratch.data(), pool);
        std::vector<double> cpu(y_cpu.begin(), y_cpu.end());
        std::vector<double> cpu_bound;
        for (int b = 0; b < n_batch; ++b) {
            for (int r = 0; r < n_rows; ++r) {
                double sum_w = 0.0, max_x = 0.0;
                for (int64_t c = 0; c < n_cols; ++c) {
                    sum_w += std::abs(double(wf[size_t(r * n_cols + c)]));
                    max_x = std::max(max_x, std::abs(double(x[size_t(b * x_stride + c)])));
                }
                cpu_bound.push_back(sum_w * max_x / 200.0 + 1e-5 * scale[size_t(b * n_rows + r)]);
            }
        }
        const QString bad_cpu = first_mismatch(got, cpu, [&](size_t i) { return cpu_bound[i]; });
        QVERIFY2(bad_cpu.isEmpty(), qPrintable("against the CPU matmul: " + bad_cpu));
    }

    void get_rows_data() {
        QTest::addColumn<int>("type_id");
        for (const TypeCase& c : type_cases()) {
            QTest::newRow(std::string(hearth::tensor_type_name(c.type)).c_str()) << int(c.type);
        }
    }

    // Embedding rows: bit for bit the CPU's dequantized rows (times the scale, one float32
    // multiply); an id out of range gives NaN, not a read out of bounds.
    void get_rows() {
        QFETCH(int, type_id);
        const auto type = TensorType(type_id);
        const auto traits = hearth::tensor_type_traits(type);
        const int64_t n_rows = 11;
        const int64_t n_cols = cols_for(type, 2);
        const size_t pitch = size_t(n_cols / traits.block_size) * traits.type_size;
        const auto w = random_matrix(type, n_rows, n_cols, pitch, 77 + uint64_t(type_id));
        const auto wf = cpu_rows(type, w, n_rows, n_cols, pitch);
        const std::vector<int32_t> tokens = {3, 0, 10, 3, 11, -1};
        DeviceArray<uint8_t> d_w(w);
        DeviceArray<int32_t> d_tokens(tokens);
        DeviceArray<float> d_x(tokens.size() * size_t(n_cols));
        QVERIFY(d_w.ok() && d_tokens.ok() && d_x.ok());
        for (const float scale : {1.0f, 0.37f}) {
            CUDA_VERIFY(d_x.poison());
            CUDA_VERIFY(hearth::kernels::launch_get_rows(type_id, d_w.get(), pitch, n_rows, n_cols,
                                                         d_tokens.get(), int(tokens.size()), scale,
                                                         d_x.get(), n_cols, nullptr));
            CUDA_VERIFY(cudaDeviceSynchronize());
            std::vector<float> x;
            CUDA_VERIFY(d_x.download(x));
            for (size_t t = 0; t < tokens.size(); ++t) {
                for (int64_t c = 0; c < n_cols; ++c) {
                    const float got = x[t * size_t(n_cols) + size_t(c)];
                    if (tokens[t] < 0 || tokens[t] >= n_rows) {
                        QVERIFY2(std::isnan(got),
                                 qPrintable(QStringLiteral("token %1").arg(tokens[t])));
                        continue;
                    }
                    const float v = wf[size_t(tokens[t] * n_cols + c)];
                    const float want = scale == 1.0f ? v : v * scale;
                    if (std::memcmp(&got, &want, 4) != 0) {
                        QFAIL(qPrintable(QStringLiteral("row %1 col %2: got %3, want %4")
                                             .arg(t)
                                             .arg(c)
                                             .arg(double(got))
                                             .arg(double(want))));
                    }
                }
            }
        }
    }

    void rejects_bad_arguments() {
        namespace k = hearth::kernels;
        DeviceArray<float> buf(4096);
        QVERIFY(buf.ok());
        const float* x = buf.get();
        float* y = buf.get() + 2048;
        const int q4 = int(TensorType::Q4_0);
        QCOMPARE(k::launch_matvec(int(TensorType::Q8_K), buf.get(), 292, 1, 256, x, 256, y, 1, 1,
                                  nullptr),
                 cudaErrorNotSupported);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 18, 1, 33, x, 33, y, 1, 1, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 17, 1, 32, x, 32, y, 1, 1, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 18, 1, 32, x, 32, y, 1, 0, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 18, 1, 32, x, 32, y, 1, 9, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, nullptr, 18, 1, 32, x, 32, y, 1, 1, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 18, 4, 32, x, 16, y, 4, 2, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec(q4, buf.get(), 18, 0, 32, x, 32, y, 1, 1, nullptr), cudaSuccess);
        QCOMPARE(k::launch_get_rows(q4, buf.get(), 18, 0, 32, nullptr, 1, 1.0f, y, 32, nullptr),
                 cudaErrorInvalidValue);
        QVERIFY(k::can_launch_matvec(int(TensorType::Q6_K)));
        QVERIFY(!k::can_launch_matvec(int(TensorType::Q8_K)));
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaMatvec)
#include "tst_cuda_matvec.moc"
