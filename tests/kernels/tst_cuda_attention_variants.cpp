// Kernel tests of issue 17's per-value operations (kernels/attention_variants.cu) against the
// CPU forward's own functions (model/attention_math.h, which cpu/forward.cpp and
// cpu/soft_cap.h call): gemma2's final logit soft cap over ragged lengths and mistral3's
// attention temperature over rows whose positions cross the floor steps, with strided rows
// whose padding must stay untouched. (The attention logit soft cap and gpt-oss's sinks are
// options of the attention kernels: tst_cuda_attention, tst_cuda_prompt_attention.)
// Without a CUDA device: "skipped: no CUDA device".
#include "attention_variants.cuh"
#include "cuda_kernel_test.h"
#include "model/attention_math.h"

#include <cmath>

using namespace cuda_test;
namespace k = hearth::kernels;
namespace math = hearth::attention_math;

class TstCudaAttentionVariants : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void soft_cap_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<float>("cap");
        QTest::newRow("1, cap 30") << 1 << 30.0f;
        QTest::newRow("255, cap 30") << 255 << 30.0f;
        QTest::newRow("49157, cap 30 (gemma2's final)") << 49157 << 30.0f;
        QTest::newRow("4097, cap 50 (gemma2's attention)") << 4097 << 50.0f;
        QTest::newRow("1000, cap 0.5") << 1000 << 0.5f;
    }

    // Bound: CUDA's tanhf is within 2 ulps of tanh and glibc's within 1, the result at most 1
    // in magnitude (ulp <= 2^-23), then both multiply by the same cap: |GPU - CPU| <= 4 ulps of
    // 1 times the cap, 5e-7 cap. Inputs span +-4 caps, where tanh goes from linear to flat.
    void soft_cap() {
        QFETCH(int, n);
        QFETCH(float, cap);
        const auto x = random_floats(size_t(n), 17 + uint64_t(n), -4.0f * cap, 4.0f * cap);
        DeviceArray<float> d_x(x.size() + 1); // one float past the end stays poisoned
        QVERIFY(d_x.ok());
        CUDA_VERIFY(d_x.poison());
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(k::launch_soft_cap(d_x.get(), n, cap, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got;
        CUDA_VERIFY(d_x.download(got));
        QVERIFY2(std::isnan(got[size_t(n)]), "wrote past n");
        got.resize(size_t(n));
        std::vector<double> want(static_cast<size_t>(n));
        double bent = 0.0; // how far the cap moves the values: the test must see a change
        for (size_t i = 0; i < size_t(n); ++i) {
            want[i] = math::soft_cap(x[i], cap, 1.0f / cap);
            bent = std::max(bent, std::abs(want[i] - double(x[i])));
        }
        QVERIFY(bent > 0.1 * cap);
        const QString bad = first_mismatch(got, want, [&](size_t) { return 5e-7 * cap; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void attention_temperature_data() {
        QTest::addColumn<int>("n_rows");
        QTest::addColumn<int>("width");
        QTest::addColumn<float>("floor_scale");
        QTest::addColumn<double>("scale");
        QTest::newRow("8 rows x 4096, floor 8192, scale 0.1") << 8 << 4096 << 8192.0f << 0.1;
        QTest::newRow("37 rows x 300, floor 7, scale 0.1") << 37 << 300 << 7.0f << 0.1;
        QTest::newRow("100 rows x 257, floor 3, scale 0.5") << 100 << 257 << 3.0f << 0.5;
    }

    // The same formula on both sides (floorf of a float quotient, the log in double, one
    // float product): the factor may differ only by the last bit of CUDA's double log rounded
    // to float, so |GPU - CPU| <= 2^-22 |x|. The positions cross several floor steps, so a
    // wrong position, row or step shows as a change of log(2) * scale or more.
    void attention_temperature() {
        QFETCH(int, n_rows);
        QFETCH(int, width);
        QFETCH(float, floor_scale);
        QFETCH(double, scale);
        const int64_t stride = width + 3;
        const auto x = random_floats(size_t(stride * n_rows), 7 + uint64_t(width), -4.0f, 4.0f);
        std::vector<int32_t> positions(static_cast<size_t>(n_rows));
        for (int r = 0; r < n_rows; ++r) {
            // Out of order, with repeats, up to ~10 floor steps.
            positions[size_t(r)] =
                int32_t((uint64_t(r) * 7919) % uint64_t(10 * floor_scale + 5)) + (r % 3 == 0);
        }
        DeviceArray<float> d_x(x);
        DeviceArray<int32_t> d_pos(positions);
        QVERIFY(d_x.ok() && d_pos.ok());
        CUDA_VERIFY(k::launch_attention_temperature(d_x.get(), n_rows, width, stride, d_pos.get(),
                                                    floor_scale, scale, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got;
        CUDA_VERIFY(d_x.download(got));
        std::vector<double> want(x.size());
        bool some_scaled = false;
        for (int r = 0; r < n_rows; ++r) {
            const float factor =
                math::attention_temperature(uint32_t(positions[size_t(r)]), floor_scale, scale);
            some_scaled = some_scaled || factor > 1.0f;
            for (int64_t i = 0; i < stride; ++i) {
                const size_t at = size_t(r * stride + i);
                // Padding past width: untouched.
                want[at] = i < width ? double(x[at] * factor) : double(x[at]);
            }
        }
        QVERIFY(some_scaled);
        const QString bad = first_mismatch(
            got, want, [&](size_t i) { return 0x1p-22 * std::abs(want[i]) + 1e-30; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void rejects_bad_arguments() {
        DeviceArray<float> buf(64);
        DeviceArray<int32_t> pos(4);
        QVERIFY(buf.ok() && pos.ok());
        for (const float cap : {0.0f, -1.0f, NAN, INFINITY}) {
            QCOMPARE(k::launch_soft_cap(buf.get(), 4, cap, nullptr), cudaErrorInvalidValue);
        }
        QCOMPARE(k::launch_soft_cap(nullptr, 4, 1.0f, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_soft_cap(buf.get(), -1, 1.0f, nullptr), cudaErrorInvalidValue);
        CUDA_VERIFY(k::launch_soft_cap(buf.get(), 0, 1.0f, nullptr)); // nothing to do
        const auto temperature = [&](int n_rows, int width, int64_t stride, float floor_scale,
                                     double scale, float* x, const int32_t* p) {
            return k::launch_attention_temperature(x, n_rows, width, stride, p, floor_scale, scale,
                                                   nullptr);
        };
        QCOMPARE(temperature(1, 8, 7, 8.0f, 0.1, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 0, 8, 8.0f, 0.1, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(-1, 8, 8, 8.0f, 0.1, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 8, 8, 0.0f, 0.1, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 8, 8, NAN, 0.1, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 8, 8, 8.0f, NAN, buf.get(), pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 8, 8, 8.0f, 0.1, nullptr, pos.get()), cudaErrorInvalidValue);
        QCOMPARE(temperature(1, 8, 8, 8.0f, 0.1, buf.get(), nullptr), cudaErrorInvalidValue);
        CUDA_VERIFY(cudaDeviceSynchronize());
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaAttentionVariants)
#include "tst_cuda_attention_variants.moc"
