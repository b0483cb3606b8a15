// SequenceRun, the per-sequence half of generation: step() with logits against its two halves,
// wants_next() and take(), the entry of a token chosen elsewhere (the GPU's sampler), which
// must stream, stop and count exactly as step() does. Uses the default model's tokenizer.
#include "hearth/model.h"
#include "session/sequence_run.h"
#include "test_support.h"

#include <QtTest>
#include <atomic>
#include <random>

using namespace hearth;

namespace {

struct Streamed {
    std::vector<int32_t> tokens;
    std::string text;
    int events = 0;
};

// Seeded rows of logits with a few strong candidates, so that the sampled text is varied.
std::vector<float> random_row(std::mt19937& rng, size_t n_vocab) {
    std::normal_distribution<float> background(0.0f, 1.0f);
    std::uniform_int_distribution<size_t> pick(0, n_vocab - 1);
    std::vector<float> logits(n_vocab);
    for (float& l : logits) {
        l = background(rng);
    }
    for (int i = 0; i < 20; ++i) {
        logits[pick(rng)] += 9.0f;
    }
    return logits;
}

} // namespace

class TestSequenceRun : public QObject {
    Q_OBJECT

    std::shared_ptr<const Model> model_;

    const Tokenizer& tokenizer() const { return model_->tokenizer(); }

    std::vector<int32_t> encode(const char* text) const {
        auto tokens = tokenizer().encode(text, {.add_special = false});
        return tokens ? *tokens : std::vector<int32_t>{};
    }

private slots:
    void initTestCase() {
        HEARTH_REQUIRE_DEFAULT_MODEL(path);
        auto model = Model::load(path);
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        model_ = *model;
    }

    // The same seeded logits through step() and through wants_next() + take() of
    // sampler().sample(): the same tokens, streamed text, events and stop, with stop strings.
    void take_streams_and_stops_as_step_does() {
        SamplingParams sampling;
        sampling.temperature = 1.0f;
        sampling.seed = 11;
        const size_t n_vocab = model_->info().n_vocab;
        const std::vector<int32_t> prompt = encode("Hello");
        for (const char* stop : {"e", "the", "zzzz"}) {
            const GenerateOptions options{.max_tokens = 40, .stop_strings = {stop}};
            Streamed by_step, by_take;
            auto collect = [](Streamed& into) {
                return [&into](const TokenEvent& event) {
                    into.events += 1;
                    if (event.token >= 0) {
                        into.tokens.push_back(event.token);
                    }
                    into.text += event.text;
                    return true;
                };
            };
            const std::function<bool(const TokenEvent&)> on_step = collect(by_step);
            const std::function<bool(const TokenEvent&)> on_take = collect(by_take);
            const auto start = SequenceRun::Clock::now();
            SequenceRun a(tokenizer(), sampling, options, prompt, on_step, start);
            SequenceRun b(tokenizer(), sampling, options, prompt, on_take, start);
            const std::atomic<bool> cancel{false};
            std::mt19937 rows(7);
            for (int i = 0; i < 60; ++i) {
                const auto logits = random_row(rows, n_vocab);
                const bool go_a = a.step(logits, cancel);
                const bool go_b =
                    b.wants_next(cancel) && b.take(b.sampler().sample(logits, b.history()));
                QCOMPARE(go_b, go_a);
                if (!go_a) {
                    break;
                }
                QCOMPARE(b.last_token(), a.last_token());
                QCOMPARE(b.history().size(), prompt.size() + size_t(i) + 1);
            }
            const GenerationStats sa = a.finish();
            const GenerationStats sb = b.finish();
            QCOMPARE(by_take.tokens, by_step.tokens);
            QCOMPARE(by_take.events, by_step.events);
            QCOMPARE(QString::fromStdString(by_take.text), QString::fromStdString(by_step.text));
            QCOMPARE(QString::fromStdString(sb.text), QString::fromStdString(sa.text));
            QCOMPARE(sb.stop, sa.stop);
            QCOMPARE(sb.n_generated, sa.n_generated);
            QVERIFY(sa.n_generated > 0);
        }
    }

