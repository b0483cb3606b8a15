// Kernel tests of the elementwise and row operations of the CUDA decode step against the CPU
// forward's arithmetic: RMSNorm (plain, without a weight, and fused with the residual add,
// kernels/rms_norm.cu),
// RoPE (normal and NeoX layouts, linear and YaRN scaling, frequency factors, qwen35's sections
// at position 0, kernels/rope.cu),
// SwiGLU / GeGLU (kernels/glu.cu), the bias added to each row (qwen2's Q/K/V biases, gpt-oss's
// attention output bias, kernels/elementwise.cu). Sizes include ones that are not multiples of
// the CTA.
// The CPU references below restate engine/src/cpu/forward.cpp's private functions line for
// line (rms_norm, rope_angles + apply_rope); GeGLU's GELU is the CPU's own
// (model/activation_math.h, compiled here for the host), SwiGLU the engine's own
// ggml::swiglu_f32. Without a CUDA device: "skipped: no CUDA device".
#include "cpu/ggml_numerics.h"
#include "cuda_kernel_test.h"
#include "elementwise.cuh"
#include "glu.cuh"
#include "hearth/quant.h"
#include "model/activation_math.h"
#include "rms_norm.cuh"
#include "rope.cuh"

#include <algorithm>
#include <cstring>

using namespace cuda_test;
namespace k = hearth::kernels;

namespace {

void cpu_rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(x[i] * x[i]);
    }
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) {
        y[i] = w ? (x[i] * scale) * w[i] : x[i] * scale; // gemma4's V: no weight
    }
}

struct CpuRope {
    int n_rot;
    float freq_base, freq_scale, ext_factor, attn_factor, corr_low, corr_high;
    const float* freq_factors;
    bool neox;
    const uint8_t* at_position_zero = nullptr; // qwen35's sections at position 0
};

// forward.cpp's rope_angles + apply_rope (the fused form of the avx2 level).
void cpu_rope(const CpuRope& p, uint32_t pos, float* x, int n_heads, int head_dim) {
    std::vector<float> cos_t(static_cast<size_t>(p.n_rot / 2)), sin_t(size_t(p.n_rot / 2));
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float factor = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
        const bool at_zero = p.at_position_zero && p.at_position_zero[i0 / 2];
        const float theta_extrap = (at_zero ? 0.0f : theta) / factor;
        const float theta_interp = p.freq_scale * theta_extrap;
        float angle = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float y = (static_cast<float>(i0 / 2) - p.corr_low) /
                            std::max(0.001f, p.corr_high - p.corr_low);
            const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
            angle = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
            mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        cos_t[size_t(i0 / 2)] = std::cos(angle) * mscale;
        sin_t[size_t(i0 / 2)] = std::sin(angle) * mscale;
        theta *= theta_scale;
    }
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + size_t(h) * head_dim;
        for (int i = 0; i < p.n_rot / 2; ++i) {
            const int a = p.neox ? i : 2 * i;
            const int b = p.neox ? i + p.n_rot / 2 : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = std::fma(x0, cos_t[size_t(i)], -(x1 * sin_t[size_t(i)]));
            v[b] = std::fma(x0, sin_t[size_t(i)], x1 * cos_t[size_t(i)]);
        }
    }
}

} // namespace

