// Kernel tests of qwen35's gated delta-net on the GPU (kernels/delta_net.cu) against the CPU
// forward's own functions (cpu/delta_net.h, cpu/gated_attention.h): the causal convolution with
// its state, the l2 norm of q and k, the delta rule with its state, the gated RMSNorm and the
// attention output gate. Ragged sizes (channels, heads and d_state that are not multiples of a
// warp or a CTA), one token and several, two sequences interleaved in one batch: one starting
// at position 0 over a NaN-poisoned slot (the kernels must read it as zeros), one continuing
// from a state, and a third slot no token names (it must stay as it was).
// Without a CUDA device: "skipped: no CUDA device".
#include "cpu/delta_net.h"
#include "cpu/delta_net_math.h"
#include "cpu/gated_attention.h"
#include "cuda_kernel_test.h"
#include "delta_net.cuh"

#include <algorithm>
#include <limits>

using namespace cuda_test;
namespace k = hearth::kernels;

namespace {

constexpr int kSlots = 3;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A batch of tokens of slots 0 (from position 0) and 2 (continuing at position 5), slot 1 idle.
struct Batch {
    std::vector<int32_t> positions, seq_slots;
    int size() const { return int(positions.size()); }
};

Batch make_batch(int n_tokens) {
    Batch b;
    int next0 = 0, next2 = 5;
    for (int t = 0; t < n_tokens; ++t) {
        const bool first_slot = n_tokens == 1 ? false : t % 2 == 0;
        b.seq_slots.push_back(first_slot ? 0 : 2);
        b.positions.push_back(first_slot ? next0++ : next2++);
    }
    return b;
}

// The device copies of a batch's positions and slots, and the RecurrentRows naming them.
struct DeviceBatch {
    explicit DeviceBatch(const Batch& b)
        : positions(b.positions), seq_slots(b.seq_slots), n_tokens(b.size()) {}
    bool ok() const { return positions.ok() && seq_slots.ok(); }
    k::RecurrentRows recurrent() const {
        return {positions.get(), seq_slots.get(), n_tokens, kSlots};
    }
    DeviceArray<int32_t> positions, seq_slots;
    int n_tokens;
};

// The state slots as the test starts them: slot 0 poisoned (its sequence starts at 0), 1 and 2
// random.
std::vector<float> initial_state(size_t slot_floats, int64_t slot_stride, uint64_t seed,
                                 float range) {
    std::vector<float> state = random_floats(size_t(slot_stride) * kSlots, seed, -range, range);
    std::fill_n(state.begin(), slot_floats, kNaN);
    return state;
}

// The slots the CPU starts from: the test's, with slot 0's sequence starting over (zeros).
std::vector<float> cpu_start_state(const std::vector<float>& state0, size_t slot_floats) {
    std::vector<float> state = state0;
    std::fill_n(state.begin(), slot_floats, 0.0f);
    return state;
}

// The slots the device must leave: the CPU's after the batch, but slot 0 still poisoned when
// no token of it ran (a batch of one token names slot 2 only).
std::vector<float> device_end_state(std::vector<float> cpu_state, size_t slot_floats,
                                    int n_tokens) {
    if (n_tokens == 1) {
        std::fill_n(cpu_state.begin(), slot_floats, kNaN);
    }
    return cpu_state;
}

// Each element of `got` within bound of `want`, or the first that is not.
QString compare(const std::vector<float>& got, const std::vector<float>& want, double abs_bound,
                double rel_bound) {
    std::vector<double> wanted(want.begin(), want.end());
    return first_mismatch(got, wanted, [&](size_t i) {
        return std::isnan(want[i]) ? 0.0 : abs_bound + rel_bound * std::abs(wanted[i]);
    });
}

// got equals want element for element, NaN where want has NaN (untouched memory).
QString compare_exact(const std::vector<float>& got, const std::vector<float>& want) {
    for (size_t i = 0; i < want.size(); ++i) {
        const bool same = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
        if (!same) {
            return QStringLiteral("element %1: got %2, want %3")
                .arg(i)
                .arg(double(got[i]), 0, 'g', 9)
                .arg(double(want[i]), 0, 'g', 9);
        }
    }
    return {};
}

} // namespace

