// The Q8_0 KV cache option on the default model against llama.cpp run with
// type_k = type_v = q8_0 (and the flash attention it requires for them), golden file from
// scripts/gen-kv-q8-reference.py: perplexity close to the F16 cache's and to llama.cpp's,
// greedy generations token for token (a divergence only at a near-tie), half the memory,
// and the option's errors. Not bit-exact with llama.cpp (see the perplexity test).
#include "hearth/model.h"
#include "hearth/session.h"
#include "test_support.h"
#include "top_logits.h"

#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace hearth;

namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

using hearth::test::argmax;

} // namespace

class TestKvCache : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;
    nlohmann::json golden_;

    // llama-perplexity's figure over the golden file's windows, with the given cache type.
    double perplexity(KvCacheType type) {
        const std::string text = test::read_text(test::data_dir() / "generation" / "genesis.txt");
        auto tokens =
            model_->tokenizer().encode(text, {.add_special = true, .parse_special = false});
        if (!tokens)
            return -1;
        const uint32_t n_ctx = golden_["n_ctx"].get<uint32_t>();
        const size_t n_chunks = golden_["n_chunks"].get<size_t>();
        auto session = Session::create(model_, {.n_ctx = n_ctx, .n_batch = n_ctx, .kv_type = type});
        if (!session)
            return -1;
        double nll = 0;
        size_t count = 0;
        for (size_t chunk = 0; chunk < n_chunks; ++chunk) {
            std::vector<int32_t> window(tokens->begin() + chunk * n_ctx,
                                        tokens->begin() + (chunk + 1) * n_ctx);
            auto ok = session->evaluate(window, [&](size_t i, std::span<const float> logits) {
                if (i < n_ctx / 2 || i + 1 >= n_ctx)
                    return;
                const float m = *std::max_element(logits.begin(), logits.end());
                double sum = 0;
                for (float l : logits)
                    sum += std::exp(double(l - m));
                nll -= double(logits[size_t(window[i + 1])] - m) - std::log(sum);
                ++count;
            });
            if (!ok)
                return -1;
        }
        return std::exp(nll / double(count));
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY(model);
        model_ = *model;
        golden_ = read_json(test::data_dir() / "generation" / "smollm2_kv_q8_0.json");
    }

    void perplexity_close_to_f16_and_llama_cpp() {
        const double f16 = perplexity(KvCacheType::f16);
        const double q8 = perplexity(KvCacheType::q8_0);
        QVERIFY(f16 > 1 && q8 > 1);
        const double ref_f16 = golden_["perplexity_f16"].get<double>();
        const double ref_q8 = golden_["perplexity_q8_0"].get<double>();
        qInfo("perplexity: F16 cache %.4f (llama.cpp %.4f), Q8_0 cache %.4f (llama.cpp %.4f)", f16,
              ref_f16, q8, ref_q8);
        // Quantizing the cache costs this model a fraction of a percent of perplexity. Hearth
        // follows llama.cpp's Q8_0 flash-attention kernel but is not bit-exact with it (0.65%
        // apart on this text, where llama.cpp's own F16 cache moves 0.6% between its flash
        // and non-flash attention; every greedy divergence below is at a near-tie).
        QVERIFY2(std::abs(q8 - f16) / f16 < 0.01, qPrintable(QString("%1 vs %2").arg(q8).arg(f16)));
        QVERIFY2(std::abs(q8 - ref_q8) / ref_q8 < 0.015,
                 qPrintable(QString("%1 vs llama.cpp %2").arg(q8).arg(ref_q8)));
        QVERIFY2(std::abs(f16 - ref_f16) / ref_f16 < 0.005,
                 qPrintable(QString("%1 vs llama.cpp %2").arg(f16).arg(ref_f16)));
    }

    // Greedy with a Q8_0 cache against llama.cpp's: the same tokens, or a divergence where
    // the two best logits are closer than the noise floor of 8-bit activations (see
    // tst_generation).
    void greedy_matches_llama_cpp() {
        constexpr float kNoiseFloor = 0.5f;
        auto session =
            Session::create(model_, {.n_ctx = 256, .n_batch = 256, .kv_type = KvCacheType::q8_0});
        QVERIFY(session);
        int exact = 0;
        for (const auto& c : golden_["cases"]) {
            const auto prompt = c["prompt_tokens"].get<std::vector<int32_t>>();
            const auto expected = c["generated"].get<std::vector<int32_t>>();
            const auto gaps = c["top2_gap"].get<std::vector<float>>();
            session->clear();
            auto logits = session->append(prompt);
            QVERIFY(logits);
            size_t step = 0;
            float our_gap = 0;
            for (; step < expected.size(); ++step) {
                const int32_t token = argmax(*logits, &our_gap);
                if (token != expected[step])
                    break;
                logits = session->append({&token, 1});
                QVERIFY(logits);
            }
            if (step == expected.size()) {
                ++exact;
                continue;
            }
            const float gap = std::min(gaps[step], our_gap);
            QVERIFY2(gap < kNoiseFloor,
                     qPrintable(QString("prompt '%1' diverges at step %2, top-2 gap %3")
                                    .arg(QString::fromStdString(c["prompt"].get<std::string>()))
                                    .arg(step)
                                    .arg(gap)));
        }
        qInfo("%d of %d prompts match llama.cpp's Q8_0-cache greedy run for all %d tokens", exact,
              int(golden_["cases"].size()), golden_["n_generate"].get<int>());
        QVERIFY(exact >= 1);
    }

    void memory_and_names() {
        auto f16 = Session::create(model_, {.n_ctx = 128});
        auto q8 = Session::create(model_, {.n_ctx = 128, .kv_type = KvCacheType::q8_0});
        QVERIFY(f16 && q8);
        // 34 bytes per 32 values against 64.
        QCOMPARE(q8->kv_cache_bytes() * 64, f16->kv_cache_bytes() * 34);
        QCOMPARE(parse_kv_cache_type("q8_0"), std::optional(KvCacheType::q8_0));
        QCOMPARE(parse_kv_cache_type("f16"), std::optional(KvCacheType::f16));
        QVERIFY(!parse_kv_cache_type("q4_0"));
        QCOMPARE(std::string(kv_cache_type_name(KvCacheType::q8_0)), std::string("q8_0"));
    }

    void cli_option() {
        const QString model = QString::fromStdString(test::default_model_path().string());
        auto ok = test::run_cli({"run", model, "-p", "The capital of France is", "-n", "4",
                                 "--temp", "0", "--raw", "--kv-type", "q8_0"});
        QVERIFY2(ok.exit_code == 0, ok.err.constData());
        QVERIFY(ok.out.contains("Paris"));
        auto bad = test::run_cli({"run", model, "-p", "x", "--kv-type", "q4"});
        QCOMPARE(bad.exit_code, 2); // a usage error
        QVERIFY(bad.err.contains("--kv-type must be f16 or q8_0"));
    }
};

QTEST_GUILESS_MAIN(TestKvCache)
#include "tst_kv_cache.moc"