    // Chosen tokens: a stop string spanning tokens cuts the text before it; the text streamed
    // is the final text.
    void take_finds_a_stop_string() {
        const std::vector<int32_t> tokens = encode(" Paris is lovely. END of the answer");
        QVERIFY(tokens.size() > 4);
        std::string streamed;
        const std::function<bool(const TokenEvent&)> on_token = [&](const TokenEvent& event) {
            streamed += event.text;
            return true;
        };
        const GenerateOptions options{.max_tokens = 100, .stop_strings = {"END"}};
        SequenceRun run(tokenizer(), SamplingParams{}, options, encode("Q"), on_token,
                        SequenceRun::Clock::now());
        const std::atomic<bool> cancel{false};
        size_t taken = 0;
        while (taken < tokens.size() && run.wants_next(cancel) && run.take(tokens[taken])) {
            ++taken;
        }
        QVERIFY(taken < tokens.size()); // stopped inside the text
        const GenerationStats stats = run.finish();
        QCOMPARE(stats.stop, StopReason::stop_string);
        QCOMPARE(QString::fromStdString(stats.text), QString(" Paris is lovely. "));
        QCOMPARE(QString::fromStdString(streamed), QString(" Paris is lovely. "));
    }

    void wants_next_stops_at_max_tokens_and_on_cancel() {
        const std::vector<int32_t> tokens = encode(" one two three four");
        const std::function<bool(const TokenEvent&)> none;
        std::atomic<bool> cancel{false};
        const GenerateOptions two{.max_tokens = 2, .stop_strings = {}};
        SequenceRun run(tokenizer(), SamplingParams{}, two, encode("Count:"), none,
                        SequenceRun::Clock::now());
        QVERIFY(run.wants_next(cancel));
        QVERIFY(run.take(tokens[0]));
        QVERIFY(run.wants_next(cancel));
        QVERIFY(!run.take(tokens[1])); // the second of two: no need to run it
        QVERIFY(!run.wants_next(cancel));
        QCOMPARE(run.stats().stop, StopReason::max_tokens);
        QCOMPARE(run.finish().n_generated, 2);

        const GenerateOptions eight{.max_tokens = 8, .stop_strings = {}};
        SequenceRun cancelled(tokenizer(), SamplingParams{}, eight, encode("Count:"), none,
                              SequenceRun::Clock::now());
        QVERIFY(cancelled.wants_next(cancel) && cancelled.take(tokens[0]));
        cancel = true;
        QVERIFY(!cancelled.wants_next(cancel));
        const GenerationStats stats = cancelled.finish();
        QCOMPARE(stats.stop, StopReason::cancelled);
        QCOMPARE(stats.n_generated, 1);
    }

    void take_ends_at_the_end_of_generation_token() {
        const auto eos = tokenizer().eos_id();
        QVERIFY(eos);
        QVERIFY(tokenizer().is_end_of_generation(*eos));
        const std::function<bool(const TokenEvent&)> none;
        const GenerateOptions options{.max_tokens = 8, .stop_strings = {}};
        SequenceRun run(tokenizer(), SamplingParams{}, options, encode("Hi"), none,
                        SequenceRun::Clock::now());
        const std::atomic<bool> cancel{false};
        QVERIFY(run.wants_next(cancel) && run.take(encode(" there").front()));
        QVERIFY(run.wants_next(cancel));
        QVERIFY(!run.take(*eos));
        const GenerationStats stats = run.finish();
        QCOMPARE(stats.stop, StopReason::end_of_generation);
        QCOMPARE(QString::fromStdString(stats.text), QString(" there"));
    }
};

QTEST_APPLESS_MAIN(TestSequenceRun)
#include "tst_sequence_run.moc"