class TstCudaDeltaNet : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void convolution_data() {
        QTest::addColumn<int>("channels");
        QTest::addColumn<int>("d_conv");
        QTest::addColumn<int>("n_tokens");
        for (const int channels : {1, 37, 300}) {
            for (const int d_conv : {1, 2, 4}) {
                for (const int n_tokens : {1, 5}) {
                    QTest::newRow(qPrintable(QStringLiteral("%1 ch, %2 taps, %3 tok")
                                                 .arg(channels)
                                                 .arg(d_conv)
                                                 .arg(n_tokens)))
                        << channels << d_conv << n_tokens;
                }
            }
        }
    }

    // The taps' sum is the CPU's FMA chain from 0, bit for bit, and the state moves by copies:
    // the state compares exactly. The silu after it uses expf where the CPU's avx2 level uses
    // ggml's own exp (within ~2 ulps): 4e-7 relative.
    void convolution() {
        QFETCH(int, channels);
        QFETCH(int, d_conv);
        QFETCH(int, n_tokens);
        const Batch batch = make_batch(n_tokens);
        const int64_t x_stride = channels + 3, y_stride = channels + 1;
        const size_t kept = size_t(d_conv - 1);
        const int64_t slot_stride = int64_t(size_t(channels) * kept) + 7;
        const auto x = random_floats(size_t(x_stride * n_tokens), 21 + uint64_t(channels));
        const auto taps = random_floats(size_t(channels * d_conv), 22 + uint64_t(d_conv));
        const std::vector<float> state0 =
            initial_state(size_t(channels) * kept, slot_stride, 23 + uint64_t(n_tokens), 1.0f);

        // The CPU: slot 0's sequence starts at 0 (a zeroed state), the others carry on.
        std::vector<float> state = cpu_start_state(state0, size_t(channels) * kept);
        std::vector<float> want(size_t(y_stride * n_tokens), kNaN);
        const std::vector<float> ones(size_t(channels), 1.0f);
        std::vector<float> window(static_cast<size_t>(d_conv));
        for (int t = 0; t < n_tokens; ++t) {
            float* history =
                state.data() + size_t(batch.seq_slots[size_t(t)]) * size_t(slot_stride);
            float* y = want.data() + size_t(t) * size_t(y_stride);
            for (int c = 0; c < channels; ++c) {
                y[c] = hearth::cpu::conv_channel_step(
                    history + size_t(c) * kept, x[size_t(t) * size_t(x_stride) + size_t(c)],
                    taps.data() + size_t(c * d_conv), size_t(d_conv), window.data());
            }
            hearth::cpu::silu_row(channels, y, y, ones.data());
        }

        DeviceArray<float> d_x(x), d_y(want.size()), d_taps(taps), d_history(state0);
        const DeviceBatch rows(batch);
        QVERIFY(d_x.ok() && d_y.ok() && d_taps.ok() && d_history.ok() && rows.ok());
        CUDA_VERIFY(d_y.poison());
        CUDA_VERIFY(k::launch_delta_net_conv(d_x.get(), x_stride, d_y.get(), y_stride,
                                             d_history.get(), slot_stride, d_taps.get(), channels,
                                             d_conv, rows.recurrent(), nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y, state_after;
        CUDA_VERIFY(d_y.download(y));
        CUDA_VERIFY(d_history.download(state_after));
        const QString bad_y = compare(y, want, 1e-30, 4e-7);
        QVERIFY2(bad_y.isEmpty(), qPrintable("output " + bad_y));
        // Slot 0 exactly as the CPU's unless no token of it ran (then still poisoned); slot 1
        // untouched; slot 2 as the CPU's; the padding between slots untouched.
        const QString bad_state =
            compare_exact(state_after, device_end_state(state, size_t(channels) * kept, n_tokens));
        QVERIFY2(bad_state.isEmpty(), qPrintable("state " + bad_state));
    }

    void l2_norm_data() {
        QTest::addColumn<int>("n_heads");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_tokens");
        for (const int head_dim : {16, 100, 128, 256}) {
            for (const int n_tokens : {1, 7}) {
                QTest::newRow(qPrintable(QStringLiteral("%1 x %2, %3 tok")
                                             .arg(head_dim == 100 ? 3 : 5)
                                             .arg(head_dim)
                                             .arg(n_tokens)))
                    << (head_dim == 100 ? 3 : 5) << head_dim << n_tokens;
            }
        }
    }

    // As the RMSNorm kernels: the squares summed in float here, in double on the CPU: 4e-6
    // relative.
    void l2_norm() {
        QFETCH(int, n_heads);
        QFETCH(int, head_dim);
        QFETCH(int, n_tokens);
        const float eps = 1e-6f;
        const int64_t stride = int64_t(n_heads) * head_dim + 9;
        const auto x = random_floats(size_t(stride * n_tokens), 31 + uint64_t(head_dim), -2, 2);
        std::vector<float> want = x;
        for (int t = 0; t < n_tokens; ++t) {
            for (int h = 0; h < n_heads; ++h) {
                hearth::cpu::l2_norm(want.data() + t * stride + h * head_dim, head_dim, eps);
            }
        }
        DeviceArray<float> d_x(x);
        QVERIFY(d_x.ok());
        CUDA_VERIFY(
            k::launch_l2_norm_heads(d_x.get(), n_tokens, n_heads, head_dim, stride, eps, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got;
        CUDA_VERIFY(d_x.download(got));
        const QString bad = compare(got, want, 1e-30, 4e-6); // padding: x itself, compared too
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void delta_rule_data() {
        QTest::addColumn<int>("state_size");
        QTest::addColumn<int>("n_k_heads");
        QTest::addColumn<int>("n_v_heads");
        QTest::addColumn<int>("n_tokens");
        const int shapes[][3] = {{16, 1, 1}, {40, 2, 4}, {128, 3, 3}, {128, 2, 6}, {256, 1, 2}};
        for (const auto& s : shapes) {
            for (const int n_tokens : {1, 5}) {
                QTest::newRow(qPrintable(QStringLiteral("d %1, %2 k / %3 v heads, %4 tok")
                                             .arg(s[0])
                                             .arg(s[1])
                                             .arg(s[2])
                                             .arg(n_tokens)))
                    << s[0] << s[1] << s[2] << n_tokens;
            }
        }
    }

    // The row dots are warp tree sums here, ggml's 4x8-lane order on the CPU: each dot differs
    // by at most ~d · 2^-24 of the sum of its terms' magnitudes, ≤ |S row| (q and k are unit
    // vectors), about 3 for d = 256 and a state of [-0.5, 0.5]: ~5e-5 at the very worst, and the
    // state carries it over 5 tokens; typical errors are ~100 times smaller. A wrong index or
    // gate gives errors of order 0.1.
    void delta_rule() {
        QFETCH(int, state_size);
        QFETCH(int, n_k_heads);
        QFETCH(int, n_v_heads);
        QFETCH(int, n_tokens);
        const int64_t d = state_size;
        const Batch batch = make_batch(n_tokens);
        const int64_t key_width = n_k_heads * d;
        const int64_t qkv_stride = (2 * key_width + n_v_heads * d) + 2;
        const int64_t out_stride = n_v_heads * d + 1;
        const size_t head_floats = size_t(d * d);
        const size_t slot_floats = size_t(n_v_heads) * head_floats;
        const auto slot_stride = int64_t(slot_floats) + 5;
        const uint64_t seed = 41 + uint64_t(d * 7 + n_v_heads);

        auto qkv = random_floats(size_t(qkv_stride * n_tokens), seed);
        for (int t = 0; t < n_tokens; ++t) { // q and k as the convolution leaves them
            for (int h = 0; h < 2 * n_k_heads; ++h) {
                hearth::cpu::l2_norm(qkv.data() + t * qkv_stride + h * d, d, 1e-6f);
            }
        }
        const auto beta_in = random_floats(size_t(n_tokens * n_v_heads), seed + 1, -3, 3);
        const auto alpha_in = random_floats(beta_in.size(), seed + 2, -3, 3);
        const auto dt_bias = random_floats(size_t(n_v_heads), seed + 3);
        auto a = random_floats(size_t(n_v_heads), seed + 4, -1, 1);
        for (float& v : a) {
            v = -std::exp(v); // -exp(A_log), as the file stores ssm_a
        }
        const std::vector<float> state0 = initial_state(slot_floats, slot_stride, seed + 5, 0.5f);

        std::vector<float> state = cpu_start_state(state0, slot_floats);
        std::vector<float> want(size_t(out_stride * n_tokens), kNaN);
        std::vector<float> delta(static_cast<size_t>(d));
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        for (int t = 0; t < n_tokens; ++t) {
            const float* row = qkv.data() + t * qkv_stride;
            for (int h = 0; h < n_v_heads; ++h) {
                const int64_t kh = h % n_k_heads;
                const size_t gate = size_t(t * n_v_heads + h);
                const float beta = hearth::delta_net::sigmoid(beta_in[gate]);
                const float decay = std::exp(
                    hearth::delta_net::log_decay(alpha_in[gate], dt_bias[size_t(h)], a[size_t(h)]));
                float* s = state.data() + size_t(batch.seq_slots[size_t(t)]) * size_t(slot_stride) +
                           size_t(h) * head_floats;
                hearth::cpu::delta_rule_token(s, row + kh * d, row + key_width + kh * d,
                                              row + 2 * key_width + h * d, beta, decay, d, scale,
                                              delta.data(), want.data() + t * out_stride + h * d);
            }
        }

        DeviceArray<float> d_qkv(qkv), d_beta(beta_in), d_alpha(alpha_in), d_dt(dt_bias), d_a(a),
            d_ssm(state0), d_out(want.size());
        const DeviceBatch rows(batch);
        QVERIFY(d_qkv.ok() && d_beta.ok() && d_alpha.ok() && d_dt.ok() && d_a.ok() && d_ssm.ok() &&
                d_out.ok() && rows.ok());
        CUDA_VERIFY(d_out.poison());
        const k::DeltaRuleShape shape{state_size, n_k_heads, n_v_heads};
        CUDA_VERIFY(k::launch_delta_rule(
            d_qkv.get(), qkv_stride, d_beta.get(), d_alpha.get(), d_dt.get(), d_a.get(),
            d_ssm.get(), slot_stride, d_out.get(), out_stride, shape, rows.recurrent(), nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out, state_after;
        CUDA_VERIFY(d_out.download(out));
        CUDA_VERIFY(d_ssm.download(state_after));
        const QString bad_out = compare(out, want, 1e-4, 1e-5);
        QVERIFY2(bad_out.isEmpty(), qPrintable("output " + bad_out));
        const QString bad_state =
            compare(state_after, device_end_state(state, slot_floats, n_tokens), 1e-4, 1e-5);
        QVERIFY2(bad_state.isEmpty(), qPrintable("state " + bad_state));
        // The idle slot and the padding after each slot: exactly as they were.
        for (int slot = 0; slot < kSlots; ++slot) {
            for (int64_t i = slot == 1 ? 0 : int64_t(slot_floats); i < slot_stride; ++i) {
                const size_t at = size_t(slot * slot_stride + i);
                QVERIFY2(state_after[at] == state0[at] ||
                             (std::isnan(state_after[at]) && std::isnan(state0[at])),
                         qPrintable(QStringLiteral("slot %1 float %2 changed").arg(slot).arg(i)));
            }
        }
    }

    void gated_norm_data() {
        QTest::addColumn<int>("n_heads");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_tokens");
        for (const int head_dim : {16, 72, 128}) {
            for (const int n_tokens : {1, 6}) {
                QTest::newRow(qPrintable(QStringLiteral("%1 x %2, %3 tok")
                                             .arg(head_dim == 72 ? 5 : 4)
                                             .arg(head_dim)
                                             .arg(n_tokens)))
                    << (head_dim == 72 ? 5 : 4) << head_dim << n_tokens;
            }
        }
    }

    // The RMSNorm's bound (4e-6) plus silu's exp (4e-7): 5e-6 relative.
    void gated_norm() {
        QFETCH(int, n_heads);
        QFETCH(int, head_dim);
        QFETCH(int, n_tokens);
        const float eps = 1e-6f;
        const int64_t stride = int64_t(n_heads) * head_dim + 3;
        const uint64_t seed = 51 + uint64_t(head_dim);
        const auto o = random_floats(size_t(stride * n_tokens), seed, -2, 2);
        const auto z = random_floats(o.size(), seed + 1, -4, 4);
        const auto norm = random_floats(size_t(head_dim), seed + 2, 0.5f, 1.5f);
        std::vector<float> want = o, z_cpu = z;
        const std::vector<float> ones(size_t(head_dim), 1.0f);
        for (int t = 0; t < n_tokens; ++t) {
            for (int h = 0; h < n_heads; ++h) {
                const int64_t at = t * stride + h * head_dim;
                hearth::cpu::gated_norm_head(want.data() + at, z_cpu.data() + at, norm.data(),
                                             head_dim, eps, ones.data());
            }
        }
        DeviceArray<float> d_o(o), d_z(z), d_norm(norm);
        QVERIFY(d_o.ok() && d_z.ok() && d_norm.ok());
        CUDA_VERIFY(k::launch_gated_rms_norm(d_o.get(), d_z.get(), d_norm.get(), n_tokens, n_heads,
                                             head_dim, stride, eps, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got, z_after;
        CUDA_VERIFY(d_o.download(got));
        CUDA_VERIFY(d_z.download(z_after));
        const QString bad = compare(got, want, 1e-30, 5e-6); // padding: o itself
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        QVERIFY(z_after == z);
    }

    // The split is a copy (exact); the gate's sigmoid is the CPU's expression with the
    // device's expf (within 2 ulps): 3e-7 relative.
    void attention_gate() {
        for (const auto& [n_tokens, n_heads, head_dim] :
             {std::array{1, 3, 64}, std::array{5, 7, 80}, std::array{9, 16, 256}}) {
            const size_t width = size_t(n_heads) * size_t(head_dim);
            const auto projection =
                random_floats(size_t(n_tokens) * 2 * width, 61 + uint64_t(head_dim), -6, 6);
            const auto attn = random_floats(size_t(n_tokens) * width, 62 + uint64_t(head_dim));
            hearth::cpu::AttentionGate gate;
            std::copy_n(projection.data(), projection.size(),
                        gate.projection(size_t(n_tokens), size_t(n_heads), size_t(head_dim)));
            std::vector<float> want_q(attn.size()), want_attn = attn;
            gate.split(size_t(n_tokens), want_q.data());
            gate.apply(want_attn.data(), size_t(n_tokens));

            DeviceArray<float> d_proj(projection), d_q(attn.size()), d_gate(attn.size()),
                d_attn(attn);
            QVERIFY(d_proj.ok() && d_q.ok() && d_gate.ok() && d_attn.ok());
            CUDA_VERIFY(d_q.poison());
            CUDA_VERIFY(d_gate.poison());
            CUDA_VERIFY(k::launch_split_query_gate(d_proj.get(), d_q.get(), d_gate.get(), n_tokens,
                                                   n_heads, head_dim, nullptr));
            CUDA_VERIFY(
                k::launch_sigmoid_gate(d_attn.get(), d_gate.get(), int64_t(attn.size()), nullptr));
            CUDA_VERIFY(cudaDeviceSynchronize());
            std::vector<float> q, got;
            CUDA_VERIFY(d_q.download(q));
            CUDA_VERIFY(d_attn.download(got));
            QVERIFY(q == want_q);
            const QString bad = compare(got, want_attn, 1e-30, 3e-7);
            QVERIFY2(bad.isEmpty(), qPrintable(bad));
        }
    }

    void invalid_arguments() {
        DeviceArray<float> buf(4096);
        DeviceArray<int32_t> ints(8);
        QVERIFY(buf.ok() && ints.ok());
        float* p = buf.get();
        const k::RecurrentRows rows{ints.get(), ints.get() + 4, 1, 1};
        const k::RecurrentRows no_slots{ints.get(), ints.get() + 4, 1, 0};
        const k::RecurrentRows no_positions{nullptr, ints.get() + 4, 1, 1};
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 24, p, 8, 0, rows, nullptr),
                 cudaErrorInvalidValue); // no taps
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 200, p, 8, k::kDeltaNetMaxConv + 1, rows,
                                          nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_delta_net_conv(p, 7, p, 8, p, 24, p, 8, 4, rows, nullptr),
                 cudaErrorInvalidValue); // stride below channels
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 23, p, 8, 4, rows, nullptr),
                 cudaErrorInvalidValue); // slots overlap
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 24, p, 8, 4, no_slots, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 24, p, 8, 4, no_positions, nullptr),
                 cudaErrorInvalidValue);
        const k::DeltaRuleShape too_wide{k::kDeltaNetMaxState + 1, 1, 1};
        const k::DeltaRuleShape uneven{8, 2, 3};
        const k::DeltaRuleShape ok{8, 1, 2};
        QCOMPARE(
            k::launch_delta_rule(p, 4096, p, p, p, p, p, 1 << 20, p, 4096, too_wide, rows, nullptr),
            cudaErrorInvalidValue);
        QCOMPARE(k::launch_delta_rule(p, 64, p, p, p, p, p, 256, p, 64, uneven, rows, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_delta_rule(p, 31, p, p, p, p, p, 128, p, 16, ok, rows, nullptr),
                 cudaErrorInvalidValue); // qkv row narrower than q | k | v
        QCOMPARE(k::launch_delta_rule(p, 32, p, p, p, p, p, 127, p, 16, ok, rows, nullptr),
                 cudaErrorInvalidValue); // slots overlap
        QCOMPARE(k::launch_delta_rule(p, 32, p, p, nullptr, p, p, 128, p, 16, ok, rows, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_l2_norm_heads(p, 1, 2, 8, 15, 1e-6f, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_gated_rms_norm(p, nullptr, p, 1, 2, 8, 16, 1e-6f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_split_query_gate(p, p, p, 1, 0, 8, nullptr), cudaErrorInvalidValue);
        QCOMPARE(k::launch_sigmoid_gate(p, nullptr, 4, nullptr), cudaErrorInvalidValue);
        // Empty batches launch nothing and succeed.
        const k::RecurrentRows empty{nullptr, nullptr, 0, 1};
        QCOMPARE(k::launch_delta_net_conv(p, 8, p, 8, p, 24, p, 8, 4, empty, nullptr), cudaSuccess);
        QCOMPARE(k::launch_delta_rule(p, 32, p, p, p, p, p, 128, p, 16, ok, empty, nullptr),
                 cudaSuccess);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaDeltaNet)
#include "tst_cuda_delta_net.moc"
