// Kernel tests of the tensor-core prefill product (engine/src/backend/cuda/cublas_prefill.cpp:
// cuBLAS loaded with dlopen, weights dequantized to F16 tiles, activations rounded to F16):
// Y = X W^T against the exact product of the CPU-dequantized weights, for several weight types,
// token counts (1, odd, 512) and tiles smaller than the matrix (so that the row tiling and the
// output offsets are exercised), plus the F32 -> F16 conversion kernel bit for bit and the
// refusals. Without a CUDA device: "skipped: no CUDA device"; without cuBLAS the products
// skip with the loader's reason (a failure under HEARTH_REQUIRE_CUDA=1).
#include "backend/cuda/cublas_prefill.h"
#include "convert.cuh"
#include "cuda_kernel_test.h"
#include "random_weights.h"

using hearth::TensorType;
using hearth::cuda_detail::CublasPrefill;
using namespace cuda_test;

class TstCudaPrefill : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void convert_matches_cpu() {
        std::vector<float> x = random_floats(100003, 5, -70000.0f, 70000.0f);
        x[0] = 1e-8f; // subnormal in F16
        x[1] = -0.0f;
        x[2] = std::numeric_limits<float>::infinity();
        DeviceArray<float> d_x(x.size());
        DeviceArray<uint16_t> d_h(x.size());
        QVERIFY(d_x.ok() && d_h.ok());
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(d_h.poison());
        CUDA_VERIFY(hearth::kernels::launch_convert_f32_to_f16(d_x.get(), d_h.get(),
                                                               int64_t(x.size()), nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<uint16_t> h;
        CUDA_VERIFY(d_h.download(h));
        for (size_t i = 0; i < x.size(); ++i) {
            if (h[i] != hearth::fp32_to_fp16(x[i])) {
                QFAIL(qPrintable(QStringLiteral("element %1 (%2): got 0x%3, want 0x%4")
                                     .arg(i)
                                     .arg(double(x[i]))
                                     .arg(h[i], 4, 16, QLatin1Char('0'))
                                     .arg(hearth::fp32_to_fp16(x[i]), 4, 16, QLatin1Char('0'))));
            }
        }
        QCOMPARE(hearth::kernels::launch_convert_f32_to_f16(nullptr, d_h.get(), 1, nullptr),
                 cudaErrorInvalidValue);
    }

    void matmul_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("n_rows");
        QTest::addColumn<int>("n_cols");
        QTest::addColumn<int>("n_tokens");
        QTest::addColumn<int>("tile_kib");
        QTest::newRow("Q4_0 96x512, 1 token") << int(TensorType::Q4_0) << 96 << 512 << 1 << 64;
        QTest::newRow("Q4_0 300x1024, 37 tokens, 7 tiles")
            << int(TensorType::Q4_0) << 300 << 1024 << 37 << 96;
        QTest::newRow("Q8_0 257x2048, 512 tokens")
            << int(TensorType::Q8_0) << 257 << 2048 << 512 << 1024;
        QTest::newRow("Q4_K 130x768, 100 tokens")
            << int(TensorType::Q4_K) << 130 << 768 << 100 << 64;
        QTest::newRow("Q6_K 64x512, 9 tokens") << int(TensorType::Q6_K) << 64 << 512 << 9 << 64;
        QTest::newRow("F16 200x1000, 33 tokens")
            << int(TensorType::F16) << 200 << 1000 << 33 << 128;
        QTest::newRow("F32 50x100, 3 tokens") << int(TensorType::F32) << 50 << 100 << 3 << 64;
    }

    // Bound: W and X each rounded to F16 (2^-11 relative), products summed in float32 on the
    // tensor cores: |y - exact| <= (2^-10 + n 2^-24) sum|w x| < 2e-3 sum|w x| here.
    void matmul() {
        QFETCH(int, type_id);
        QFETCH(int, n_rows);
        QFETCH(int, n_cols);
        QFETCH(int, n_tokens);
        QFETCH(int, tile_kib);
        auto prefill = CublasPrefill::create(nullptr, size_t(tile_kib) << 10);
        if (!prefill) {
            const QString why = QString::fromStdString(prefill.error().message);
            if (std::getenv("HEARTH_REQUIRE_CUDA")) {
                QFAIL(qPrintable("HEARTH_REQUIRE_CUDA is set but " + why));
            }
            QSKIP(qPrintable("skipped: " + why));
        }
        const auto type = TensorType(type_id);
        const auto traits = hearth::tensor_type_traits(type);
        const size_t pitch = size_t(n_cols / traits.block_size) * traits.type_size;
        const auto w = random_matrix(type, n_rows, n_cols, pitch, 900 + uint64_t(type_id));
        const auto wf = cpu_rows(type, w, n_rows, n_cols, pitch);
        const auto x = random_floats(size_t(n_tokens) * size_t(n_cols), 901);
        const int64_t y_stride = n_rows + 5;
        DeviceArray<uint8_t> d_w(w.size());
        DeviceArray<float> d_x(x.size()), d_y(size_t(y_stride) * size_t(n_tokens));
        QVERIFY(d_w.ok() && d_x.ok() && d_y.ok());
        CUDA_VERIFY(d_w.upload(w));
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(d_y.poison());
        const auto ok = (*prefill)->matmul(type_id, d_w.get(), pitch, n_rows, n_cols, d_x.get(),
                                           n_tokens, d_y.get(), y_stride);
        QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y;
        CUDA_VERIFY(d_y.download(y));
        std::vector<float> got;
        std::vector<double> want, bound;
        for (int t = 0; t < n_tokens; ++t) {
            for (int r = 0; r < n_rows; ++r) {
                double exact = 0, magnitude = 0;
                for (int c = 0; c < n_cols; ++c) {
                    const double p = double(wf[size_t(r) * size_t(n_cols) + size_t(c)]) *
                                     double(x[size_t(t) * size_t(n_cols) + size_t(c)]);
                    exact += p;
                    magnitude += std::abs(p);
                }
                got.push_back(y[size_t(t) * size_t(y_stride) + size_t(r)]);
                want.push_back(exact);
                bound.push_back(2e-3 * magnitude + 1e-30);
            }
            QVERIFY(
                std::isnan(y[size_t(t) * size_t(y_stride) + size_t(n_rows)])); // padding untouched
        }
        const QString bad = first_mismatch(got, want, [&](size_t i) { return bound[i]; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void rejects_bad_arguments() {
        auto prefill = CublasPrefill::create(nullptr);
        if (!prefill) {
            QCOMPARE(prefill.error().code, hearth::ErrorCode::unsupported);
            QVERIFY(QString::fromStdString(prefill.error().message).contains("cuBLAS"));
            return;
        }
        DeviceArray<float> buf(4096);
        QVERIFY(buf.ok());
        const int q4 = int(TensorType::Q4_0);
        auto r = (*prefill)->matmul(q4, buf.get(), 18, 4, 33, buf.get(), 1, buf.get(), 4);
        QCOMPARE(r.error().code, hearth::ErrorCode::invalid_argument);
        r = (*prefill)->matmul(q4, buf.get(), 20, 4, 32, buf.get(), 1, buf.get(), 4); // padded rows
        QCOMPARE(r.error().code, hearth::ErrorCode::invalid_argument);
        r = (*prefill)->matmul(int(TensorType::Q8_K), buf.get(), 292, 1, 256, buf.get(), 1,
                               buf.get(), 1);
        QCOMPARE(r.error().code, hearth::ErrorCode::unsupported);
    }
};

QTEST_APPLESS_MAIN(TstCudaPrefill)
#include "tst_cuda_prefill.moc"
