// Kernel tests of the tensor-core prefill product (engine/src/backend/cuda/cublas_prefill.cpp:
// cuBLAS loaded with dlopen, weights dequantized to F16 tiles, activations rounded to F16):
// Y = X W^T against the exact product of the CPU-dequantized weights, for several weight types,
// token counts (1, odd, 512) and tiles smaller than the matrix (so that the row tiling and the
// output offsets are exercised), plus the F32 -> F16 conversion kernel bit for bit and the
// refusals. Then the CUDA forward's prefill path (cuda_prefill_step.cpp) on the default model:
// prompts of 100 and 600 tokens (two chunks of 512 and 88) against the same forward in 8-row
// steps (prefill_rows = 0), the greedy decode after them, a batch mixing a prompt run with
// other sequences' tokens, and prefill + decode against the CPU's greedy tokens. Without a
// CUDA device: "skipped: no CUDA device"; without cuBLAS the products and the forward tests
// skip with the loader's reason (a failure under HEARTH_REQUIRE_CUDA=1).
#include "backend/cuda/cublas_prefill.h"
#include "backend/cuda/cuda_forward.h"
#include "convert.cuh"
#include "cpu/forward.h"
#include "cpu/kv_cache.h"
#include "cuda_kernel_test.h"
#include "logit_compare.h"
#include "model/model_impl.h"
#include "random_weights.h"
#include "test_support.h"

#include <algorithm>

using hearth::CudaBatchToken;
using hearth::CudaForward;
using hearth::Model;
using hearth::TensorType;
using hearth::cuda_detail::CublasPrefill;
using namespace cuda_test;

namespace {

// Bound on the logits of the prefill path against the 8-row steps, relative to the logit
// scale. The steps' products use the exact dequantized weights and float32 activations; the
// prefill products round both to F16 (2^-11 relative each, float32 sums: <= 2^-10 of sum|w x|
// per product, cublas_prefill.h). That is 8x finer than the CPU forward's 8-bit activations
// (1/254), whose logits stay within 3e-2 of the scale of the GPU's on this model
// (tst_cuda_forward's default_model_greedy); 2e-2 keeps a margin for 600 positions of
// accumulated rounding and still fails a wrong cell, row or head (logits off by O(1)).
constexpr double kPrefillTolerance = 2e-2;
// Top-two logits closer than this may swap under that error: greedy tokens are compared up to
// the first such near-tie only (the CPU comparison's margin).
constexpr float kNearTie = 0.25f;

std::shared_ptr<const Model> load(const std::filesystem::path& path) {
    auto model = Model::load(path);
    if (!model) {
        qWarning("%s: %s", path.c_str(), model.error().message.c_str());
        return nullptr;
    }
    return *model;
}

// The first n tokens of tests/data/generation/genesis.txt.
std::vector<int32_t> genesis_tokens(const Model& model, size_t n) {
    auto tokens = model.tokenizer().encode(
        hearth::test::read_text(hearth::test::data_dir() / "generation" / "genesis.txt"),
        {.add_special = true, .parse_special = false});
    if (!tokens || tokens->size() < n) {
        return {};
    }
    tokens->resize(n);
    return *tokens;
}

// A prompt's logits (of the rows marked) and then `n_decode` greedy tokens, each with its
// logits, from one forward.
struct Generation {
    std::vector<float> prompt_logits;
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> step_logits;
    std::string prefill_status;
};

hearth::Result<Generation> generate(const Model& model, uint32_t prefill_rows,
                                    const std::vector<CudaBatchToken>& prompt, int n_decode) {
    const size_t n_vocab = model.info().n_vocab;
    auto forward =
        CudaForward::create(model, {.n_ctx = uint32_t(prompt.size()) + uint32_t(n_decode) + 8,
                                    .prefill_rows = prefill_rows});
    if (!forward) {
        return std::unexpected(forward.error());
    }
    Generation out;
    const auto wanted = std::count_if(prompt.begin(), prompt.end(),
                                      [](const CudaBatchToken& t) { return t.want_logits; });
    out.prompt_logits.assign(size_t(wanted) * n_vocab, NAN);
    if (auto ok = (*forward)->run(prompt, out.prompt_logits.data()); !ok) {
        return std::unexpected(ok.error());
    }
    out.prefill_status = (*forward)->prefill_status();
    // The first token by sample() on the device: it reads the last prompt row's logits, which
    // the prefill path computes whether or not the row asked for them.
    hearth::SamplingParams greedy;
    greedy.temperature = 0.0f;
    greedy.repeat_penalty = 1.0f;
    auto first = (*forward)->sample(greedy, {}, 0.5, 0);
    if (!first) {
        return std::unexpected(first.error());
    }
    int32_t token = first->token;
    for (int i = 0; i < n_decode; ++i) {
        out.tokens.push_back(token);
        std::vector<float> logits(n_vocab, NAN);
        const CudaBatchToken t{token, uint32_t(prompt.size() + size_t(i)), 0, true};
        if (auto ok = (*forward)->run({&t, 1}, logits.data()); !ok) {
            return std::unexpected(ok.error());
        }
        token = argmax(logits.data(), n_vocab);
        out.step_logits.push_back(std::move(logits));
    }
    return out;
}

} // namespace

