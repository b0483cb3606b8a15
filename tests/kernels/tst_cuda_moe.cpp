// Kernel tests of the mixture-of-experts kernels (kernels/moe.cu, and matvec.cu's
// launch_matvec_experts and launch_matvec_grouped) against the CPU's routed feed-forward pieces:
// the router's choice (exactly the CPU route_token's, ties and NaN included) and weights, the
// expert products over a 3-D expert tensor picked by device-side ids (repeats and bad ids
// included; the grouped form of prompt chunks bit for bit the per-slot one), the biased
// gated activations (SwiGLU, gpt-oss's clamped SwiGLU), the weighted sum with per-expert
// scales and biases, and qwen35moe's sigmoid-gated shared expert joining that sum
// (kernels/moe_shared.cu). Without a CUDA device the suite reports "skipped: no CUDA device"
// (HEARTH_REQUIRE_CUDA=1 makes that a failure).
#include "cpu/forward.h"
#include "cpu/moe_ffn.h"
#include "cuda_kernel_test.h"
#include "hearth/quant.h"
#include "hearth/tensor_type.h"
#include "matvec.cuh"
#include "moe.cuh"
#include "moe_shared.cuh"
#include "random_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using hearth::TensorType;
using namespace cuda_test;
namespace k = hearth::kernels;

Q_DECLARE_METATYPE(hearth::Routing)

namespace {

k::MoeRouting kernel_routing(hearth::Routing routing) {
    return routing == hearth::Routing::softmax_top_k ? k::MoeRouting::softmax_top_k
                                                     : k::MoeRouting::top_k_softmax;
}

struct Routed {
    std::vector<int32_t> selected;
    std::vector<float> weights;
};

// The CPU's routing of each token's logits (bias added first, as MoeFeedForward::run does).
Routed cpu_route(hearth::Routing routing, std::vector<float> logits, const std::vector<float>& bias,
                 int n_expert, int n_used, int n_tokens) {
    Routed r{std::vector<int32_t>(size_t(n_tokens * n_used)),
             std::vector<float>(size_t(n_tokens * n_used))};
    for (int t = 0; t < n_tokens; ++t) {
        float* l = logits.data() + size_t(t * n_expert);
        for (size_t e = 0; e < bias.size(); ++e) {
            l[e] += bias[e];
        }
        hearth::cpu::route_token(routing, l, n_expert, n_used, r.selected.data() + t * n_used,
                                 r.weights.data() + t * n_used);
    }
    return r;
}

// The GPU's routing of the same logits; QVERIFY-style failures through `ok`.
Routed gpu_route(hearth::Routing routing, const std::vector<float>& logits,
                 const std::vector<float>& bias, int n_expert, int n_used, int n_tokens,
                 cudaError_t* status) {
    DeviceArray<float> d_logits(logits.size()), d_bias(bias.size()),
        d_weights(size_t(n_tokens * n_used));
    DeviceArray<int32_t> d_selected(size_t(n_tokens * n_used));
    Routed r;
    *status = d_logits.upload(logits);
    if (*status == cudaSuccess && !bias.empty()) {
        *status = d_bias.upload(bias);
    }
    if (*status == cudaSuccess) {
        *status = k::launch_moe_route(kernel_routing(routing), d_logits.get(),
                                      bias.empty() ? nullptr : d_bias.get(), n_expert, n_used,
                                      n_tokens, d_selected.get(), d_weights.get(), nullptr);
    }
    if (*status == cudaSuccess) {
        *status = cudaDeviceSynchronize();
    }
    if (*status == cudaSuccess) {
        *status = d_selected.download(r.selected);
    }
    if (*status == cudaSuccess) {
        *status = d_weights.download(r.weights);
    }
    return r;
}

// n_expert matrices of n_rows x n_cols of `type`, expert e's at e * expert_bytes.
std::vector<uint8_t> random_experts(TensorType type, int n_expert, int64_t n_rows, int64_t n_cols,
                                    size_t pitch, size_t expert_bytes, uint64_t seed) {
    std::vector<uint8_t> all(size_t(n_expert) * expert_bytes, 0);
    for (int e = 0; e < n_expert; ++e) {
        const auto m = random_matrix(type, n_rows, n_cols, pitch, seed + uint64_t(e));
        std::copy(m.begin(), m.end(), all.begin() + ptrdiff_t(size_t(e) * expert_bytes));
    }
    return all;
}

} // namespace

