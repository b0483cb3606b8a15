// The sampling chain on hand-made distributions, and statistics of the seeded draw.
#include "hearth/sampling.h"

#include <QtTest>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace hearth;

namespace {

// Logits whose softmax is exactly `probabilities`.
std::vector<float> logits_for(const std::vector<double>& probabilities) {
    std::vector<float> logits;
    for (double p : probabilities) {
        logits.push_back(static_cast<float>(std::log(p)));
    }
    return logits;
}

SamplingParams plain() {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.trace = true;
    return p;
}

const SamplingStage* stage(const Sampler& sampler, const char* name) {
    for (const auto& s : sampler.last_trace()->stages) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

// kernels/sampling.cuh's sample_uniform: the draw the GPU chain is given.
double uniform_of(uint32_t high, uint32_t low) {
    const uint64_t bits = (static_cast<uint64_t>(high) << 21) | (low >> 11);
    return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

// `n` logits of a peaked random row: a few large ones over a normal background.
std::vector<float> random_row(std::mt19937& rng, size_t n) {
    std::normal_distribution<float> background(0.0f, 2.0f);
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    std::vector<float> logits(n);
    for (float& l : logits) {
        l = background(rng);
    }
    for (int i = 0; i < 5; ++i) {
        logits[pick(rng)] += 8.0f;
    }
    return logits;
}

} // namespace

class TestSampler : public QObject {
    Q_OBJECT

private slots:
    // Without a trace the chain finds its top-k (greedy: the argmax) in one pass over the
    // logits (Sampler::select_best); with one, it sorts every candidate. The two must choose
    // the same tokens and give the same distributions: rows with many equal logits (ties go to
    // the lower token), penalties that lift and lower logits (presence -1 lifts), penalised
    // tokens inside and outside the best k, k of 1 to the vocabulary, greedy and drawn.
    void one_pass_top_k_matches_the_sorted_chain() {
        std::mt19937 rng(123);
        const size_t n = 3000;
        std::uniform_int_distribution<int32_t> token(0, int32_t(n) - 1);
        std::uniform_int_distribution<int> level(-6, 6);
        int compared = 0;
        for (int round = 0; round < 60; ++round) {
            std::vector<float> logits = random_row(rng, n);
            if (round % 3 == 0) { // coarse levels: runs of equal logits everywhere
                for (float& l : logits) {
                    l = static_cast<float>(level(rng)) * 0.5f;
                }
            }
            std::vector<int32_t> history(static_cast<size_t>(round % 5 == 4 ? 0 : 40));
            for (int32_t& t : history) { // around the best tokens half the time
                t = round % 2
                        ? token(rng)
                        : static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                                               logits.begin()) +
                              token(rng) % 3;
                t = std::min<int32_t>(t, int32_t(n) - 1);
            }
            for (const int32_t top_k : {1, 2, 40, 2999, 3000, 0}) {
                SamplingParams params = plain();
                params.temperature = round % 4 == 1 ? 0.0f : 0.7f;
                params.top_k = top_k;
                params.top_p = round % 2 ? 0.9f : 1.0f;
                params.min_p = round % 3 == 2 ? 0.05f : 0.0f;
                params.repeat_penalty = 1.3f;
                params.presence_penalty = round % 2 ? -1.0f : 0.5f;
                params.frequency_penalty = 0.25f;
                params.repeat_last_n = 32;
                params.seed = static_cast<uint64_t>(round);
                params.trace = true;
                Sampler sorted(params);
                params.trace = false;
                Sampler one_pass(params);
                for (int draw = 0; draw < 4; ++draw) {
                    const int32_t a = sorted.sample(logits, history);
                    const int32_t b = one_pass.sample(logits, history);
                    QVERIFY2(a == b, qPrintable(QString("round %1 top-k %2 draw %3: %4 vs %5")
                                                    .arg(round)
                                                    .arg(top_k)
                                                    .arg(draw)
                                                    .arg(a)
                                                    .arg(b)));
                    ++compared;
                }
                const auto da = sorted.distribution(logits, history);
                const auto db = one_pass.distribution(logits, history);
                QCOMPARE(da.size(), db.size());
                for (size_t i = 0; i < da.size(); ++i) {
                    QCOMPARE(da[i].token, db[i].token);
                    QCOMPARE(da[i].p, db[i].p); // the same bits: same candidates, same order
                }
            }
        }
        QCOMPARE(compared, 60 * 6 * 4);
    }

    void greedy_takes_the_largest_logit() {
        SamplingParams p = plain();
        p.temperature = 0.0f;
        Sampler sampler(p);
        const std::vector<float> logits{0.1f, 3.0f, 2.9f, -1.0f};
        for (int i = 0; i < 10; ++i) {
            QCOMPARE(sampler.sample(logits, {}), 1);
        }
    }

    void repetition_penalty_divides_positive_and_multiplies_negative() {
        SamplingParams p = plain();
        p.temperature = 0.0f;
        p.repeat_penalty = 2.0f;
        Sampler sampler(p);
        const std::vector<float> logits{0.1f, 3.0f, 2.0f, -1.0f};
        const std::vector<int32_t> history{1, 3};
        // 3.0 / 2 = 1.5 < 2.0: token 2 wins now.
        QCOMPARE(sampler.sample(logits, history), 2);
        const SamplingStage* penalties = stage(sampler, "penalties");
        QVERIFY(penalties);
        for (const auto& c : penalties->top) {
            if (c.token == 1)
                QCOMPARE(c.logit, 1.5f);
            if (c.token == 3)
                QCOMPARE(c.logit, -2.0f);
            if (c.token == 2)
                QCOMPARE(c.logit, 2.0f);
        }
    }

    void penalty_window_and_presence_frequency() {
        SamplingParams window;
        window.repeat_last_n = 3;
        QCOMPARE(window.penalty_window(10), size_t(3));
        QCOMPARE(window.penalty_window(2), size_t(2));
        window.repeat_last_n = -1;
        QCOMPARE(window.penalty_window(10), size_t(10));
        window.repeat_last_n = 0;
        QCOMPARE(window.penalty_window(10), size_t(0));
        SamplingParams p = plain();
        p.temperature = 0.0f;
        p.repeat_penalty = 1.0f;
        p.frequency_penalty = 0.5f;
        p.presence_penalty = 0.25f;
        p.repeat_last_n = 3;
        Sampler sampler(p);
        const std::vector<float> logits{2.0f, 1.0f, 0.0f};
        // Token 0 appears twice in the last 3 (1.0 + 0.25 off), token 1 is outside the window.
        const std::vector<int32_t> history{1, 0, 2, 0};
        sampler.sample(logits, history);
        const SamplingStage* penalties = stage(sampler, "penalties");
        QVERIFY(penalties);
        for (const auto& c : penalties->top) {
            if (c.token == 0)
                QCOMPARE(c.logit, 2.0f - 1.0f - 0.25f);
            if (c.token == 1)
                QCOMPARE(c.logit, 1.0f);
            if (c.token == 2)
                QCOMPARE(c.logit, 0.0f - 0.5f - 0.25f);
        }
    }

    void top_k_keeps_k() {
        SamplingParams p = plain();
        p.top_k = 2;
        Sampler sampler(p);
        const auto logits = logits_for({0.1, 0.4, 0.3, 0.2});
        for (int i = 0; i < 200; ++i) {
            const int32_t token = sampler.sample(logits, {});
            QVERIFY(token == 1 || token == 2);
        }
        QCOMPARE(stage(sampler, "top-k")->n_remaining, 2);
    }

    void top_p_keeps_the_smallest_prefix_reaching_p() {
        const auto logits = logits_for({0.05, 0.5, 0.15, 0.3});
        for (auto [top_p, expected] :
             {std::pair{0.49f, 1}, std::pair{0.79f, 2}, std::pair{0.81f, 3}, std::pair{0.96f, 4},
              std::pair{1.0f, -1}}) {
            SamplingParams p = plain();
            p.top_p = top_p;
            Sampler sampler(p);
            sampler.sample(logits, {});
            const SamplingStage* s = stage(sampler, "top-p");
            if (expected < 0) {
                QVERIFY(!s); // off at 1
            } else {
                QVERIFY(s);
                QCOMPARE(s->n_remaining, expected);
            }
        }
    }

    void min_p_keeps_tokens_near_the_top() {
        SamplingParams p = plain();
        p.min_p = 0.25f;
        Sampler sampler(p);
        // p_max = 0.4: keep p ≥ 0.1, so 0.4, 0.3 and 0.2 stay; 0.09 and 0.01 go.
        const auto logits = logits_for({0.4, 0.3, 0.2, 0.09, 0.01});
        for (int i = 0; i < 100; ++i) {
            QVERIFY(sampler.sample(logits, {}) <= 2);
        }
        QCOMPARE(stage(sampler, "min-p")->n_remaining, 3);
    }

    void temperature_sharpens_and_flattens() {
        const auto logits = logits_for({0.6, 0.3, 0.1});
        for (float t : {0.5f, 1.0f, 2.0f}) {
            SamplingParams p = plain();
            p.temperature = t;
            Sampler sampler(p);
            sampler.sample(logits, {});
            const SamplingStage* s = stage(sampler, "temperature");
            QVERIFY(s);
            double z = 0;
            for (double q : {0.6, 0.3, 0.1})
                z += std::pow(q, 1.0 / t);
            QCOMPARE(s->top[0].token, 0);
            QVERIFY(std::abs(s->top[0].probability - std::pow(0.6, 1.0 / t) / z) < 1e-5);
        }
    }

    void seeded_draw_follows_the_distribution() {
        // Chi-square goodness of fit over 30000 draws; with 3 categories the 0.1% critical
        // value is 13.8. The draw is deterministic for the seed, so this cannot flake.
        const std::vector<double> probabilities{0.5, 0.3, 0.2};
        const auto logits = logits_for(probabilities);
        for (uint64_t seed : {1ull, 42ull, 123456789ull}) {
            SamplingParams p = plain();
            p.trace = false;
            p.seed = seed;
            Sampler sampler(p);
            std::vector<int> counts(3);
            const int n = 30000;
            for (int i = 0; i < n; ++i) {
                counts[static_cast<size_t>(sampler.sample(logits, {}))] += 1;
            }
            double chi2 = 0;
            for (size_t k = 0; k < 3; ++k) {
                const double expected = probabilities[k] * n;
                chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
            }
            QVERIFY2(chi2 < 13.8, qPrintable(QString("chi2 = %1 for seed %2").arg(chi2).arg(seed)));
        }
    }

    void same_seed_same_tokens() {
        const auto logits = logits_for({0.25, 0.25, 0.25, 0.25});
        auto run = [&](uint64_t seed) {
            SamplingParams p = plain();
            p.seed = seed;
            Sampler sampler(p);
            std::vector<int32_t> tokens;
            for (int i = 0; i < 64; ++i)
                tokens.push_back(sampler.sample(logits, {}));
            return tokens;
        };
        QCOMPARE(run(7), run(7));
        QVERIFY(run(7) != run(8));
    }

    // The GPU path: peek_uniform() gives the draw of the next sample(), sample_with_uniform()
    // evaluates the chain with it and consume_draw() advances the generator as sample()
    // would. Over many random rows, with the tokens fed back as history, the stream is
    // sample()'s, and each u is the sample_uniform of the next two outputs of mt19937(seed).
    void peeked_draws_give_the_tokens_of_sample_data() {
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("top_k");
        QTest::addColumn<float>("top_p");
        QTest::addColumn<float>("min_p");
        QTest::newRow("top-k 40, top-p 0.9") << 0.8f << 40 << 0.9f << 0.0f;
        QTest::newRow("min-p") << 1.0f << 0 << 1.0f << 0.05f;
        QTest::newRow("whole vocabulary") << 1.3f << 0 << 1.0f << 0.0f;
        QTest::newRow("greedy") << 0.0f << 40 << 0.9f << 0.0f;
    }
    void peeked_draws_give_the_tokens_of_sample() {
        QFETCH(float, temperature);
        QFETCH(int, top_k);
        QFETCH(float, top_p);
        QFETCH(float, min_p);
        SamplingParams p;
        p.temperature = temperature;
        p.top_k = top_k;
        p.top_p = top_p;
        p.min_p = min_p;
        p.repeat_penalty = 1.1f;
        p.frequency_penalty = 0.1f;
        for (uint64_t seed : {3ull, 0xC0FFEEull}) {
            p.seed = seed;
            Sampler cpu(p), split(p);
            std::mt19937 reference(static_cast<std::mt19937::result_type>(seed));
            std::mt19937 rows(static_cast<std::mt19937::result_type>(seed + 1));
            std::vector<int32_t> history{1, 2, 3};
            for (int step = 0; step < 300; ++step) {
                const auto logits = random_row(rows, 700);
                const int32_t want = cpu.sample(logits, history);
                const std::optional<double> u = split.peek_uniform();
                QCOMPARE(u.has_value(), temperature > 0.0f);
                if (u) {
                    QCOMPARE(split.peek_uniform(), u); // peeking does not advance
                    const uint32_t high = reference();
                    const uint32_t low = reference();
                    QVERIFY(*u == uniform_of(high, low)); // exactly, bit for bit
                }
                const int32_t got = split.sample_with_uniform(logits, history, u.value_or(0.0));
                split.consume_draw();
                QVERIFY2(
                    got == want,
                    qPrintable(
                        QString("step %1: %2 against sample()'s %3").arg(step).arg(got).arg(want)));
                history.push_back(want);
            }
        }
    }

    void sample_with_uniform_walks_the_distribution_without_drawing() {
        SamplingParams p = plain();
        p.trace = false;
        Sampler sampler(p);
        const auto logits = logits_for({0.25, 0.5, 0.25});
        const std::optional<double> before = sampler.peek_uniform();
        // Sorted by logit: token 1 (0.5), then 0 and 2 (0.25 each, lower id first).
        QCOMPARE(sampler.sample_with_uniform(logits, {}, 0.1), 1);
        QCOMPARE(sampler.sample_with_uniform(logits, {}, 0.6), 0);
        QCOMPARE(sampler.sample_with_uniform(logits, {}, 0.8), 2);
        QCOMPARE(sampler.sample_with_uniform(logits, {}, 0.999999), 2);
        QCOMPARE(sampler.peek_uniform(), before);
        sampler.consume_draw();
        QVERIFY(sampler.peek_uniform() != before);
    }

    void consume_draw_leaves_no_trace() {
        Sampler sampler(plain()); // traced
        const auto logits = logits_for({0.5, 0.5});
        sampler.sample(logits, {});
        QVERIFY(sampler.last_trace());
        sampler.consume_draw();
        QVERIFY(!sampler.last_trace());
    }

    void trace_lists_stages_in_chain_order() {
        SamplingParams p;
        p.trace = true;
        p.min_p = 0.01f;
        Sampler sampler(p);
        const auto logits = logits_for({0.4, 0.3, 0.2, 0.1});
        const std::vector<int32_t> history{0};
        const int32_t chosen = sampler.sample(logits, history);
        QStringList names;
        for (const auto& s : sampler.last_trace()->stages)
            names << QString::fromStdString(s.name);
        QCOMPARE(names,
                 (QStringList{"logits", "penalties", "top-k", "top-p", "min-p", "temperature"}));
        QCOMPARE(sampler.last_trace()->chosen, chosen);
    }

    // OpenAI's logprobs: the chosen token's log probability in the raw distribution, whatever
    // the penalties and temperature did to the draw.
    void trace_gives_the_chosen_tokens_log_probability() {
        const std::vector<float> logits{2.0f, 1.0f, 0.5f, -1.0f};
        double sum = 0;
        for (float x : logits) {
            sum += std::exp(x);
        }
        for (const float temperature : {0.0f, 0.7f, 1.5f}) {
            SamplingParams p;
            p.trace = true;
            p.temperature = temperature;
            p.top_k = 0;
            p.top_p = 1.0f;
            p.repeat_penalty = 2.0f;
            Sampler sampler(p);
            const std::vector<int32_t> history{0};
            const int32_t chosen = sampler.sample(logits, history);
            const double expected = logits[static_cast<size_t>(chosen)] - std::log(sum);
            QVERIFY2(std::fabs(sampler.last_trace()->chosen_logprob - expected) < 1e-5,
                     qPrintable(QString::number(temperature)));
        }
    }

    void invalid_parameters_are_rejected() {
        auto check = [](auto&& mutate, const char* needle) {
            SamplingParams p;
            mutate(p);
            auto valid = p.validate();
            QVERIFY2(!valid, needle);
            QVERIFY2(valid.error().message.find(needle) != std::string::npos,
                     valid.error().message.c_str());
        };
        check([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
        check([](SamplingParams& p) { p.top_p = 0.0f; }, "top-p");
        check([](SamplingParams& p) { p.top_p = 1.5f; }, "top-p");
        check([](SamplingParams& p) { p.min_p = -1.0f; }, "min-p");
        check([](SamplingParams& p) { p.top_k = -3; }, "top-k");
        check([](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat penalty");
        check([](SamplingParams& p) { p.repeat_last_n = -2; }, "repeat-last-n");
        QVERIFY(SamplingParams{}.validate());
    }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "tst_sampler.moc"
