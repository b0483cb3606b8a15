// Kernel tests of sampling on the GPU (kernels/sampling.cu) against the CPU sampler
// (hearth::Sampler, engine/src/sampling/sampler.cpp): the same parameters, logits, history
// and seed must give the same token, and the reported top candidates must be the CPU trace's
// last stage (tokens equal, probabilities within float rounding). Vocabularies of several
// sizes (not multiples of the 1024-thread CTA), ties, penalties, every stage of the chain.
// When the GPU reports that the kept set is longer than it sorts (kSampleNeedsHost), the
// CPU trace must confirm it. Without a CUDA device: "skipped: no CUDA device".
#include "cuda_kernel_test.h"
#include "hearth/sampling.h"
#include "sampling.cuh"

#include <algorithm>

using namespace cuda_test;
namespace k = hearth::kernels;

class TstCudaSampling : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { CUDA_TEST_REQUIRE_DEVICE(); }

    void matches_cpu_data() {
        QTest::addColumn<int>("n_vocab");
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("top_k");
        QTest::addColumn<float>("top_p");
        QTest::addColumn<float>("min_p");
        QTest::addColumn<float>("repeat_penalty");
        QTest::addColumn<int>("repeat_last_n");
        QTest::addColumn<float>("presence");
        QTest::addColumn<float>("frequency");
        QTest::addColumn<float>("spread"); // standard deviation of the logits
        QTest::newRow("greedy 49152")
            << 49152 << 0.0f << 40 << 0.9f << 0.0f << 1.0f << 64 << 0.0f << 0.0f << 3.0f;
        QTest::newRow("greedy penalised 32000")
            << 32000 << 0.0f << 0 << 1.0f << 0.0f << 1.3f << 64 << 0.5f << 0.2f << 2.0f;
        QTest::newRow("defaults 49152")
            << 49152 << 0.7f << 40 << 0.9f << 0.0f << 1.1f << 64 << 0.0f << 0.0f << 3.0f;
        QTest::newRow("top-k only 1000")
            << 1000 << 1.0f << 50 << 1.0f << 0.0f << 1.0f << 0 << 0.0f << 0.0f << 1.0f;
        QTest::newRow("top-k 1024 top-p 151936")
            << 151936 << 1.2f << 1024 << 0.5f << 0.0f << 1.0f << 0 << 0.0f << 0.0f << 2.0f;
        QTest::newRow("top-p, no top-k, peaked")
            << 50257 << 0.8f << 0 << 0.95f << 0.0f << 1.1f << -1 << 0.1f << 0.1f << 8.0f;
        QTest::newRow("min-p, no top-k, peaked")
            << 32003 << 1.0f << 0 << 1.0f << 0.1f << 1.0f << 0 << 0.0f << 0.0f << 8.0f;
        QTest::newRow("min-p flat: needs host")
            << 32003 << 1.0f << 0 << 1.0f << 0.01f << 1.0f << 0 << 0.0f << 0.0f << 0.5f;
        QTest::newRow("top-k 5000 top-p: needs host")
            << 7777 << 1.0f << 5000 << 0.9f << 0.0f << 1.0f << 0 << 0.0f << 0.0f << 1.0f;
        QTest::newRow("tiny vocab 3")
            << 3 << 1.5f << 0 << 1.0f << 0.0f << 1.2f << 8 << 0.0f << 0.0f << 1.0f;
        QTest::newRow("ties 2000")
            << 2000 << 1.0f << 7 << 1.0f << 0.0f << 1.0f << 0 << 0.0f << 0.0f << 0.0f;
    }

    void matches_cpu() {
        QFETCH(int, n_vocab);
        QFETCH(float, temperature);
        QFETCH(int, top_k);
        QFETCH(float, top_p);
        QFETCH(float, min_p);
        QFETCH(float, repeat_penalty);
        QFETCH(int, repeat_last_n);
        QFETCH(float, presence);
        QFETCH(float, frequency);
        QFETCH(float, spread);
        const int n_top = 10;

        DeviceArray<float> d_logits(static_cast<size_t>(n_vocab)),
            d_work(static_cast<size_t>(n_vocab));
        DeviceArray<int32_t> d_history(200);
        DeviceArray<k::SampleControl> d_control(1);
        DeviceArray<k::SampleResult> d_result(1);
        QVERIFY(d_logits.ok() && d_work.ok() && d_history.ok() && d_control.ok() && d_result.ok());

        int gpu_ok = 0, needs_host = 0;
        // Under compute-sanitizer (scripts/gpu-check sets HEARTH_SANITIZER) each launch is
        // 100x slower: two trials per row still run every path of the kernel.
        const int trials = std::getenv("HEARTH_SANITIZER") ? 2 : 12;
        for (int trial = 0; trial < trials; ++trial) {
            const uint64_t seed = 1000 + uint64_t(trial) * 7919 + uint64_t(n_vocab);
            std::mt19937_64 rng(seed);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            std::vector<float> logits(static_cast<size_t>(n_vocab));
            for (float& l : logits) {
                // spread 0: only 4 distinct values, so top-k cuts inside a run of ties
                l = spread > 0.0f ? spread * normal(rng) : float(rng() % 4);
            }
            std::vector<int32_t> history(150);
            for (int32_t& t : history) {
                t = int32_t(rng() % uint64_t(std::min(n_vocab, 40))); // repeats, low ids
            }

            hearth::SamplingParams params;
            params.temperature = temperature;
            params.top_k = top_k;
            params.top_p = top_p;
            params.min_p = min_p;
            params.repeat_penalty = repeat_penalty;
            params.repeat_last_n = repeat_last_n;
            params.presence_penalty = presence;
            params.frequency_penalty = frequency;
            params.seed = seed;
            params.trace = true;
            params.trace_top_n = n_top;
            QVERIFY(params.validate());
            hearth::Sampler sampler(params);
            const int32_t cpu_token = sampler.sample(logits, history);
            const auto& trace = sampler.last_trace();
            QVERIFY(trace.has_value());

            // The window the penalties see, and the draw the CPU sampler made.
            const size_t window = repeat_last_n < 0
                                      ? history.size()
                                      : std::min(history.size(), size_t(repeat_last_n));
            const std::vector<int32_t> tail(history.end() - std::ptrdiff_t(window), history.end());
            std::mt19937 draw(static_cast<std::mt19937::result_type>(seed));
            const uint32_t high = draw();
            const uint32_t low = draw();
            k::SampleControl control;
            control.u = k::sample_uniform(high, low);
            control.n_history = int32_t(tail.size());
            k::SampleConfig config;
            config.temperature = temperature;
            config.top_k = top_k;
            config.top_p = top_p;
            config.min_p = min_p;
            config.repeat_penalty = repeat_penalty;
            config.presence_penalty = presence;
            config.frequency_penalty = frequency;
            config.n_top = n_top;

            CUDA_VERIFY(d_logits.upload(logits));
            if (!tail.empty()) {
                CUDA_VERIFY(d_history.upload(tail));
            }
            CUDA_VERIFY(d_control.upload(&control, 1));
            CUDA_VERIFY(d_work.poison());
            CUDA_VERIFY(d_result.poison());
            CUDA_VERIFY(k::launch_sample(d_logits.get(), n_vocab, d_history.get(), d_control.get(),
                                         config, d_work.get(), d_result.get(), nullptr));
            CUDA_VERIFY(cudaDeviceSynchronize());
            k::SampleResult result;
            CUDA_VERIFY(
                cudaMemcpy(&result, d_result.get(), sizeof(result), cudaMemcpyDeviceToHost));

            if (result.status == k::kSampleNeedsHost) {
                // Only when the CPU kept more candidates than the GPU sorts.
                int32_t longest = 0;
                for (const auto& stage : trace->stages) {
                    if (stage.name != "logits" && stage.name != "penalties") {
                        longest = std::max(longest, stage.n_remaining);
                    }
                }
                QVERIFY2(longest > k::kSampleMaxCandidates || top_k > k::kSampleMaxCandidates,
                         qPrintable(QStringLiteral("trial %1: needs-host with %2 kept")
                                        .arg(trial)
                                        .arg(longest)));
                ++needs_host;
                continue;
            }
            QCOMPARE(result.status, int32_t(k::kSampleOk));
            ++gpu_ok;
            QVERIFY2(result.token == cpu_token,
                     qPrintable(QStringLiteral("trial %1: GPU token %2, CPU token %3 (u = %4)")
                                    .arg(trial)
                                    .arg(result.token)
                                    .arg(cpu_token)
                                    .arg(control.u, 0, 'g', 17)));
            if (temperature <= 0.0f) {
                QCOMPARE(result.n_top, 1);
                continue;
            }
            const auto& last = trace->stages.back();
            QCOMPARE(last.name, std::string("temperature"));
            QCOMPARE(result.n_top, std::min<int32_t>(n_top, last.n_remaining));
            // The same candidates with the same probabilities. Matched by token: the CPU trace
            // orders equal logits arbitrarily (its partial_sort compares logits only).
            for (int i = 0; i < result.n_top; ++i) {
                const auto match =
                    std::find_if(last.top.begin(), last.top.end(),
                                 [&](const auto& c) { return c.token == result.top_tokens[i]; });
                QVERIFY2(
                    match != last.top.end(),
                    qPrintable(QStringLiteral("candidate %1 (token %2) is not in the CPU's top %3")
                                   .arg(i)
                                   .arg(result.top_tokens[i])
                                   .arg(last.top.size())));
                // float expf vs std::exp and the order of a double sum: a few float ulps.
                QVERIFY2(std::abs(result.top_probs[i] - match->probability) <=
                             1e-6f + 1e-5f * match->probability,
                         qPrintable(QStringLiteral("candidate %1: p %2 vs %3")
                                        .arg(i)
                                        .arg(double(result.top_probs[i]))
                                        .arg(double(match->probability))));
                // The trace's logits are after the temperature; the GPU's before it.
                QVERIFY(std::abs(result.top_logits[i] / temperature - match->logit) <=
                        1e-5f * (1.0f + std::abs(match->logit)));
            }
        }
        const QString row = QString::fromUtf8(QTest::currentDataTag());
        if (row.contains("needs host")) {
            QVERIFY2(needs_host > 0, "expected the GPU to hand this chain to the CPU");
        } else if (top_k > 0 && top_k <= k::kSampleMaxCandidates) {
            QCOMPARE(gpu_ok, trials); // a sorted top-k always fits
        }
    }

    void uniform_matches_cpu_draw() {
        // sample_uniform spans [0, 1): all-ones bits give the largest double below 1.
        QCOMPARE(k::sample_uniform(0, 0), 0.0);
        QVERIFY(k::sample_uniform(0xffffffffu, 0xffffffffu) < 1.0);
        QVERIFY(k::sample_uniform(0xffffffffu, 0xffffffffu) > 1.0 - 1e-15);
    }

    void rejects_bad_arguments() {
        DeviceArray<float> buf(16);
        DeviceArray<int32_t> history(4);
        DeviceArray<k::SampleControl> control(1);
        DeviceArray<k::SampleResult> result(1);
        QVERIFY(buf.ok() && history.ok() && control.ok() && result.ok());
        k::SampleConfig config;
        QCOMPARE(k::launch_sample(buf.get(), 0, history.get(), control.get(), config, buf.get(),
                                  result.get(), nullptr),
                 cudaErrorInvalidValue);
        config.n_top = k::kSampleMaxTop + 1;
        QCOMPARE(k::launch_sample(buf.get(), 8, history.get(), control.get(), config, buf.get(),
                                  result.get(), nullptr),
                 cudaErrorInvalidValue);
        config.n_top = 0;
        QCOMPARE(k::launch_sample(buf.get(), 8, history.get(), nullptr, config, buf.get(),
                                  result.get(), nullptr),
                 cudaErrorInvalidValue);
        QCOMPARE(cudaGetLastError(), cudaSuccess);
    }
};

QTEST_APPLESS_MAIN(TstCudaSampling)
#include "tst_cuda_sampling.moc"