class TstCudaMoe : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void route_matches_cpu_data() {
        QTest::addColumn<hearth::Routing>("routing");
        QTest::addColumn<int>("n_expert");
        QTest::addColumn<int>("n_used");
        QTest::addColumn<bool>("biased");
        const std::pair<int, int> shapes[] = {{4, 1}, {8, 2}, {60, 4}, {128, 8}, {5, 5}};
        for (const auto routing :
             {hearth::Routing::softmax_top_k, hearth::Routing::top_k_softmax}) {
            for (const auto& [n_expert, n_used] : shapes) {
                for (const bool biased : {false, true}) {
                    const QString name =
                        QStringLiteral("%1 top %2 of %3%4")
                            .arg(routing == hearth::Routing::softmax_top_k ? "softmax-top-k"
                                                                           : "top-k-softmax")
                            .arg(n_used)
                            .arg(n_expert)
                            .arg(biased ? " biased" : "");
                    QTest::newRow(qPrintable(name)) << routing << n_expert << n_used << biased;
                }
            }
        }
    }

    // Random logits (well apart: the choice cannot hinge on an ulp): the same experts in the
    // same order as the CPU, weights within a few ulps (CUDA's expf against ggml's exp).
    void route_matches_cpu() {
        QFETCH(hearth::Routing, routing);
        QFETCH(int, n_expert);
        QFETCH(int, n_used);
        QFETCH(bool, biased);
        const int n_tokens = 67; // more than one CTA of the router
        const auto logits =
            random_floats(size_t(n_tokens * n_expert), 1000 + uint64_t(n_expert), -6.0f, 6.0f);
        const auto bias =
            biased ? random_floats(size_t(n_expert), 7, -1.0f, 1.0f) : std::vector<float>{};
        const Routed want = cpu_route(routing, logits, bias, n_expert, n_used, n_tokens);
        cudaError_t status = cudaSuccess;
        const Routed got = gpu_route(routing, logits, bias, n_expert, n_used, n_tokens, &status);
        QCOMPARE(status, cudaSuccess);
        QCOMPARE(got.selected, want.selected);
        std::vector<double> want_w(want.weights.begin(), want.weights.end());
        const QString bad = first_mismatch(
            got.weights, want_w, [&](size_t i) { return 4e-6 * std::max(1e-3, want_w[i]); });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    // Equal scores: the lower index first, on both sides (40 experts: beyond the 16 where
    // std::sort is an insertion sort). NaN logits rank last, as the CPU ranks them.
    void route_ties_and_nan_match_cpu() {
        for (const auto routing :
             {hearth::Routing::softmax_top_k, hearth::Routing::top_k_softmax}) {
            std::vector<float> logits(40 * 3, 0.5f);
            for (int e = 0; e < 40; ++e) {
                logits[size_t(40 + e)] = e % 3 == 0 ? NAN : float(e % 4); // ties of 3s, NaNs
            }
            logits[80 + 17] = 2.0f; // token 2: one clear winner, the rest tied
            const Routed want = cpu_route(routing, logits, {}, 40, 8, 3);
            cudaError_t status = cudaSuccess;
            const Routed got = gpu_route(routing, logits, {}, 40, 8, 3, &status);
            QCOMPARE(status, cudaSuccess);
            QCOMPARE(got.selected, want.selected);
            const std::vector<int32_t> first_eight{0, 1, 2, 3, 4, 5, 6, 7};
            QCOMPARE(std::vector<int32_t>(got.selected.begin(), got.selected.begin() + 8),
                     first_eight);
            QCOMPARE(got.selected[16], 17);
        }
    }

    void route_refuses_bad_sizes() {
        DeviceArray<float> floats(1024);
        DeviceArray<int32_t> ints(1024);
        QVERIFY(floats.ok() && ints.ok());
        float* f = floats.get();
        int32_t* i = ints.get();
        const auto sm = k::MoeRouting::softmax_top_k;
        QCOMPARE(k::launch_moe_route(sm, f, nullptr, 0, 1, 1, i, f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_moe_route(sm, f, nullptr, 4, 5, 1, i, f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_moe_route(sm, f, nullptr, k::kMoeMaxExperts + 1, 2, 1, i, f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_moe_route(sm, nullptr, nullptr, 4, 2, 1, i, f, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_moe_route(sm, f, nullptr, 4, 2, 0, i, f, nullptr), cudaSuccess);
    }

    void expert_matvec_matches_cpu_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("slots_per_x");
        const TensorType types[] = {TensorType::F32,   TensorType::F16,     TensorType::Q4_0,
                                    TensorType::Q8_0,  TensorType::Q4_K,    TensorType::Q6_K,
                                    TensorType::MXFP4, TensorType::IQ2_XXS, TensorType::IQ3_S,
                                    TensorType::IQ1_M};
        for (const TensorType type : types) {
            for (const int slots_per_x : {1, 3}) {
                const QString name = QStringLiteral("%1 %2")
                                         .arg(QString::fromUtf8(hearth::tensor_type_name(type)))
                                         .arg(slots_per_x == 1 ? "own inputs" : "shared inputs");
                QTest::newRow(qPrintable(name)) << int(type) << slots_per_x;
            }
        }
    }

    // 4 tokens x 3 slots over 5 experts (repeats, and two bad ids that must give NaN rows):
    // each slot's rows against the exact product of its expert's CPU-dequantized weights.
    void expert_matvec_matches_cpu() {
        QFETCH(int, type_id);
        QFETCH(int, slots_per_x);
        const auto type = TensorType(type_id);
        const auto traits = hearth::tensor_type_traits(type);
        const int n_expert = 5, n_rows = 37, n_slots = 12;
        const int64_t n_cols =
            traits.block_size == 1 ? 300 : traits.block_size * (traits.block_size == 256 ? 3 : 9);
        const size_t packed = size_t(n_cols / traits.block_size) * traits.type_size;
        const size_t pitch = (packed + 15) / 16 * 16;
        const size_t expert_bytes = pitch * n_rows + 64; // experts need not be packed together
        const auto w = random_experts(type, n_expert, n_rows, n_cols, pitch, expert_bytes, 99);
        const std::vector<int32_t> ids{3, 0, 3, 4, 1, 2, 2, -1, 0, 4, 5, 1};
        const int n_x = (n_slots + slots_per_x - 1) / slots_per_x;
        const int64_t x_stride = n_cols + 5, y_stride = n_rows + 3;
        const auto x = random_floats(size_t(n_x * x_stride), 5);

        DeviceArray<uint8_t> d_w(w.size());
        DeviceArray<int32_t> d_ids(ids.size());
        DeviceArray<float> d_x(x.size()), d_y(size_t(n_slots * y_stride));
        QVERIFY(d_w.ok() && d_ids.ok() && d_x.ok() && d_y.ok());
        CUDA_VERIFY(d_w.upload(w));
        CUDA_VERIFY(d_ids.upload(ids));
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(d_y.poison());
        CUDA_VERIFY(k::launch_matvec_experts(type_id, d_w.get(), expert_bytes, n_expert, pitch,
                                             n_rows, n_cols, d_ids.get(), n_slots, d_x.get(),
                                             x_stride, slots_per_x, d_y.get(), y_stride, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y;
        CUDA_VERIFY(d_y.download(y));

        for (int s = 0; s < n_slots; ++s) {
            const int e = ids[size_t(s)];
            if (e < 0 || e >= n_expert) {
                for (int r = 0; r < n_rows; ++r) {
                    QVERIFY2(std::isnan(y[size_t(s * y_stride + r)]), "a bad id's row is not NaN");
                }
                continue;
            }
            const std::vector<uint8_t> expert(
                w.begin() + ptrdiff_t(size_t(e) * expert_bytes),
                w.begin() + ptrdiff_t(size_t(e) * expert_bytes + pitch * n_rows));
            const auto wf = cpu_rows(type, expert, n_rows, n_cols, pitch);
            const float* xs = x.data() + (s / slots_per_x) * x_stride;
            std::vector<float> got;
            std::vector<double> want, scale;
            for (int r = 0; r < n_rows; ++r) {
                double exact = 0.0, magnitude = 0.0;
                for (int64_t c = 0; c < n_cols; ++c) {
                    const double p = double(wf[size_t(r * n_cols + c)]) * double(xs[c]);
                    exact += p;
                    magnitude += std::abs(p);
                }
                got.push_back(y[size_t(s * y_stride + r)]);
                want.push_back(exact);
                scale.push_back(magnitude);
            }
            // The bound of tst_cuda_matvec: float32 FMA chains of n/256 + 8 terms per lane.
            const QString bad =
                first_mismatch(got, want, [&](size_t i) { return 1e-5 * scale[i] + 1e-30; });
            QVERIFY2(bad.isEmpty(), qPrintable(QStringLiteral("slot %1: ").arg(s) + bad));
        }
    }

    void expert_matvec_refuses_bad_sizes() {
        DeviceArray<uint8_t> w(4096);
        DeviceArray<float> x(1024), y(1024);
        DeviceArray<int32_t> ids(16);
        const int q4 = int(TensorType::Q4_0);
        // expert_bytes smaller than an expert's rows
        QCOMPARE(k::launch_matvec_experts(q4, w.get(), 17, 2, 18, 2, 32, ids.get(), 1, x.get(), 32,
                                          1, y.get(), 2, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec_experts(q4, w.get(), 36, 2, 18, 2, 33, ids.get(), 1, x.get(), 33,
                                          1, y.get(), 2, nullptr),
                 cudaErrorInvalidValue); // not a whole block
        QCOMPARE(k::launch_matvec_experts(q4, w.get(), 36, 2, 18, 2, 32, ids.get(), 1, x.get(), 32,
                                          0, y.get(), 2, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_matvec_experts(int(TensorType::Q8_K), w.get(), 292, 1, 292, 1, 256,
                                          ids.get(), 1, x.get(), 256, 1, y.get(), 1, nullptr),
                 cudaErrorNotSupported);
    }

    // A chunk's slots grouped by expert: a stable counting sort (token order kept), bad ids
    // left out, experts without slots empty.
    void group_by_expert_is_a_stable_counting_sort() {
        const int n_expert = 37, n_slots = 1000;
        std::mt19937 rng(3);
        std::vector<int32_t> ids(n_slots);
        for (int32_t& id : ids) {
            id = int32_t(rng() % 30); // experts 30..36 get no slot
        }
        ids[5] = -1;
        ids[900] = n_expert; // out of range: left out
        std::vector<int32_t> want_order, want_offsets{0};
        for (int e = 0; e < n_expert; ++e) {
            for (int s = 0; s < n_slots; ++s) {
                if (ids[size_t(s)] == e) {
                    want_order.push_back(s);
                }
            }
            want_offsets.push_back(int32_t(want_order.size()));
        }
        DeviceArray<int32_t> d_ids(ids.size()), d_order(ids.size()), d_offsets(n_expert + 1);
        CUDA_VERIFY(d_ids.upload(ids));
        CUDA_VERIFY(k::launch_group_by_expert(d_ids.get(), n_slots, n_expert, d_order.get(),
                                              d_offsets.get(), nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<int32_t> order, offsets;
        CUDA_VERIFY(d_order.download(order));
        CUDA_VERIFY(d_offsets.download(offsets));
        QCOMPARE(offsets, want_offsets);
        order.resize(want_order.size());
        QCOMPARE(order, want_order);
    }

    void grouped_matvec_equals_per_slot_data() {
        QTest::addColumn<int>("type_id");
        QTest::addColumn<int>("slots_per_x");
        for (const TensorType type :
             {TensorType::F16, TensorType::Q4_0, TensorType::Q4_K, TensorType::IQ2_XS,
              TensorType::MXFP4}) { // (MXFP4: gpt-oss's experts)
            for (const int slots_per_x : {1, 4}) {
                QTest::newRow(qPrintable(QStringLiteral("%1 %2")
                                             .arg(QString::fromUtf8(hearth::tensor_type_name(type)))
                                             .arg(slots_per_x)))
                    << int(type) << slots_per_x;
            }
        }
    }

    // 40 tokens x 4 slots over 6 experts (one unused, one with more than 8 slots per batch of
    // the kernel): every slot's rows bit for bit those of launch_matvec_experts.
    void grouped_matvec_equals_per_slot() {
        QFETCH(int, type_id);
        QFETCH(int, slots_per_x);
        const auto type = TensorType(type_id);
        const auto traits = hearth::tensor_type_traits(type);
        const int n_expert = 6, n_rows = 45, n_slots = 160;
        const int64_t n_cols = traits.block_size == 256 ? 512 : 320;
        const size_t pitch = size_t(n_cols / traits.block_size) * traits.type_size;
        const size_t expert_bytes = pitch * n_rows;
        const auto w = random_experts(type, n_expert, n_rows, n_cols, pitch, expert_bytes, 7);
        std::mt19937 rng(11);
        std::vector<int32_t> ids(n_slots);
        for (int32_t& id : ids) {
            id = int32_t(rng() % 5); // expert 5 unused
        }
        const int n_x = (n_slots + slots_per_x - 1) / slots_per_x;
        const auto x = random_floats(size_t(n_x) * size_t(n_cols), 13);

        DeviceArray<uint8_t> d_w(w.size());
        DeviceArray<int32_t> d_ids(ids.size()), d_order(ids.size()), d_offsets(n_expert + 1);
        DeviceArray<float> d_x(x.size()), d_y(size_t(n_slots * n_rows)),
            d_grouped(size_t(n_slots * n_rows));
        CUDA_VERIFY(d_w.upload(w));
        CUDA_VERIFY(d_ids.upload(ids));
        CUDA_VERIFY(d_x.upload(x));
        CUDA_VERIFY(d_y.poison());
        CUDA_VERIFY(d_grouped.poison());
        CUDA_VERIFY(k::launch_matvec_experts(type_id, d_w.get(), expert_bytes, n_expert, pitch,
                                             n_rows, n_cols, d_ids.get(), n_slots, d_x.get(),
                                             n_cols, slots_per_x, d_y.get(), n_rows, nullptr));
        CUDA_VERIFY(k::launch_group_by_expert(d_ids.get(), n_slots, n_expert, d_order.get(),
                                              d_offsets.get(), nullptr));
        CUDA_VERIFY(k::launch_matvec_grouped(
            type_id, d_w.get(), expert_bytes, n_expert, pitch, n_rows, n_cols, d_order.get(),
            d_offsets.get(), d_x.get(), n_cols, slots_per_x, d_grouped.get(), n_rows, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> y, grouped;
        CUDA_VERIFY(d_y.download(y));
        CUDA_VERIFY(d_grouped.download(grouped));
        QVERIFY(std::none_of(y.begin(), y.end(), [](float v) { return std::isnan(v); }));
        QVERIFY(std::memcmp(y.data(), grouped.data(), y.size() * sizeof(float)) == 0);
    }

    void glu_matches_cpu_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("biased");
        QTest::newRow("swiglu") << int(k::MoeGlu::swiglu) << false;
        QTest::newRow("swiglu_oai") << int(k::MoeGlu::swiglu_oai) << false;
        QTest::newRow("swiglu_oai with biases (gpt-oss)") << int(k::MoeGlu::swiglu_oai) << true;
        QTest::newRow("geglu (gemma4)") << int(k::MoeGlu::geglu) << false;
        QTest::newRow("geglu with biases") << int(k::MoeGlu::geglu) << true;
    }

    // Each slot's gate/up rows plus its expert's biases, then the CPU's gated_activation.
    void glu_matches_cpu() {
        QFETCH(int, kind);
        QFETCH(bool, biased);
        const auto glu = k::MoeGlu(kind);
        const hearth::FfnActivation activation =
            glu == k::MoeGlu::swiglu_oai ? hearth::FfnActivation::swiglu_oai
            : glu == k::MoeGlu::geglu    ? hearth::FfnActivation::gelu_tanh
                                         : hearth::FfnActivation::silu;
        const int n_expert = 4, n_slots = 6;
        const int64_t width = 301, stride = 320;
        const std::vector<int32_t> ids{2, 0, 2, 3, 9, 1};
        auto gate = random_floats(size_t(n_slots * stride), 11, -9.0f, 9.0f);
        const auto up = random_floats(size_t(n_slots * stride), 12, -9.0f, 9.0f);
        const auto gate_bias =
            biased ? random_floats(size_t(n_expert * width), 13) : std::vector<float>{};
        const auto up_bias =
            biased ? random_floats(size_t(n_expert * width), 14) : std::vector<float>{};

        DeviceArray<float> d_gate(gate.size()), d_up(up.size()), d_gb(gate_bias.size()),
            d_ub(up_bias.size());
        DeviceArray<int32_t> d_ids(ids.size());
        CUDA_VERIFY(d_gate.upload(gate));
        CUDA_VERIFY(d_up.upload(up));
        CUDA_VERIFY(d_ids.upload(ids));
        if (biased) {
            CUDA_VERIFY(d_gb.upload(gate_bias));
            CUDA_VERIFY(d_ub.upload(up_bias));
        }
        CUDA_VERIFY(k::launch_moe_glu(glu, d_gate.get(), d_up.get(), stride,
                                      biased ? d_gb.get() : nullptr, biased ? d_ub.get() : nullptr,
                                      d_ids.get(), n_expert, n_slots, width, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> got_all;
        CUDA_VERIFY(d_gate.download(got_all));

        for (int s = 0; s < n_slots; ++s) {
            const int e = ids[size_t(s)];
            if (e >= n_expert) {
                QVERIFY(std::isnan(got_all[size_t(s * stride)]));
                continue;
            }
            std::vector<float> g(gate.begin() + s * stride, gate.begin() + s * stride + width);
            std::vector<float> u(up.begin() + s * stride, up.begin() + s * stride + width);
            for (int64_t i = 0; i < width && biased; ++i) {
                g[size_t(i)] += gate_bias[size_t(e * width + i)];
                u[size_t(i)] += up_bias[size_t(e * width + i)];
            }
            const std::vector<float> u_in = u;
            hearth::cpu::gated_activation(activation, g.data(), u.data(), 1, width);
            std::vector<float> got(got_all.begin() + s * stride,
                                   got_all.begin() + s * stride + width);
            const std::vector<double> want(g.begin(), g.end());
            // expf and ggml's exp agree to a few ulps; the rest is the same float operations.
            // GeGLU: both devices round the GELU to F16 (model/activation_math.h), where tanhf
            // an ulp apart can flip that rounding: one F16 ulp of the GELU, 2^-10 relative at
            // most, times |u| (the GELU's magnitude is at most |g| + 1e-7).
            auto bound = [&](size_t i) {
                if (glu != k::MoeGlu::geglu) {
                    return 2e-6 * std::abs(want[i]) + 1e-30;
                }
                const double g_in = gate[size_t(s * stride) + i] +
                                    (biased ? gate_bias[size_t(e * width) + i] : 0.0f);
                return (std::abs(g_in) * 0x1p-10 + 1e-7) * std::abs(u_in[i]) + 1e-30;
            };
            const QString bad = first_mismatch(got, want, bound);
            QVERIFY2(bad.isEmpty(), qPrintable(QStringLiteral("slot %1: ").arg(s) + bad));
            // The padding past `width` is not touched.
            QCOMPARE(got_all[size_t(s * stride + width)], gate[size_t(s * stride + width)]);
        }
    }

    void combine_matches_cpu_data() {
        QTest::addColumn<bool>("scaled");
        QTest::addColumn<bool>("biased");
        QTest::newRow("plain") << false << false;
        QTest::newRow("per-expert scales") << true << false;
        QTest::newRow("per-expert biases") << false << true;
    }

    // y_t = sum over the token's slots, in order, of (down * scale + bias) * weight.
    void combine_matches_cpu() {
        QFETCH(bool, scaled);
        QFETCH(bool, biased);
        const int n_expert = 6, n_tokens = 3, n_used = 4;
        const int64_t n_embd = 515, down_stride = 520, out_stride = 530;
        const std::vector<int32_t> ids{5, 0, 2, 1, 3, 3, 4, 0, 1, 2, 0, 5};
        const auto down = random_floats(size_t(n_tokens * n_used * down_stride), 21, -3.0f, 3.0f);
        const auto weights = random_floats(size_t(n_tokens * n_used), 22, 0.0f, 1.0f);
        const auto scale =
            scaled ? random_floats(size_t(n_expert), 23, 0.5f, 2.0f) : std::vector<float>{};
        const auto bias =
            biased ? random_floats(size_t(n_expert * n_embd), 24) : std::vector<float>{};

        DeviceArray<float> d_down(down.size()), d_w(weights.size()), d_scale(scale.size()),
            d_bias(bias.size()), d_out(size_t(n_tokens * out_stride));
        DeviceArray<int32_t> d_ids(ids.size());
        CUDA_VERIFY(d_down.upload(down));
        CUDA_VERIFY(d_w.upload(weights));
        CUDA_VERIFY(d_ids.upload(ids));
        if (scaled) {
            CUDA_VERIFY(d_scale.upload(scale));
        }
        if (biased) {
            CUDA_VERIFY(d_bias.upload(bias));
        }
        CUDA_VERIFY(d_out.poison());
        CUDA_VERIFY(k::launch_moe_combine(d_down.get(), down_stride, d_w.get(), d_ids.get(),
                                          n_expert, scaled ? d_scale.get() : nullptr,
                                          biased ? d_bias.get() : nullptr, n_tokens, n_used, n_embd,
                                          d_out.get(), out_stride, nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out;
        CUDA_VERIFY(d_out.download(out));

        std::vector<float> got;
        std::vector<double> want, magnitude;
        for (int t = 0; t < n_tokens; ++t) {
            for (int64_t i = 0; i < n_embd; ++i) {
                double y = 0.0, m = 0.0;
                for (int s = 0; s < n_used; ++s) {
                    const int slot = t * n_used + s;
                    const int e = ids[size_t(slot)];
                    double d = down[size_t(slot * down_stride + i)];
                    d = scaled ? d * scale[size_t(e)] : d;
                    d = biased ? d + bias[size_t(e * n_embd + i)] : d;
                    y += d * weights[size_t(slot)];
                    m += std::abs(d * weights[size_t(slot)]);
                }
                got.push_back(out[size_t(t * out_stride + i)]);
                want.push_back(y);
                magnitude.push_back(m);
            }
            QVERIFY(std::isnan(out[size_t(t * out_stride + n_embd)])); // padding untouched
        }
        // Float32 rounding of n_used products and sums: a few 2^-24 of the magnitude.
        const QString bad =
            first_mismatch(got, want, [&](size_t i) { return 1e-6 * magnitude[i] + 1e-30; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void shared_expert_add_matches_cpu_data() {
        QTest::addColumn<int>("n_tokens");
        QTest::addColumn<int>("n_embd");
        QTest::newRow("one decoded token") << 1 << 64;
        QTest::newRow("a step of 8 rows, past one CTA") << 8 << 515;
        QTest::newRow("a prompt chunk") << 67 << 130;
    }

    // out += shared * sigmoid(gate) per token, as the CPU's add_shared_expert: its sigmoid in
    // float (expf against the host's exp: within 2 ulps), then one rounded product and sum;
    // gates far out on both sides (weights 0 and 1) included; padding untouched.
    void shared_expert_add_matches_cpu() {
        QFETCH(int, n_tokens);
        QFETCH(int, n_embd);
        const int64_t shared_stride = n_embd + 3, out_stride = n_embd + 5;
        const auto shared =
            random_floats(size_t(n_tokens) * size_t(shared_stride), 31, -3.0f, 3.0f);
        auto gate = random_floats(size_t(n_tokens), 32, -8.0f, 8.0f);
        // 0.5; exp overflowing (weight 0); weight 1.
        const float special[] = {0.0f, -120.0f, 120.0f};
        for (size_t t = 0; t < gate.size() && t < std::size(special); ++t) {
            gate[t] = special[t];
        }
        const auto out0 = random_floats(size_t(n_tokens) * size_t(out_stride), 33, -2.0f, 2.0f);
        DeviceArray<float> d_shared(shared.size()), d_gate(gate.size()), d_out(out0.size());
        CUDA_VERIFY(d_shared.upload(shared));
        CUDA_VERIFY(d_gate.upload(gate));
        CUDA_VERIFY(d_out.upload(out0));
        CUDA_VERIFY(k::launch_add_gated_shared_expert(d_shared.get(), shared_stride, d_gate.get(),
                                                      n_tokens, n_embd, d_out.get(), out_stride,
                                                      nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out;
        CUDA_VERIFY(d_out.download(out));
        std::vector<float> got;
        std::vector<double> want, magnitude;
        for (int t = 0; t < n_tokens; ++t) {
            const float weight = 1.0f / (1.0f + std::exp(-gate[size_t(t)]));
            for (int64_t i = 0; i < n_embd; ++i) {
                const size_t o = size_t(t * out_stride + i);
                const double s = shared[size_t(t * shared_stride + i)];
                got.push_back(out[o]);
                want.push_back(double(out0[o]) + s * weight);
                magnitude.push_back(std::abs(double(out0[o])) + std::abs(s * weight));
            }
            for (int64_t i = n_embd; i < out_stride; ++i) { // padding untouched
                QCOMPARE(out[size_t(t * out_stride + i)], out0[size_t(t * out_stride + i)]);
            }
        }
        // A few float roundings of the sigmoid, the product and the sum.
        const QString bad =
            first_mismatch(got, want, [&](size_t i) { return 1e-6 * magnitude[i] + 1e-30; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void shared_expert_add_refuses_bad_sizes() {
        DeviceArray<float> f(64);
        QCOMPARE(
            k::launch_add_gated_shared_expert(f.get(), 8, f.get(), 1, 16, f.get(), 16, nullptr),
            cudaErrorInvalidValue); // shared stride below a row
        QCOMPARE(
            k::launch_add_gated_shared_expert(f.get(), 16, f.get(), 1, 16, f.get(), 8, nullptr),
            cudaErrorInvalidValue); // out stride below a row
        QCOMPARE(
            k::launch_add_gated_shared_expert(f.get(), 16, f.get(), -1, 16, f.get(), 16, nullptr),
            cudaErrorInvalidValue);
        QCOMPARE(
            k::launch_add_gated_shared_expert(f.get(), 16, nullptr, 1, 16, f.get(), 16, nullptr),
            cudaErrorInvalidValue);
        QCOMPARE(
            k::launch_add_gated_shared_expert(f.get(), 16, f.get(), 0, 16, f.get(), 16, nullptr),
            cudaSuccess);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_GUILESS_MAIN(TstCudaMoe)
#include "tst_cuda_moe.moc"