#define REQUIRE_CUBLAS_PREFILL(status)                                                             \
    do {                                                                                           \
        const QString status_ = QString::fromStdString(status);                                    \
        if (status_ != "cuBLAS prefill") {                                                         \
            if (std::getenv("HEARTH_REQUIRE_CUDA")) {                                              \
                QFAIL(qPrintable("HEARTH_REQUIRE_CUDA is set but " + status_));                    \
            }                                                                                      \
            QSKIP(qPrintable("skipped: " + status_));                                              \
        }                                                                                          \
    } while (false)

class TstCudaPrefill : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void convert_matches_cpu() {
        std::vector<float> x = random_floats(100003, 5, -70000.0f, 70000.0f);
        x[0] = 1e-8f; // subnormal in F16
        x[1] = -0.0f;
        x[2] = std::numeric_limits<float>::infinity();
        DeviceArray<float> d_x(x);
        DeviceArray<uint16_t> d_h(x.size());
        QVERIFY(d_x.ok() && d_h.ok());
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
        DeviceArray<uint8_t> d_w(w);
        DeviceArray<float> d_x(x), d_y(size_t(y_stride) * size_t(n_tokens));
        QVERIFY(d_w.ok() && d_x.ok() && d_y.ok());
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

    void forward_prefill_matches_steps_data() {
        QTest::addColumn<int>("n_prompt");
        QTest::newRow("100 tokens, one chunk") << 100;
        QTest::newRow("600 tokens, chunks of 512 and 88") << 600;
    }

    // The same prompt through the prefill path and through 8-row steps: the logits of the
    // rows asked for (every row of 100; every 7th and the last of 600, which exercises
    // several gathers of 8 rows), the same greedy next token, and 16 greedy decode steps on
    // the caches each path wrote that pick the same tokens up to a near-tie.
    void forward_prefill_matches_steps() {
        QFETCH(int, n_prompt);
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        const size_t n_vocab = model->info().n_vocab;
        const auto tokens = genesis_tokens(*model, size_t(n_prompt));
        QVERIFY(!tokens.empty());
        std::vector<CudaBatchToken> prompt;
        for (size_t i = 0; i < tokens.size(); ++i) {
            const bool want = n_prompt <= 100 || i % 7 == 0 || i + 1 == tokens.size();
            prompt.push_back({tokens[i], uint32_t(i), 0, want});
        }
        const auto prefill = generate(*model, 512, prompt, 16);
        QVERIFY2(prefill, prefill ? "" : prefill.error().message.c_str());
        REQUIRE_CUBLAS_PREFILL(prefill->prefill_status);
        const auto steps = generate(*model, 0, prompt, 16);
        QVERIFY2(steps, steps ? "" : steps.error().message.c_str());
        QCOMPARE(QString::fromStdString(steps->prefill_status),
                 QString("prefill off: disabled by the caller"));

        const double error = relative_error(prefill->prompt_logits, steps->prompt_logits);
        qInfo("%d tokens: max |prefill - steps| = %.2e of the logit scale", n_prompt, error);
        QVERIFY2(error <= kPrefillTolerance,
                 qPrintable(QStringLiteral("prompt logits: error %1").arg(error)));
        const float* last = steps->prompt_logits.data() + steps->prompt_logits.size() - n_vocab;
        const float* last_prefill =
            prefill->prompt_logits.data() + prefill->prompt_logits.size() - n_vocab;
        QCOMPARE(steps->tokens[0], argmax(last, n_vocab));
        QCOMPARE(prefill->tokens[0], argmax(last_prefill, n_vocab));
        // Greedy tokens agree up to the first near-tie (after it they may differ).
        if (top2_gap({last, n_vocab}) < kNearTie) {
            return;
        }
        for (size_t i = 0; i < steps->step_logits.size(); ++i) {
            QCOMPARE(prefill->tokens[i], steps->tokens[i]);
            const double step_error =
                relative_error(prefill->step_logits[i], steps->step_logits[i]);
            QVERIFY2(step_error <= kPrefillTolerance,
                     qPrintable(QStringLiteral("decode step %1: error %2").arg(i).arg(step_error)));
            if (top2_gap({steps->step_logits[i].data(), n_vocab}) < kNearTie) {
                break;
            }
        }
    }

