// SequenceRun, the per-sequence half of generation: step() with logits against its two halves,
// wants_next() and take(), the entry of a token chosen elsewhere (the GPU's sampler), which
// must stream, stop and count exactly as step() does (the default model's tokenizer); and the
// text of generated tokens decoded in the context of the prompt, from SequenceRun and from a
// whole Session (a tiny model with Llama 2's SentencePiece vocabulary).
#include "hearth/model.h"
#include "session/sequence_run.h"
#include "test_support.h"

#include <QtTest>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>

// The tests on the default model skip (or fail, with HEARTH_REQUIRE_MODEL) without it.
#define REQUIRE_DEFAULT_MODEL()                                                                    \
    do {                                                                                           \
        HEARTH_REQUIRE_DEFAULT_MODEL(default_path);                                                \
        (void)default_path;                                                                        \
    } while (false)

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
        const std::filesystem::path path = hearth::test::default_model_path();
        if (!std::filesystem::exists(path)) {
            return;
        }
        auto model = Model::load(path);
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        model_ = *model;
    }

    // The same seeded logits through step() and through wants_next() + take() of
    // sampler().sample(): the same tokens, streamed text, events and stop, with stop strings.
    void take_streams_and_stops_as_step_does() {
        REQUIRE_DEFAULT_MODEL();
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
        REQUIRE_DEFAULT_MODEL();
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
        REQUIRE_DEFAULT_MODEL();
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
        REQUIRE_DEFAULT_MODEL();
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

    // Generated tokens are decoded in the context of the prompt: a SentencePiece continuation
    // keeps its leading space (" Mensumes" after "Once upon a time", as llama.cpp prints it),
    // in the streamed events and in the stored text, and stop strings see that space.
    void take_decodes_in_the_context_of_the_prompt() {
        auto tok = Tokenizer::from_gguf_file(tiny_dir() / "ggml-vocab-llama-spm.gguf");
        QVERIFY(tok.has_value());
        const auto want = tiny_expectation();
        const auto prompt = want["prompt"].get<std::vector<int32_t>>();
        auto generated = want["generated"].get<std::vector<int32_t>>();
        generated.push_back(*tok->eos_id());
        const std::string text = want["text"].get<std::string>();
        QCOMPARE(text.substr(0, 9), std::string(" Mensumes"));
        struct Case {
            std::string stop;
            std::string text;
            StopReason reason;
        };
        const Case cases[] = {
            {"", text, StopReason::end_of_generation},
            {" were", " Mensumes", StopReason::stop_string},
            {" Mens", "", StopReason::stop_string},
            {"\n", " Mensumes were", StopReason::stop_string},
        };
        for (const auto& c : cases) {
            std::string streamed;
            const std::function<bool(const TokenEvent&)> on_token = [&](const TokenEvent& e) {
                streamed += e.text;
                return true;
            };
            GenerateOptions options{.max_tokens = 40, .stop_strings = {}};
            if (!c.stop.empty()) {
                options.stop_strings.push_back(c.stop);
            }
            SequenceRun run(*tok, SamplingParams{}, options, prompt, on_token,
                            SequenceRun::Clock::now());
            const std::atomic<bool> cancel{false};
            for (size_t i = 0; i < generated.size() && run.wants_next(cancel); ++i) {
                if (!run.take(generated[i])) {
                    break;
                }
            }
            const GenerationStats stats = run.finish();
            QCOMPARE(stats.stop, c.reason);
            QCOMPARE(stats.text, c.text);
            QCOMPARE(streamed, c.text);
        }
    }

    // The same through Session::generate on the tiny model, whose greedy continuation of the
    // prompt is the known chain of tokens.
    void session_generates_the_exact_continuation() {
        auto model = Model::load(tiny_dir() / "spm-tiny-model.gguf");
        QVERIFY2(model, model ? "" : model.error().message.c_str());
        auto session = Session::create(*model);
        QVERIFY2(session, session ? "" : session.error().message.c_str());
        const auto want = tiny_expectation();
        const auto prompt = (*model)->tokenizer().encode(want["prompt_text"].get<std::string>());
        QVERIFY(prompt.has_value());
        QCOMPARE(*prompt, want["prompt"].get<std::vector<int32_t>>());
        std::string streamed;
        std::vector<int32_t> tokens;
        SamplingParams greedy;
        greedy.temperature = 0.0f;
        auto stats = session->generate(*prompt, greedy, {.max_tokens = 40, .stop_strings = {}},
                                       [&](const TokenEvent& e) {
                                           streamed += e.text;
                                           tokens.push_back(e.token);
                                           return true;
                                       });
        QVERIFY2(stats, stats ? "" : stats.error().message.c_str());
        auto generated = want["generated"].get<std::vector<int32_t>>();
        generated.push_back(*(*model)->tokenizer().eos_id());
        QCOMPARE(tokens, generated);
        QCOMPARE(stats->stop, StopReason::end_of_generation);
        QCOMPARE(stats->text, want["text"].get<std::string>());
        QCOMPARE(streamed, want["text"].get<std::string>());
    }

private:
    static std::filesystem::path tiny_dir() { return hearth::test::data_dir() / "tokenizer"; }
    static nlohmann::json tiny_expectation() {
        return nlohmann::json::parse(hearth::test::read_text(tiny_dir() / "spm-tiny-model.json"));
    }
};

QTEST_APPLESS_MAIN(TestSequenceRun)
#include "tst_sequence_run.moc"
