// Kernel tests of gemma4's per-layer embedding kernels (kernels/per_layer_embd.cu) against the
// CPU forward's arithmetic (cpu/gemma4_layer.cpp: p *= 1/sqrt(n_embd), then
// out = (p + s) * (1/sqrt(2)), one float rounding each): the scale and the per-layer inputs,
// token-major in and layer-major out, bit for bit; ragged sizes, one token and several; and the
// launchers' refusals. Without a CUDA device: "skipped: no CUDA device".
#include "cuda_kernel_test.h"
#include "per_layer_embd.cuh"

#include <cmath>
#include <cstring>

using namespace cuda_test;
namespace k = hearth::kernels;

class TstCudaPerLayerEmbd : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void scale_is_one_rounding() {
        for (const int64_t n : {int64_t(1), int64_t(255), int64_t(100003)}) {
            auto x = random_floats(size_t(n), 41 + uint64_t(n), -50.0f, 50.0f);
            const float scale = 1.0f / std::sqrt(1536.0f);
            DeviceArray<float> d_x(x.size());
            QVERIFY(d_x.ok());
            CUDA_VERIFY(d_x.upload(x));
            CUDA_VERIFY(k::launch_scale(d_x.get(), scale, n, nullptr));
            CUDA_VERIFY(cudaDeviceSynchronize());
            std::vector<float> got;
            CUDA_VERIFY(d_x.download(got));
            for (float& v : x) {
                v *= scale;
            }
            QVERIFY(std::memcmp(got.data(), x.data(), x.size() * sizeof(float)) == 0);
        }
    }

    void per_layer_inputs_data() {
        QTest::addColumn<int>("n_tokens");
        QTest::addColumn<int>("n_layer");
        QTest::addColumn<int>("width");
        QTest::newRow("one token") << 1 << 4 << 16;
        QTest::newRow("8 tokens, ragged width") << 8 << 3 << 37;
        QTest::newRow("a prompt chunk") << 100 << 35 << 256;
    }

    // inputs[l][t] = (projected[t][l] + selected[t][l]) * input_scale, as the CPU's loop.
    void per_layer_inputs() {
        QFETCH(int, n_tokens);
        QFETCH(int, n_layer);
        QFETCH(int, width);
        const size_t n = size_t(n_tokens) * n_layer * width;
        const auto projected = random_floats(n, 51 + n, -3.0f, 3.0f);
        const auto selected = random_floats(n, 52 + n, -3.0f, 3.0f);
        const float input_scale = 1.0f / std::sqrt(2.0f);
        DeviceArray<float> d_p(n), d_s(n), d_out(n);
        QVERIFY(d_p.ok() && d_s.ok() && d_out.ok());
        CUDA_VERIFY(d_p.upload(projected));
        CUDA_VERIFY(d_s.upload(selected));
        CUDA_VERIFY(d_out.poison());
        CUDA_VERIFY(k::launch_per_layer_inputs(d_p.get(), d_s.get(), input_scale, n_tokens, n_layer,
                                               width, d_out.get(), nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got;
        CUDA_VERIFY(d_out.download(got));
        std::vector<float> want(n);
        for (int t = 0; t < n_tokens; ++t) {
            for (int l = 0; l < n_layer; ++l) {
                for (int i = 0; i < width; ++i) {
                    const size_t j = (size_t(t) * n_layer + l) * width + i;
                    want[(size_t(l) * n_tokens + t) * width + i] =
                        (projected[j] + selected[j]) * input_scale;
                }
            }
        }
        QVERIFY(std::memcmp(got.data(), want.data(), n * sizeof(float)) == 0);
    }

    void refuses_bad_arguments() {
        DeviceArray<float> buf(64);
        QVERIFY(buf.ok());
        QCOMPARE(k::launch_scale(nullptr, 2.0f, 4, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_scale(buf.get(), 2.0f, -1, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_per_layer_inputs(buf.get(), buf.get(), 1.0f, 1, 1, 0, buf.get() + 32,
                                            nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_per_layer_inputs(buf.get(), buf.get(), 1.0f, 1, 0, 4, buf.get() + 32,
                                            nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(
            k::launch_per_layer_inputs(buf.get(), nullptr, 1.0f, 1, 1, 4, buf.get() + 32, nullptr),
            cudaErrorInvalidValue);
        // No tokens: nothing to do.
        QCOMPARE(k::launch_per_layer_inputs(buf.get(), buf.get(), 1.0f, 0, 1, 4, buf.get() + 32,
                                            nullptr),
                 cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaPerLayerEmbd)
#include "tst_cuda_per_layer_embd.moc"