class TstCudaOps : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void rms_norm_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("n_rows");
        QTest::addColumn<bool>("fused");
        QTest::addColumn<bool>("weighted");
        for (const int n : {1, 64, 576, 1000, 4096, 8193}) {
            for (const bool fused : {false, true}) {
                QTest::newRow(
                    qPrintable(QStringLiteral("%1%2").arg(n).arg(fused ? " +residual" : "")))
                    << n << (n > 4096 ? 2 : 5) << fused << true;
            }
        }
        for (const int n : {32, 256, 1000}) { // gemma4's V norm: heads of 32 .. 256 values
            QTest::newRow(qPrintable(QStringLiteral("%1 without weight").arg(n)))
                << n << 7 << false << false;
        }
    }

    // Bound: the CPU sums squares in double, the GPU in a float32 tree: the scale differs by
    // at most ~(log2(n) + n/256) 2^-24 relative, the output by that plus 2 roundings: 4e-6
    // relative (plus an absolute 1e-30 for exact zeros).
    void rms_norm() {
        QFETCH(int, n);
        QFETCH(int, n_rows);
        QFETCH(bool, fused);
        QFETCH(bool, weighted);
        const int64_t stride = n + 5;
        const float eps = 1e-5f;
        auto x = random_floats(size_t(stride * n_rows), 11 + uint64_t(n), -3.0f, 3.0f);
        const auto r = random_floats(x.size(), 12 + uint64_t(n));
        const auto w = random_floats(size_t(n), 13 + uint64_t(n), 0.5f, 1.5f);
        DeviceArray<float> d_x(x), d_r(r), d_w(w), d_y(x.size());
        QVERIFY(d_x.ok() && d_r.ok() && d_w.ok() && d_y.ok());
        CUDA_VERIFY(d_y.poison());
        if (fused) {
            CUDA_VERIFY(k::launch_add_rms_norm(d_x.get(), d_r.get(), d_w.get(), d_y.get(), n,
                                               n_rows, stride, eps, nullptr));
        } else {
            CUDA_VERIFY(k::launch_rms_norm(d_x.get(), weighted ? d_w.get() : nullptr, d_y.get(), n,
                                           n_rows, stride, eps, nullptr));
        }
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y, x_after;
        CUDA_VERIFY(d_y.download(y));
        CUDA_VERIFY(d_x.download(x_after));
        std::vector<float> got;
        std::vector<double> want;
        for (int row = 0; row < n_rows; ++row) {
            float* xr = x.data() + row * stride;
            if (fused) {
                for (int i = 0; i < n; ++i) {
                    xr[i] += r[size_t(row * stride + i)];
                    // The residual stream is updated with exactly x + r.
                    QCOMPARE(x_after[size_t(row * stride + i)], xr[i]);
                }
            }
            std::vector<float> ref(static_cast<size_t>(n));
            cpu_rms_norm(xr, weighted ? w.data() : nullptr, ref.data(), n, eps);
            for (int i = 0; i < n; ++i) {
                got.push_back(y[size_t(row * stride + i)]);
                want.push_back(ref[size_t(i)]);
            }
            QVERIFY(std::isnan(y[size_t(row * stride + n)])); // stride padding untouched
        }
        const QString bad =
            first_mismatch(got, want, [&](size_t i) { return 4e-6 * std::abs(want[i]) + 1e-30; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void rope_data() {
        QTest::addColumn<bool>("neox");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_rot");
        QTest::addColumn<QString>("scaling");
        QTest::addColumn<bool>("factors");
        QTest::addColumn<bool>("sections"); // qwen35: some pairs rotated as at position 0
        QTest::newRow("normal 64") << false << 64 << 64 << "none" << false << false;
        QTest::newRow("neox 64") << true << 64 << 64 << "none" << false << false;
        QTest::newRow("normal 128 linear") << false << 128 << 128 << "linear" << false << false;
        QTest::newRow("neox 80 partial 32") << true << 80 << 32 << "none" << false << false;
        QTest::newRow("neox 128 yarn") << true << 128 << 128 << "yarn" << false << false;
        QTest::newRow("normal 128 freq factors") << false << 128 << 128 << "none" << true << false;
        QTest::newRow("neox 128 partial 64, sections at 0")
            << true << 128 << 64 << "none" << false << true;
    }

    // Bound: the angles are computed with the CPU's float32 operations (theta_scale from the
    // host's std::pow); cosf / sinf may differ from glibc's by 2 ulps, i.e. the rotated values
    // by ~3 2^-24 of the head's magnitude; 3e-6 of the largest |x| of the head covers it and
    // the YaRN mscale (up to 1.2) with margin. Positions up to 30000 test the range
    // reduction of large angles.
    void rope() {
        QFETCH(bool, neox);
        QFETCH(int, head_dim);
        QFETCH(int, n_rot);
        QFETCH(QString, scaling);
        QFETCH(bool, factors);
        QFETCH(bool, sections);
        const int n_heads = 5, n_tokens = 6;
        const int64_t stride = int64_t(n_heads) * head_dim + 3;
        const std::vector<int32_t> positions = {0, 1, 17, 511, 4097, 30000};
        std::vector<float> freq_factors;
        if (factors) {
            freq_factors = random_floats(size_t(n_rot / 2), 5, 1.0f, 8.0f);
        }
        CpuRope cpu{n_rot, 10000.0f, 1.0f, 0.0f,
                    1.0f,  0.0f,     0.0f, factors ? freq_factors.data() : nullptr,
                    neox};
        // Every third pair at position 0, as a text token's height and width sections are.
        std::vector<uint8_t> at_zero(size_t(n_rot / 2));
        for (size_t i = 0; i < at_zero.size(); ++i) {
            at_zero[i] = i % 3 == 1;
        }
        if (sections) {
            cpu.at_position_zero = at_zero.data();
        }
        if (scaling == "linear") {
            cpu.freq_scale = 0.25f;
        } else if (scaling == "yarn") {
            cpu.freq_scale = 0.125f;
            cpu.ext_factor = 1.0f;
            cpu.corr_low = 9.0f;
            cpu.corr_high = 41.0f;
            cpu.freq_base = 500000.0f;
        }
        k::RopeConfig config;
        config.n_rot = n_rot;
        config.theta_scale = std::pow(cpu.freq_base, -2.0f / static_cast<float>(n_rot));
        config.freq_scale = cpu.freq_scale;
        config.ext_factor = cpu.ext_factor;
        config.attn_factor = cpu.attn_factor;
        config.corr_low = cpu.corr_low;
        config.corr_high = cpu.corr_high;
        config.neox = neox;

        auto x = random_floats(size_t(stride * n_tokens), 21 + uint64_t(head_dim), -2.0f, 2.0f);
        DeviceArray<float> d_x(x), d_factors(std::max<size_t>(1, freq_factors.size()));
        DeviceArray<int32_t> d_pos(positions);
        DeviceArray<uint8_t> d_at_zero(at_zero.size());
        QVERIFY(d_x.ok() && d_factors.ok() && d_pos.ok() && d_at_zero.ok());
        if (sections) {
            CUDA_VERIFY(d_at_zero.upload(at_zero));
            config.at_position_zero = d_at_zero.get();
        }
        if (factors) {
            CUDA_VERIFY(d_factors.upload(freq_factors));
            config.freq_factors = d_factors.get();
        }
        CUDA_VERIFY(k::launch_rope(d_x.get(), n_tokens, n_heads, head_dim, stride, d_pos.get(),
                                   config, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y;
        CUDA_VERIFY(d_x.download(y));
        std::vector<float> got(y.begin(), y.end());
        std::vector<double> want;
        std::vector<double> magnitude;
        for (int t = 0; t < n_tokens; ++t) {
            float* row = x.data() + t * stride;
            float head_max = 0.0f;
            for (int i = 0; i < n_heads * head_dim; ++i) {
                head_max = std::max(head_max, std::abs(row[i]));
            }
            cpu_rope(cpu, uint32_t(positions[size_t(t)]), row, n_heads, head_dim);
            for (int64_t i = 0; i < stride; ++i) {
                want.push_back(row[i]);
                magnitude.push_back(head_max);
            }
        }
        // Dimensions past n_rot and the stride padding must be left exactly as they were.
        const QString bad =
            first_mismatch(got, want, [&](size_t i) { return 3e-6 * magnitude[i]; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        for (int t = 0; t < n_tokens; ++t) {
            for (int h = 0; h < n_heads; ++h) {
                for (int i = n_rot; i < head_dim; ++i) {
                    const size_t at = size_t(t * stride + h * head_dim + i);
                    QCOMPARE(got[at], float(want[at]));
                }
            }
        }
    }

    void glu_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("n");
        for (const int n : {1, 255, 1536, 100003}) {
            QTest::newRow(qPrintable(QStringLiteral("swiglu %1").arg(n)))
                << int(k::GluKind::swiglu) << n;
            QTest::newRow(qPrintable(QStringLiteral("geglu %1").arg(n)))
                << int(k::GluKind::geglu) << n;
        }
    }

    // SwiGLU bound: ggml's vectorised exp (the CPU reference) and CUDA's expf are each within
    // ~2 ulps: 1e-6 relative covers the quotient and product. GeGLU: both round h and the GELU
    // to F16; tanhf differing by an ulp can flip that last F16 rounding, a 2^-11 relative step,
    // so the bound is one F16 ulp of the GELU (times |up|).
    void glu() {
        QFETCH(int, kind);
        QFETCH(int, n);
        const auto gate = random_floats(size_t(n), 31 + uint64_t(n), -12.0f, 12.0f);
        const auto up = random_floats(size_t(n), 32 + uint64_t(n), -2.0f, 2.0f);
        DeviceArray<float> d_g(gate), d_u(up), d_o(gate.size());
        QVERIFY(d_g.ok() && d_u.ok() && d_o.ok());
        CUDA_VERIFY(d_o.poison());
        CUDA_VERIFY(k::launch_glu(k::GluKind(kind), d_g.get(), d_u.get(), d_o.get(), n, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out;
        CUDA_VERIFY(d_o.download(out));
        std::vector<float> ref(static_cast<size_t>(n));
        std::vector<double> want(static_cast<size_t>(n)), bound(static_cast<size_t>(n));
        if (kind == int(k::GluKind::swiglu)) {
            hearth::cpu::ggml::swiglu_f32(n, ref.data(), gate.data(), up.data());
            for (size_t i = 0; i < size_t(n); ++i) {
                want[i] = ref[i];
                bound[i] = 1e-6 * std::abs(want[i]) + 1e-30;
            }
        } else {
            for (size_t i = 0; i < size_t(n); ++i) {
                const float g = hearth::activation_math::gelu_tanh(gate[i]); // the CPU's
                want[i] = g * up[i];
                bound[i] = (std::abs(g) * 0x1p-10 + 1e-7) * std::abs(up[i]) + 1e-30;
            }
        }
        const QString bad = first_mismatch(out, want, [&](size_t i) { return bound[i]; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void add_bias_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("n_rows");
        QTest::addColumn<int>("stride");
        QTest::newRow("attention output bias (gpt-oss), 8 rows") << 64 << 8 << 64;
        QTest::newRow("keys in a fused q | k | v row (qwen2)") << 128 << 3 << 320;
        QTest::newRow("wide rows, past one CTA") << 1000 << 5 << 1000;
        QTest::newRow("no rows") << 16 << 0 << 16;
    }

    // x[r][i] += bias[i], one float addition as the CPU forward's loops: equal bits; what lies
    // between a row's n values and the next row is not touched.
    void add_bias() {
        QFETCH(int, n);
        QFETCH(int, n_rows);
        QFETCH(int, stride);
        const size_t total = size_t(std::max(n_rows, 1)) * size_t(stride);
        const auto x = random_floats(total, 41 + uint64_t(n), -4.0f, 4.0f);
        const auto bias = random_floats(size_t(n), 42 + uint64_t(n), -1.0f, 1.0f);
        DeviceArray<float> d_x(total), d_bias(bias.size());
        QVERIFY(d_x.ok() && d_bias.ok());
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(d_bias.upload(bias));
        CUDA_VERIFY(k::launch_add_bias(d_x.get(), d_bias.get(), n, n_rows, stride, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got;
        CUDA_VERIFY(d_x.download(got));
        std::vector<float> want = x;
        for (int r = 0; r < n_rows; ++r) {
            for (int i = 0; i < n; ++i) {
                want[size_t(r) * size_t(stride) + size_t(i)] += bias[size_t(i)];
            }
        }
        QVERIFY(std::memcmp(got.data(), want.data(), total * sizeof(float)) == 0);
        QCOMPARE(k::launch_add_bias(d_x.get(), d_bias.get(), n, n_rows, n - 1, nullptr),
                 cudaErrorInvalidValue); // rows overlapping
        QCOMPARE(k::launch_add_bias(d_x.get(), nullptr, n, n_rows, stride, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }

    void rejects_bad_arguments() {
        DeviceArray<float> buf(1024);
        DeviceArray<int32_t> pos(4);
        QVERIFY(buf.ok() && pos.ok());
        QCOMPARE(k::launch_rms_norm(buf.get(), buf.get(), buf.get(), 0, 1, 1, 1e-5f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_rms_norm(buf.get(), buf.get(), buf.get(), 8, 2, 4, 1e-5f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_add_rms_norm(buf.get(), buf.get() + 8, buf.get() + 16, buf.get(), 8, 1,
                                        8, 1e-5f, nullptr),
                 cudaErrorInvalidValue); // y == x
        k::RopeConfig odd;
        odd.n_rot = 63;
        QCOMPARE(k::launch_rope(buf.get(), 1, 1, 64, 64, pos.get(), odd, nullptr),
                 cudaErrorInvalidValue);
        k::RopeConfig wide;
        wide.n_rot = 128;
        QCOMPARE(k::launch_rope(buf.get(), 1, 1, 64, 64, pos.get(), wide, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_glu(k::GluKind::swiglu, nullptr, buf.get(), buf.get(), 4, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_glu(k::GluKind(7), buf.get(), buf.get(), buf.get(), 4, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaOps)
#include "tst_cuda_ops.moc"
