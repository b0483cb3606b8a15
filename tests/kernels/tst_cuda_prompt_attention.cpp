// Kernel tests of prompt attention (kernels/prompt_attention.cu): a chunk of n query rows at
// consecutive positions p0.. of one sequence against (a) a double-precision reference of the
// CPU forward's formula and (b) the decode kernel launch_attention given the same rows as n
// separate (slot, position) pairs. Chunk sizes around the 16-row query tile and the 32-cell KV
// tile (1, 7, 33, 100, 300), chunks at the start of the sequence and after earlier cells,
// head sizes 64, 80, 128, 256 and odd ones, grouped-query ratios 1 and 4, and sliding windows
// shorter than the chunk; gemma2's soft-capped scores and gpt-oss's attention sinks, alone and
// together. Cells outside the chunk's sequence prefix hold NaN, and the output
// (including a row past the chunk and the padding of each row) is poisoned: a read of the
// wrong cell or a missed or stray write shows. Without a CUDA device: "skipped: no CUDA
// device".
#include "attention.cuh"
#include "attention_reference.h"
#include "cuda_kernel_test.h"
#include "hearth/quant.h"
#include "prompt_attention.cuh"

#include <algorithm>

using namespace cuda_test;
namespace k = hearth::kernels;

class TstCudaPromptAttention : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void matches_reference_and_decode_data() {
        QTest::addColumn<int>("n_head");
        QTest::addColumn<int>("n_head_kv");
        QTest::addColumn<int>("dk");
        QTest::addColumn<int>("dv");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("p0");
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("spare_cells"); // cells of the context after the chunk
        QTest::addColumn<float>("soft_cap");  // gemma2's attention logit soft cap (0: none)
        QTest::addColumn<bool>("sinks");      // gpt-oss's attention sinks
        QTest::newRow("n 1 at 0, MHA 4x64")
            << 4 << 4 << 64 << 64 << 1 << 0 << 0 << 5 << 0.0f << false;
        QTest::newRow("n 7 at 5, GQA 8/2x80")
            << 8 << 2 << 80 << 80 << 7 << 5 << 0 << 0 << 0.0f << false;
        QTest::newRow("n 33 at 0, GQA 8/2x128, window 10")
            << 8 << 2 << 128 << 128 << 33 << 0 << 10 << 3 << 0.0f << false;
        QTest::newRow("n 100 at 37, MHA 2x256")
            << 2 << 2 << 256 << 256 << 100 << 37 << 0 << 9 << 0.0f << false;
        QTest::newRow("n 100 at 300, GQA 8/2x64, window 20")
            << 8 << 2 << 64 << 64 << 100 << 300 << 20 << 1 << 0.0f << false;
        QTest::newRow("n 33 at 100, GQA 4/1x256, window 40")
            << 4 << 1 << 256 << 256 << 33 << 100 << 40 << 0 << 0.0f << false;
        QTest::newRow("n 100 at 0, MHA 3x80, window 50")
            << 3 << 3 << 80 << 80 << 100 << 0 << 50 << 7 << 0.0f << false;
        QTest::newRow("n 7 at 0, dk 96 dv 64, GQA 4/1")
            << 4 << 1 << 96 << 64 << 7 << 0 << 0 << 2 << 0.0f << false;
        QTest::newRow("n 33 at 3, odd heads dk 65 dv 33")
            << 4 << 4 << 65 << 33 << 33 << 3 << 0 << 4 << 0.0f << false;
        QTest::newRow("n 300 at 0, GQA 8/2x128")
            << 8 << 2 << 128 << 128 << 300 << 0 << 0 << 0 << 0.0f << false;
        QTest::newRow("n 100 at 37, soft cap 1.5, GQA 8/2x64, window 40")
            << 8 << 2 << 64 << 64 << 100 << 37 << 40 << 3 << 1.5f << false;
        QTest::newRow("n 33 at 0, sinks, GQA 8/2x64")
            << 8 << 2 << 64 << 64 << 33 << 0 << 0 << 2 << 0.0f << true;
        QTest::newRow("n 300 at 5, sinks and soft cap 2, MHA 4x128, window 64")
            << 4 << 4 << 128 << 128 << 300 << 5 << 64 << 0 << 2.0f << true;
    }

    // Bound, as for the decode kernel (tst_cuda_attention): float32 dot products of <= 256
    // terms, float32 online-softmax rescaling and float32 sums of <= 400 weighted rows keep the
    // output within 1e-4 max|V| of the exact value (|q'| <= 2.1, |k|, |v| <= 1, scores O(1)).
    // The same bound holds between the two kernels (each is that close to the exact value, and
    // in practice both are within ~1e-5). A wrong cell, window edge, head or normalisation
    // moves outputs by more than 1e-3 (one cell of <= 400 has weight >= ~1e-3).
    void matches_reference_and_decode() {
        QFETCH(int, n_head);
        QFETCH(int, n_head_kv);
        QFETCH(int, dk);
        QFETCH(int, dv);
        QFETCH(int, n);
        QFETCH(int, p0);
        QFETCH(int, window);
        QFETCH(int, spare_cells);
        QFETCH(float, soft_cap);
        QFETCH(bool, sinks);
        const int n_ctx = p0 + n + spare_cells;
        const int slot = 1;
        const k::KvLayout layout{n_head, n_head_kv, dk, dv, n_ctx, 3};
        const int64_t k_width = int64_t(n_head_kv) * dk, v_width = int64_t(n_head_kv) * dv;

        // Slot 1 holds cells [0, p0 + n): the earlier cells and the chunk's own, appended
        // before the attention. Everything else is NaN.
        const auto [kc, vc] = random_cache(3, n_ctx, k_width, v_width,
                                           uint64_t(n) * 1009 + uint64_t(p0) * 31 + uint64_t(dk),
                                           [&](int s, int j) { return s == slot && j < p0 + n; });
        const int64_t q_stride = int64_t(n_head) * dk + 7, out_stride = int64_t(n_head) * dv + 3;
        const auto q = random_floats(size_t(q_stride * n), 7 + uint64_t(n), -3.0f, 3.0f);
        const float q_scale = 0.7f, score_scale = 1.0f / std::sqrt(float(dk));
        const auto sink_logits = random_floats(size_t(n_head), 5 + uint64_t(n), -1.0f, 3.0f);
        DeviceArray<float> d_sinks(sink_logits);
        QVERIFY(d_sinks.ok());
        const float* sinks_ptr = sinks ? d_sinks.get() : nullptr;
        std::vector<int32_t> slot_ids(static_cast<size_t>(n), slot),
            positions(static_cast<size_t>(n));
        for (int r = 0; r < n; ++r) {
            positions[size_t(r)] = p0 + r;
        }

        // One output row more than the chunk: the row past it must stay poisoned.
        const size_t out_floats = size_t(out_stride * (n + 1));
        DeviceArray<uint16_t> d_kc(kc), d_vc(vc);
        DeviceArray<float> d_q(q), d_out(out_floats), d_decode_out(out_floats);
        DeviceArray<float> d_ws(k::attention_workspace_floats(layout, n));
        DeviceArray<int32_t> d_slots(static_cast<size_t>(n)), d_pos(static_cast<size_t>(n));
        QVERIFY(d_kc.ok() && d_vc.ok() && d_q.ok() && d_out.ok() && d_decode_out.ok() &&
                d_ws.ok() && d_slots.ok() && d_pos.ok());
        CUDA_VERIFY(d_slots.upload(slot_ids));
        CUDA_VERIFY(d_pos.upload(positions));
        CUDA_VERIFY(d_out.poison());
        CUDA_VERIFY(d_decode_out.poison());
        CUDA_VERIFY(d_ws.poison());
        CUDA_VERIFY(k::launch_prompt_attention(
            d_q.get(), q_stride, d_kc.get(), d_vc.get(), layout, slot, p0, n, window, q_scale,
            score_scale, d_out.get(), out_stride, nullptr, soft_cap, sinks_ptr));
        CUDA_VERIFY(k::launch_attention(d_q.get(), q_stride, d_kc.get(), d_vc.get(), layout,
                                        d_slots.get(), d_pos.get(), n, window, q_scale, score_scale,
                                        d_ws.get(), d_decode_out.get(), out_stride, nullptr,
                                        soft_cap, sinks_ptr));
        CUDA_VERIFY(cudaDeviceSynchronize());
        std::vector<float> out, decode_out;
        CUDA_VERIFY(d_out.download(out));
        CUDA_VERIFY(d_decode_out.download(decode_out));

        std::vector<float> got;
        std::vector<double> want, want_decode;
        const int group = n_head / n_head_kv;
        for (int r = 0; r < n; ++r) {
            const int pos = p0 + r;
            const int first = window > 0 && pos + 1 > window ? pos + 1 - window : 0;
            for (int h = 0; h < n_head; ++h) {
                const int g = h / group;
                const auto ref =
                    attention_reference(q.data() + r * q_stride + h * dk,
                                        kc.data() + size_t(slot) * n_ctx * k_width + g * dk,
                                        vc.data() + size_t(slot) * n_ctx * v_width + g * dv,
                                        k_width, v_width, dk, dv, first, pos, q_scale, score_scale,
                                        soft_cap, sinks ? &sink_logits[size_t(h)] : nullptr);
                for (int d = 0; d < dv; ++d) {
                    const size_t at = size_t(r * out_stride + h * dv + d);
                    got.push_back(out[at]);
                    want.push_back(ref[size_t(d)]);
                    want_decode.push_back(decode_out[at]);
                }
            }
            for (int64_t i = int64_t(n_head) * dv; i < out_stride; ++i) {
                QVERIFY2(std::isnan(out[size_t(r * out_stride + i)]), "row padding written");
            }
        }
        for (int64_t i = 0; i < out_stride; ++i) {
            QVERIFY2(std::isnan(out[size_t(n * out_stride + i)]), "row past the chunk written");
        }
        const QString bad = first_mismatch(got, want, [](size_t) { return 1e-4; });
        QVERIFY2(bad.isEmpty(), qPrintable("against the reference: " + bad));
        const QString bad_decode = first_mismatch(got, want_decode, [](size_t) { return 1e-4; });
        QVERIFY2(bad_decode.isEmpty(), qPrintable("against launch_attention: " + bad_decode));
    }

    void rejects_bad_arguments() {
        DeviceArray<float> buf(4096);
        DeviceArray<uint16_t> cache(4096);
        QVERIFY(buf.ok() && cache.ok());
        const k::KvLayout ok{4, 2, 64, 64, 16, 2};
        const auto launch = [&](const k::KvLayout& layout, int slot, int p0, int n, int window,
                                const float* q, float* out) {
            return k::launch_prompt_attention(q, 256, cache.get(), cache.get(), layout, slot, p0, n,
                                              window, 1.0f, 0.125f, out, 256, nullptr);
        };
        // Valid edges: the chunk ends at the last cell; an empty chunk does nothing.
        CUDA_VERIFY(launch(ok, 1, 15, 1, 0, buf.get(), buf.get()));
        CUDA_VERIFY(launch(ok, 0, 16, 0, 0, buf.get(), buf.get()));
        CUDA_VERIFY(cudaDeviceSynchronize());
        QCOMPARE(launch(ok, 0, 10, 7, 0, buf.get(), buf.get()),
                 cudaErrorInvalidValue);                                               // past n_ctx
        QCOMPARE(launch(ok, 2, 0, 1, 0, buf.get(), buf.get()), cudaErrorInvalidValue); // slot
        QCOMPARE(launch(ok, -1, 0, 1, 0, buf.get(), buf.get()), cudaErrorInvalidValue);
        QCOMPARE(launch(ok, 0, -1, 1, 0, buf.get(), buf.get()), cudaErrorInvalidValue); // p0
        QCOMPARE(launch(ok, 0, 0, -1, 0, buf.get(), buf.get()), cudaErrorInvalidValue); // n
        QCOMPARE(launch(ok, 0, 0, 1, -1, buf.get(), buf.get()), cudaErrorInvalidValue); // window
        QCOMPARE(launch(ok, 0, 0, 1, 0, nullptr, buf.get()), cudaErrorInvalidValue);
        QCOMPARE(launch(ok, 0, 0, 1, 0, buf.get(), nullptr), cudaErrorInvalidValue);
        QCOMPARE(launch(k::KvLayout{6, 4, 64, 64, 16, 1}, 0, 0, 1, 0, buf.get(), buf.get()),
                 cudaErrorInvalidValue); // not grouped
        QCOMPARE(launch(k::KvLayout{1, 1, 512, 64, 16, 1}, 0, 0, 1, 0, buf.get(), buf.get()),
                 cudaErrorInvalidValue); // head too wide
        QCOMPARE(k::launch_prompt_attention(buf.get(), 256, nullptr, cache.get(), ok, 0, 0, 1, 0,
                                            1.0f, 1.0f, buf.get(), 256, nullptr),
                 cudaErrorInvalidValue);
        for (const float cap : {-1.0f, NAN, INFINITY}) { // the soft cap: finite, 0 or above
            QCOMPARE(k::launch_prompt_attention(buf.get(), 256, cache.get(), cache.get(), ok, 0, 0,
                                                1, 0, 1.0f, 1.0f, buf.get(), 256, nullptr, cap),
                     cudaErrorInvalidValue);
        }
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaPromptAttention)
#include "tst_cuda_prompt_attention.moc"