    // A batch of several sequences: slot 1's first tokens, slot 0's 40-token prompt (chunks
    // of 16, 16 and 8 rows with prefill_rows = 16: later chunks attend to earlier ones), then
    // slot 1's next tokens, every row's logits. The prefill forward and the 8-row one agree,
    // and sample() after a batch that ends in a prompt run reads its last row.
    void forward_prefill_mixed_batch() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        const size_t n_vocab = model->info().n_vocab;
        const auto tokens = genesis_tokens(*model, 60);
        QVERIFY(!tokens.empty());
        std::vector<CudaBatchToken> batch, tail;
        for (uint32_t i = 0; i < 3; ++i) {
            batch.push_back({tokens[50 + i], i, 1, true});
        }
        for (uint32_t i = 0; i < 40; ++i) {
            batch.push_back({tokens[i], i, 0, true});
        }
        for (uint32_t i = 3; i < 5; ++i) {
            batch.push_back({tokens[50 + i], i, 1, true});
        }
        for (uint32_t i = 5; i < 25; ++i) { // slot 1's prompt run (prefill: chunks of 16 and 4)
            tail.push_back({tokens[30 + i], i, 1, i == 14});
        }
        std::vector<std::vector<float>> logits, tail_logits;
        std::vector<int32_t> sampled;
        for (const uint32_t prefill_rows : {16u, 0u}) {
            auto forward = CudaForward::create(
                *model, {.n_ctx = 64, .n_seq = 2, .prefill_rows = prefill_rows});
            QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
            logits.emplace_back(batch.size() * n_vocab, NAN);
            auto ok = (*forward)->run(batch, logits.back().data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            if (prefill_rows > 0) {
                REQUIRE_CUBLAS_PREFILL((*forward)->prefill_status());
            }
            // The prefill forward is asked for row 14 only, so that sample() must find the last
            // row's logits computed anyway; the 8-row forward for the last row too, to compare.
            std::vector<CudaBatchToken> asked = tail;
            asked.back().want_logits = prefill_rows == 0;
            tail_logits.emplace_back((prefill_rows == 0 ? 2 : 1) * n_vocab, NAN);
            ok = (*forward)->run(asked, tail_logits.back().data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            hearth::SamplingParams greedy;
            greedy.temperature = 0.0f;
            greedy.repeat_penalty = 1.0f;
            const auto token = (*forward)->sample(greedy, {}, 0.5, 0);
            QVERIFY2(token, token ? "" : token.error().message.c_str());
            sampled.push_back(token->token);
        }
        const double error = relative_error(logits[0], logits[1]);
        QVERIFY2(error <= kPrefillTolerance,
                 qPrintable(QStringLiteral("mixed batch: error %1").arg(error)));
        const std::vector<float> steps_row14(tail_logits[1].begin(),
                                             tail_logits[1].begin() + std::ptrdiff_t(n_vocab));
        const double tail_error = relative_error(tail_logits[0], steps_row14);
        QVERIFY2(tail_error <= kPrefillTolerance,
                 qPrintable(QStringLiteral("slot 1's prompt run: error %1").arg(tail_error)));
        // Greedy sample() reads the last row: position 24 of slot 1 on both.
        const float* steps_last = tail_logits[1].data() + n_vocab;
        QCOMPARE(sampled[1], argmax(steps_last, n_vocab));
        if (top2_gap({steps_last, n_vocab}) >= kNearTie) {
            QCOMPARE(sampled[0], sampled[1]);
        }
    }

    // Prefill of a 100-token prompt and 16 greedy decode steps on the GPU against the CPU
    // forward: logits within 3e-2 of the scale (tst_cuda_forward's bound for this model: the
    // CPU's 8-bit activations dominate the prefill's F16 rounding), the same tokens up to the
    // first near-tie of the CPU's logits.
    void forward_prefill_then_decode_matches_cpu() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        const hearth::ModelInfo& info = model->info();
        const size_t n_vocab = info.n_vocab;
        const auto prompt_tokens = genesis_tokens(*model, 100);
        QVERIFY(!prompt_tokens.empty());
        auto forward = CudaForward::create(*model, {.n_ctx = 128, .prefill_rows = 512});
        QVERIFY2(forward, forward ? "" : forward.error().message.c_str());
        hearth::cpu::KvCache cache(info.n_layer, 128, info.n_head_kv * info.head_dim_k,
                                   info.n_head_kv * info.head_dim_v);
        hearth::cpu::Forward cpu(model->impl());
        std::vector<int32_t> cpu_tokens = prompt_tokens, gpu_tokens = prompt_tokens;
        std::vector<float> cpu_out(n_vocab), gpu_out(n_vocab);
        for (int step = 0; step <= 16; ++step) {
            std::vector<hearth::cpu::BatchToken> cpu_batch;
            std::vector<CudaBatchToken> gpu_batch;
            const size_t from = step == 0 ? 0 : cpu_tokens.size() - 1;
            for (size_t i = from; i < cpu_tokens.size(); ++i) {
                hearth::cpu::BatchToken t;
                t.token = cpu_tokens[i];
                t.pos = uint32_t(i);
                t.cache = &cache;
                t.want_logits = i + 1 == cpu_tokens.size();
                cpu_batch.push_back(t);
                gpu_batch.push_back({gpu_tokens[i], uint32_t(i), 0, i + 1 == gpu_tokens.size()});
            }
            QVERIFY(cpu.run(cpu_batch, cpu_out.data()));
            const auto ok = (*forward)->run(gpu_batch, gpu_out.data());
            QVERIFY2(ok, ok ? "" : ok.error().message.c_str());
            if (step == 0) {
                REQUIRE_CUBLAS_PREFILL((*forward)->prefill_status());
            }
            const double error = relative_error(gpu_out, cpu_out);
            QVERIFY2(
                error <= 3e-2,
                qPrintable(QStringLiteral("step %1: logits differ by %2").arg(step).arg(error)));
            const int32_t c = argmax(cpu_out.data(), n_vocab);
            const int32_t g = argmax(gpu_out.data(), n_vocab);
            if (top2_gap({cpu_out.data(), n_vocab}) < kNearTie) {
                break;
            }
            QVERIFY2(c == g,
                     qPrintable(QStringLiteral("step %1: CPU %2, GPU %3").arg(step).arg(c).arg(g)));
            cpu_tokens.push_back(c);
            gpu_tokens.push_back(g);
        }
    }

    void forward_rejects_bad_prefill_rows() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        const auto model = load(path);
        QVERIFY(model);
        auto refused = CudaForward::create(*model, {.n_ctx = 64, .prefill_rows = 1u << 20});
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, hearth::ErrorCode::invalid_argument);
        QVERIFY2(QString::fromStdString(refused.error().message).contains("prefill"),
                 refused.error().message.c_str());
    }
};

QTEST_APPLESS_MAIN(TstCudaPrefill)
#include "tst_cuda_prefill.moc"
