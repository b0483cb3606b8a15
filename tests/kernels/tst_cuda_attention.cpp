// Kernel tests of decode attention over the F16 KV cache (kernels/attention.cu): the KV
// append bit for bit against the CPU's F16 rounding, and split-over-the-sequence attention
// against a double-precision reference of the CPU forward's formula, for grouped-query
// layouts, head sizes that are not multiples of 32, contexts that are not multiples of the
// 256-cell chunk, sliding windows, and several sequences in one launch. Cells past each
// sequence's position hold NaN: reading one would show. Without a CUDA device: "skipped: no
// CUDA device".
#include "attention.cuh"
#include "attention_reference.h"
#include "cuda_kernel_test.h"
#include "hearth/quant.h"

#include <algorithm>

using namespace cuda_test;
namespace k = hearth::kernels;

class TstCudaAttention : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void kv_append() {
        const k::KvLayout layout{8, 2, 72, 40, 37, 3};
        const int n_rows = 3;
        const int64_t k_stride = 2 * 72 + 1, v_stride = 2 * 40 + 5;
        const auto kin = random_floats(size_t(k_stride * n_rows), 1, -70000.0f, 70000.0f);
        const auto vin = random_floats(size_t(v_stride * n_rows), 2, -1e-6f, 1e-6f);
        const std::vector<int32_t> slot_ids = {2, 0, 2}, positions = {36, 0, 5};
        const size_t k_cells = size_t(layout.n_slots) * layout.n_ctx * 2 * 72;
        const size_t v_cells = size_t(layout.n_slots) * layout.n_ctx * 2 * 40;
        DeviceArray<float> d_k(kin), d_v(vin);
        DeviceArray<uint16_t> d_kc(k_cells), d_vc(v_cells);
        DeviceArray<int32_t> d_slots(3), d_pos(3);
        QVERIFY(d_k.ok() && d_v.ok() && d_kc.ok() && d_vc.ok() && d_slots.ok() && d_pos.ok());
        CUDA_VERIFY(d_slots.upload(slot_ids));
        CUDA_VERIFY(d_pos.upload(positions));
        CUDA_VERIFY(d_kc.poison());
        CUDA_VERIFY(d_vc.poison());
        CUDA_VERIFY(k::launch_kv_append(d_k.get(), k_stride, d_v.get(), v_stride, n_rows,
                                        d_kc.get(), d_vc.get(), layout, d_slots.get(), d_pos.get(),
                                        nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<uint16_t> kc, vc;
        CUDA_VERIFY(d_kc.download(kc));
        CUDA_VERIFY(d_vc.download(vc));
        for (int r = 0; r < n_rows; ++r) {
            const size_t cell =
                size_t(slot_ids[size_t(r)]) * layout.n_ctx + size_t(positions[size_t(r)]);
            for (int i = 0; i < 2 * 72; ++i) {
                QCOMPARE(kc[cell * 144 + size_t(i)],
                         hearth::fp32_to_fp16(kin[size_t(r * k_stride + i)]));
            }
            for (int i = 0; i < 2 * 40; ++i) {
                QCOMPARE(vc[cell * 80 + size_t(i)],
                         hearth::fp32_to_fp16(vin[size_t(r * v_stride + i)]));
            }
        }
        QCOMPARE(kc[144], uint16_t(0xffff)); // cell (0, 1) was not written
    }

    void matches_reference_data() {
        QTest::addColumn<int>("n_head");
        QTest::addColumn<int>("n_head_kv");
        QTest::addColumn<int>("dk");
        QTest::addColumn<int>("dv");
        QTest::addColumn<int>("n_ctx");
        QTest::addColumn<int>("window");
        QTest::addColumn<float>("soft_cap"); // gemma2's attention logit soft cap (0: none)
        QTest::addColumn<bool>("sinks");     // gpt-oss's attention sinks
        QTest::newRow("MHA 4x64, ctx 300") << 4 << 4 << 64 << 64 << 300 << 0 << 0.0f << false;
        QTest::newRow("GQA 9/3x80, ctx 1000") << 9 << 3 << 80 << 80 << 1000 << 0 << 0.0f << false;
        QTest::newRow("GQA 32/8x128, ctx 2049")
            << 32 << 8 << 128 << 128 << 2049 << 0 << 0.0f << false;
        QTest::newRow("MQA 2/1x256, ctx 257") << 2 << 1 << 256 << 256 << 257 << 0 << 0.0f << false;
        QTest::newRow("dk 96 dv 64, ctx 700") << 6 << 2 << 96 << 64 << 700 << 0 << 0.0f << false;
        QTest::newRow("sliding window 100") << 4 << 2 << 64 << 64 << 900 << 100 << 0.0f << false;
        // A cap of 1.5 on raw dot products of typically +-8 (q in [-3, 3], k in [-1, 1]) bends
        // nearly all of them: a kernel that skipped the cap or applied it after the score
        // scale fails.
        QTest::newRow("soft cap 1.5, GQA 8/2x64, ctx 600")
            << 8 << 2 << 64 << 64 << 600 << 0 << 1.5f << false;
        QTest::newRow("soft cap 1.5, sliding window 40")
            << 4 << 2 << 80 << 80 << 300 << 40 << 1.5f << false;
        QTest::newRow("sinks, GQA 8/2x64, ctx 700")
            << 8 << 2 << 64 << 64 << 700 << 0 << 0.0f << true;
        QTest::newRow("sinks and soft cap, window 128, ctx 513")
            << 6 << 3 << 64 << 64 << 513 << 128 << 2.0f << true;
    }

    // Bound: float32 dot products of <= 256 terms (error <= 2^-16 of sum|q k|, times the score
    // scale), float32 online-softmax rescaling (a few ulps per cell) and sums of <= n_ctx
    // weighted rows: the output is within 2e-5 max|V| of the exact value plus 2e-4 of
    // max|V| * max|score error|; with |q|, |k| <= 1 and scale 1/sqrt(d) scores stay O(1), so
    // 1e-4 max|V| holds with margin and fails a wrong cell, head or normalisation.
    void matches_reference() {
        QFETCH(int, n_head);
        QFETCH(int, n_head_kv);
        QFETCH(int, dk);
        QFETCH(int, dv);
        QFETCH(int, n_ctx);
        QFETCH(int, window);
        QFETCH(float, soft_cap);
        QFETCH(bool, sinks);
        const k::KvLayout layout{n_head, n_head_kv, dk, dv, n_ctx, 3};
        const int64_t k_width = int64_t(n_head_kv) * dk, v_width = int64_t(n_head_kv) * dv;
        // Rows: three sequences at the start, mid-chunk and the last cell; a fourth row
        // shares slot 1 with an earlier position (a batch of prompt tokens of one sequence).
        const std::vector<int32_t> slot_ids = {0, 1, 2, 1};
        const std::vector<int32_t> positions = {0, n_ctx / 2 + 3, n_ctx - 1, n_ctx / 3};
        const int n_rows = int(slot_ids.size());
        const int max_pos_of_slot[3] = {0, n_ctx / 2 + 3, n_ctx - 1};

        const auto [kc, vc] =
            random_cache(3, n_ctx, k_width, v_width, uint64_t(n_ctx) * 31 + uint64_t(dk),
                         [&](int s, int j) { return j <= max_pos_of_slot[s]; });
        const int64_t q_stride = int64_t(n_head) * dk + 7, out_stride = int64_t(n_head) * dv + 3;
        const auto q = random_floats(size_t(q_stride * n_rows), 99 + uint64_t(dk), -3.0f, 3.0f);
        const float q_scale = 1.0f, score_scale = 1.0f / std::sqrt(float(dk));
        // Sink logits around the scores' range, so that they weigh as much as a few cells.
        const auto sink_logits = random_floats(size_t(n_head), 5 + uint64_t(dk), -1.0f, 3.0f);

        DeviceArray<uint16_t> d_kc(kc), d_vc(vc);
        DeviceArray<float> d_q(q), d_out(size_t(out_stride * n_rows));
        DeviceArray<float> d_ws(k::attention_workspace_floats(layout, n_rows));
        DeviceArray<int32_t> d_slots(slot_ids), d_pos(positions);
        DeviceArray<float> d_sinks(sink_logits);
        QVERIFY(d_kc.ok() && d_vc.ok() && d_q.ok() && d_out.ok() && d_ws.ok() && d_slots.ok() &&
                d_pos.ok() && d_sinks.ok());
        QVERIFY(k::attention_workspace_floats(layout, n_rows) > 0);
        CUDA_VERIFY(d_out.poison());
        CUDA_VERIFY(d_ws.poison());
        CUDA_VERIFY(k::launch_attention(d_q.get(), q_stride, d_kc.get(), d_vc.get(), layout,
                                        d_slots.get(), d_pos.get(), n_rows, window, q_scale,
                                        score_scale, d_ws.get(), d_out.get(), out_stride, nullptr,
                                        soft_cap, sinks ? d_sinks.get() : nullptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out;
        CUDA_VERIFY(d_out.download(out));

        std::vector<float> got;
        std::vector<double> want;
        const int group = n_head / n_head_kv;
        for (int r = 0; r < n_rows; ++r) {
            const int pos = positions[size_t(r)];
            const int first = window > 0 && pos + 1 > window ? pos + 1 - window : 0;
            for (int h = 0; h < n_head; ++h) {
                const int g = h / group;
                const auto ref = attention_reference(
                    q.data() + r * q_stride + h * dk,
                    kc.data() + size_t(slot_ids[size_t(r)]) * n_ctx * k_width + g * dk,
                    vc.data() + size_t(slot_ids[size_t(r)]) * n_ctx * v_width + g * dv, k_width,
                    v_width, dk, dv, first, pos, q_scale, score_scale, soft_cap,
                    sinks ? &sink_logits[size_t(h)] : nullptr);
                for (int d = 0; d < dv; ++d) {
                    got.push_back(out[size_t(r * out_stride + h * dv + d)]);
                    want.push_back(ref[size_t(d)]);
                }
            }
            QVERIFY(std::isnan(out[size_t(r * out_stride + n_head * dv)])); // padding untouched
        }
        const QString bad = first_mismatch(got, want, [](size_t) { return 1e-4; });
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    void rejects_bad_arguments() {
        DeviceArray<float> buf(1024);
        DeviceArray<uint16_t> cache(1024);
        DeviceArray<int32_t> idx(4);
        QVERIFY(buf.ok() && cache.ok() && idx.ok());
        const k::KvLayout not_grouped{6, 4, 64, 64, 16, 1};
        const k::KvLayout too_wide{1, 1, 512, 64, 16, 1};
        QCOMPARE(k::attention_workspace_floats(not_grouped, 1), size_t(0));
        QCOMPARE(k::launch_attention(buf.get(), 64, cache.get(), cache.get(), not_grouped,
                                     idx.get(), idx.get(), 1, 0, 1.0f, 1.0f, buf.get(), buf.get(),
                                     64, nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(k::launch_attention(buf.get(), 512, cache.get(), cache.get(), too_wide, idx.get(),
                                     idx.get(), 1, 0, 1.0f, 1.0f, buf.get(), buf.get(), 64,
                                     nullptr),
                 cudaErrorInvalidValue);
        const k::KvLayout fine{2, 1, 64, 64, 16, 1};
        for (const float cap : {-1.0f, NAN, INFINITY}) { // the soft cap: finite, 0 or above
            QCOMPARE(k::launch_attention(buf.get(), 128, cache.get(), cache.get(), fine, idx.get(),
                                         idx.get(), 1, 0, 1.0f, 1.0f, buf.get(), buf.get(), 128,
                                         nullptr, cap),
                     cudaErrorInvalidValue);
        }
        QCOMPARE(k::launch_kv_append(nullptr, 64, buf.get(), 64, 1, cache.get(), cache.get(),
                                     k::KvLayout{1, 1, 64, 64, 4, 1}, idx.get(), idx.get(),
                                     nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaAttention)
#include "tst_cuda_attention.moc"
